//! Integers of the language: a 1 024-bit value and the format it was
//! written in, read and printed as OVN's lexer reads and prints them.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{at, hexit, Token};

/// Bytes in a [`Subvalue`].
pub const SUBVALUE_BYTES: usize = 128;

/// A value of up to 1 024 bits, big-endian: byte 127 holds bits 0..8.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subvalue(pub [u8; SUBVALUE_BYTES]);

impl Default for Subvalue {
    fn default() -> Self {
        Subvalue::ZERO
    }
}

impl fmt::Debug for Subvalue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Subvalue {
    /// All zeros.
    pub const ZERO: Subvalue = Subvalue([0; SUBVALUE_BYTES]);

    /// `v` in the low 64 bits.
    pub fn from_u64(v: u64) -> Self {
        let mut s = Subvalue::ZERO;
        s.0[SUBVALUE_BYTES - 8..].copy_from_slice(&v.to_be_bytes());
        s
    }

    /// `v` in the low 128 bits.
    pub fn from_u128(v: u128) -> Self {
        let mut s = Subvalue::ZERO;
        s.0[SUBVALUE_BYTES - 16..].copy_from_slice(&v.to_be_bytes());
        s
    }

    /// The low 64 bits.
    pub fn low_u64(&self) -> u64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[SUBVALUE_BYTES - 8..]);
        u64::from_be_bytes(b)
    }

    /// The low 128 bits.
    pub fn low_u128(&self) -> u128 {
        let mut b = [0; 16];
        b.copy_from_slice(&self.0[SUBVALUE_BYTES - 16..]);
        u128::from_be_bytes(b)
    }

    /// Bit `i`, counting from the least significant.
    pub fn bit(&self, i: usize) -> bool {
        i < SUBVALUE_BYTES * 8 && self.0[SUBVALUE_BYTES - 1 - i / 8] & (1 << (i % 8)) != 0
    }

    /// Bits of `self` that are also in `other`.
    pub fn and(&self, other: &Subvalue) -> Subvalue {
        let mut out = *self;
        for (o, m) in out.0.iter_mut().zip(other.0.iter()) {
            *o &= m;
        }
        out
    }

    /// The number of the highest bit set, plus one (0 for zero).
    pub fn bits_used(&self) -> usize {
        for (i, &b) in self.0.iter().enumerate() {
            if b != 0 {
                return (SUBVALUE_BYTES - i) * 8 - b.leading_zeros() as usize;
            }
        }
        0
    }

    /// OVS's hexadecimal form: `0x` and the bytes from the first that is
    /// not zero, or `0`.
    pub fn hex(&self) -> String {
        let mut out = String::new();
        for &b in self.0.iter().skip_while(|&&b| b == 0) {
            if out.is_empty() {
                let _ = write!(out, "0x{b:x}");
            } else {
                let _ = write!(out, "{b:02x}");
            }
        }
        if out.is_empty() {
            out.push('0');
        }
        out
    }

    fn ipv4(&self) -> Ipv4Addr {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[SUBVALUE_BYTES - 4..]);
        Ipv4Addr::from(b)
    }

    fn ipv6(&self) -> [u8; 16] {
        let mut b = [0; 16];
        b.copy_from_slice(&self.0[SUBVALUE_BYTES - 16..]);
        b
    }

    fn mac(&self) -> [u8; 6] {
        let mut b = [0; 6];
        b.copy_from_slice(&self.0[SUBVALUE_BYTES - 6..]);
        b
    }
}

/// How an integer was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `12345`.
    Decimal,
    /// `0x1234`.
    Hexadecimal,
    /// `10.0.0.1`.
    Ipv4,
    /// `fe80::1`.
    Ipv6,
    /// `00:11:22:33:44:55`.
    Ethernet,
}

