//! Arbitrary bytes as an `ofp_match`: fields or an error, never a panic;
//! what decodes re-encodes to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::oxm::{decode_match, encode_match};

fuzz_target!(|data: &[u8]| {
    if let Ok((fields, _)) = decode_match(data) {
        let again = encode_match(&fields);
        let (back, _) = decode_match(&again).expect("what decoded re-encodes");
        assert_eq!(back, fields);
    }
});
