//! `put_nd_ra_opts`: the router advertisement pinctrl answers a router
//! solicitation with. OVN builds the whole ICMPv6 message (RFC 4861 4.2)
//! into the controller action's userdata, its options (source link-layer
//! address, MTU, prefix information; RDNSS and DNSSL of RFC 8106; route
//! information of RFC 4191) in the order given; pinctrl copies it as it
//! is.

use std::net::Ipv6Addr;

use crate::expr::Constant;
use crate::lex::Format;

use super::telemetry::single_string;
use super::OptValue;

/// The options' codes (OVN's `nd_ra_opts_init`).
const ADDR_MODE: u16 = 0;
const PRF: u16 = 255;
const SLLA: u16 = 1;
const PREFIX: u16 = 3;
const MTU: u16 = 5;
const RDNSS: u16 = 25;
const DNSSL: u16 = 31;
const ROUTE_INFO: u16 = 24;

/// The M flag: addresses from DHCPv6.
const MANAGED: u8 = 0x80;
/// The O flag: other configuration from DHCPv6.
const OTHER: u8 = 0x40;

/// A router preference's bits (RFC 4191 2.1: high 01, low 11).
fn preference(s: &str) -> u8 {
    match s {
        "HIGH" => 0x08,
        "LOW" => 0x18,
        _ => 0,
    }
}

/// Checks the options as OVN does after reading them.
pub(super) fn validate(opts: &[OptValue]) -> Result<(), String> {
    let (mut stateful, mut prefix, mut slla) = (false, false, false);
    for o in opts {
        let invalid = || format!("Invalid value for \"{}\" option", o.opt.name);
        let [c] = o.value.values.as_slice() else { return Err(invalid()) };
        let format = match c {
            Constant::Int { format, mask, .. } => Some((*format, mask.is_some())),
            Constant::Str(_) => None,
        };
        let ok = match o.opt.code {
            ADDR_MODE => {
                let mode = single_string(o)?;
                stateful |= mode == "dhcpv6_stateful";
                matches!(mode, "slaac" | "dhcpv6_stateful" | "dhcpv6_stateless")
            }
            PRF => matches!(single_string(o)?, "MEDIUM" | "HIGH" | "LOW"),
            SLLA => {
                slla = true;
                matches!(format, Some((Format::Ethernet, _)))
            }
            PREFIX => {
                prefix = true;
                format == Some((Format::Ipv6, true))
            }
            MTU => matches!(format, Some((Format::Decimal, _))),
            RDNSS => matches!(format, Some((Format::Ipv6, _))),
            ROUTE_INFO | DNSSL => format.is_none(),
            _ => true,
        };
        if !ok {
            return Err(invalid());
        }
    }
    if !slla {
        return Err("slla option not present".into());
    }
    if !stateful && !prefix {
        return Err("prefix option needs to be set when address mode is slaac/dhcpv6_stateless.".into());
    }
    Ok(())
}

fn int(o: &OptValue) -> (u128, u128) {
    match o.value.values.first() {
        Some(Constant::Int { value, mask, .. }) => (value.low_u128(), mask.as_ref().map_or(u128::MAX, |m| m.low_u128())),
        _ => (0, u128::MAX),
    }
}

/// The DNS search list option's body after its 8-byte header: each
/// domain's labels (RFC 1035 3.1), 0-terminated, padded to 8 bytes with
/// the header; `None` when it would not fit OVN's 255 bytes.
fn dnssl(list: &str) -> Option<Vec<u8>> {
    let mut size = 8;
    let mut body = Vec::new();
    for domain in list.split(',').filter(|d| !d.is_empty()) {
        size += domain.len() + 2;
        if size > 255 {
            return None;
        }
        for label in domain.split('.').filter(|l| !l.is_empty()) {
            let label = &label.as_bytes()[..label.len().min(255)];
            body.push(label.len() as u8);
            body.extend_from_slice(label);
        }
        body.push(0);
    }
    body.resize(size.div_ceil(8) * 8 - 8, 0);
    Some(body)
}