impl Format {
    /// Its name in OVN's messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Decimal => "decimal",
            Format::Hexadecimal => "hexadecimal",
            Format::Ipv4 => "IPv4",
            Format::Ipv6 => "IPv6",
            Format::Ethernet => "Ethernet",
        }
    }

    /// The leading bytes of a [`Subvalue`] that must be zero for a value
    /// to print in this format.
    fn zero_bytes(self) -> usize {
        match self {
            Format::Decimal => SUBVALUE_BYTES - 8,
            Format::Hexadecimal => 0,
            Format::Ipv4 => SUBVALUE_BYTES - 4,
            Format::Ipv6 => SUBVALUE_BYTES - 16,
            Format::Ethernet => SUBVALUE_BYTES - 6,
        }
    }

    /// Writes `value` in this format.
    pub fn write(self, value: &Subvalue, out: &mut String) {
        match self {
            Format::Decimal => {
                let _ = write!(out, "{}", value.low_u64());
            }
            Format::Hexadecimal => out.push_str(&value.hex()),
            Format::Ipv4 => {
                let _ = write!(out, "{}", value.ipv4());
            }
            Format::Ipv6 => write_ipv6(&value.ipv6(), out),
            Format::Ethernet => write_mac(&value.mac(), out),
        }
    }

    /// The format `value` (and `mask`) print in: this one, or hexadecimal
    /// when the value does not fit it.
    pub fn fitting(self, value: &Subvalue, mask: Option<&Subvalue>) -> Format {
        let n = self.zero_bytes();
        let zero = |v: &Subvalue| v.0[..n].iter().all(|&b| b == 0);
        if zero(value) && mask.is_none_or(zero) {
            self
        } else {
            Format::Hexadecimal
        }
    }
}

