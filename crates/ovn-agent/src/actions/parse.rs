//! Reading actions (OVN's `ovnacts_parse`): `action; action; …`, or
//! `drop;` alone. An action starting with a field followed by `=`, `<->`
//! or `[` is an assignment; the others start with their name. Errors are
//! the lexer's, with OVN's messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{dhcp, CheckKind, GenOpt, NatKind, Nest, OptValue, OptsKind, Ovnact, ParseParams, Pipeline};
use crate::expr::{self, field_prereqs, parse_constant_for, parse_field, Expr, Field, Sets};
use crate::lex::{Format, Lexer, Token};
use crate::symtab::{Kind, WR_CT_COMMIT, WR_DEFAULT};

/// Nested actions may go this deep.
const MAX_NESTED_DEPTH: u32 = 32;

/// Where parsing is: the parameters, the lexer, the actions read so far
/// and their prerequisites, the fields writable here (`ct_commit { }`
/// writes `ct_mark`), and how deep in nested actions.
pub(super) struct Cx<'p, 'a> {
    pub(super) pp: &'p ParseParams<'p>,
    pub(super) lexer: &'p mut Lexer<'a>,
    pub(super) acts: Vec<Ovnact>,
    prereqs: Option<Expr>,
    scope: u8,
    depth: u32,
}

/// Parses the whole of `s` as actions; returns them and their
/// prerequisites, or OVN's error.
pub fn parse(s: &str, pp: &ParseParams<'_>) -> Result<(Vec<Ovnact>, Option<Expr>), String> {
    let mut lexer = Lexer::new(s);
    lexer.get();
    let mut cx = Cx { pp, lexer: &mut lexer, acts: Vec::new(), prereqs: None, scope: WR_DEFAULT, depth: 0 };
    cx.actions(&Token::End);
    let (acts, prereqs) = (cx.acts, cx.prereqs);
    match lexer.take_error() {
        Some(e) => Err(e),
        None => Ok((acts, prereqs)),
    }
}

impl Cx<'_, '_> {
    fn actions(&mut self, sentinel: &Token) {
        // `drop;` alone is the empty list; it combines with nothing.
        if matches!(&self.lexer.token, Token::Id(s) if s == "drop") && matches!(self.lexer.lookahead(), Token::Semicolon) {
            self.lexer.get();
            self.lexer.get();
            self.lexer.force_match(sentinel);
            return;
        }
        while !self.lexer.match_token(sentinel) {
            if !self.action() {
                return;
            }
        }
    }