/// The route information options of `PRF-prefix/len,…`; an entry that
/// is not an IPv6 prefix ends the list, as in OVN.
fn route_info(list: &str, out: &mut Vec<u8>) {
    for entry in list.split(',').filter(|e| !e.is_empty()) {
        let mut parts = entry.split('-').filter(|p| !p.is_empty());
        let flags = parts.next().map_or(0, preference);
        for route in parts {
            let (addr, plen) = route.split_once('/').unwrap_or((route, "128"));
            let (Ok(addr), Ok(plen)) = (addr.parse::<Ipv6Addr>(), plen.parse::<u8>()) else { return };
            if plen > 128 {
                return;
            }
            let mask = if plen == 0 { 0 } else { u128::MAX << (128 - u32::from(plen)) };
            let network = (u128::from(addr) & mask).to_be_bytes();
            let words = usize::from(plen).div_ceil(64);
            out.extend_from_slice(&[24, 1 + words as u8, plen, flags, 0xff, 0xff, 0xff, 0xff]);
            out.extend_from_slice(&network[..words * 8]);
        }
    }
}

/// The router advertisement, options in order, as OVN encodes it.
pub(super) fn encode(opts: &[OptValue], out: &mut Vec<u8>) {
    let ra = out.len();
    // Type 134, code 0, checksum; hop limit 255, flags, lifetime 0xffff;
    // reachable time and retransmit timer 0.
    out.extend_from_slice(&[134, 0, 0, 0, 255, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    let flags = ra + 5;
    for o in opts {
        match o.opt.code {
            ADDR_MODE => match single_string(o).unwrap_or("") {
                "dhcpv6_stateful" => out[flags] |= MANAGED,
                "dhcpv6_stateless" => out[flags] |= OTHER,
                _ => {}
            },
            PRF => out[flags] |= preference(single_string(o).unwrap_or("")),
            SLLA => {
                out.extend_from_slice(&[1, 1]);
                out.extend_from_slice(&int(o).0.to_be_bytes()[10..]);
            }
            MTU => {
                out.extend_from_slice(&[5, 1, 0, 0]);
                out.extend_from_slice(&(int(o).0 as u32).to_be_bytes());
            }
            PREFIX => {
                let (value, mask) = int(o);
                // On-link; autonomous unless addresses come from DHCPv6.
                let la = if out[flags] & MANAGED != 0 { 0x80 } else { 0xc0 };
                out.extend_from_slice(&[3, 4, mask.count_ones() as u8, la]);
                out.extend_from_slice(&[0xff; 8]);
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&value.to_be_bytes());
            }
            RDNSS => {
                out.extend_from_slice(&[25, 3, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                out.extend_from_slice(&int(o).0.to_be_bytes());
            }
            DNSSL => {
                if let Some(body) = dnssl(single_string(o).unwrap_or("")) {
                    out.extend_from_slice(&[31, ((body.len() + 8) / 8) as u8, 0, 0, 0xff, 0xff, 0xff, 0xff]);
                    out.extend(body);
                }
            }
            ROUTE_INFO => route_info(single_string(o).unwrap_or(""), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_lists_are_labels_padded_to_8_bytes() {
        // 8 + ("a.b.c" 5 + 2) + ("ovn.org" 7 + 2) = 24.
        let body = dnssl("a.b.c,ovn.org").unwrap();
        assert_eq!(body.len(), 16);
        assert_eq!(&body[..16], b"\x01a\x01b\x01c\x00\x03ovn\x03org\x00");
        assert_eq!(dnssl(&"a".repeat(250)), None);
    }

    #[test]
    fn route_information_carries_the_prefix_s_words() {
        let mut out = Vec::new();
        route_info("HIGH-fd00:1::/48,LOW-fd00:2::1/80,MEDIUM-10.0.0.0/8,HIGH-fd00:3::/64", &mut out);
        let mut want = vec![24, 2, 48, 0x08, 0xff, 0xff, 0xff, 0xff, 0xfd, 0, 0, 1, 0, 0, 0, 0];
        want.extend([24, 3, 80, 0x18, 0xff, 0xff, 0xff, 0xff, 0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // The IPv4 entry ends the list.
        assert_eq!(out, want);
    }
}
