//! Reading an expression (OVN's `expr_parse`).
//!
//! The grammar, loosest first: a chain of `&&` or of `||` (mixing them
//! needs parentheses); `!` before a parenthesised or single comparison; a
//! comparison `field relop constants`, `constants relop field`, a range
//! `c1 < field < c2`, a lone field (`field != 0`, for a one-bit field or
//! under `!`), `0`, `1`, `is_chassis_resident("port")`, or `( … )` (at
//! most 100 deep). A `!` is not kept: the parser tracks whether it is
//! under an odd number of them, checks the nominal rules against that
//! ("`inport == …` only positively"), and negates what it read.
//!
//! Errors are the lexer's (its first error wins, with OVN's messages);
//! the functions return `None` when one was reported.

use super::{Cmp, Constant, ConstantSet, Expr, Operand, Relop, Sets};
use crate::lex::{Format, Lexer, Subvalue, Token};
use crate::symtab::{Level, SymbolId, Symtab};

/// Parentheses may nest this deep.
const MAX_PAREN_DEPTH: u32 = 100;

/// Bits of a symbol: `name` or `name[ofs..ofs + n_bits - 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The symbol.
    pub symbol: SymbolId,
    /// The first bit.
    pub ofs: usize,
    /// How many bits (0 for a string symbol).
    pub n_bits: usize,
}

struct Parser<'p, 'a> {
    lexer: &'p mut Lexer<'a>,
    symtab: &'p Symtab,
    sets: &'p Sets,
    /// Under an odd number of `!`.
    not: bool,
    depth: u32,
}

/// Parses an expression from `lexer`'s current token on; `None` when an
/// error was reported (in the lexer).
pub fn parse(lexer: &mut Lexer<'_>, symtab: &Symtab, sets: &Sets) -> Option<Expr> {
    if lexer.has_error() {
        return None;
    }
    Parser { lexer, symtab, sets, not: false, depth: 0 }.or_and()
}

/// Parses the whole of `s` as an expression.
pub fn parse_str(s: &str, symtab: &Symtab, sets: &Sets) -> Result<Expr, String> {
    let mut lexer = Lexer::new(s);
    lexer.get();
    let e = parse(&mut lexer, symtab, sets);
    lexer.force_end();
    match (lexer.take_error(), e) {
        (None, Some(e)) => Ok(e),
        (Some(err), _) => Err(err),
        (None, None) => Err("Syntax error.".into()),
    }
}

/// Parses a field or subfield at `lexer`'s current token.
pub fn parse_field(lexer: &mut Lexer<'_>, symtab: &Symtab) -> Option<Field> {
    let name = match &lexer.token {
        Token::Id(name) => name.clone(),
        _ => {
            lexer.syntax_error(Some("expecting field name"));
            return None;
        }
    };
    let Some(id) = symtab.lookup(&name) else {
        lexer.syntax_error(Some("expecting field name"));
        return None;
    };
    lexer.get();
    let symbol = symtab.get(id);
    if !lexer.match_token(&Token::LSquare) {
        return Some(Field { symbol: id, ofs: 0, n_bits: symbol.width });
    }
    if symbol.width == 0 {
        lexer.error(format!("Cannot select subfield of string field {}.", symbol.name));
        return None;
    }
    let low = lexer.force_int()?;
    let high = if lexer.match_token(&Token::Ellipsis) { lexer.force_int()? } else { low };
    if !lexer.force_match(&Token::RSquare) {
        return None;
    }
    let (low, high) = (low as usize, high as usize);
    if low > high {
        lexer.error(format!("Invalid bit range {low} to {high}."));
        return None;
    }
    if high >= symbol.width {
        lexer.error(format!("Cannot select bits {low} to {high} of {}-bit field {}.", symbol.width, symbol.name));
        return None;
    }
    if symbol.level == Level::Nominal && (low != 0 || high != symbol.width - 1) {
        lexer.error(format!("Cannot select subfield of nominal field {}.", symbol.name));
        return None;
    }
    Some(Field { symbol: id, ofs: low, n_bits: high - low + 1 })
}

/// Parses the whole of `s` as a field or subfield.
pub fn parse_field_str(s: &str, symtab: &Symtab) -> Result<Field, String> {
    let mut lexer = Lexer::new(s);
    lexer.get();
    let f = parse_field(&mut lexer, symtab);
    lexer.force_end();
    match (lexer.take_error(), f) {
        (None, Some(f)) => Ok(f),
        (Some(e), _) => Err(e),
        (None, None) => Err("Syntax error.".into()),
    }
}