/// Writes an Ethernet address as `01:23:45:67:89:ab`.
pub fn write_mac(mac: &[u8; 6], out: &mut String) {
    let _ = write!(out, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/// Writes an IPv6 address as glibc's `inet_ntop` does (the longest run of
/// two or more zero words as `::`, the first of equal runs; the last 32
/// bits as IPv4 after six zero words, or five and `ffff`).
pub fn write_ipv6(a: &[u8; 16], out: &mut String) {
    let words: Vec<u16> = a.chunks(2).map(|w| u16::from_be_bytes([w[0], w[1]])).collect();
    // Runs of zero words, as (first word, length).
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(cur.map_or((i, 1), |(b, l)| (b, l + 1)));
            if let Some(c) = cur {
                if best.is_none_or(|b| c.1 > b.1) {
                    best = Some(c);
                }
            }
        } else {
            cur = None;
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    let mut i = 0;
    while i < 8 {
        if let Some((base, len)) = best {
            if i >= base && i < base + len {
                if i == base {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best.is_some_and(|(base, len)| base == 0 && (len == 6 || (len == 5 && words[5] == 0xffff))) {
            let _ = write!(out, "{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
            return;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if best.is_some_and(|(base, len)| base + len == 8) {
        out.push(':');
    }
}

/// Writes a masked integer: the value, `/`, and the mask (its prefix
/// length for an IPv4 or IPv6 prefix).
pub fn write_masked(value: &Subvalue, mask: &Subvalue, written: Format, out: &mut String) {
    let format = written.fitting(value, Some(mask));
    format.write(value, out);
    out.push('/');
    if format == Format::Ipv4 && ipv4_prefix_len(mask).is_some() {
        let _ = write!(out, "{}", ipv4_prefix_len(mask).unwrap_or(0));
    } else if written == Format::Ipv6 && ipv6_prefix_len(mask).is_some() {
        let _ = write!(out, "{}", ipv6_prefix_len(mask).unwrap_or(0));
    } else {
        format.write(mask, out);
    }
}

/// The prefix length of an IPv4 mask in the low 32 bits, if it is one.
fn ipv4_prefix_len(mask: &Subvalue) -> Option<u32> {
    let m = u32::from_be_bytes([mask.0[124], mask.0[125], mask.0[126], mask.0[127]]);
    (m.leading_ones() + m.trailing_zeros() == 32 || m == 0).then(|| m.leading_ones())
}

/// The prefix length of an IPv6 mask in the low 128 bits, if it is one.
fn ipv6_prefix_len(mask: &Subvalue) -> Option<u32> {
    let m = mask.low_u128();
    (m.leading_ones() + m.trailing_zeros() == 128 || m == 0).then(|| m.leading_ones())
}

/// An integer without a mask: the token (or an error) and where it ends.
fn parse_plain_integer(input: &[u8], p: usize) -> (Result<(Subvalue, Format), String>, usize) {
    // The extent: letters and digits, colons until a dot has been seen
    // (so `1.2.3.4:80` is three tokens, `::ffff:1.2.3.4` one), dots not
    // followed by another (so `1..5` is a range).
    let mut end = p;
    let mut saw_dot = false;
    loop {
        let c = at(input, end);
        if c.is_ascii_alphanumeric() || (c == b':' && !saw_dot) || (c == b'.' && at(input, end + 1) != b'.') {
            saw_dot |= c == b'.';
            end += 1;
        } else {
            break;
        }
    }
    let text = &input[p..end];
    let s = std::str::from_utf8(text).unwrap_or("");
    let result = if text.is_empty() {
        Err("Integer constant expected.".to_owned())
    } else if let Some(mac) = (text.len() == 17).then(|| scan_mac(s)).flatten() {
        let mut v = Subvalue::ZERO;
        v.0[SUBVALUE_BYTES - 6..].copy_from_slice(&mac);
        Ok((v, Format::Ethernet))
    } else if text.iter().all(u8::is_ascii_digit) {
        if text[0] == b'0' && text.len() > 1 {
            Err("Decimal constants must not have leading zeros.".to_owned())
        } else {
            s.parse::<u64>()
                .map(|n| (Subvalue::from_u64(n), Format::Decimal))
                .map_err(|_| "Decimal constants must be less than 2**64.".to_owned())
        }
    } else if text[0] == b'0' && matches!(text.get(1), Some(b'x' | b'X')) {
        if text.len() > 2 {
            parse_hex(&text[2..]).map(|v| (v, Format::Hexadecimal))
        } else {
            Err(format!("Hex digits expected following 0{}.", text[1] as char))
        }
    } else if text.len() < 46 {
        if let Ok(a) = s.parse::<Ipv4Addr>() {
            let mut v = Subvalue::ZERO;
            v.0[SUBVALUE_BYTES - 4..].copy_from_slice(&a.octets());
            Ok((v, Format::Ipv4))
        } else if let Ok(a) = s.parse::<Ipv6Addr>() {
            Ok((Subvalue::from_u128(u128::from(a)), Format::Ipv6))
        } else {
            Err("Invalid numeric constant.".to_owned())
        }
    } else {
        Err("Invalid numeric constant.".to_owned())
    };
    (result, end)
}

/// Six colon-separated groups of hex digits, as `sscanf("%hhx:…")` reads
/// them (each group's low byte).
fn scan_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0; 6];
    let mut groups = s.split(':');
    for b in mac.iter_mut() {
        let g = groups.next()?;
        if g.is_empty() || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = g.bytes().fold(0u8, |acc, c| acc.wrapping_mul(16).wrapping_add(hexit(c).unwrap_or(0)));
    }
    groups.next().is_none().then_some(mac)
}

fn parse_hex(digits: &[u8]) -> Result<Subvalue, String> {
    let mut v = Subvalue::ZERO;
    for (i, &c) in digits.iter().rev().enumerate() {
        let h = hexit(c).ok_or("Invalid syntax in hexadecimal constant.")?;
        if h == 0 {
            continue;
        }
        if i / 2 >= SUBVALUE_BYTES {
            return Err(format!("Hexadecimal constant requires more than {} bits.", SUBVALUE_BYTES * 8));
        }
        v.0[SUBVALUE_BYTES - 1 - i / 2] |= if i % 2 == 1 { h << 4 } else { h };
    }
    Ok(v)
}

pub(super) fn parse_integer(input: &[u8], p: usize) -> (Token, usize) {
    let (value, end) = parse_plain_integer(input, p);
    let (value, format) = match value {
        Ok(v) => v,
        Err(e) => return (Token::Error(e), end),
    };
    if at(input, end) != b'/' {
        return (Token::Integer { value, format }, end);
    }
    let (mask, end) = parse_plain_integer(input, end + 1);
    let (mask, mask_format) = match mask {
        Ok(m) => m,
        Err(e) => return (Token::Error(e), end),
    };
    // OVN reads a prefix length as 32 bits of the decimal.
    let prefix = mask.low_u64() as u32;
    let (mask, format) = if format == mask_format {
        (mask, format)
    } else if format == Format::Ipv4 && mask_format == Format::Decimal && prefix <= 32 {
        (Subvalue::from_u64(u64::from(u32::MAX.checked_shl(32 - prefix).unwrap_or(0))), format)
    } else if format == Format::Ipv6 && mask_format == Format::Decimal && prefix <= 128 {
        (Subvalue::from_u128(u128::MAX.checked_shl(128 - prefix).unwrap_or(0)), format)
    } else if format == Format::Decimal && mask_format == Format::Hexadecimal && value.low_u64() == 0 {
        (mask, Format::Hexadecimal)
    } else {
        return (Token::Error("Value and mask have incompatible formats.".into()), end);
    };
    (Token::Masked { value: value.and(&mask), mask, format }, end)
}
