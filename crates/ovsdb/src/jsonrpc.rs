//! JSON-RPC 1.0 as OVSDB speaks it (RFC 7047, section 4): messages and
//! the framing of a byte stream into them.
//!
//! OVSDB sends JSON objects back to back on a stream, with no length
//! prefix or delimiter. [`Framer`] finds where each object ends by
//! scanning (strings, escapes, nesting depth) without parsing, then hands
//! the complete frame to `serde_json`. Anything else than an object at the
//! top level, a frame over the size limit, or a frame that is not a valid
//! message is an error for that frame; the caller decides whether the
//! connection survives (OVS drops it).
//!
//! Nothing here panics on any input: the framer and the message decoder
//! are property-tested on arbitrary bytes.

use serde_json::{json, Value};

/// Largest frame accepted by default (OVS has no fixed limit; this bounds
/// the memory a broken or hostile peer can make us buffer).
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// A JSON-RPC message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request expecting a response with the same id.
    Request {
        /// Method name.
        method: String,
        /// Positional parameters.
        params: Vec<Value>,
        /// Request id (any JSON value but null).
        id: Value,
    },
    /// A request expecting no response (id null).
    Notification {
        /// Method name.
        method: String,
        /// Positional parameters.
        params: Vec<Value>,
    },
    /// A successful response.
    Reply {
        /// The result.
        result: Value,
        /// The id of the request answered.
        id: Value,
    },
    /// An error response.
    Error {
        /// The error (OVSDB sends a string or an object).
        error: Value,
        /// The id of the request answered.
        id: Value,
    },
}

/// Why bytes are not a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// Bytes outside any JSON object at the top level.
    #[error("unexpected byte {0:#04x} between JSON-RPC messages")]
    Garbage(u8),
    /// A frame grew past the limit.
    #[error("JSON-RPC message longer than {0} bytes")]
    TooLong(usize),
    /// The frame is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, but not a JSON-RPC message.
    #[error("not a JSON-RPC message: {0}")]
    NotMessage(&'static str),
}

impl Message {
    /// A request.
    pub fn request(method: &str, params: Vec<Value>, id: Value) -> Self {
        Message::Request { method: method.to_owned(), params, id }
    }

    /// The message as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Request { method, params, id } => json!({"method": method, "params": params, "id": id}),
            Message::Notification { method, params } => json!({"method": method, "params": params, "id": null}),
            Message::Reply { result, id } => json!({"result": result, "error": null, "id": id}),
            Message::Error { error, id } => json!({"result": null, "error": error, "id": id}),
        }
    }

    /// The message as bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Decodes one JSON value as a message.
    pub fn from_json(v: Value) -> Result<Self, RpcError> {
        let Value::Object(mut o) = v else {
            return Err(RpcError::NotMessage("not an object"));
        };
        let id = o.remove("id").unwrap_or(Value::Null);
        if let Some(method) = o.remove("method") {
            let Value::String(method) = method else {
                return Err(RpcError::NotMessage("method is not a string"));
            };
            let params = match o.remove("params") {
                Some(Value::Array(p)) => p,
                _ => return Err(RpcError::NotMessage("params is not an array")),
            };
            return Ok(if id.is_null() { Message::Notification { method, params } } else { Message::Request { method, params, id } });
        }
        match (o.remove("result"), o.remove("error")) {
            (_, Some(error)) if !error.is_null() => Ok(Message::Error { error, id }),
            (Some(result), _) => Ok(Message::Reply { result, id }),
            _ => Err(RpcError::NotMessage("neither method nor result nor error")),
        }
    }
}