    fn action(&mut self) -> bool {
        let name = match &self.lexer.token {
            Token::Template(_) => {
                self.lexer.error("Unexpanded template.");
                return false;
            }
            Token::Id(name) => name.clone(),
            _ => {
                self.lexer.syntax_error(None);
                return false;
            }
        };
        if matches!(self.lexer.lookahead(), Token::Equals | Token::Exchange | Token::LSquare) {
            self.set_action();
        } else if self.lexer.match_id("next") {
            self.next();
        } else if self.lexer.match_id("push") {
            self.push_pop(true);
        } else if self.lexer.match_id("pop") {
            self.push_pop(false);
        } else if self.lexer.match_id("output") {
            self.acts.push(Ovnact::Output);
        } else if self.lexer.match_id("ip.ttl") {
            self.lexer.force_match(&Token::Decrement);
            self.acts.push(Ovnact::DecTtl);
            self.add_prerequisite("ip");
        } else if self.lexer.match_id("ct_next") {
            if self.pp.cur_ltable >= self.pp.n_tables {
                self.lexer.error("\"ct_next\" action not allowed in last table.");
                return false;
            }
            self.add_prerequisite("ip");
            self.acts.push(Ovnact::CtNext { ltable: self.pp.cur_ltable + 1 });
        } else if self.lexer.match_id("ct_clear") {
            self.acts.push(Ovnact::CtClear);
        } else if let Some(kind) = NatKind::from_name(&name) {
            self.lexer.get();
            self.ct_nat(kind, &name);
        } else if let Some((nd, put)) =
            [("get_arp", (false, false)), ("get_nd", (true, false)), ("put_arp", (false, true)), ("put_nd", (true, true))]
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, k)| k)
        {
            self.lexer.get();
            self.mac_bind(nd, put);
        } else if self.lexer.match_id("set_queue") {
            self.set_queue();
        } else if self.lexer.match_id("ct_snat_to_vip") {
            self.acts.push(Ovnact::CtSnatToVip);
        } else if self.lexer.match_id("igmp") {
            self.acts.push(Ovnact::Igmp);
        } else if self.lexer.match_id("handle_dhcpv6_reply") {
            self.acts.push(Ovnact::Dhcp6Reply);
        } else if self.lexer.match_id("bind_vport") {
            if !self.lexer.force_match(&Token::LParen) {
                return false;
            }
            let Token::Str(vport) = self.lexer.token.clone() else {
                self.lexer.syntax_error(Some("expecting port name string"));
                return false;
            };
            self.lexer.get();
            if self.lexer.force_match(&Token::Comma) {
                if let Some(parent) = self.arg(0, false) {
                    if self.lexer.force_match(&Token::RParen) {
                        self.acts.push(Ovnact::BindVport { vport, parent });
                    }
                }
            }
        } else if self.lexer.match_id("handle_bfd_msg") {
            if self.lexer.force_match(&Token::LParen) && self.lexer.force_match(&Token::RParen) {
                self.acts.push(Ovnact::BfdMsg);
            }
        } else if self.lexer.match_id("handle_svc_check") {
            if !self.lexer.force_match(&Token::LParen) {
                return false;
            }
            let port = self.arg(0, false);
            self.lexer.force_match(&Token::RParen);
            if let Some(port) = port {
                self.acts.push(Ovnact::HandleSvcCheck(port));
            }
        } else if self.lexer.match_id("put_fdb") {
            self.lexer.force_match(&Token::LParen);
            let port = self.arg(0, false);
            self.lexer.force_match(&Token::Comma);
            let mac = self.arg(48, false);
            self.lexer.force_match(&Token::RParen);
            if let (Some(port), Some(mac)) = (port, mac) {
                self.acts.push(Ovnact::PutFdb { port, mac });
            }
        } else if self.lexer.match_id("ct_commit") {
            self.ct_commit();
        } else if let Some(kind) = Nest::from_name(&name).filter(|k| *k != Nest::CtCommit) {
            self.lexer.get();
            let scope = if kind == Nest::Clone { WR_DEFAULT } else { self.scope };
            self.nested(kind, scope);
        } else if self.lexer.match_id("ct_lb") {
            self.ct_lb(false);
        } else if self.lexer.match_id("ct_lb_mark") {
            self.ct_lb(true);
        } else if self.lexer.match_id("fwd_group") {
            self.fwd_group();
        } else if self.lexer.match_id("commit_lb_aff") {
            self.commit_lb_aff();
        } else if self.lexer.match_id("commit_ecmp_nh") {
            self.commit_ecmp_nh();
        } else if self.lexer.match_id("log") {
            self.log();
        } else if self.lexer.match_id("set_meter") {
            self.set_meter();
        } else if self.lexer.match_id("sample") {
            self.sample();
        } else if self.lexer.match_id("trigger_event") {
            self.trigger_event();
        } else {
            self.lexer.syntax_error(Some("expecting action"));
        }
        self.lexer.force_match(&Token::Semicolon);
        !self.lexer.has_error()
    }

    /// `ct_dnat`, `ct_snat`, their `_in_czone` forms, `ct_commit_nat`.
    fn ct_nat(&mut self, kind: NatKind, name: &str) {
        self.add_prerequisite("ip");
        if self.pp.cur_ltable >= self.pp.n_tables {
            let name = if kind == NatKind::CommitNat { "ct_commit_related" } else { name };
            self.lexer.error(format!("\"{name}\" action not allowed in last table."));
            return;
        }
        let ltable = self.pp.cur_ltable + 1;
        let (mut addr, mut ports) = (None, None);
        if kind != NatKind::CommitNat && self.lexer.match_token(&Token::LParen) {
            addr = match &self.lexer.token {
                Token::Integer { value, format: Format::Ipv4 } => Some(IpAddr::V4(Ipv4Addr::from(value.low_u64() as u32))),
                Token::Integer { value, format: Format::Ipv6 } => Some(IpAddr::V6(Ipv6Addr::from(value.low_u128()))),
                _ => {
                    self.lexer.syntax_error(Some("expecting IPv4 or IPv6 address"));
                    return;
                }
            };
            self.lexer.get();
            if self.lexer.match_token(&Token::Comma) {
                // As OVN, a bad port is reported and reading goes on.
                let port = |l: &mut Lexer<'_>, decimal: bool| match &l.token {
                    Token::Integer { value, format } if !decimal || *format == Format::Decimal => value.low_u64() as u16,
                    _ => {
                        l.syntax_error(Some("expecting Integer for port range"));
                        0
                    }
                };
                let lo = port(self.lexer, true);
                if lo == 0 {
                    self.lexer.syntax_error(Some("range can't be 0"));
                }
                self.lexer.get();
                let mut hi = 0;
                if self.lexer.match_token(&Token::Hyphen) {
                    hi = port(self.lexer, false);
                    if hi <= lo {
                        self.lexer.syntax_error(Some("range high should be greater than range low"));
                    }
                    self.lexer.get();
                }
                ports = Some((lo, hi));
            }
            if !self.lexer.force_match(&Token::RParen) {
                return;
            }
        }
        self.acts.push(Ovnact::CtNat { kind, ltable, addr, ports });
    }

    fn ct_commit(&mut self) {
        match self.lexer.token {
            Token::LCurly => self.nested(Nest::CtCommit, WR_CT_COMMIT),
            Token::LParen => self.ct_commit_v1(),
            _ => {
                self.add_prerequisite("ip");
                self.acts.push(Ovnact::Nested { kind: Nest::CtCommit, acts: Vec::new() });
            }
        }
    }

    /// `ct_commit(ct_mark=V[/M], ct_label=V[/M])`.
    fn ct_commit_v1(&mut self) {
        self.add_prerequisite("ip");
        let (mut mark, mut label) = (None, None);
        self.lexer.get();
        while !self.lexer.match_token(&Token::RParen) {
            let is_mark = self.lexer.match_id("ct_mark");
            if !is_mark && !self.lexer.match_id("ct_label") {
                self.lexer.syntax_error(None);
                return;
            }
            if !self.lexer.force_match(&Token::Equals) {
                return;
            }
            let (v, m) = match &self.lexer.token {
                Token::Integer { value, .. } => (value.low_u128(), u128::MAX),
                Token::Masked { value, mask, .. } => (value.low_u128(), mask.low_u128()),
                _ => {
                    self.lexer.syntax_error(Some("expecting integer"));
                    return;
                }
            };
            if is_mark {
                // OVN keeps the low 32 bits of the value and of a mask.
                mark = Some((v as u32, if m == u128::MAX { u32::MAX } else { m as u32 }));
            } else {
                label = Some((v, m));
            }
            self.lexer.get();
            self.lexer.match_token(&Token::Comma);
        }
        self.acts.push(Ovnact::CtCommitV1 { mark, label });
    }

    /// `{ actions }` inside `kind`, written in `scope`.
    fn nested(&mut self, kind: Nest, scope: u8) {
        if !self.lexer.force_match(&Token::LCurly) {
            return;
        }
        if self.depth + 1 == MAX_NESTED_DEPTH {
            self.lexer.error("maximum depth of nested actions reached");
            return;
        }
        let mut inner = Cx { pp: self.pp, lexer: &mut *self.lexer, acts: Vec::new(), prereqs: None, scope, depth: self.depth + 1 };
        inner.actions(&Token::RCurly);
        let (acts, inner_prereqs) = (inner.acts, inner.prereqs);
        match (kind.prereq(), inner_prereqs) {
            (Some(p), _) => self.add_prerequisite(p),
            // The inner prerequisites come first, then the outer ones.
            (None, Some(p)) => {
                self.prereqs = Some(match self.prereqs.take() {
                    Some(outer) => Expr::combine(true, p, outer),
                    None => p,
                })
            }
            (None, None) => {}
        }
        if self.lexer.has_error() {
            return;
        }
        self.acts.push(Ovnact::Nested { kind, acts });
    }

    /// Adds a prerequisite written as an expression (not annotated).
    pub(super) fn add_prerequisite(&mut self, text: &str) {
        if let Ok(e) = expr::parse_str(text, self.pp.symtab, &Sets::default()) {
            self.prereqs = Some(Expr::combine_opt(true, self.prereqs.take(), e));
        }
    }

    /// A field an action reads or writes, with its prerequisites added
    /// (OVN's `expr_field_parse`).
    fn field(&mut self) -> Option<Field> {
        let f = parse_field(self.lexer, self.pp.symtab)?;
        let symbol = self.pp.symtab.get(f.symbol);
        if let Kind::Predicate(_) = symbol.kind {
            self.lexer.error(format!("Predicate symbol {} used where lvalue required.", symbol.name));
            return None;
        }
        match field_prereqs(f.symbol, self.pp.symtab) {
            Ok(Some(p)) => self.prereqs = Some(Expr::combine_opt(true, self.prereqs.take(), p)),
            Ok(None) => {}
            Err(e) => {
                self.lexer.error(e);
                return None;
            }
        }
        Some(f)
    }

    /// OVN's `expr_type_check`: `f` is `n_bits` wide (0: a string) and,
    /// when `rw`, writable here.
    pub(super) fn type_check(&mut self, f: &Field, n_bits: usize, rw: bool) -> bool {
        let symbol = self.pp.symtab.get(f.symbol);
        let error = if n_bits != f.n_bits {
            Some(if n_bits > 0 && f.n_bits > 0 {
                format!(
                    "Cannot use {}-bit field {}[{}..{}] where {n_bits}-bit field is required.",
                    f.n_bits,
                    symbol.name,
                    f.ofs,
                    f.ofs + f.n_bits - 1
                )
            } else if n_bits > 0 {
                format!("Cannot use string field {} where numeric field is required.", symbol.name)
            } else {
                format!("Cannot use numeric field {} where string field is required.", symbol.name)
            })
        } else if rw && symbol.rw & self.scope == 0 {
            Some(format!("Field {} is not modifiable.", symbol.name))
        } else {
            None
        };
        match error {
            Some(e) => {
                self.lexer.error(e);
                false
            }
            None => true,
        }
    }

    fn set_action(&mut self) {
        let Some(lhs) = self.field() else { return };
        if self.lexer.match_token(&Token::Exchange) {
            self.assignment(true, lhs);
            return;
        }
        if !self.lexer.match_token(&Token::Equals) {
            self.lexer.syntax_error(Some("expecting `=' or `<->'"));
            return;
        }
        match self.lexer.token.clone() {
            Token::Id(name)
                if matches!(self.lexer.lookahead(), Token::LParen)
                    && matches!(name.as_str(), "lookup_arp" | "lookup_nd" | "lookup_arp_ip" | "lookup_nd_ip") =>
            {
                let nd = name.starts_with("lookup_nd");
                self.lookup_mac_bind(lhs, nd, !name.ends_with("_ip"));
            }
            Token::Id(name) if matches!(self.lexer.lookahead(), Token::LParen) && self.function(&name, lhs) => {}
            Token::Id(_) => self.assignment(false, lhs),
            _ => self.load(lhs),
        }
    }

    /// A field an action takes, `n_bits` wide (0: a string), written
    /// when `rw` (OVN's `action_parse_field`).
    pub(super) fn arg(&mut self, n_bits: usize, rw: bool) -> Option<Field> {
        let f = self.field()?;
        self.type_check(&f, n_bits, rw).then_some(f)
    }

    /// `port, ip[, mac])` of the MAC-binding actions, after their `(`.
    fn mac_bind_args(&mut self, nd: bool, with_mac: bool) -> Option<(Field, Field, Option<Field>)> {
        let port = self.arg(0, false);
        self.lexer.force_match(&Token::Comma);
        let ip = self.arg(if nd { 128 } else { 32 }, false);
        let mac = if with_mac {
            self.lexer.force_match(&Token::Comma);
            self.arg(48, false)
        } else {
            None
        };
        self.lexer.force_match(&Token::RParen);
        match (port, ip) {
            (Some(port), Some(ip)) if mac.is_some() == with_mac => Some((port, ip, mac)),
            _ => None,
        }
    }

    /// `get_arp(port, ip)`, `put_arp(port, ip, mac)` and the `_nd` forms.
    fn mac_bind(&mut self, nd: bool, put: bool) {
        self.lexer.force_match(&Token::LParen);
        match self.mac_bind_args(nd, put) {
            Some((port, ip, Some(mac))) => self.acts.push(Ovnact::PutMacBind { nd, port, ip, mac }),
            Some((port, ip, None)) => self.acts.push(Ovnact::GetMacBind { nd, port, ip }),
            None => {}
        }
    }

    /// `dst = lookup_arp(port, ip, mac)`, `lookup_nd(…)`,
    /// `lookup_arp_ip(port, ip)`, `lookup_nd_ip(…)`.
    fn lookup_mac_bind(&mut self, dst: Field, nd: bool, with_mac: bool) {
        if !self.type_check(&dst, 1, true) {
            return;
        }
        self.lexer.get();
        self.lexer.get();
        if let Some((port, ip, mac)) = self.mac_bind_args(nd, with_mac) {
            self.acts.push(Ovnact::LookupMacBind { nd, dst, port, ip, mac });
        }
    }

    /// `lhs = name(…)` for the functions below; false for another name.
    fn function(&mut self, name: &str, lhs: Field) -> bool {
        if let Some(kind) = CheckKind::from_name(name) {
            self.lexer.get();
            self.lexer.get();
            if !self.lexer.match_token(&Token::RParen) {
                self.lexer.error(format!("{name} doesn't take any parameters"));
            } else if self.type_check(&lhs, 1, true) {
                self.acts.push(Ovnact::Check { kind, dst: lhs });
            }
            return true;
        }
        match name {
            "dns_lookup" => {
                self.lexer.get();
                self.lexer.get();
                if !self.lexer.match_token(&Token::RParen) {
                    self.lexer.error("dns_lookup doesn't take any parameters");
                } else if self.type_check(&lhs, 1, true) {
                    self.acts.push(Ovnact::DnsLookup(lhs));
                    self.add_prerequisite("udp");
                }
            }
            "check_pkt_larger" => {
                if !self.type_check(&lhs, 1, true) {
                    return true;
                }
                self.lexer.get();
                if !self.lexer.force_match(&Token::LParen) {
                    return true;
                }
                // A length that is not a small integer ends the action
                // here, as in OVN (the error is then the missing `;`).
                let Some(len) = self.lexer.get_int() else { return true };
                if self.lexer.force_match(&Token::RParen) {
                    self.acts.push(Ovnact::CheckPktLarger { dst: lhs, pkt_len: len as u16 });
                }
            }
            "put_dhcp_opts" => self.put_opts(lhs, OptsKind::Dhcp4),
            "put_dhcpv6_opts" => self.put_opts(lhs, OptsKind::Dhcp6),
            "put_nd_ra_opts" => self.put_opts(lhs, OptsKind::NdRa),
            "select" => self.select(lhs),
            "get_fdb" => {
                self.lexer.get();
                self.lexer.get();
                if lhs.n_bits > 0 && !self.type_check(&lhs, 32, true) {
                    return true;
                }
                let mac = self.arg(48, false);
                self.lexer.force_match(&Token::RParen);
                if let Some(mac) = mac {
                    self.acts.push(Ovnact::GetFdb { dst: lhs, mac });
                }
            }
            "lookup_fdb" => {
                self.lexer.get();
                self.lexer.get();
                if !self.type_check(&lhs, 1, true) {
                    return true;
                }
                let port = self.arg(0, false);
                self.lexer.force_match(&Token::Comma);
                let mac = self.arg(48, false);
                self.lexer.force_match(&Token::RParen);
                if let (Some(port), Some(mac)) = (port, mac) {
                    self.acts.push(Ovnact::LookupFdb { dst: lhs, port, mac });
                }
            }
            _ => return false,
        }
        true
    }

    /// `dst = put_dhcp_opts(name = value, …)`, the DHCPv6 form and
    /// `put_nd_ra_opts`.
    fn put_opts(&mut self, dst: Field, kind: OptsKind) {
        self.lexer.get();
        self.lexer.get();
        if !self.type_check(&dst, 1, true) {
            return;
        }
        let (known, what) = match kind {
            OptsKind::Dhcp4 => (self.pp.dhcp_opts, "DHCPv4"),
            OptsKind::Dhcp6 => (self.pp.dhcpv6_opts, "DHCPv6"),
            OptsKind::NdRa => (self.pp.nd_ra_opts, "IPv6 ND RA"),
        };
        let Some(opts) = self.gen_opts(known, what) else { return };
        match kind {
            OptsKind::Dhcp4 if !opts.iter().any(|o| o.opt.code == 0) => {
                self.lexer.error("put_dhcp_opts requires offerip to be specified.");
                return;
            }
            OptsKind::NdRa => {
                if let Err(e) = super::nd_ra::validate(&opts) {
                    self.lexer.error(e);
                    return;
                }
                self.add_prerequisite("ip6");
            }
            _ => {}
        }
        self.acts.push(Ovnact::PutOpts { kind, dst, opts });
    }

    /// `name = value, …)`: options of `known`, `what` naming them in
    /// errors (OVN's `parse_gen_opt`, until the closing parenthesis).
    pub(super) fn gen_opts(&mut self, known: &[GenOpt], what: &str) -> Option<Vec<OptValue>> {
        let mut opts = Vec::new();
        while !self.lexer.match_token(&Token::RParen) {
            let Token::Id(name) = &self.lexer.token else {
                self.lexer.syntax_error(None);
                return None;
            };
            let Some(opt) = known.iter().find(|o| o.name == *name).cloned() else {
                self.lexer.syntax_error(Some(&format!("expecting {what} option name")));
                return None;
            };
            self.lexer.get();
            if !self.lexer.force_match(&Token::Equals) {
                return None;
            }
            let (value, strings) = expr::parse_constant_set(self.lexer, self.pp.symtab)?;
            if !dhcp::value_suits(&opt.kind, strings) {
                let needs = if strings { "numeric" } else { "string" };
                self.lexer.error(format!("{what} option {} requires {needs} value.", opt.name));
                return None;
            }
            opts.push(OptValue { opt, value });
            self.lexer.match_token(&Token::Comma);
        }
        Some(opts)
    }

    /// The current token as a 16-bit decimal, moving past it, or the
    /// syntax error "expecting `what`" (OVN's `action_parse_uint16`).
    pub(super) fn uint16(&mut self, what: &str) -> Option<u16> {
        if let Token::Integer { value, format: Format::Decimal } = &self.lexer.token {
            if let Ok(v) = u16::try_from(value.low_u64()) {
                self.lexer.get();
                return Some(v);
            }
        }
        self.lexer.syntax_error(Some(&format!("expecting {what}")));
        None
    }

    /// `true`, `false`, `"true"` or `"false"`, moving past it.
    pub(super) fn boolean(&mut self) -> Option<bool> {
        for v in [true, false] {
            let text = if v { "true" } else { "false" };
            if self.lexer.match_string(text) || self.lexer.match_id(text) {
                return Some(v);
            }
        }
        self.lexer.syntax_error(Some("expecting true or false"));
        None
    }

    fn set_queue(&mut self) {
        if !self.lexer.force_match(&Token::LParen) {
            return;
        }
        let Some(id) = self.lexer.get_int() else { return };
        if !self.lexer.force_match(&Token::RParen) {
            return;
        }
        if !(0..=0xf000).contains(&id) {
            self.lexer.error(format!("Queue ID {id} for set_queue is not in valid range 0 to 61440."));
            return;
        }
        self.acts.push(Ovnact::SetQueue(id as u16));
    }

    fn load(&mut self, dst: Field) {
        if !self.type_check(&dst, dst.n_bits, true) {
            return;
        }
        if let Some(imm) = parse_constant_for(self.lexer, self.pp.symtab, dst) {
            let ovn = matches!(self.pp.symtab.get(dst.symbol).kind, Kind::Ovn(_));
            self.acts.push(if ovn { Ovnact::OvnFieldLoad { dst, imm } } else { Ovnact::Load { dst, imm } });
        }
    }

    fn assignment(&mut self, exchange: bool, lhs: Field) {
        let Some(rhs) = self.field() else { return };
        let symtab = self.pp.symtab;
        let (ls, rs) = (symtab.get(lhs.symbol), symtab.get(rhs.symbol));
        let kind = |w: usize| if w > 0 { "integer" } else { "string" };
        if (ls.width != 0) != (rs.width != 0) {
            self.lexer.error(if exchange {
                format!("Can't exchange {} field ({}) with {} field ({}).", kind(ls.width), ls.name, kind(rs.width), rs.name)
            } else {
                format!("Can't assign {} field ({}) to {} field ({}).", kind(rs.width), rs.name, kind(ls.width), ls.name)
            });
            return;
        }
        if lhs.n_bits != rhs.n_bits {
            self.lexer.error(if exchange {
                format!("Can't exchange {}-bit field with {}-bit field.", lhs.n_bits, rhs.n_bits)
            } else {
                format!("Can't assign {}-bit value to {}-bit destination.", rhs.n_bits, lhs.n_bits)
            });
            return;
        }
        let string_bits = |k: &Kind| match k {
            Kind::Str(f) => f.bits,
            _ => 0,
        };
        if lhs.n_bits == 0 && string_bits(&ls.kind) != string_bits(&rs.kind) {
            let what = if exchange { "exchange" } else { "assignment" };
            self.lexer.error(format!("String fields {} and {} are incompatible for {what}.", ls.name, rs.name));
            return;
        }
        if !self.type_check(&lhs, lhs.n_bits, true) || !self.type_check(&rhs, rhs.n_bits, exchange) {
            return;
        }
        self.acts.push(if exchange { Ovnact::Exchange { lhs, rhs } } else { Ovnact::Move { lhs, rhs } });
    }

    fn push_pop(&mut self, push: bool) {
        self.lexer.force_match(&Token::LParen);
        let Some(f) = self.field() else { return };
        if !self.type_check(&f, f.n_bits, !push) {
            return;
        }
        self.lexer.force_match(&Token::RParen);
        self.acts.push(if push { Ovnact::Push(f) } else { Ovnact::Pop(f) });
    }

    fn next(&mut self) {
        if self.pp.n_tables == 0 {
            self.lexer.error("\"next\" action not allowed here.");
            return;
        }
        let mut pipeline = self.pp.pipeline;
        let mut table = i32::from(self.pp.cur_ltable) + 1;
        if self.lexer.match_token(&Token::LParen) {
            if self.lexer.is_int() {
                table = self.lexer.get_int().unwrap_or(table);
            } else {
                loop {
                    if self.lexer.match_id("pipeline") {
                        if !self.lexer.force_match(&Token::Equals) {
                            return;
                        }
                        if self.lexer.match_id("ingress") {
                            pipeline = Pipeline::Ingress;
                        } else if self.lexer.match_id("egress") {
                            pipeline = Pipeline::Egress;
                        } else {
                            self.lexer.syntax_error(Some("expecting \"ingress\" or \"egress\""));
                            return;
                        }
                    } else if self.lexer.match_id("table") {
                        if !self.lexer.force_match(&Token::Equals) {
                            return;
                        }
                        let Some(t) = self.lexer.force_int() else { return };
                        table = t;
                    } else {
                        self.lexer.syntax_error(Some("expecting \"pipeline\" or \"table\""));
                        return;
                    }
                    if !self.lexer.match_token(&Token::Comma) {
                        break;
                    }
                }
            }
            if !self.lexer.force_match(&Token::RParen) {
                return;
            }
        }
        if table >= i32::from(self.pp.n_tables) {
            self.lexer.error(format!("\"next\" action cannot advance beyond table {}.", i32::from(self.pp.n_tables) - 1));
            return;
        }
        self.acts.push(Ovnact::Next { pipeline, ltable: table as u8, src_pipeline: self.pp.pipeline, src_ltable: self.pp.cur_ltable });
    }
}
