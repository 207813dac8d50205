//! Extraction over arbitrary bytes: must never panic, and the key it gives
//! must be self-consistent (sparse and dense forms agree). A packet with a
//! header key extracts whole, to the flow key the header key gives.
#![no_main]

use dataplane::key::FieldAccess;
use dataplane::{extract, Field, HeaderKey, MiniKey, PacketMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first four bytes choose the ingress port, the rest is the packet.
    let (port, packet) = match data {
        [a, b, c, d, rest @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]), rest),
        _ => (0, data),
    };
    let meta = PacketMeta::new(port);
    let (key, malformed) = extract(packet, &meta);
    if let Some(h) = HeaderKey::of(packet, &meta) {
        assert_eq!(malformed, None);
        let mut from_header = MiniKey::default();
        h.flow_key(&mut from_header);
        assert!(from_header == key);
    }
    let dense = key.expand();
    assert_eq!(dense.get(Field::IN_PORT), u128::from(port));
    assert_eq!(dense.to_mini().expand(), dense);
    let _ = key.hash(0);
});