/// Splits a byte stream into JSON-RPC messages.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// Offset in `buf` where the current frame starts.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
    max: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl Framer {
    /// A framer refusing frames longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Framer { buf: Vec::new(), scanned: 0, start: None, depth: 0, in_string: false, escaped: false, max }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `None` if more bytes are needed.
    ///
    /// After an error the framer has dropped what it had buffered and
    /// starts afresh with later bytes.
    pub fn next_message(&mut self) -> Option<Result<Message, RpcError>> {
        match self.next_frame()? {
            Ok(frame) => Some(serde_json::from_slice(&frame).map_err(|e| RpcError::Json(e.to_string())).and_then(Message::from_json)),
            Err(e) => Some(Err(e)),
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.start = None;
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    fn next_frame(&mut self) -> Option<Result<Vec<u8>, RpcError>> {
        while self.scanned < self.buf.len() {
            let b = self.buf[self.scanned];
            self.scanned += 1;
            let Some(start) = self.start else {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' => {
                        self.start = Some(self.scanned - 1);
                        self.depth = 1;
                        continue;
                    }
                    other => {
                        self.reset();
                        return Some(Err(RpcError::Garbage(other)));
                    }
                }
            };
            if self.scanned - start > self.max {
                self.reset();
                return Some(Err(RpcError::TooLong(self.max)));
            }
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        let frame = self.buf[start..self.scanned].to_vec();
                        self.buf.drain(..self.scanned);
                        self.scanned = 0;
                        self.start = None;
                        return Some(Ok(frame));
                    }
                }
                _ => {}
            }
        }
        if let Some(start) = self.start {
            if self.buf.len() - start > self.max {
                self.reset();
                return Some(Err(RpcError::TooLong(self.max)));
            }
        } else {
            self.buf.clear();
            self.scanned = 0;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(f: &mut Framer) -> Vec<Result<Message, RpcError>> {
        std::iter::from_fn(|| f.next_message()).collect()
    }

    #[test]
    fn messages_round_trip() {
        for m in [
            Message::request("transact", vec![json!("Open_vSwitch"), json!({"op": "select"})], json!(7)),
            Message::Notification { method: "update2".into(), params: vec![json!(null), json!({})] },
            Message::Reply { result: json!(["Open_vSwitch"]), id: json!("echo") },
            Message::Error { error: json!("unknown method"), id: json!(3) },
            Message::Reply { result: Value::Null, id: json!(4) },
        ] {
            let mut f = Framer::default();
            f.push(&m.encode());
            assert_eq!(all(&mut f), vec![Ok(m)]);
        }
    }

    #[test]
    fn frames_split_anywhere_and_back_to_back() {
        let a = Message::request("echo", vec![json!("a}\"{[")], json!(1));
        let b = Message::Reply { result: json!({"x": [1, {"y": "\\"}]}), id: json!(2) };
        let mut bytes = a.encode();
        bytes.extend_from_slice(b"\n  ");
        bytes.extend_from_slice(&b.encode());
        for cut in 0..bytes.len() {
            let mut f = Framer::default();
            f.push(&bytes[..cut]);
            let mut got = all(&mut f);
            f.push(&bytes[cut..]);
            got.extend(all(&mut f));
            assert_eq!(got, vec![Ok(a.clone()), Ok(b.clone())], "cut at {cut}");
        }
    }

    #[test]
    fn garbage_too_long_and_non_messages_are_errors_and_the_stream_recovers() {
        let mut f = Framer::new(64);
        f.push(b"x");
        assert_eq!(all(&mut f), vec![Err(RpcError::Garbage(b'x'))]);
        f.push(format!("{{\"method\":\"{}\"}}", "a".repeat(100)).as_bytes());
        assert_eq!(all(&mut f), vec![Err(RpcError::TooLong(64))]);
        f.push(b"{\"id\":1}");
        assert_eq!(all(&mut f), vec![Err(RpcError::NotMessage("neither method nor result nor error"))]);
        f.push(b"{\"method\":1,\"params\":[]}{\"method\":\"echo\",\"params\":{}}");
        assert_eq!(
            all(&mut f),
            vec![Err(RpcError::NotMessage("method is not a string")), Err(RpcError::NotMessage("params is not an array"))]
        );
        f.push(b"{bad json}");
        assert!(matches!(all(&mut f)[..], [Err(RpcError::Json(_))]));
        f.push(&Message::request("echo", vec![], json!(9)).encode());
        assert_eq!(all(&mut f), vec![Ok(Message::request("echo", vec![], json!(9)))]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes, in arbitrary pieces, never panic the framer.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut f = Framer::new(256);
            for c in &chunks {
                f.push(c);
                let _ = all(&mut f);
            }
        }

        /// Any string params survive encoding and framing.
        #[test]
        fn string_params_round_trip(s in ".*", id in any::<u32>()) {
            let m = Message::request("m", vec![json!(s)], json!(id));
            let mut f = Framer::default();
            f.push(&m.encode());
            prop_assert_eq!(all(&mut f), vec![Ok(m)]);
        }
    }
}
