//! The bridge's local port without DPDK: a kernel tap device named after
//! the bridge, as OVS's userspace datapath creates it (`/dev/net/tun`,
//! `IFF_TAP | IFF_NO_PI`), with the bridge's MAC address. With DPDK the
//! local port is DPDK's own `net_tap` device, which a PMD thread polls
//! (`daemon.rs`); the functions here read and set either's MAC and state
//! by name.
//!
//! The device lives as long as the [`Tap`] (the descriptor is its only
//! owner). Without DPDK there is no datapath: no packet is read from or
//! written to it.
//!
//! # Unsafe
//!
//! The `ioctl`s that create and configure the device have no safe
//! wrapper in `std`; each call below says what it relies on.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// Sets the network device `name` administratively up or down.
pub fn set_admin(name: &str, up: bool) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    if_ioctl(libc::SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    let up_bit = libc::IFF_UP as libc::c_short;
    ifr.ifr_ifru.ifru_flags = if up { flags | up_bit } else { flags & !up_bit };
    if_ioctl(libc::SIOCSIFFLAGS, &mut ifr)
}

/// A tap device, removed when dropped.
#[derive(Debug)]
pub struct Tap {
    name: String,
    _file: File,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?} is not a valid interface name")));
    }
    // SAFETY: ifreq is a plain C struct (a name array and a union of plain
    // data) for which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// A socket to run interface ioctls on.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs an interface ioctl `request` with `ifr` on a control socket.
fn if_ioctl(request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
    let sock = control_socket()?;
    // SAFETY: `sock` is an open socket; `ifr` is a valid ifreq the kernel
    // reads (and, for the SIOCG requests, writes) within its size.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request, ifr as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the MAC address of network device `name`.
pub fn set_mac(name: &str, mac: [u8; 6]) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    // SAFETY: writing the `ifru_hwaddr` member of the union, which
    // SIOCSIFHWADDR reads; all its fields are plain data.
    unsafe {
        ifr.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (dst, src) in ifr.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
            *dst = src as libc::c_char;
        }
    }
    if_ioctl(libc::SIOCSIFHWADDR, &mut ifr)
}

/// The MAC address of network device `name`.
pub fn mac(name: &str) -> io::Result<[u8; 6]> {
    let mut ifr = ifreq(name)?;
    if_ioctl(libc::SIOCGIFHWADDR, &mut ifr)?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member.
    let data = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_data };
    Ok(std::array::from_fn(|i| data[i] as u8))
}

/// Whether network device `name` is up and running.
pub fn is_up(name: &str) -> bool {
    let Ok(mut ifr) = ifreq(name) else {
        return false;
    };
    if if_ioctl(libc::SIOCGIFFLAGS, &mut ifr).is_err() {
        return false;
    }
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    let both = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    flags & both == both
}

impl Tap {
    /// Creates tap device `name` and sets its MAC to `mac` when given. As
    /// OVS leaves a bridge's internal interface, it is administratively
    /// down until the host brings it up.
    pub fn create(name: &str, mac: Option<[u8; 6]>) -> io::Result<Tap> {
        let file = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK).open("/dev/net/tun")?;
        let mut ifr = ifreq(name)?;
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: the descriptor is /dev/net/tun, open; TUNSETIFF reads an
        // ifreq with the name and flags set above.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr as *mut libc::ifreq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let tap = Tap { name: name.to_owned(), _file: file };
        if let Some(m) = mac {
            set_mac(name, m)?;
        }
        Ok(tap)
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(ifreq("").is_err());
        assert!(ifreq("a-name-far-too-long").is_err());
        assert!(ifreq("br0").is_ok());
    }
}
