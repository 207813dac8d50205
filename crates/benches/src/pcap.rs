//! Writing and checking the pcap files that DPDK's `net_pcap` replays.
//!
//! The generated traffic is N distinct IPv4/UDP flows, one 64-byte frame
//! each (64 bytes in the buffer, as testpmd's `txonly` default; the FCS is
//! not stored): flow `i` comes from 10.0.0.0 + i, UDP port 1024 + i mod
//! 64512, to 10.255.0.1 port 5001.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bytes of each generated frame.
pub const FRAME_LEN: usize = 64;
/// At most this many flows (distinct source addresses in 10.0.0.0/8).
pub const MAX_FLOWS: u32 = 1 << 24;

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;

/// An error reading or writing a pcap file.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// The file cannot be opened, read or written.
    #[error("pcap file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a pcap capture.
    #[error("{0} is not a pcap file (no pcap magic number)")]
    NotPcap(PathBuf),
    /// The file ends inside a record.
    #[error("pcap file {0} is truncated inside a record")]
    Truncated(PathBuf),
    /// The file holds no packet.
    #[error("pcap file {0} holds no packet")]
    Empty(PathBuf),
    /// Too many or too few flows asked for.
    #[error("flows must be between 1 and {MAX_FLOWS}, not {0}")]
    Flows(u32),
}

/// The frame of flow `i`.
pub fn udp_frame(i: u32) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // dst MAC
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // src MAC
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (FRAME_LEN - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&(0x0a00_0000 | (i & 0x00ff_ffff)).to_be_bytes());
    ip[16..20].copy_from_slice(&[10, 255, 0, 1]);
    let checksum = ipv4_checksum(ip);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(1024 + (i % 64512) as u16).to_be_bytes());
    udp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    // UDP checksum 0: none, allowed for IPv4.
    f
}

/// The IPv4 header checksum of `header` (its checksum field taken as is:
/// 0 to compute, the stored value to verify, which then gives 0).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes `flows` frames, one per flow, to `path`.
pub fn write_udp_flows(path: &Path, flows: u32) -> Result<(), PcapError> {
    if flows == 0 || flows > MAX_FLOWS {
        return Err(PcapError::Flows(flows));
    }
    write_frames(path, (0..flows).map(udp_frame))
}

/// Writes `frames` to `path`, in order.
pub fn write_frames<F: AsRef<[u8]>>(path: &Path, frames: impl IntoIterator<Item = F>) -> Result<(), PcapError> {
    let io = |source| PcapError::Io { path: path.to_path_buf(), source };
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&MAGIC_USEC.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    header.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    out.write_all(&header).map_err(io)?;
    for (i, frame) in frames.into_iter().enumerate() {
        let frame = frame.as_ref();
        let len = frame.len() as u32;
        let mut record = [0u8; 16];
        record[4..8].copy_from_slice(&(i as u32).to_le_bytes()); // microseconds
        record[8..12].copy_from_slice(&len.to_le_bytes());
        record[12..16].copy_from_slice(&len.to_le_bytes());
        out.write_all(&record).map_err(io)?;
        out.write_all(frame).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// Counts the packets of a pcap file, checking that it is one.
pub fn count_packets(path: &Path) -> Result<u64, PcapError> {
    let mut count = 0u64;
    for_each_frame(path, |_| count += 1)?;
    Ok(count)
}

/// The frames of a pcap file.
pub fn read_frames(path: &Path) -> Result<Vec<Vec<u8>>, PcapError> {
    let mut frames = Vec::new();
    for_each_frame(path, |f| frames.push(f.to_vec()))?;
    Ok(frames)
}

/// Calls `f` with each frame of a pcap file (at least one).
fn for_each_frame(path: &Path, mut f: impl FnMut(&[u8])) -> Result<(), PcapError> {
    let io = |source| PcapError::Io { path: path.to_path_buf(), source };
    let mut input = BufReader::new(File::open(path).map_err(io)?);
    let mut header = [0u8; 24];
    if read_full(&mut input, &mut header).map_err(io)? < header.len() {
        return Err(PcapError::NotPcap(path.to_path_buf()));
    }
    let magic = [header[0], header[1], header[2], header[3]];
    let big_endian = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
        (MAGIC_USEC | MAGIC_NSEC, _) => false,
        (_, MAGIC_USEC | MAGIC_NSEC) => true,
        _ => return Err(PcapError::NotPcap(path.to_path_buf())),
    };
    let mut count = 0u64;
    let mut record = [0u8; 16];
    let mut frame = Vec::new();
    loop {
        match read_full(&mut input, &mut record).map_err(io)? {
            0 => break,
            16 => {}
            _ => return Err(PcapError::Truncated(path.to_path_buf())),
        }
        let len = [record[8], record[9], record[10], record[11]];
        let len = if big_endian { u32::from_be_bytes(len) } else { u32::from_le_bytes(len) };
        frame.clear();
        let read = (&mut input).take(u64::from(len)).read_to_end(&mut frame).map_err(io)?;
        if read < len as usize {
            return Err(PcapError::Truncated(path.to_path_buf()));
        }
        f(&frame);
        count += 1;
    }
    if count == 0 {
        return Err(PcapError::Empty(path.to_path_buf()));
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match input.read(&mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn frames_are_valid_ipv4_udp() {
        let f = udp_frame(7);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(ipv4_checksum(&f[14..34]), 0, "stored checksum verifies");
        assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, FRAME_LEN - 14);
        assert_eq!(u16::from_be_bytes([f[38], f[39]]) as usize, FRAME_LEN - 34);
    }

    #[test]
    fn flows_are_distinct_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.pcap");
        write_udp_flows(&path, 1000).unwrap();
        assert_eq!(count_packets(&path).unwrap(), 1000);
        let tuples: HashSet<_> = (0..1000).map(|i| udp_frame(i)[26..38].to_vec()).collect();
        assert_eq!(tuples.len(), 1000);
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pcap");
        assert!(matches!(count_packets(&missing), Err(PcapError::Io { .. })));
        let text = dir.path().join("text.pcap");
        std::fs::write(&text, "hello, this is not a capture file at all").unwrap();
        assert!(matches!(count_packets(&text), Err(PcapError::NotPcap(_))));
        let good = dir.path().join("good.pcap");
        write_udp_flows(&good, 2).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.pcap");
        std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(count_packets(&cut), Err(PcapError::Truncated(_))));
        std::fs::write(&cut, &bytes[..24]).unwrap();
        assert!(matches!(count_packets(&cut), Err(PcapError::Empty(_))));
        assert!(matches!(write_udp_flows(&cut, 0), Err(PcapError::Flows(0))));
    }

    proptest! {
        #[test]
        fn every_frame_checksums(i in 0u32..MAX_FLOWS) {
            prop_assert_eq!(ipv4_checksum(&udp_frame(i)[14..34]), 0);
        }

        #[test]
        fn counting_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.pcap");
            std::fs::write(&path, &bytes).unwrap();
            let _ = count_packets(&path);
        }
    }
}
