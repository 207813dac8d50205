//! The lexer of OVN's match and action language (the tokens of OVN
//! 23.03's `lib/lex.c`), with its error tokens and messages.
//!
//! Input is cut into [`Token`]s: identifiers (letters, digits, `_` and
//! `.`, not starting with a digit), quoted strings (JSON escapes),
//! integers, `$address_set`, `@port_group`, `^template` and punctuation.
//! White space and `//` or `/* */` comments separate tokens.
//!
//! # Integers
//!
//! An integer is a [`Subvalue`] (1 024 bits, big-endian, as OVS's
//! `union mf_subvalue`) and the [`Format`] it was written in: decimal,
//! hexadecimal, IPv4, IPv6 or Ethernet. `VALUE/MASK` makes a masked
//! integer: the same format on both sides, or an address and a decimal
//! prefix length (`10.0.0.0/8`, `ff00::/8`), or `0/0x…`; the value's bits
//! outside the mask are cleared. A token prints as OVN prints it (an
//! IPv4 or IPv6 mask that is a prefix prints as its length), so that the
//! text of any token lexes back to the same token.
//!
//! # Errors
//!
//! Bad input is an [`Token::Error`] carrying OVN's message, not a failure
//! of the lexer: it goes on after it. A [`Lexer`] keeps the first error a
//! parser reports ([`Lexer::error`], [`Lexer::syntax_error`]); a lexical
//! error under the current token wins over the parser's, as in OVN.

use std::fmt::{self, Write as _};

mod integer;

use integer::parse_integer;
pub use integer::{write_ipv6, write_mac, write_masked, Format, Subvalue, SUBVALUE_BYTES};

/// A token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The end of the input.
    End,
    /// `foo`.
    Id(String),
    /// `"foo"`, unescaped.
    Str(String),
    /// `12345`, `1.2.3.4`, `::1`, `01:02:03:04:05:06`.
    Integer {
        /// The value.
        value: Subvalue,
        /// How it was written.
        format: Format,
    },
    /// `12345/10`, `1.2.0.0/16`, `::2/127`, …
    Masked {
        /// The value, its bits outside the mask cleared.
        value: Subvalue,
        /// The mask.
        mask: Subvalue,
        /// How the value was written.
        format: Format,
    },
    /// `$NAME`: an address set (the name without the `$`).
    Macro(String),
    /// `@NAME`: a port group.
    PortGroup(String),
    /// `^NAME`: a template variable.
    Template(String),
    /// Invalid input, with OVN's message.
    Error(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LCurly,
    /// `}`
    RCurly,
    /// `[`
    LSquare,
    /// `]`
    RSquare,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `!`
    Not,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `..`
    Ellipsis,
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// `=`
    Equals,
    /// `<->`
    Exchange,
    /// `--`
    Decrement,
    /// `:`
    Colon,
    /// `-`
    Hyphen,
}

impl Token {
    /// Whether `self` and `other` are the same kind of token.
    pub fn same_kind(&self, other: &Token) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The punctuation's text, or `None` for a token with data.
    fn punctuation(&self) -> Option<&'static str> {
        Some(match self {
            Token::End => "$",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LCurly => "{",
            Token::RCurly => "}",
            Token::LSquare => "[",
            Token::RSquare => "]",
            Token::Eq => "==",
            Token::Ne => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::Not => "!",
            Token::And => "&&",
            Token::Or => "||",
            Token::Ellipsis => "..",
            Token::Comma => ",",
            Token::Semicolon => ";",
            Token::Equals => "=",
            Token::Exchange => "<->",
            Token::Decrement => "--",
            Token::Colon => ":",
            Token::Hyphen => "-",
            _ => return None,
        })
    }
}