/// Parses one constant (no sets) for the field `f`, checked against its
/// type and width as a comparison's would be (OVN's `expr_constant_parse`).
pub fn parse_constant_for(lexer: &mut Lexer<'_>, symtab: &Symtab, f: Field) -> Option<Constant> {
    if lexer.has_error() {
        return None;
    }
    let sets = Sets::default();
    let mut p = Parser { lexer, symtab, sets: &sets, not: false, depth: 0 };
    let mut reading = Reading { set: ConstantSet::default(), strings: false };
    p.constant(&mut reading)?;
    if !p.type_check(f, &reading) {
        return None;
    }
    reading.set.values.pop()
}

/// Parses one constant or a `{}` set of them (no named sets), as an
/// action's option value; the values and whether they are strings.
pub fn parse_constant_set(lexer: &mut Lexer<'_>, symtab: &Symtab) -> Option<(ConstantSet, bool)> {
    if lexer.has_error() {
        return None;
    }
    let sets = Sets::default();
    let mut p = Parser { lexer, symtab, sets: &sets, not: false, depth: 0 };
    p.constant_set().map(|r| (r.set, r.strings))
}

fn relop_of(token: &Token) -> Option<Relop> {
    Some(match token {
        Token::Eq => Relop::Eq,
        Token::Ne => Relop::Ne,
        Token::Lt => Relop::Lt,
        Token::Le => Relop::Le,
        Token::Gt => Relop::Gt,
        Token::Ge => Relop::Ge,
        _ => return None,
    })
}

/// A set being read: its values and whether they are strings (fixed by
/// the first value, or by an empty port group).
struct Reading {
    set: ConstantSet,
    strings: bool,
}

impl Parser<'_, '_> {
    fn or_and(&mut self) -> Option<Expr> {
        let mut e = self.not_expr()?;
        let and = match self.lexer.token {
            Token::And => true,
            Token::Or => false,
            _ => return Some(e),
        };
        let op = if and { Token::And } else { Token::Or };
        self.lexer.get();
        loop {
            let e2 = self.not_expr()?;
            e = Expr::combine(and, e, e2);
            if !self.lexer.match_token(&op) {
                break;
            }
        }
        if matches!(self.lexer.token, Token::And | Token::Or) {
            self.lexer.error("&& and || must be parenthesized when used together.");
            return None;
        }
        Some(e)
    }

    fn not_expr(&mut self) -> Option<Expr> {
        if !self.lexer.match_token(&Token::Not) {
            return self.primary().map(|(e, _)| e);
        }
        self.not = !self.not;
        let e = self.primary();
        self.not = !self.not;
        let (mut e, atomic) = e?;
        if !atomic {
            self.lexer.error("Missing parentheses around operand of !.");
            return None;
        }
        e.negate();
        Some(e)
    }

    /// A primary expression, and whether it is atomic (may follow `!`).
    fn primary(&mut self) -> Option<(Expr, bool)> {
        if self.lexer.match_token(&Token::LParen) {
            if self.depth >= MAX_PAREN_DEPTH {
                self.lexer.error("Parentheses nested too deeply.");
                return None;
            }
            self.depth += 1;
            let e = self.or_and();
            self.depth -= 1;
            let e = e?;
            if !self.lexer.force_match(&Token::RParen) {
                return None;
            }
            return Some((e, true));
        }
        match &self.lexer.token {
            Token::Template(_) => {
                self.lexer.error("Unexpanded template.");
                None
            }
            Token::Id(_) => self.field_first(),
            _ => self.constant_first(),
        }
    }

    fn field_first(&mut self) -> Option<(Expr, bool)> {
        if matches!(self.lexer.lookahead(), Token::LParen) {
            if self.lexer.match_id("is_chassis_resident") {
                self.lexer.get();
                return self.chassis_resident().map(|e| (e, true));
            }
            self.lexer.error("parsing function name");
            return None;
        }
        let f = parse_field(self.lexer, self.symtab)?;
        let Some(r) = relop_of(&self.lexer.token) else {
            if f.n_bits == 0 || matches!(self.lexer.token, Token::Equals) {
                self.lexer.syntax_error(Some("expecting relational operator"));
                return None;
            }
            if f.n_bits > 1 && !self.not {
                self.lexer.error("Explicit `!= 0' is required for inequality test of multibit field against 0.");
                return None;
            }
            let zero = Constant::Int { value: Subvalue::ZERO, mask: None, format: Format::Hexadecimal };
            let set = Reading { set: ConstantSet { values: vec![zero], in_curlies: false }, strings: false };
            return self.make_cmp(f, Relop::Ne, set).map(|e| (e, true));
        };
        self.lexer.get();
        let set = self.constant_set()?;
        self.make_cmp(f, r, set).map(|e| (e, false))
    }

