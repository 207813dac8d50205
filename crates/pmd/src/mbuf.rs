//! Packet buffers: one owned [`Mbuf`], or a [`Burst`] of up to
//! [`BURST_SIZE`] as `rte_eth_rx_burst` fills them.
//!
//! Ownership is exact: a buffer is either handed to DPDK (transmitted) or
//! freed when its owner drops, never both and never neither.

use std::ptr::NonNull;

/// Packets per rx/tx burst, as testpmd's and OVS's default.
pub const BURST_SIZE: usize = 32;

/// One owned packet buffer, freed when dropped.
#[derive(Debug)]
#[repr(transparent)]
pub struct Mbuf(NonNull<ffi::rte_mbuf>);

// SAFETY: an mbuf is owned by exactly one Mbuf at a time; moving that owner
// to another thread moves the buffer, which DPDK allows.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw buffer; `None` for a null pointer.
    ///
    /// # Safety
    ///
    /// `raw` is null or a valid mbuf owned by nobody else from now on.
    pub(crate) unsafe fn from_raw(raw: *mut ffi::rte_mbuf) -> Option<Self> {
        NonNull::new(raw).map(Self)
    }

    /// Gives up ownership without freeing.
    pub(crate) fn into_raw(self) -> *mut ffi::rte_mbuf {
        let raw = self.0.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The packet's bytes in this (first) segment.
    pub fn data(&self) -> &[u8] {
        // SAFETY: self owns a valid mbuf whose segment holds data_len bytes
        // starting at buf_addr + data_off (rte_pktmbuf_mtod); the slice
        // borrows self, so the buffer outlives it.
        unsafe {
            let m = self.0.as_ref();
            std::slice::from_raw_parts(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), usize::from(m.data_len))
        }
    }

    /// The packet's bytes in this (first) segment, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; &mut self makes this the only reference.
        unsafe {
            let m = self.0.as_ref();
            std::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), usize::from(m.data_len))
        }
    }

    /// Length of the whole packet, all segments.
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: self owns a valid mbuf.
        unsafe { self.0.as_ref().pkt_len }
    }

    /// Appends `len` bytes at the tail and returns them to be written;
    /// `None` when the buffer lacks tailroom.
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        // SAFETY: self owns a valid single-segment mbuf; rte_pktmbuf_append
        // returns null or a pointer to `len` writable bytes inside it.
        let tail = unsafe { ffi::rte_pktmbuf_append(self.0.as_ptr(), len) };
        let tail = NonNull::new(tail.cast::<u8>())?;
        // SAFETY: `tail` points at `len` bytes owned by this buffer, borrowed
        // through &mut self.
        Some(unsafe { std::slice::from_raw_parts_mut(tail.as_ptr(), usize::from(len)) })
    }
}