/// Writes `s` as a JSON string (OVS's `json_string_escape`).
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.punctuation() {
            return f.write_str(p);
        }
        let mut out = String::new();
        match self {
            Token::Id(s) => out.push_str(s),
            Token::Error(s) => {
                out.push_str("error(");
                write_json_string(s, &mut out);
                out.push(')');
            }
            Token::Str(s) => write_json_string(s, &mut out),
            Token::Integer { value, format } => format.fitting(value, None).write(value, &mut out),
            Token::Masked { value, mask, format } => write_masked(value, mask, *format, &mut out),
            Token::Macro(s) => {
                out.push('$');
                out.push_str(s);
            }
            Token::PortGroup(s) => {
                out.push('@');
                out.push_str(s);
            }
            Token::Template(s) => {
                out.push('^');
                out.push_str(s);
            }
            _ => {}
        }
        f.write_str(&out)
    }
}

/// The byte at `i`, or 0 past the end (the C string's terminator).
pub(crate) fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

fn is_id1(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'.'
}

fn is_idn(c: u8) -> bool {
    is_id1(c) || c.is_ascii_digit()
}

pub(crate) fn hexit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Reads one token at `p`; returns it, where it starts (after white space
/// and comments) and where the next one may start.
pub fn parse_token(input: &[u8], mut p: usize) -> (Token, usize, usize) {
    loop {
        let start = p;
        let c = at(input, p);
        let (token, next) = match c {
            0 => (Token::End, p),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                p += 1;
                continue;
            }
            b'/' => match at(input, p + 1) {
                b'/' => {
                    p += 2;
                    while !matches!(at(input, p), 0 | b'\n') {
                        p += 1;
                    }
                    continue;
                }
                b'*' => {
                    p += 2;
                    loop {
                        match at(input, p) {
                            b'*' if at(input, p + 1) == b'/' => break,
                            0 | b'\n' => return (Token::Error("`/*' without matching `*/'.".into()), start, p),
                            _ => p += 1,
                        }
                    }
                    p += 2;
                    continue;
                }
                _ => (Token::Error("`/' is only valid as part of `//' or `/*'.".into()), p + 1),
            },
            b'(' => (Token::LParen, p + 1),
            b')' => (Token::RParen, p + 1),
            b'{' => (Token::LCurly, p + 1),
            b'}' => (Token::RCurly, p + 1),
            b'[' => (Token::LSquare, p + 1),
            b']' => (Token::RSquare, p + 1),
            b'=' if at(input, p + 1) == b'=' => (Token::Eq, p + 2),
            b'=' => (Token::Equals, p + 1),
            b'!' if at(input, p + 1) == b'=' => (Token::Ne, p + 2),
            b'!' => (Token::Not, p + 1),
            b'&' if at(input, p + 1) == b'&' => (Token::And, p + 2),
            b'&' => (Token::Error("`&' is only valid as part of `&&'.".into()), p + 1),
            b'|' if at(input, p + 1) == b'|' => (Token::Or, p + 2),
            b'|' => (Token::Error("`|' is only valid as part of `||'.".into()), p + 1),
            b'<' if at(input, p + 1) == b'=' => (Token::Le, p + 2),
            b'<' if at(input, p + 1) == b'-' && at(input, p + 2) == b'>' => (Token::Exchange, p + 3),
            b'<' => (Token::Lt, p + 1),
            b'>' if at(input, p + 1) == b'=' => (Token::Ge, p + 2),
            b'>' => (Token::Gt, p + 1),
            b'.' if at(input, p + 1) == b'.' => (Token::Ellipsis, p + 2),
            b'.' => (Token::Error("`.' is only valid as part of `..' or a number.".into()), p + 1),
            b',' => (Token::Comma, p + 1),
            b';' => (Token::Semicolon, p + 1),
            b'-' if at(input, p + 1) == b'-' => (Token::Decrement, p + 2),
            b'-' => (Token::Hyphen, p + 1),
            b'$' => parse_prefixed(input, p, '$', Token::Macro),
            b'@' => parse_prefixed(input, p, '@', Token::PortGroup),
            b'^' => parse_prefixed(input, p, '^', Token::Template),
            b':' if at(input, p + 1) != b':' => (Token::Colon, p + 1),
            b':' | b'0'..=b'9' => parse_integer(input, p),
            b'"' => parse_string(input, p),
            b'a'..=b'f' | b'A'..=b'F' => {
                // An Ethernet or IPv6 address starts with hex digits and a
                // colon; an identifier never does.
                let mut q = p;
                while at(input, q).is_ascii_hexdigit() {
                    q += 1;
                }
                if at(input, q) == b':' {
                    parse_integer(input, p)
                } else {
                    parse_id(input, p, Token::Id)
                }
            }
            c if is_id1(c) => parse_id(input, p, Token::Id),
            c if (0x20..0x7f).contains(&c) => (Token::Error(format!("Invalid character `{}' in input.", c as char)), p + 1),
            // OVN prints the byte as a signed decimal after "0x".
            c => (Token::Error(format!("Invalid byte 0x{} in input.", c as i8)), p + 1),
        };
        return (token, start, next);
    }
}

