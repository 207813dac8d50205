//! Arbitrary bytes from an OVSDB server: framed into JSON-RPC messages,
//! and every `update2`/`update3` notification's table-updates (and every
//! reply's result) applied to a replica of a schema with every column
//! type. Nothing may panic; a refused update must change nothing; a
//! framed message must frame again to itself once encoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ovsdb::{Framer, Message, Replica, Schema};

fn schema() -> &'static Schema {
    static SCHEMA: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../../tests/data/every-type.ovsschema");
        let json: serde_json::Value = serde_json::from_str(text).expect("the test schema is JSON");
        Schema::from_json(&json).expect("the test schema reads")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut replica = Replica::new(schema().clone());
    let mut framer = Framer::default();
    // The first byte cuts the input into pieces, as reads would.
    let (step, bytes) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    for piece in bytes.chunks(step) {
        framer.push(piece);
        while let Some(m) = framer.next_message() {
            let Ok(m) = m else {
                // As the client does: garbage ends the session.
                return;
            };
            let mut again = Framer::default();
            again.push(&m.encode());
            match again.next_message() {
                Some(Ok(back)) => assert_eq!(back, m, "a message frames again to itself"),
                other => panic!("{m:?} encoded does not frame again: {other:?}"),
            }
            let updates = match &m {
                Message::Notification { method, params } if method == "update2" => params.get(1),
                Message::Notification { method, params } if method == "update3" => params.get(2),
                Message::Reply { result, .. } => Some(result),
                _ => None,
            };
            if let Some(updates) = updates {
                let before = replica.contents().clone();
                if replica.apply_update2(updates).is_err() {
                    assert_eq!(replica.contents(), &before, "a refused update changes nothing");
                }
            }
        }
    }
});
