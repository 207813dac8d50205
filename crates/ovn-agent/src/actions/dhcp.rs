//! `put_dhcp_opts` and `put_dhcpv6_opts`: the options pinctrl's DHCP
//! server puts in its reply, encoded as OVN encodes them into the
//! controller action's userdata — the destination bit's field header and
//! offset, then (DHCPv4) the offered address, the boot file, alternative
//! boot file and next server, and the other options in order, each as
//! code, length, value; (DHCPv6) each option as 16-bit code and length.

use crate::expr::Constant;

use super::OptValue;

/// `n` bytes of the low end of a constant's value.
fn low_bytes(c: &Constant, n: usize) -> Vec<u8> {
    match c {
        Constant::Int { value, .. } => value.0[value.0.len() - n..].to_vec(),
        Constant::Str(s) => s.as_bytes().to_vec(),
    }
}

fn string(c: Option<&Constant>) -> &str {
    match c {
        Some(Constant::Str(s)) => s,
        _ => "",
    }
}

/// Appends one DHCPv4 option: code, length (one byte each), value.
fn put_v4_option(o: &OptValue, out: &mut Vec<u8>) {
    let vals = &o.value.values;
    let data: Vec<u8> = match o.opt.kind.as_str() {
        "bool" | "uint8" => vals.first().map(|c| low_bytes(c, 1)).unwrap_or_default(),
        "uint16" => vals.first().map(|c| low_bytes(c, 2)).unwrap_or_default(),
        "uint32" => vals.first().map(|c| low_bytes(c, 4)).unwrap_or_default(),
        "ipv4" => vals.iter().flat_map(|c| low_bytes(c, 4)).collect(),
        "static_routes" => {
            // RFC 3442: prefix length, the network's significant bytes,
            // the router; pairs, an odd one out left out.
            let mut d = Vec::new();
            for pair in vals.chunks_exact(2) {
                let plen = match &pair[0] {
                    Constant::Int { mask: Some(m), .. } => (m.low_u64() as u32).leading_ones() as u8,
                    _ => 32,
                };
                d.push(plen);
                d.extend_from_slice(&low_bytes(&pair[0], 4)[..usize::from(plen).div_ceil(8)]);
                d.extend(low_bytes(&pair[1], 4));
            }
            d
        }
        "str" => string(vals.first()).as_bytes().to_vec(),
        "host_id" => match vals.first() {
            Some(c @ Constant::Str(_)) => low_bytes(c, 0),
            Some(c) => low_bytes(c, 4),
            None => Vec::new(),
        },
        "domains" => domains(string(vals.first())),
        _ => Vec::new(),
    };
    out.push(o.opt.code as u8);
    out.push(data.len() as u8);
    out.extend(data);
}

/// A comma-separated search list in DNS wire format (RFC 1035 4.1.4),
/// each name ending in a 0 or a pointer to a suffix already written. The
/// suffixes are keyed as OVN keys them: without their last character.
fn domains(list: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut seen: Vec<(String, u16)> = Vec::new();
    let chop = |s: &str| s.chars().take(s.chars().count().saturating_sub(1)).collect::<String>();
    for domain in list.split(',').filter(|d| !d.is_empty()) {
        if domain.len() > 255 {
            // OVN gives up on the whole list.
            return Vec::new();
        }
        let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
        let mut suffix = chop(domain);
        let mut ended = true;
        for (i, label) in labels.iter().enumerate() {
            if let Some(&(_, at)) = seen.iter().find(|(s, _)| *s == suffix) {
                out.extend_from_slice(&(0xc000 | at).to_be_bytes());
                ended = false;
                break;
            }
            seen.push((suffix.clone(), out.len() as u16));
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
            let rest = labels[i + 1..].join(".");
            if !rest.is_empty() {
                suffix = chop(&rest);
            }
        }
        if ended {
            out.push(0);
        }
    }
    out
}

/// The DHCPv4 options' bytes, the offered address and the boot options
/// first.
pub(super) fn v4_options(opts: &[OptValue], out: &mut Vec<u8>) {
    let find = |code: u16| opts.iter().position(|o| o.opt.code == code);
    let offer = find(0);
    if let Some(i) = offer {
        out.extend(opts[i].value.values.first().map(|c| low_bytes(c, 4)).unwrap_or_else(|| vec![0; 4]));
    }
    let firsts = [find(67), find(254), find(253)];
    for i in firsts.into_iter().flatten() {
        put_v4_option(&opts[i], out);
    }
    for (i, o) in opts.iter().enumerate() {
        if Some(i) != offer && !firsts.contains(&Some(i)) {
            put_v4_option(o, out);
        }
    }
}

/// The DHCPv6 options' bytes: each a 16-bit code and length, the value.
pub(super) fn v6_options(opts: &[OptValue], out: &mut Vec<u8>) {
    for o in opts {
        let vals = &o.value.values;
        let data: Vec<u8> = match o.opt.kind.as_str() {
            "ipv6" => vals.iter().flat_map(|c| low_bytes(c, 16)).collect(),
            "mac" => vals.first().map(|c| low_bytes(c, 6)).unwrap_or_default(),
            "str" => string(vals.first()).as_bytes().to_vec(),
            _ => Vec::new(),
        };
        out.extend_from_slice(&o.opt.code.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend(data);
    }
}

/// Whether a value suits an option's type: strings for `str` and
/// `domains`, numbers for the others, either for `host_id`.
pub(super) fn value_suits(kind: &str, strings: bool) -> bool {
    match kind {
        "host_id" => true,
        "str" | "domains" => strings,
        _ => !strings,
    }
}
