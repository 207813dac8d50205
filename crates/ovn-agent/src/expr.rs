//! Match expressions: a logical flow's `match` column, from text to the
//! OpenFlow matches that implement it, in OVN 23.03's steps (`lib/expr.c`).
//!
//! 1. [`parse`] reads the text into an [`Expr`]: comparisons of a symbol
//!    (or some of its bits) with a constant, `&&`, `||`, `!`, constants
//!    `0` and `1`, and `is_chassis_resident("port")`. Sets (`{1, 2}`,
//!    `$address_set`, `@port_group`) become a disjunction of equalities
//!    (or a conjunction of inequalities); `!` is pushed down to the
//!    comparisons as it is read; `1 < x < 4` becomes two comparisons.
//! 2. Annotation adds each symbol's prerequisites and expands predicates
//!    and subfields into comparisons of whole OpenFlow fields.
//! 3. Simplification turns `!=` and relational comparisons into
//!    equalities under masks and evaluates `is_chassis_resident()`.
//! 4. Normalization puts the expression in disjunctive normal form,
//!    merging comparisons of one field, and keeps a disjunction of one
//!    field's values inside a conjunction as it is, for conjunctive
//!    matches.
//! 5. Conversion to matches gives one OpenFlow match per conjunction, or
//!    `conjunction(id, k/n)` clauses where the cross product would be
//!    large.
//!
//! An expression holds [`SymbolId`]s: it is read against a
//! [`Symtab`], which the steps take as argument.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::lex::{write_json_string, Format, Subvalue};
use crate::symtab::{SymbolId, Symtab};

pub use ofproto::match_format::hex;

mod annotate;
mod matches;
mod normalize;
mod parse;
mod simplify;

pub use annotate::{annotate, field_prereqs, unique_symbol};
pub use matches::{to_matches, Conjunction, ExprMatch, Matches, WordHasher};
pub use normalize::normalize;
pub use parse::{parse, parse_constant_for, parse_constant_set, parse_field, parse_field_str, parse_str, Field};
pub use simplify::{evaluate_condition, fix, simplify};

/// A relational operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relop {
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
}

impl Relop {
    /// Its text.
    pub fn as_str(self) -> &'static str {
        match self {
            Relop::Eq => "==",
            Relop::Ne => "!=",
            Relop::Lt => "<",
            Relop::Le => "<=",
            Relop::Gt => ">",
            Relop::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn turn(self) -> Relop {
        match self {
            Relop::Lt => Relop::Gt,
            Relop::Le => Relop::Ge,
            Relop::Gt => Relop::Lt,
            Relop::Ge => Relop::Le,
            r => r,
        }
    }

    /// The opposite operator (`a < b` is `!(a >= b)`).
    pub fn invert(self) -> Relop {
        match self {
            Relop::Eq => Relop::Ne,
            Relop::Ne => Relop::Eq,
            Relop::Lt => Relop::Ge,
            Relop::Le => Relop::Gt,
            Relop::Gt => Relop::Le,
            Relop::Ge => Relop::Lt,
        }
    }

    /// Whether the operator holds for a three-way comparison's result.
    pub fn test(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relop::Eq => ord == Equal,
            Relop::Ne => ord != Equal,
            Relop::Lt => ord == Less,
            Relop::Le => ord != Greater,
            Relop::Gt => ord == Greater,
            Relop::Ge => ord != Less,
        }
    }
}

/// What a comparison compares with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    /// The symbol's bits under `mask` against `value` (placed at the bits
    /// of the symbol they were written for).
    Int {
        /// The value.
        value: u128,
        /// The bits compared.
        mask: u128,
    },
    /// A string symbol against a string.
    Str(String),
}

/// A comparison of a symbol with a constant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cmp {
    /// The symbol.
    pub symbol: SymbolId,
    /// The relation.
    pub relop: Relop,
    /// The constant.
    pub operand: Operand,
}

/// An expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A comparison.
    Cmp(Box<Cmp>),
    /// All of these (at least two, none itself an `And`).
    And(Vec<Expr>),
    /// Any of these (at least two, none itself an `Or`).
    Or(Vec<Expr>),
    /// A constant.
    Bool(bool),
    /// `is_chassis_resident(port)`, or its negation.
    Chassis {
        /// Negated.
        not: bool,
        /// The logical port.
        port: String,
    },
}

impl Expr {
    /// `a && b` or `a || b` (`and` says which), flattening operands of the
    /// same kind into one node (OVN's `expr_combine`).
    pub fn combine(and: bool, a: Expr, b: Expr) -> Expr {
        let same = |e: &Expr| if and { matches!(e, Expr::And(_)) } else { matches!(e, Expr::Or(_)) };
        let subs = match (same(&a), same(&b)) {
            (true, true) => {
                let mut s = a.into_subs();
                s.extend(b.into_subs());
                s
            }
            (true, false) => {
                let mut s = a.into_subs();
                s.push(b);
                s
            }
            (false, true) => {
                let mut s = b.into_subs();
                s.insert(0, a);
                s
            }
            (false, false) => vec![a, b],
        };
        if and {
            Expr::And(subs)
        } else {
            Expr::Or(subs)
        }
    }

