//! Arbitrary bytes as NXM/OXM match entries and as action lists and
//! instructions of each version: a value or an error, never a panic; what
//! decodes re-encodes, and the re-encoding is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::actions::{decode_actions, decode_instructions, encode_actions, encode_instructions, Context};
use ofproto::flowmatch::{decode_entries, encode_entries};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_entries(data) {
        for version in [0, 4, 6] {
            let mut once = Vec::new();
            encode_entries(&m, version, &mut once);
            let again = decode_entries(&once).expect("an encoded match decodes");
            let mut twice = Vec::new();
            encode_entries(&again, version, &mut twice);
            assert_eq!(once, twice);
        }
    }
    for version in [1, 4, 6] {
        let ctx = Context::default();
        if let Ok(a) = decode_actions(data, version) {
            let mut out = Vec::new();
            if version == 1 {
                encode_actions(&a, version, ctx, &mut out);
                assert!(decode_actions(&out, version).is_ok(), "encoded 1.0 actions decode");
            }
        }
        if version > 1 {
            if let Ok(a) = decode_instructions(data, version) {
                let mut out = Vec::new();
                encode_instructions(&a, version, ctx, &mut out);
                assert!(decode_instructions(&out, version).is_ok(), "encoded instructions decode");
            }
        }
    }
});
