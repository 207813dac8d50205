//! OXM, the TLV match format of OpenFlow 1.2 and later (the 1.3
//! specification, section 7.2.3): the OpenFlow-basic fields, their
//! sizes and maskability, and the `ofp_match` that carries them.
//!
//! Decoding checks what the specification asks a switch to refuse, with
//! the BAD_MATCH code it names: an unknown field (BAD_FIELD), a length
//! that does not fit the field (BAD_LEN), a mask on a field that takes
//! none (BAD_MASK), a value with bits outside its mask (BAD_WILDCARDS), a
//! field given twice (DUP_FIELD). Prerequisites (TCP ports need
//! `ip_proto=6`, …) are checked by the flow table, not here. Nicira's NXM
//! classes and the experimenter fields come later (issue 5).

use crate::wire::OfError;

/// The OpenFlow-basic OXM class.
pub const OPENFLOW_BASIC: u16 = 0x8000;

/// `ofp_match` type for OXM.
const OFPMT_OXM: u16 = 1;

pub use crate::flowmatch::bad_match;

/// An OpenFlow-basic field: its number, name, value size and maskability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicField {
    /// Field number within the class.
    pub field: u8,
    /// Name as `ovs-fields(7)` spells the OXM (`OXM_OF_…`).
    pub name: &'static str,
    /// Value length in bytes.
    pub len: u8,
    /// Whether a mask is allowed.
    pub maskable: bool,
}

macro_rules! basic {
    ($($field:literal $name:literal $len:literal $mask:literal,)*) => {
        /// Every OpenFlow-basic field of OpenFlow 1.3 (0–39) and 1.5's `TCP_FLAGS` (42).
        pub const BASIC_FIELDS: &[BasicField] = &[$(BasicField { field: $field, name: $name, len: $len, maskable: $mask }),*];
    };
}

basic! {
    0 "IN_PORT" 4 false,
    1 "IN_PHY_PORT" 4 false,
    2 "METADATA" 8 true,
    3 "ETH_DST" 6 true,
    4 "ETH_SRC" 6 true,
    5 "ETH_TYPE" 2 false,
    6 "VLAN_VID" 2 true,
    7 "VLAN_PCP" 1 false,
    8 "IP_DSCP" 1 false,
    9 "IP_ECN" 1 false,
    10 "IP_PROTO" 1 false,
    11 "IPV4_SRC" 4 true,
    12 "IPV4_DST" 4 true,
    13 "TCP_SRC" 2 false,
    14 "TCP_DST" 2 false,
    15 "UDP_SRC" 2 false,
    16 "UDP_DST" 2 false,
    17 "SCTP_SRC" 2 false,
    18 "SCTP_DST" 2 false,
    19 "ICMPV4_TYPE" 1 false,
    20 "ICMPV4_CODE" 1 false,
    21 "ARP_OP" 2 false,
    22 "ARP_SPA" 4 true,
    23 "ARP_TPA" 4 true,
    24 "ARP_SHA" 6 true,
    25 "ARP_THA" 6 true,
    26 "IPV6_SRC" 16 true,
    27 "IPV6_DST" 16 true,
    28 "IPV6_FLABEL" 4 true,
    29 "ICMPV6_TYPE" 1 false,
    30 "ICMPV6_CODE" 1 false,
    31 "IPV6_ND_TARGET" 16 false,
    32 "IPV6_ND_SLL" 6 false,
    33 "IPV6_ND_TLL" 6 false,
    34 "MPLS_LABEL" 4 false,
    35 "MPLS_TC" 1 false,
    36 "MPLS_BOS" 1 false,
    37 "PBB_ISID" 3 true,
    38 "TUNNEL_ID" 8 true,
    39 "IPV6_EXTHDR" 2 true,
    42 "TCP_FLAGS" 2 true,
}

/// The OpenFlow-basic field numbered `field`.
pub fn basic_field(field: u8) -> Option<&'static BasicField> {
    BASIC_FIELDS.iter().find(|f| f.field == field)
}

/// One OXM TLV: a field, its value, and its mask if it has one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Oxm {
    /// OXM class.
    pub class: u16,
    /// Field number (7 bits).
    pub field: u8,
    /// Value bytes.
    pub value: Vec<u8>,
    /// Mask bytes, as long as the value.
    pub mask: Option<Vec<u8>>,
}

impl Oxm {
    /// Appends the TLV to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.value.len() + self.mask.as_ref().map_or(0, Vec::len);
        out.extend_from_slice(&self.class.to_be_bytes());
        out.push(self.field << 1 | u8::from(self.mask.is_some()));
        out.push(len as u8);
        out.extend_from_slice(&self.value);
        if let Some(m) = &self.mask {
            out.extend_from_slice(m);
        }
    }
}

/// Decodes a run of OXM TLVs (for example an `ofp_match` body).
pub fn decode_oxms(mut b: &[u8]) -> Result<Vec<Oxm>, OfError> {
    let mut out: Vec<Oxm> = Vec::new();
    while !b.is_empty() {
        let h = b.get(..4).ok_or(bad_match::BAD_LEN)?;
        let class = u16::from_be_bytes([h[0], h[1]]);
        let (field, has_mask, len) = (h[2] >> 1, h[2] & 1 == 1, usize::from(h[3]));
        let payload = b.get(4..4 + len).ok_or(bad_match::BAD_LEN)?;
        if class != OPENFLOW_BASIC {
            return Err(bad_match::BAD_FIELD);
        }
        let f = basic_field(field).ok_or(bad_match::BAD_FIELD)?;
        let want = usize::from(f.len) * if has_mask { 2 } else { 1 };
        if has_mask && !f.maskable {
            return Err(bad_match::BAD_MASK);
        }
        if len != want {
            return Err(bad_match::BAD_LEN);
        }
        let (value, mask) = payload.split_at(usize::from(f.len));
        if has_mask && value.iter().zip(mask).any(|(v, m)| v & !m != 0) {
            return Err(bad_match::BAD_WILDCARDS);
        }
        if out.iter().any(|o| o.class == class && o.field == field) {
            return Err(bad_match::DUP_FIELD);
        }
        out.push(Oxm { class, field, value: value.to_vec(), mask: has_mask.then(|| mask.to_vec()) });
        b = &b[4 + len..];
    }
    Ok(out)
}