fn parse_id(input: &[u8], start: usize, make: fn(String) -> Token) -> (Token, usize) {
    let mut p = start + 1;
    while is_idn(at(input, p)) {
        p += 1;
    }
    (make(String::from_utf8_lossy(&input[start..p]).into_owned()), p)
}

fn parse_prefixed(input: &[u8], p: usize, prefix: char, make: fn(String) -> Token) -> (Token, usize) {
    if !is_id1(at(input, p + 1)) {
        return (Token::Error(format!("`{prefix}' must be followed by a valid identifier.")), p + 1);
    }
    parse_id(input, p + 1, make)
}

fn parse_string(input: &[u8], p: usize) -> (Token, usize) {
    let start = p + 1;
    let mut q = start;
    loop {
        match at(input, q) {
            0 => return (Token::Error("Input ends inside quoted string.".into()), q),
            b'"' => break,
            b'\\' => {
                q += 1;
                if at(input, q) != 0 {
                    q += 1;
                }
            }
            _ => q += 1,
        }
    }
    let token = match json_unescape(&input[start..q]) {
        Ok(s) => Token::Str(s),
        Err(e) => Token::Error(e),
    };
    (token, q + 1)
}

/// Undoes JSON string escapes (OVS's `json_string_unescape`), with its
/// messages.
pub fn json_unescape(raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c == b'"' {
            return Err("quoted string may not include unescaped \"".into());
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&e) = raw.get(i) else {
            return Err("quoted string may not end with backslash".into());
        };
        i += 1;
        match e {
            b'"' | b'\\' | b'/' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let c0 = hex4(raw, i)?;
                i += 4;
                let c = if (0xd800..0xdc00).contains(&c0) {
                    if raw.get(i) != Some(&b'\\') || raw.get(i + 1) != Some(&b'u') {
                        return Err("malformed escaped surrogate pair".into());
                    }
                    let c1 = hex4(raw, i + 2)?;
                    i += 6;
                    if !(0xdc00..0xe000).contains(&c1) {
                        return Err("second half of escaped surrogate pair is not trailing surrogate".into());
                    }
                    0x10000 + ((c0 - 0xd800) << 10) + (c1 - 0xdc00)
                } else {
                    c0
                };
                let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            e => return Err(format!("bad escape \\{}", e as char)),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn hex4(raw: &[u8], i: usize) -> Result<u32, String> {
    let Some(digits) = raw.get(i..i + 4) else {
        return Err("quoted string ends within \\u escape".into());
    };
    let mut v = 0;
    for &d in digits {
        v = v * 16 + u32::from(hexit(d).ok_or("malformed \\u escape")?);
    }
    if v == 0 {
        return Err("null bytes not supported in quoted strings".into());
    }
    Ok(v)
}

/// A parser's view of the input: the current token, where it is, and the
/// first error reported.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    input: &'a [u8],
    /// Where the current token starts.
    start: Option<usize>,
    /// Where the next token may start.
    next: usize,
    /// The current token.
    pub token: Token,
    error: Option<String>,
}

impl<'a> Lexer<'a> {
    /// A lexer over `input` (up to a NUL, as OVN's C strings end), before
    /// its first token: call [`Lexer::get`].
    pub fn new(input: &'a str) -> Self {
        let bytes = input.as_bytes();
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Lexer { input: &bytes[..len], start: None, next: 0, token: Token::End, error: None }
    }

    /// Moves to the next token; returns it.
    pub fn get(&mut self) -> &Token {
        let (token, start, next) = parse_token(self.input, self.next);
        self.token = token;
        self.start = Some(start);
        self.next = next;
        &self.token
    }

    /// The token after the current one, without moving.
    pub fn lookahead(&self) -> Token {
        parse_token(self.input, self.next).0
    }

    /// The current token's text as written.
    pub fn token_text(&self) -> &str {
        let start = self.start.unwrap_or(self.next).min(self.next);
        std::str::from_utf8(&self.input[start..self.next]).unwrap_or("")
    }

    /// If the current token is of `kind`'s kind, moves past it.
    pub fn match_token(&mut self, kind: &Token) -> bool {
        if self.token.same_kind(kind) {
            self.get();
            true
        } else {
            false
        }
    }

    /// As [`Lexer::match_token`], or a syntax error "expecting `X'".
    pub fn force_match(&mut self, kind: &Token) -> bool {
        if matches!(kind, Token::End) {
            return self.force_end();
        }
        if self.match_token(kind) {
            return true;
        }
        self.syntax_error(Some(&format!("expecting `{kind}'")));
        false
    }

    /// If the current token is the identifier `id`, moves past it.
    pub fn match_id(&mut self, id: &str) -> bool {
        if matches!(&self.token, Token::Id(s) if s == id) {
            self.get();
            true
        } else {
            false
        }
    }

    /// If the current token is the string `s`, moves past it.
    pub fn match_string(&mut self, s: &str) -> bool {
        if matches!(&self.token, Token::Str(t) if t == s) {
            self.get();
            true
        } else {
            false
        }
    }

    /// Whether the current token is a decimal integer up to `i32::MAX`.
    pub fn is_int(&self) -> bool {
        matches!(&self.token, Token::Integer { value, format: Format::Decimal } if value.low_u64() <= i32::MAX as u64)
    }

    /// The current token as a small integer, moving past it.
    pub fn get_int(&mut self) -> Option<i32> {
        if !self.is_int() {
            return None;
        }
        let Token::Integer { value, .. } = &self.token else { return None };
        let v = value.low_u64() as i32;
        self.get();
        Some(v)
    }

    /// As [`Lexer::get_int`], or the syntax error "expecting small integer".
    pub fn force_int(&mut self) -> Option<i32> {
        let v = self.get_int();
        if v.is_none() {
            self.syntax_error(Some("expecting small integer"));
        }
        v
    }

    /// Whether the input has ended; if not, a syntax error.
    pub fn force_end(&mut self) -> bool {
        if matches!(self.token, Token::End) {
            return true;
        }
        self.syntax_error(Some("expecting end of input"));
        false
    }

    /// Whether an error is already reported (or the current token is
    /// one, which is reported instead).
    fn error_pending(&mut self) -> bool {
        if self.error.is_some() {
            return true;
        }
        if let Token::Error(e) = &self.token {
            self.error = Some(e.clone());
            return true;
        }
        false
    }

    /// Reports `message`, unless an error is already reported.
    pub fn error(&mut self, message: impl Into<String>) {
        if !self.error_pending() {
            self.error = Some(message.into());
        }
    }

    /// Reports "Syntax error at `TOKEN' MESSAGE.", unless an error is
    /// already reported.
    pub fn syntax_error(&mut self, message: Option<&str>) {
        if self.error_pending() {
            return;
        }
        let mut s = String::from("Syntax error");
        if matches!(self.token, Token::End) {
            s.push_str(" at end of input");
        } else if self.start.is_some() {
            let _ = write!(s, " at `{}'", self.token_text());
        }
        if let Some(m) = message {
            s.push(' ');
            s.push_str(m);
        }
        s.push('.');
        self.error = Some(s);
    }

    /// Whether an error has been reported.
    pub fn has_error(&self) -> bool {
        self.error.is_some()
    }

    /// Takes the reported error.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }
}

/// The tokens of `line`, printed as `ovstest test-ovn lex` prints them.
pub fn format_tokens(line: &str) -> String {
    let mut lexer = Lexer::new(line);
    let mut out = Vec::new();
    while !matches!(lexer.get(), Token::End) {
        out.push(lexer.token.to_string());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests;
