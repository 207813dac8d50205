//! Arbitrary text through the action parser, as a logical flow's
//! `actions` column, with `test-ovn`'s parameters: actions or an error,
//! never a panic. Parsed actions are printed, encoded (groups and meters
//! given ids) and printed as OpenFlow; their printed text, where it
//! parses again (OVN's does not always), prints the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovn_agent::tool::check_actions;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = check_actions(text) {
        panic!("{text:?}: {e}");
    }
});
