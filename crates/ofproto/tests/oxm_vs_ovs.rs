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

use ofproto::oxm::{basic_field, decode_match, encode_match, Oxm, BASIC_FIELDS, OPENFLOW_BASIC};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `OXM_OF_NAME(value)` / `OXM_OF_NAME_W(value/mask)`, OVS's notation.
fn parse(text: &str) -> Vec<Oxm> {
    text.split(", ")
        .map(|item| {
            let (name, rest) = item.split_once('(').unwrap();
            let args = rest.trim_end_matches(')');
            let (name, masked) = match name.strip_suffix("_W") {
                Some(n) => (n, true),
                None => (name, false),
            };
            let name = name.strip_prefix("OXM_OF_").unwrap();
            let f = BASIC_FIELDS.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("unknown field {name}"));
            let (value, mask) = match args.split_once('/') {
                Some((v, m)) if masked => (unhex(v), Some(unhex(m))),
                _ => (unhex(args), None),
            };
            Oxm { class: OPENFLOW_BASIC, field: f.field, value, mask }
        })
        .collect()
}

fn print(oxms: &[Oxm]) -> String {
    oxms.iter()
        .map(|o| {
            let name = basic_field(o.field).unwrap().name;
            match &o.mask {
                Some(m) => format!("OXM_OF_{name}_W({}/{})", hex(&o.value), hex(m)),
                None => format!("OXM_OF_{name}({})", hex(&o.value)),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What ferrovs makes of a match: its printed fields, or the error name.
fn ours(text: &str) -> String {
    let encoded = encode_match(&parse(text));
    match decode_match(&encoded) {
        Ok((oxms, _)) => print(&oxms),
        Err(e) => match (e.ty, e.code) {
            (4, 5) => "nx_pull_match() returned error OFPBMC_BAD_WILDCARDS".to_owned(),
            (4, 10) => "nx_pull_match() returned error OFPBMC_DUP_FIELD".to_owned(),
            other => format!("error {other:?}"),
        },
    }
}

#[test]
fn ferrovs_and_ovs_agree_on_oxm_matches() {
    // Every case meets the fields' prerequisites, which OVS also checks on
    // decoding (ferrovs leaves them to the flow table).
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