/// Encodes an `ofp_match` (type OXM) holding `oxms`, padded to 8 bytes.
pub fn encode_match(oxms: &[Oxm]) -> Vec<u8> {
    let mut body = Vec::new();
    for o in oxms {
        o.encode(&mut body);
    }
    let mut out = Vec::with_capacity(4 + body.len() + 7);
    out.extend_from_slice(&OFPMT_OXM.to_be_bytes());
    out.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(8) * 8, 0);
    out
}

/// Decodes an `ofp_match` at the start of `b`; returns its fields and the
/// bytes it took (padding included).
pub fn decode_match(b: &[u8]) -> Result<(Vec<Oxm>, usize), OfError> {
    let (entries, used) = crate::flowmatch::oxm_match_entries(b)?;
    Ok((decode_oxms(entries)?, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oxm(field: u8, value: &[u8], mask: Option<&[u8]>) -> Oxm {
        Oxm { class: OPENFLOW_BASIC, field, value: value.to_vec(), mask: mask.map(<[u8]>::to_vec) }
    }

    #[test]
    fn specification_example_layout() {
        // in_port=1, eth_type=0x0800, ipv4_dst=10.0.0.0/8.
        let m = encode_match(&[oxm(0, &[0, 0, 0, 1], None), oxm(5, &[8, 0], None), oxm(12, &[10, 0, 0, 0], Some(&[255, 0, 0, 0]))]);
        assert_eq!(&m[..4], &[0, 1, 0, 4 + 8 + 6 + 12]);
        assert_eq!(&m[4..8], &[0x80, 0x00, 0x00, 4], "IN_PORT header");
        assert_eq!(&m[18..22], &[0x80, 0x00, 12 << 1 | 1, 8], "IPV4_DST with mask");
        assert_eq!(m.len() % 8, 0);
        let (fields, used) = decode_match(&m).unwrap();
        assert_eq!(used, m.len());
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn refusals_name_the_specified_errors() {
        let enc = |o: &[Oxm]| {
            let mut b = Vec::new();
            for x in o {
                x.encode(&mut b);
            }
            b
        };
        assert_eq!(decode_oxms(&enc(&[oxm(99, &[0], None)])), Err(bad_match::BAD_FIELD));
        assert_eq!(decode_oxms(&enc(&[oxm(0, &[0, 0, 0, 1], Some(&[0, 0, 0, 1]))])), Err(bad_match::BAD_MASK));
        assert_eq!(decode_oxms(&enc(&[oxm(5, &[8, 0, 0], None)])), Err(bad_match::BAD_LEN));
        assert_eq!(decode_oxms(&enc(&[oxm(12, &[10, 0, 0, 1], Some(&[255, 0, 0, 0]))])), Err(bad_match::BAD_WILDCARDS));
        assert_eq!(decode_oxms(&enc(&[oxm(5, &[8, 0], None), oxm(5, &[8, 6], None)])), Err(bad_match::DUP_FIELD));
        assert_eq!(decode_oxms(&[0x80, 0, 0]), Err(bad_match::BAD_LEN));
        assert_eq!(decode_match(&[0, 0, 0, 4, 0, 0, 0, 0]), Err(bad_match::BAD_TYPE));
        let mut nicira = enc(&[oxm(5, &[8, 0], None)]);
        nicira[0] = 0x00;
        nicira[1] = 0x01;
        assert_eq!(decode_oxms(&nicira), Err(bad_match::BAD_FIELD), "NXM classes are not decoded yet");
    }

    fn any_oxm() -> impl Strategy<Value = Oxm> {
        (0..BASIC_FIELDS.len(), any::<bool>(), prop::collection::vec(any::<u8>(), 16), prop::collection::vec(any::<u8>(), 16)).prop_map(
            |(i, masked, v, m)| {
                let f = BASIC_FIELDS[i];
                let n = usize::from(f.len);
                let mask: Vec<u8> = m[..n].to_vec();
                let value: Vec<u8> =
                    if masked && f.maskable { v[..n].iter().zip(&mask).map(|(a, b)| a & b).collect() } else { v[..n].to_vec() };
                Oxm { class: OPENFLOW_BASIC, field: f.field, value, mask: (masked && f.maskable).then_some(mask) }
            },
        )
    }

    proptest! {
        /// decode(encode(x)) == x for any set of distinct fields.
        #[test]
        fn match_round_trip(oxms in prop::collection::vec(any_oxm(), 0..12)) {
            let mut distinct: Vec<Oxm> = Vec::new();
            for o in oxms {
                if !distinct.iter().any(|d| d.field == o.field) {
                    distinct.push(o);
                }
            }
            let encoded = encode_match(&distinct);
            let (decoded, used) = decode_match(&encoded).unwrap();
            prop_assert_eq!(used, encoded.len());
            prop_assert_eq!(decoded, distinct);
        }

        /// Arbitrary bytes give fields or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_match(&b);
            let _ = decode_oxms(&b);
        }
    }
}
