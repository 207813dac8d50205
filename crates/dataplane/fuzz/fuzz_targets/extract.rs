//! Extraction over arbitrary bytes: must never panic, and the key it gives
//! must be self-consistent (sparse and dense forms agree).
#![no_main]

use dataplane::key::FieldAccess;
use dataplane::{extract, Field, PacketMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first four bytes choose the ingress port, the rest is the packet.
    let (port, packet) = match data {
        [a, b, c, d, rest @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]), rest),
        _ => (0, data),
    };
    let (key, _) = extract(packet, &PacketMeta::new(port));
    let dense = key.expand();
    assert_eq!(dense.get(Field::IN_PORT), u128::from(port));
    assert_eq!(dense.to_mini().expand(), dense);
    let _ = key.hash(0);
});
