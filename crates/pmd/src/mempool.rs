//! Packet buffer pools (`rte_pktmbuf_pool_create`).

use std::ffi::CString;
use std::ptr::NonNull;

use crate::eal::{last_error, Eal};
use crate::mbuf::Mbuf;

/// An error creating a mempool.
#[derive(Debug, thiserror::Error)]
pub enum MempoolError {
    /// The name holds a NUL byte.
    #[error("mempool name {0:?} contains a NUL byte")]
    BadName(String),
    /// DPDK could not create the pool.
    #[error("could not create mempool {name:?} of {size} buffers: {message}")]
    Create {
        /// The pool's name.
        name: String,
        /// Buffers asked for.
        size: u32,
        /// DPDK's reason.
        message: String,
    },
}

/// How a packet buffer pool is sized.
#[derive(Debug, Clone)]
pub struct MempoolConfig {
    /// Unique name within the process.
    pub name: String,
    /// Number of buffers (best a power of two minus one).
    pub size: u32,
    /// Buffers cached per lcore (at most 512).
    pub cache_size: u32,
    /// Data room per buffer, headroom included.
    pub data_room: u16,
    /// NUMA socket, or `None` for any.
    pub socket: Option<i32>,
}

impl MempoolConfig {
    /// A pool of `size` buffers of DPDK's default size with testpmd's
    /// per-lcore cache of 250.
    pub fn new(name: &str, size: u32) -> Self {
        Self {
            name: name.to_string(),
            size,
            cache_size: 250,
            data_room: u16::try_from(ffi::RTE_MBUF_DEFAULT_BUF_SIZE).unwrap_or(u16::MAX),
            socket: None,
        }
    }
}

/// A pool of packet buffers. DPDK mempools are safe to use from many
/// threads at once.
#[derive(Debug)]
pub struct Mempool {
    ptr: NonNull<ffi::rte_mempool>,
    name: String,
    _eal: Eal,
}

// SAFETY: a DPDK packet mempool (ring-based, multi-producer/multi-consumer)
// may be used from any thread; the handle only carries its pointer.
unsafe impl Send for Mempool {}
// SAFETY: as above; every operation through &Mempool is thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a packet buffer pool.
    pub fn new(eal: &Eal, config: &MempoolConfig) -> Result<Self, MempoolError> {
        let name = CString::new(config.name.as_str()).map_err(|_| MempoolError::BadName(config.name.clone()))?;
        let socket = config.socket.unwrap_or(ffi::SOCKET_ID_ANY);
        // SAFETY: EAL is initialised (`eal` exists); `name` is a valid string
        // that DPDK copies.
        let ptr = unsafe { ffi::rte_pktmbuf_pool_create(name.as_ptr(), config.size, config.cache_size, 0, config.data_room, socket) };
        let ptr = NonNull::new(ptr).ok_or_else(|| MempoolError::Create {
            name: config.name.clone(),
            size: config.size,
            message: last_error(),
        })?;
        Ok(Self { ptr, name: config.name.clone(), _eal: eal.clone() })
    }

    /// The raw pool, for DPDK calls that take one.
    pub(crate) fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.ptr.as_ptr()
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Buffers in the pool, per-lcore caches included.
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is alive for as long as self.
        unsafe { ffi::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Buffers taken out of the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is alive for as long as self.
        unsafe { ffi::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// Takes one buffer, reset and empty; `None` when the pool is exhausted.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is alive; the buffer returned (if any) is owned by
        // no one else, which Mbuf takes over.
        unsafe { Mbuf::from_raw(ffi::rte_pktmbuf_alloc(self.ptr.as_ptr())) }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        if self.in_use() != 0 {
            // Buffers are still out (in a device ring, or leaked by a bug):
            // freeing the pool under them would be a use-after-free later.
            return;
        }
        // SAFETY: no buffer of this pool is in use and no other handle
        // exists (ports hold it through an Arc), so nothing refers to it.
        unsafe { ffi::rte_mempool_free(self.ptr.as_ptr()) };
    }
}