    /// Combines an optional expression with another.
    pub fn combine_opt(and: bool, a: Option<Expr>, b: Expr) -> Expr {
        match a {
            Some(a) => Expr::combine(and, a, b),
            None => b,
        }
    }

    fn into_subs(self) -> Vec<Expr> {
        match self {
            Expr::And(s) | Expr::Or(s) => s,
            e => vec![e],
        }
    }

    /// Negates the expression in place, pushing `!` down to the leaves.
    pub fn negate(&mut self) {
        match self {
            Expr::Cmp(c) => c.relop = c.relop.invert(),
            Expr::Bool(b) => *b = !*b,
            Expr::Chassis { not, .. } => *not = !*not,
            Expr::And(_) | Expr::Or(_) => {
                *self = match std::mem::replace(self, Expr::Bool(false)) {
                    Expr::And(mut subs) => {
                        subs.iter_mut().for_each(Expr::negate);
                        Expr::Or(subs)
                    }
                    Expr::Or(mut subs) => {
                        subs.iter_mut().for_each(Expr::negate);
                        Expr::And(subs)
                    }
                    other => other,
                };
            }
        }
    }

    /// The expression as OVN prints it (`expr_format`).
    pub fn format(&self, symtab: &Symtab) -> String {
        let mut out = String::new();
        self.write(symtab, &mut out);
        out
    }

    fn write(&self, symtab: &Symtab, out: &mut String) {
        match self {
            Expr::Cmp(c) => write_cmp(c, symtab, out),
            Expr::And(subs) | Expr::Or(subs) => {
                let op = if matches!(self, Expr::And(_)) { " && " } else { " || " };
                for (i, s) in subs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(op);
                    }
                    if matches!(s, Expr::And(_) | Expr::Or(_)) {
                        out.push('(');
                        s.write(symtab, out);
                        out.push(')');
                    } else {
                        s.write(symtab, out);
                    }
                }
            }
            Expr::Bool(b) => out.push(if *b { '1' } else { '0' }),
            Expr::Chassis { not, port } => {
                if *not {
                    out.push('!');
                }
                out.push_str("is_chassis_resident(");
                write_json_string(port, out);
                out.push(')');
            }
        }
    }
}

/// The one run of 1-bits of `mask` within `width`, as (first bit,
/// length); (0, 0) when there is none or more than one.
pub fn bit_range(mask: u128, width: usize) -> (usize, usize) {
    let m = mask & ones(width);
    if m == 0 {
        return (0, 0);
    }
    let start = m.trailing_zeros() as usize;
    let n = (m >> start).trailing_ones() as usize;
    if (m >> start).checked_shr(n as u32).unwrap_or(0) == 0 {
        (start, n)
    } else {
        (0, 0)
    }
}

/// The low `n` bits set.
pub fn ones(n: usize) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn write_cmp(c: &Cmp, symtab: &Symtab, out: &mut String) {
    let symbol = symtab.get(c.symbol);
    let (value, mask) = match &c.operand {
        Operand::Str(s) => {
            let _ = write!(out, "{} {} ", symbol.name, c.relop.as_str());
            write_json_string(s, out);
            return;
        }
        Operand::Int { value, mask } => (value, mask),
    };
    let (value, mask) = (*value, *mask);
    let (ofs, n) = bit_range(mask, symbol.width);
    if n == 1 && matches!(c.relop, Relop::Eq | Relop::Ne) {
        let positive = (value >> ofs) & 1 == 1;
        let positive = positive ^ (c.relop == Relop::Ne);
        if !positive {
            out.push('!');
        }
        out.push_str(&symbol.name);
        if symbol.width > 1 {
            let _ = write!(out, "[{ofs}]");
        }
        return;
    }
    out.push_str(&symbol.name);
    if n > 0 && n < symbol.width {
        out.push_str(&format_bits(ofs, n));
    }
    let _ = write!(out, " {} ", c.relop.as_str());
    if n > 0 {
        out.push_str(&hex((value >> ofs) & ones(n)));
    } else {
        let _ = write!(out, "{}/{}", hex(value), hex(mask));
    }
}

/// `[ofs]` or `[ofs..last]`.
fn format_bits(ofs: usize, n: usize) -> String {
    if n == 1 {
        format!("[{ofs}]")
    } else {
        format!("[{ofs}..{}]", ofs + n - 1)
    }
}

