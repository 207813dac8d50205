//! Arbitrary bytes as an OXM `ofp_match`, through the OXM codec the
//! switch uses: a match or an error, never a panic; what decodes
//! re-encodes (for OpenFlow 1.3) to a match that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::flowmatch::{decode_oxm_match, encode_oxm_match};
use ofproto::wire::OFP13;

fuzz_target!(|data: &[u8]| {
    if let Ok((m, _)) = decode_oxm_match(data) {
        let mut again = Vec::new();
        encode_oxm_match(&m, OFP13, &mut again);
        let (back, _) = decode_oxm_match(&again).expect("what decoded re-encodes");
        let mut twice = Vec::new();
        encode_oxm_match(&back, OFP13, &mut twice);
        assert_eq!(twice, again);
    }
});