/// Datapath actions rewrite mbufs in place: headers are pushed into the
/// headroom (`RTE_PKTMBUF_HEADROOM`, 128 bytes in Debian's build) and
/// copies come from the buffer's own pool. Only the first segment is
/// seen; ferrovs' ports do not receive multi-segment packets.
impl dataplane::PacketBuf for Mbuf {
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }

    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }

    fn push_front(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_prepend returns null
        // (changing nothing) when the headroom is short.
        !unsafe { ffi::rte_pktmbuf_prepend(self.0.as_ptr(), n) }.is_null()
    }

    fn pull_front(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_adj returns null
        // (changing nothing) when the segment is shorter than `n`.
        !unsafe { ffi::rte_pktmbuf_adj(self.0.as_ptr(), n) }.is_null()
    }

    fn duplicate(&self) -> Option<Self> {
        let data = self.data();
        let len = u16::try_from(data.len()).ok()?;
        // SAFETY: self owns a valid mbuf, so its pool is alive (a Mempool
        // is never freed while buffers are out); a null result is handled.
        let raw = unsafe { ffi::rte_pktmbuf_alloc(self.0.as_ref().pool) };
        // SAFETY: a non-null result is a fresh buffer nobody else owns.
        let mut copy = unsafe { Mbuf::from_raw(raw) }?;
        copy.append(len)?.copy_from_slice(data);
        Some(copy)
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the buffer and is going away.
        unsafe { ffi::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// Up to [`BURST_SIZE`] owned buffers; whatever is still in a burst when it
/// is dropped (or [`clear`](Burst::clear)ed) is freed.
#[derive(Debug)]
pub struct Burst {
    mbufs: [*mut ffi::rte_mbuf; BURST_SIZE],
    len: usize,
}

// SAFETY: the burst owns its buffers exclusively (see Mbuf).
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    /// An empty burst.
    pub fn new() -> Self {
        Self { mbufs: [std::ptr::null_mut(); BURST_SIZE], len: 0 }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the burst holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the burst holds [`BURST_SIZE`] packets.
    pub fn is_full(&self) -> bool {
        self.len == BURST_SIZE
    }

    /// Adds a buffer; gives it back when the burst is full.
    pub fn push(&mut self, mbuf: Mbuf) -> Result<(), Mbuf> {
        if self.is_full() {
            return Err(mbuf);
        }
        self.mbufs[self.len] = mbuf.into_raw();
        self.len += 1;
        Ok(())
    }

    /// Takes the last buffer out.
    pub fn pop(&mut self) -> Option<Mbuf> {
        self.len = self.len.checked_sub(1)?;
        // SAFETY: slots below the old len hold owned buffers; this one is now
        // outside len, so ownership moves to the Mbuf.
        unsafe { Mbuf::from_raw(self.mbufs[self.len]) }
    }

    /// Frees every buffer held.
    pub fn clear(&mut self) {
        if self.len == 0 {
            return;
        }
        let n = u32::try_from(self.len).unwrap_or(0);
        // SAFETY: slots 0..len hold owned buffers; they are freed once and
        // len is reset, so they are never touched again.
        unsafe { ffi::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr(), n) };
        self.len = 0;
    }

    /// Room for `rte_eth_rx_burst` to fill, and the count it filled in.
    ///
    /// # Safety
    ///
    /// The caller writes only owned, valid mbuf pointers into the returned
    /// slots, reports their number with [`set_filled`](Burst::set_filled),
    /// and only when the burst was empty.
    pub(crate) unsafe fn slots(&mut self) -> &mut [*mut ffi::rte_mbuf; BURST_SIZE] {
        &mut self.mbufs
    }

    /// Records that `len` slots were filled by DPDK.
    ///
    /// # Safety
    ///
    /// Slots `0..len` hold owned, valid mbufs.
    pub(crate) unsafe fn set_filled(&mut self, len: usize) {
        debug_assert!(len <= BURST_SIZE);
        self.len = len.min(BURST_SIZE);
    }

    /// The owned buffers, for a tx burst; [`consume_front`] says how many
    /// were taken.
    ///
    /// [`consume_front`]: Burst::consume_front
    pub(crate) fn filled_mut(&mut self) -> &mut [*mut ffi::rte_mbuf] {
        &mut self.mbufs[..self.len]
    }

    /// Forgets the first `n` buffers (DPDK took them) and moves the rest to
    /// the front.
    pub(crate) fn consume_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.mbufs.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Frees the first `n` buffers (a device copied them) and moves the
    /// rest to the front.
    pub(crate) fn free_front(&mut self, n: usize) {
        let n = n.min(self.len);
        if n > 0 {
            // SAFETY: slots 0..n hold owned buffers; they are freed once
            // and forgotten at once.
            unsafe { ffi::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr(), n as u32) };
        }
        self.consume_front(n);
    }

    /// Moves every buffer of `other` to the end of this burst, as far as
    /// room allows; returns how many moved.
    pub fn append(&mut self, other: &mut Burst) -> usize {
        let n = other.len.min(BURST_SIZE - self.len);
        self.mbufs[self.len..self.len + n].copy_from_slice(&other.mbufs[..n]);
        self.len += n;
        other.consume_front(n);
        n
    }

    /// Takes every buffer out, first to last, leaving the burst empty.
    pub fn drain(&mut self) -> impl Iterator<Item = Mbuf> {
        let (raw, len) = (self.mbufs, self.len);
        self.len = 0;
        // SAFETY: slots 0..len held owned buffers; the burst forgot them
        // (len is 0), so each moves to exactly one Mbuf.
        (0..len).filter_map(move |i| unsafe { Mbuf::from_raw(raw[i]) })
    }

    /// The packets' first segments, read-only.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.mbufs[..self.len].iter().map(|&raw| {
            // SAFETY: slots below len hold owned valid mbufs; the
            // transparent Mbuf view borrows the burst and is not dropped.
            let mbuf = unsafe { &*(std::ptr::from_ref(&raw).cast::<Mbuf>()) };
            mbuf.data()
        })
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}