/// A field's text as OVN prints it: the name, and the bits when they are
/// not all of it (`expr_field_format`).
pub fn format_field(symtab: &Symtab, symbol: SymbolId, ofs: usize, n_bits: usize) -> String {
    let s = symtab.get(symbol);
    if ofs != 0 || n_bits != s.width {
        format!("{}{}", s.name, format_bits(ofs, n_bits))
    } else {
        s.name.clone()
    }
}

/// A constant of an expression or action (read, not kept: a comparison
/// holds 128 bits, the widest field).
#[allow(clippy::large_enum_variant)] // lives while a set is read
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Constant {
    /// An integer, maybe masked, with the format it was written in.
    Int {
        /// The value.
        value: Subvalue,
        /// The mask, if written.
        mask: Option<Subvalue>,
        /// How it was written.
        format: Format,
    },
    /// A string.
    Str(String),
}

impl Constant {
    /// The fewest bits that hold it (the mask's, else the value's, else
    /// its format's).
    pub fn width(&self) -> usize {
        match self {
            Constant::Int { mask: Some(m), .. } => m.bits_used(),
            Constant::Int { value, format: Format::Decimal | Format::Hexadecimal, .. } => value.bits_used(),
            Constant::Int { format: Format::Ipv4, .. } => 32,
            Constant::Int { format: Format::Ipv6, .. } => 128,
            Constant::Int { format: Format::Ethernet, .. } => 48,
            Constant::Str(_) => 0,
        }
    }

    /// Its text, as the lexer would print its token.
    pub fn format(&self) -> String {
        match self {
            Constant::Str(s) => {
                let mut out = String::new();
                write_json_string(s, &mut out);
                out
            }
            Constant::Int { value, mask: None, format } => crate::lex::Token::Integer { value: *value, format: *format }.to_string(),
            Constant::Int { value, mask: Some(mask), format } => {
                crate::lex::Token::Masked { value: *value, mask: *mask, format: *format }.to_string()
            }
        }
    }
}

/// Constants read together: one, or a `{}` set, an address set or a port
/// group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConstantSet {
    /// The values.
    pub values: Vec<Constant>,
    /// Written in `{}`.
    pub in_curlies: bool,
}

impl ConstantSet {
    /// Whether the values are strings (an empty set is integers).
    pub fn is_strings(&self) -> bool {
        matches!(self.values.first(), Some(Constant::Str(_)))
    }

    /// A set of integers from their texts (an address set's addresses),
    /// sorted as OVN sorts them; texts that are not one integer token
    /// are left out.
    pub fn integers<S: AsRef<str>>(texts: &[S]) -> ConstantSet {
        let mut values: Vec<Constant> = texts
            .iter()
            .filter_map(|t| {
                let mut lexer = crate::lex::Lexer::new(t.as_ref());
                match lexer.get().clone() {
                    crate::lex::Token::Integer { value, format } => Some(Constant::Int { value, mask: None, format }),
                    crate::lex::Token::Masked { value, mask, format } => Some(Constant::Int { value, mask: Some(mask), format }),
                    _ => None,
                }
            })
            .collect();
        values.sort_by(|a, b| match (a, b) {
            (Constant::Int { value: v1, mask: m1, .. }, Constant::Int { value: v2, mask: m2, .. }) => {
                v1.0.cmp(&v2.0).then_with(|| match (m1, m2) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.0.cmp(&y.0),
                })
            }
            _ => std::cmp::Ordering::Equal,
        });
        ConstantSet { values, in_curlies: true }
    }

    /// A set of strings (a port group's ports), in their order.
    pub fn strings<S: AsRef<str>>(texts: &[S]) -> ConstantSet {
        ConstantSet { values: texts.iter().map(|t| Constant::Str(t.as_ref().to_owned())).collect(), in_curlies: true }
    }

    /// Its text (`expr_constant_set_format`).
    pub fn format(&self) -> String {
        let curlies = self.in_curlies || self.values.len() != 1;
        let inner: Vec<String> = self.values.iter().map(Constant::format).collect();
        if curlies {
            format!("{{{}}}", inner.join(", "))
        } else {
            inner.join(", ")
        }
    }
}

/// The named sets an expression may use: address sets (`$name`) and port
/// groups (`@name`, kept as `<datapath key>_<name>`), and the datapath
/// the expression is read for.
#[derive(Debug, Clone, Default)]
pub struct Sets {
    /// Address sets by name.
    pub addr_sets: HashMap<String, ConstantSet>,
    /// Port groups by `<datapath key>_<name>` (or by name alone, as an
    /// older `ovn-northd` wrote them).
    pub port_groups: HashMap<String, ConstantSet>,
    /// The datapath's tunnel key.
    pub dp_id: i64,
}

#[cfg(test)]
mod tests;