    fn constant_first(&mut self) -> Option<(Expr, bool)> {
        let c1 = self.constant_set()?;
        if relop_of(&self.lexer.token).is_none() && !c1.strings && !c1.set.in_curlies {
            if let [Constant::Int { value, mask: None, format: Format::Decimal }] = c1.set.values.as_slice() {
                if value.low_u64() <= 1 {
                    return Some((Expr::Bool(value.low_u64() == 1), true));
                }
            }
        }
        let r1 = self.relop()?;
        let f = parse_field(self.lexer, self.symtab)?;
        let Some(r2) = relop_of(&self.lexer.token) else {
            return self.make_cmp(f, r1.turn(), c1).map(|e| (e, false));
        };
        self.lexer.get();
        let c2 = self.constant_set()?;
        let less = |r| matches!(r, Relop::Lt | Relop::Le);
        let greater = |r| matches!(r, Relop::Gt | Relop::Ge);
        if !((less(r1) && less(r2)) || (greater(r1) && greater(r2))) {
            self.lexer.error(
                "Range expressions must have the form `x < field < y' or `x > field > y', with each `<' optionally replaced by `<=' or `>' by `>=').",
            );
            return None;
        }
        let e1 = self.make_cmp(f, r1.turn(), c1);
        let e2 = self.make_cmp(f, r2, c2);
        match (e1, e2) {
            (Some(e1), Some(e2)) if !self.lexer.has_error() => Some((Expr::combine(true, e1, e2), false)),
            _ => None,
        }
    }

    fn chassis_resident(&mut self) -> Option<Expr> {
        let Token::Str(port) = &self.lexer.token else {
            self.lexer.syntax_error(Some("expecting string"));
            return None;
        };
        let e = Expr::Chassis { not: false, port: port.clone() };
        self.lexer.get();
        self.lexer.force_match(&Token::RParen).then_some(e)
    }

    fn relop(&mut self) -> Option<Relop> {
        match relop_of(&self.lexer.token) {
            Some(r) => {
                self.lexer.get();
                Some(r)
            }
            None => {
                self.lexer.syntax_error(Some("expecting relational operator"));
                None
            }
        }
    }

    fn constant_set(&mut self) -> Option<Reading> {
        let mut reading = Reading { set: ConstantSet::default(), strings: false };
        if self.lexer.match_token(&Token::LCurly) {
            reading.set.in_curlies = true;
            loop {
                self.constant(&mut reading)?;
                self.lexer.match_token(&Token::Comma);
                if self.lexer.match_token(&Token::RCurly) {
                    break;
                }
            }
        } else {
            self.constant(&mut reading)?;
        }
        Some(reading)
    }

    /// Whether values of this kind may join the set; a syntax error
    /// naming the set's kind if not.
    fn may_add(&mut self, reading: &mut Reading, strings: bool) -> bool {
        if reading.set.values.is_empty() || reading.strings == strings {
            reading.strings = strings;
            return true;
        }
        self.lexer.syntax_error(Some(if reading.strings { "expecting string" } else { "expecting integer" }));
        false
    }

    fn constant(&mut self, reading: &mut Reading) -> Option<()> {
        let token = self.lexer.token.clone();
        match token {
            Token::Template(_) => {
                self.lexer.error("Unexpanded template.");
                return None;
            }
            Token::Str(s) => {
                if !self.may_add(reading, true) {
                    return None;
                }
                reading.set.values.push(Constant::Str(s));
            }
            Token::Integer { value, format } => {
                if !self.may_add(reading, false) {
                    return None;
                }
                reading.set.values.push(Constant::Int { value, mask: None, format });
            }
            Token::Masked { value, mask, format } => {
                if !self.may_add(reading, false) {
                    return None;
                }
                reading.set.values.push(Constant::Int { value, mask: Some(mask), format });
            }
            Token::Macro(name) => {
                let Some(set) = self.sets.addr_sets.get(&name) else {
                    self.lexer.syntax_error(Some("expecting address set name"));
                    return None;
                };
                if !self.may_add(reading, false) {
                    return None;
                }
                reading.set.values.extend(set.values.iter().cloned());
            }
            Token::PortGroup(name) => {
                let sb_name = format!("{}_{name}", self.sets.dp_id);
                let Some(group) = self.sets.port_groups.get(&sb_name).or_else(|| self.sets.port_groups.get(&name)) else {
                    self.lexer.syntax_error(Some("expecting port group name"));
                    return None;
                };
                if !self.may_add(reading, true) {
                    return None;
                }
                reading.set.values.extend(group.values.iter().cloned());
            }
            _ => {
                self.lexer.syntax_error(Some("expecting constant"));
                return None;
            }
        }
        self.lexer.get();
        Some(())
    }

