//! The OXM codec's verdicts against Open vSwitch's (`ovs-ofctl parse-oxm
//! OpenFlow13`, which encodes OXM text and decodes it again): each match
//! is round-tripped by ferrovs and by OVS, each through its own code, and
//! both must accept the same ones, print the same fields, and refuse the
//! rest with the same error. No byte passes between the two here: that is
//! `flows_vs_ovs.rs`, where OVS's FLOW_MOD bytes are decoded by ferrovs
//! and ferrovs' bytes by OVS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::Write;
use std::process::{Command, Stdio};

use ofproto::flowmatch::{decode_oxm_match, encode_oxm_match, field_by_header};
use ofproto::wire::OFP13;

/// The OpenFlow-basic class.
const OPENFLOW_BASIC: u16 = 0x8000;

/// OVS's names of the OpenFlow-basic fields, by field number (1.3's
/// 0–39, then 1.5's `TCP_FLAGS` as 42).
const NAMES: [&str; 43] = [
    "IN_PORT",
    "IN_PHY_PORT",
    "METADATA",
    "ETH_DST",
    "ETH_SRC",
    "ETH_TYPE",
    "VLAN_VID",
    "VLAN_PCP",
    "IP_DSCP",
    "IP_ECN",
    "IP_PROTO",
    "IPV4_SRC",
    "IPV4_DST",
    "TCP_SRC",
    "TCP_DST",
    "UDP_SRC",
    "UDP_DST",
    "SCTP_SRC",
    "SCTP_DST",
    "ICMPV4_TYPE",
    "ICMPV4_CODE",
    "ARP_OP",
    "ARP_SPA",
    "ARP_TPA",
    "ARP_SHA",
    "ARP_THA",
    "IPV6_SRC",
    "IPV6_DST",
    "IPV6_FLABEL",
    "ICMPV6_TYPE",
    "ICMPV6_CODE",
    "IPV6_ND_TARGET",
    "IPV6_ND_SLL",
    "IPV6_ND_TLL",
    "MPLS_LABEL",
    "MPLS_TC",
    "MPLS_BOS",
    "PBB_ISID",
    "TUNNEL_ID",
    "IPV6_EXTHDR",
    "",
    "",
    "TCP_FLAGS",
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `OXM_OF_NAME(value), OXM_OF_NAME_W(value/mask)`, OVS's notation, as
/// an OXM `ofp_match`'s bytes.
fn encode(text: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for item in text.split(", ") {
        let (name, rest) = item.split_once('(').unwrap();
        let args = rest.trim_end_matches(')');
        let (name, masked) = match name.strip_suffix("_W") {
            Some(n) => (n, true),
            None => (name, false),
        };
        let name = name.strip_prefix("OXM_OF_").unwrap();
        let no = NAMES.iter().position(|n| *n == name).unwrap_or_else(|| panic!("unknown field {name}")) as u8;
        let (value, mask) = match args.split_once('/') {
            Some((v, m)) if masked => (unhex(v), Some(unhex(m))),
            _ => (unhex(args), None),
        };
        body.extend_from_slice(&OPENFLOW_BASIC.to_be_bytes());
        body.push(no << 1 | u8::from(mask.is_some()));
        body.push((value.len() + mask.as_ref().map_or(0, Vec::len)) as u8);
        body.extend_from_slice(&value);
        body.extend_from_slice(&mask.unwrap_or_default());
    }
    let mut out = vec![0, 1];
    out.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(8) * 8, 0);
    out
}

/// The entries of an OXM `ofp_match` in OVS's notation.
fn print(b: &[u8]) -> String {
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let mut entries = &b[4..len];
    let mut out = Vec::new();
    while !entries.is_empty() {
        let (class, no, masked, n) =
            (u16::from_be_bytes([entries[0], entries[1]]), entries[2] >> 1, entries[2] & 1 == 1, usize::from(entries[3]));
        assert_eq!(class, OPENFLOW_BASIC, "ferrovs wrote an OpenFlow 1.3 match with a non-basic field: {}", hex(b));
        let bytes = usize::from(field_by_header(class, no, 0).unwrap().bytes);
        let payload = &entries[4..4 + n];
        let name = NAMES[usize::from(no)];
        out.push(if masked {
            format!("OXM_OF_{name}_W({}/{})", hex(&payload[..bytes]), hex(&payload[bytes..]))
        } else {
            format!("OXM_OF_{name}({})", hex(payload))
        });
        entries = &entries[4 + n..];
    }
    out.join(", ")
}

/// What ferrovs makes of a match: decoded by its OXM codec into a match
/// and encoded again for OpenFlow 1.3, its fields printed, or the error.
fn ours(text: &str) -> String {
    match decode_oxm_match(&encode(text)) {
        Ok((m, _)) => {
            let mut again = Vec::new();
            encode_oxm_match(&m, OFP13, &mut again);
            print(&again)
        }
        Err(e) => match (e.ty(), e.code()) {
            (4, 5) => "nx_pull_match() returned error OFPBMC_BAD_WILDCARDS".to_owned(),
            (4, 10) => "nx_pull_match() returned error OFPBMC_DUP_FIELD".to_owned(),
            other => format!("error {other:?}"),
        },
    }
}

#[test]
fn ferrovs_and_ovs_agree_on_oxm_matches() {
    // Every case meets the fields' prerequisites, which both check on
    // decoding.
    let cases = [
        "OXM_OF_IN_PORT(00000001)",
        "OXM_OF_ETH_TYPE(0800), OXM_OF_IP_PROTO(06), OXM_OF_TCP_DST(0050)",
        "OXM_OF_ETH_TYPE(0800), OXM_OF_IP_PROTO(11), OXM_OF_UDP_SRC(0035), OXM_OF_UDP_DST(0044)",
        "OXM_OF_ETH_TYPE(0800), OXM_OF_IPV4_SRC_W(0a000000/ff000000), OXM_OF_IPV4_DST(c0a80001)",
        "OXM_OF_ETH_DST_W(010000000000/010000000000), OXM_OF_VLAN_VID(1005)",
        "OXM_OF_ETH_TYPE(86dd), OXM_OF_IPV6_SRC_W(20010db8000000000000000000000000/ffffffff000000000000000000000000)",
        "OXM_OF_ETH_TYPE(0806), OXM_OF_ARP_OP(0001), OXM_OF_ARP_SPA(0a000001), OXM_OF_ARP_SHA(020000000001)",
        "OXM_OF_TUNNEL_ID_W(0000000000000100/0000000000000f00), OXM_OF_METADATA(00000000000000ff)",
        "OXM_OF_ETH_TYPE(0800), OXM_OF_IPV4_DST_W(0a000001/ff000000)",
        "OXM_OF_ETH_TYPE(0800), OXM_OF_ETH_TYPE(0800)",
    ];
    let mut child = Command::new("ovs-ofctl")
        .args(["parse-oxm", "OpenFlow13"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ovs-ofctl (run `make setup`)");
    child.stdin.take().unwrap().write_all(cases.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let theirs: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(theirs.len(), cases.len(), "{theirs:?}");
    for (case, theirs) in cases.iter().zip(&theirs) {
        assert_eq!(&ours(case), theirs, "{case}");
    }
}
