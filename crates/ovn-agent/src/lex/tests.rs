use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::*;

fn one(s: &str) -> Token {
    let mut l = Lexer::new(s);
    l.get().clone()
}

#[test]
fn integers_keep_their_format_and_masks_print_as_prefixes() {
    assert_eq!(format_tokens("0x01234 0x0 ::ffff:c000:0280"), "0x1234 0 ::ffff:192.0.2.128");
    assert_eq!(format_tokens("192.168.0.2/255.255.255.0 ff00::/ff00::"), "192.168.0.0/24 ff00::/8");
    assert_eq!(format_tokens("1.2.3.4:5 1..5"), "1.2.3.4 : 5 1 .. 5");
    assert_eq!(
        one("10.0.0.0/8"),
        Token::Masked { value: Subvalue::from_u64(0x0a00_0000), mask: Subvalue::from_u64(0xff00_0000), format: Format::Ipv4 }
    );
}

#[test]
fn errors_carry_ovns_messages_and_lexing_goes_on() {
    assert_eq!(format_tokens("$1"), "error(\"`$' must be followed by a valid identifier.\") 1");
    assert_eq!(format_tokens("a/b"), "a error(\"`/' is only valid as part of `//' or `/*'.\") b");
    assert_eq!(format_tokens("0x1/0x1 0x"), "0x1/0x1 error(\"Hex digits expected following 0x.\")");
    assert_eq!(format_tokens("\u{e9}"), "error(\"Invalid byte 0x-61 in input.\") error(\"Invalid byte 0x-87 in input.\")");
}

#[test]
fn strings_unescape_as_json() {
    assert_eq!(one(r#""a\u00e9\ud83d\ude00\n""#), Token::Str("a\u{e9}\u{1f600}\n".into()));
    assert_eq!(one(r#""\x""#), Token::Error("bad escape \\x".into()));
    assert_eq!(one(r#""\u0000""#), Token::Error("null bytes not supported in quoted strings".into()));
    assert_eq!(Token::Str("a\"\u{1}".into()).to_string(), r#""a\"\u0001""#);
}

#[test]
fn syntax_errors_name_the_token_or_the_end() {
    let mut l = Lexer::new("foo ==");
    l.get();
    l.get();
    l.syntax_error(Some("expecting `('"));
    assert_eq!(l.take_error().as_deref(), Some("Syntax error at `==' expecting `('."));
    l.get();
    l.force_match(&Token::LParen);
    assert_eq!(l.take_error().as_deref(), Some("Syntax error at end of input expecting `('."));
    let mut l = Lexer::new("&");
    l.get();
    l.syntax_error(None);
    assert_eq!(l.take_error().as_deref(), Some("`&' is only valid as part of `&&'."), "the lexical error wins");
}

#[test]
fn ipv6_prints_as_inet_ntop() {
    let p = |s: &str| {
        let a: Ipv6Addr = s.parse().unwrap();
        let mut out = String::new();
        write_ipv6(&a.octets(), &mut out);
        out
    };
    assert_eq!(p("::"), "::");
    assert_eq!(p("::1"), "::1");
    assert_eq!(p("::1.2.3.4"), "::1.2.3.4");
    assert_eq!(p("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
    assert_eq!(p("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
    assert_eq!(p("1:2:3:4:5:6:7:0"), "1:2:3:4:5:6:7:0");
    assert_eq!(p("1:2:3:4:5:6:0:0"), "1:2:3:4:5:6::");
}

proptest! {
    /// What a token prints as lexes back to the same token (test-ovn's
    /// check), and no input makes the lexer panic.
    #[test]
    fn printed_tokens_lex_back(input in "[ -~]{0,40}") {
        let mut lexer = Lexer::new(&input);
        let mut n = 0;
        while !matches!(lexer.get(), Token::End) {
            n += 1;
            prop_assert!(n <= input.len() + 1, "the lexer moves forward");
            if matches!(lexer.token, Token::Error(_)) {
                continue;
            }
            let text = lexer.token.to_string();
            let again = one(&text);
            prop_assert!(again == lexer.token || equal_integers(&again, &lexer.token), "{:?} printed {:?} lexes as {:?}", lexer.token, text, again);
        }
    }

    #[test]
    fn any_bytes_lex_without_panic(input in any::<Vec<u8>>()) {
        let s = String::from_utf8_lossy(&input);
        let _ = format_tokens(&s);
    }
}

/// The same integer, written in another format (a decimal that prints as
/// hexadecimal because its mask is wide).
fn equal_integers(a: &Token, b: &Token) -> bool {
    match (a, b) {
        (Token::Integer { value: v1, .. }, Token::Integer { value: v2, .. }) => v1 == v2,
        (Token::Masked { value: v1, mask: m1, .. }, Token::Masked { value: v2, mask: m2, .. }) => v1 == v2 && m1 == m2,
        _ => false,
    }
}