    /// Whether the values read suit `f`'s type and width; an error if not.
    fn type_check(&mut self, f: Field, reading: &Reading) -> bool {
        let symbol = self.symtab.get(f.symbol);
        let is_string_field = symbol.width == 0;
        if reading.strings != is_string_field {
            self.lexer.error(format!(
                "{} field {} is not compatible with {} constant.",
                if is_string_field { "String" } else { "Integer" },
                symbol.name,
                if reading.strings { "string" } else { "integer" }
            ));
            return false;
        }
        if !is_string_field {
            if let Some(w) = reading.set.values.iter().map(Constant::width).find(|&w| w > symbol.width) {
                self.lexer.error(format!("{w}-bit constant is not compatible with {}-bit field {}.", symbol.width, symbol.name));
                return false;
            }
        }
        true
    }

    /// The comparison of `f` with each of `set`'s values.
    fn make_cmp(&mut self, f: Field, r: Relop, reading: Reading) -> Option<Expr> {
        if !self.type_check(f, &reading) {
            return None;
        }
        let symbol = self.symtab.get(f.symbol);
        let set = reading.set;
        if !matches!(r, Relop::Eq | Relop::Ne) {
            let message = if set.in_curlies {
                Some("Only == and != operators may be used with value sets.".to_owned())
            } else if matches!(symbol.level, Level::Nominal | Level::Boolean) {
                Some(format!("Only == and != operators may be used with {} field {}.", symbol.level.name(), symbol.name))
            } else if set.values.is_empty() {
                Some("Only == and != operators may be used to compare a field against an empty value set.".to_owned())
            } else if matches!(set.values[0], Constant::Int { mask: Some(_), .. }) {
                Some("Only == and != operators may be used with masked constants.  Consider using subfields instead (e.g. eth.src[0..15] > 0x1111 in place of eth.src > 00:00:00:00:11:11/00:00:00:00:ff:ff).".to_owned())
            } else {
                None
            };
            if let Some(message) = message {
                self.lexer.error(message);
                return None;
            }
        }
        if symbol.level == Level::Nominal {
            if symbol.predicate().is_some() {
                for v in &set.values {
                    let odd = matches!(v, Constant::Int { value, .. } if value.bit(0));
                    if !(odd ^ (r == Relop::Ne) ^ self.not) {
                        let n = &symbol.name;
                        self.lexer.error(format!(
                            "Nominal predicate {n} may only be tested positively, e.g. `{n}' or `{n} == 1' but not `!{n}' or `{n} == 0'."
                        ));
                        return None;
                    }
                }
            } else if r != if self.not { Relop::Ne } else { Relop::Eq } {
                self.lexer.error(format!(
                    "Nominal field {} may only be tested for equality (taking enclosing `!' operators into account).",
                    symbol.name
                ));
                return None;
            }
        }
        let mut values = set.values.into_iter();
        let Some(first) = values.next() else {
            return Some(Expr::Bool(r == Relop::Ne));
        };
        let mut e = cmp_of(f, r, first);
        for v in values {
            e = Expr::combine(r != Relop::Eq, e, cmp_of(f, r, v));
        }
        Some(e)
    }
}

/// `f r c`, the constant placed at the field's bits.
fn cmp_of(f: Field, relop: Relop, c: Constant) -> Expr {
    let operand = match c {
        Constant::Str(s) => Operand::Str(s),
        Constant::Int { value, mask, .. } => {
            // The field is at most 128 bits: its bits of the constant.
            let bits = super::ones(f.n_bits);
            let v = (value.low_u128() & bits) << f.ofs;
            let m = mask.map_or(bits, |m| m.low_u128() & bits) << f.ofs;
            Operand::Int { value: v, mask: m }
        }
    };
    Expr::Cmp(Box::new(Cmp { symbol: f.symbol, relop, operand }))
}
