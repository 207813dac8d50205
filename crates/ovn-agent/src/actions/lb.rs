//! The actions that choose among backends through an OpenFlow select
//! group — `ct_lb`/`ct_lb_mark` (a load balancer's NAT to a backend),
//! `select` (an id by weight), `fwd_group` (a port of a group) — and
//! `commit_lb_aff`, which remembers the backend a client was sent to.
//!
//! A group is named by its `ovs-ofctl` text, as `ovn-controller` names
//! it; encoding gives it an id from [`IdTables`] and the flow
//! `group:ID`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ofproto::actions::{Action, Subfield};
use ofproto::flowmatch::Mff;

use super::encode::{LOG_CT_ZONE, LOG_DNAT_ZONE, LOG_OUTPORT};
use super::parse::Cx;
use super::{EncodeParams, Endpoint, IdTables, Ovnact, SnatFlag};
use crate::expr::{format_field, Field};
use crate::lex::{Format, Token};
use crate::symtab::Symtab;

/// An `IP[:port]`, `[IPv6]:port` or `IPv6` text (OVS's
/// `inet_parse_active` without a default port, as OVN reads a load
/// balancer's keys).
pub(super) fn parse_endpoint(s: &str) -> Option<Endpoint> {
    // As OVS, a `[` opens brackets whether or not a `]` closes them.
    let unbracket = |t: &str| match t.strip_prefix('[') {
        Some(t) => t.strip_suffix(']').unwrap_or(t).to_owned(),
        None => t.to_owned(),
    };
    let mut depth = false;
    let colons: Vec<usize> = s
        .char_indices()
        .filter(|&(_, c)| {
            match c {
                '[' => depth = true,
                ']' => depth = false,
                _ => {}
            }
            c == ':' && !depth
        })
        .map(|(i, _)| i)
        .collect();
    let (host, port) = match colons.as_slice() {
        [one] => (unbracket(&s[..*one]), Some(unbracket(&s[one + 1..]))),
        [] => (unbracket(s), None),
        _ => (s.to_owned(), None),
    };
    let port = match port.as_deref() {
        None | Some("") => 0,
        Some(p) => p.parse::<u16>().ok()?,
    };
    let ip = if host.contains(':') {
        // A scope (`%eth0`) is allowed and not kept.
        IpAddr::V6(host.split('%').next()?.parse::<Ipv6Addr>().ok()?)
    } else {
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some(Endpoint { ip, port })
}

impl Cx<'_, '_> {
    /// `ct_lb[(backends=IP[:port],…[; hash_fields="…"][; skip_snat])]`,
    /// after its name.
    pub(super) fn ct_lb(&mut self, mark: bool) {
        if self.pp.cur_ltable >= self.pp.n_tables {
            self.lexer.error("\"ct_lb\" action not allowed in last table.");
            return;
        }
        self.add_prerequisite("ip");
        let (mut backends, mut hash_fields, mut snat) = (Vec::new(), None, SnatFlag::None);
        if self.lexer.match_token(&Token::LParen) && !self.lexer.match_token(&Token::RParen) {
            if !self.lexer.match_id("backends") || !self.lexer.force_match(&Token::Equals) {
                self.lexer.syntax_error(Some("expecting backends"));
                return;
            }
            while !self.lexer.match_token(&Token::Semicolon) && !self.lexer.match_token(&Token::RParen) {
                let Some(b) = self.backend() else { return };
                self.lexer.match_token(&Token::Comma);
                backends.push(b);
            }
            if self.lexer.match_id("hash_fields") {
                let Some(Token::Str(fields)) = self.lexer.match_token(&Token::Equals).then(|| self.lexer.token.clone()) else {
                    self.lexer.syntax_error(Some("invalid hash_fields"));
                    return;
                };
                hash_fields = Some(fields);
                self.lexer.get();
                // As OVN, whatever follows that is not `;` is skipped.
                if !self.lexer.match_token(&Token::Semicolon) {
                    self.lexer.get();
                }
            }
            for flag in [SnatFlag::Skip, SnatFlag::Force] {
                if self.lexer.match_id(flag.name()) {
                    snat = flag;
                    // The `)` after it, as OVN, unchecked.
                    self.lexer.get();
                    break;
                }
            }
        }
        let ltable = self.pp.cur_ltable + 1;
        self.acts.push(Ovnact::CtLb { mark, ltable, backends, hash_fields, snat });
    }

    /// One backend of `ct_lb`: `IPv4[:port]`, `IPv6` or `[IPv6][:port]`.
    fn backend(&mut self) -> Option<Endpoint> {
        let bracketed = self.lexer.match_token(&Token::LSquare);
        let ip = match &self.lexer.token {
            Token::Integer { value, format: Format::Ipv6 } => IpAddr::V6(Ipv6Addr::from(value.low_u128())),
            Token::Integer { value, format: Format::Ipv4 } if !bracketed => IpAddr::V4(Ipv4Addr::from(value.low_u64() as u32)),
            _ => {
                self.lexer.syntax_error(Some(if bracketed { "expecting IPv6 address" } else { "expecting IP address" }));
                return None;
            }
        };
        self.lexer.get();
        if bracketed && !self.lexer.match_token(&Token::RSquare) {
            self.lexer.syntax_error(Some("no closing square bracket"));
            return None;
        }
        let mut port = 0;
        if self.lexer.match_token(&Token::Colon) {
            if ip.is_ipv6() && !bracketed {
                self.lexer.syntax_error(Some("IPv6 address needs square brackets if port is included"));
                return None;
            }
            port = self.uint16("port number")?;
        }
        Some(Endpoint { ip, port })
    }

    /// `dst = select(id[=weight], …)`, at `select`.
    pub(super) fn select(&mut self, dst: Field) {
        if !self.type_check(&dst, dst.n_bits, true) {
            return;
        }
        if dst.n_bits < 16 {
            let name = &self.pp.symtab.get(dst.symbol).name;
            self.lexer.error(format!(
                "cannot use {}-bit field {name}[{}..{}] for \"select\", which requires at least 16 bits.",
                dst.n_bits,
                dst.ofs,
                dst.ofs + dst.n_bits - 1
            ));
            return;
        }
        if self.pp.cur_ltable >= self.pp.n_tables {
            self.lexer.error("\"select\" action not allowed in last table.");
            return;
        }
        self.lexer.get();
        self.lexer.get();
        let mut members = Vec::new();
        while !self.lexer.match_token(&Token::RParen) {
            let Some(id) = self.uint16("id") else { return };
            let mut weight = 0;
            if self.lexer.match_token(&Token::Equals) {
                let Some(w) = self.uint16("weight") else { return };
                if w == 0 {
                    // Reported, and reading goes on, as in OVN.
                    self.lexer.syntax_error(Some("weight can't be 0"));
                }
                weight = w;
            }
            members.push((id, if weight == 0 { 100 } else { weight }));
            self.lexer.match_token(&Token::Comma);
        }
        if members.len() <= 1 {
            self.lexer.syntax_error(Some("expecting at least 2 group members"));
            return;
        }
        self.acts.push(Ovnact::Select { dst, ltable: self.pp.cur_ltable + 1, members });
    }

    /// `fwd_group[(liveness=B, childports="p", …)]`, after its name.
    pub(super) fn fwd_group(&mut self) {
        let (mut liveness, mut ports) = (false, Vec::new());
        if self.lexer.match_token(&Token::LParen) {
            if self.lexer.match_id("liveness") {
                if !self.lexer.force_match(&Token::Equals) {
                    return;
                }
                let Some(b) = self.boolean() else { return };
                liveness = b;
                self.lexer.force_match(&Token::Comma);
            }
            if self.lexer.match_id("childports") {
                if !self.lexer.force_match(&Token::Equals) {
                    return;
                }
                while !self.lexer.match_token(&Token::RParen) {
                    let Token::Str(port) = self.lexer.token.clone() else {
                        self.lexer.syntax_error(Some("expecting logical switch port"));
                        return;
                    };
                    self.lexer.get();
                    self.lexer.match_token(&Token::Comma);
                    ports.push(port);
                }
            }
        }
        self.acts.push(Ovnact::FwdGroup { liveness, ports });
    }

    /// `name = "string"`, the string read as an endpoint.
    fn endpoint_arg(&mut self, name: &str) -> Option<Endpoint> {
        if !self.lexer.match_id(name) || !self.lexer.force_match(&Token::Equals) {
            self.lexer.syntax_error(Some("invalid parameter"));
            return None;
        }
        let parsed = match &self.lexer.token {
            Token::Str(s) => parse_endpoint(s),
            _ => None,
        };
        if parsed.is_none() {
            self.lexer.syntax_error(Some("invalid parameter"));
        }
        parsed
    }

    /// `commit_lb_aff(vip = "…", backend = "…"[, proto = P], timeout = N)`.
    pub(super) fn commit_lb_aff(&mut self) {
        self.lexer.force_match(&Token::LParen);
        let Some(vip) = self.endpoint_arg("vip") else { return };
        self.lexer.get();
        self.lexer.force_match(&Token::Comma);
        let Some(backend) = self.endpoint_arg("backend") else { return };
        if backend.ip.is_ipv6() != vip.ip.is_ipv6() {
            self.lexer.syntax_error(Some("invalid protocol family"));
            return;
        }
        self.lexer.get();
        self.lexer.force_match(&Token::Comma);
        let mut proto = 0;
        if vip.port != 0 {
            if !self.lexer.match_id("proto") || !self.lexer.force_match(&Token::Equals) {
                self.lexer.syntax_error(Some("invalid parameter"));
                return;
            }
            let Some(p) = self.protocol() else { return };
            proto = p;
            self.lexer.force_match(&Token::Comma);
        }
        if !self.lexer.match_id("timeout") || !self.lexer.force_match(&Token::Equals) {
            self.lexer.syntax_error(Some("invalid parameter"));
            return;
        }
        let Some(timeout) = self.uint16("affinity timeout") else { return };
        self.lexer.force_match(&Token::RParen);
        self.acts.push(Ovnact::CommitLbAff { vip, backend, proto, timeout });
    }

    /// `tcp`, `udp` or `sctp`: its IP protocol number.
    pub(super) fn protocol(&mut self) -> Option<u8> {
        for (name, number) in super::learn::PROTOCOLS {
            if self.lexer.match_id(name) {
                return Some(number);
            }
        }
        self.lexer.syntax_error(Some("invalid protocol"));
        None
    }
}

/// The text of the actions this module reads.
pub(super) fn format(a: &Ovnact, symtab: &Symtab) -> String {
    match a {
        Ovnact::CtLb { mark, backends, hash_fields, snat, .. } => {
            let mut s = if *mark { "ct_lb_mark" } else { "ct_lb" }.to_owned();
            if !backends.is_empty() {
                s.push_str("(backends=");
                s.push_str(&backends.iter().map(Endpoint::format).collect::<Vec<_>>().join(","));
                if let Some(f) = hash_fields {
                    s.push_str(&format!("; hash_fields=\"{f}\""));
                }
                if *snat != SnatFlag::None {
                    s.push_str(&format!("; {}", snat.name()));
                }
                s.push(')');
            }
            s + ";"
        }
        Ovnact::Select { dst, members, .. } => {
            let members: Vec<String> = members.iter().map(|(id, w)| format!("{id}={w}")).collect();
            format!("{} = select({});", format_field(symtab, dst.symbol, dst.ofs, dst.n_bits), members.join(", "))
        }
        Ovnact::FwdGroup { liveness, ports } => {
            let mut s = "fwd_group(".to_owned();
            if *liveness {
                s.push_str("liveness=\"true\", ");
            }
            if !ports.is_empty() {
                let ports: Vec<String> = ports.iter().map(|p| format!("\"{p}\"")).collect();
                s.push_str(&format!("childports={}", ports.join(", ")));
            }
            s + ");"
        }
        Ovnact::CommitLbAff { vip, backend, proto, timeout } => {
            // IPv6 addresses are bracketed here with or without a port.
            let text = |e: &Endpoint| {
                let ip = match e.ip {
                    IpAddr::V4(a) => a.to_string(),
                    IpAddr::V6(a) => format!("[{a}]"),
                };
                if e.port != 0 {
                    format!("{ip}:{}", e.port)
                } else {
                    ip
                }
            };
            let mut s = format!("commit_lb_aff(vip = \"{}\", backend = \"{}\"", text(vip), text(backend));
            if *proto != 0 {
                s.push_str(&format!(", proto = {}", super::learn::proto_name(*proto)));
            }
            s + &format!(", timeout = {timeout});")
        }
        _ => String::new(),
    }
}

/// `group:ID` for the group `text`, with an id for the flow.
fn group(text: String, ep: &EncodeParams<'_>, ids: &mut IdTables, out: &mut Vec<Action>) {
    out.extend(ids.groups.assign(&text, ep.lflow_uuid).map(Action::Group));
}

/// Encodes the group actions; `commit_lb_aff` is [`super::learn`]'s.
pub(super) fn encode(a: &Ovnact, sf: Option<Subfield>, ep: &EncodeParams<'_>, ids: &mut IdTables, out: &mut Vec<Action>) {
    match a {
        Ovnact::CtLb { mark, ltable, backends, hash_fields, snat } => {
            let table = ep.first_ptable(ep.pipeline).wrapping_add(*ltable);
            let zone = if ep.is_switch { LOG_CT_ZONE } else { LOG_DNAT_ZONE };
            if backends.is_empty() {
                // An established connection: its own NAT.
                out.push(Action::Ct {
                    flags: 0,
                    zone_src: Some(Subfield { field: Mff::Reg(zone), ofs: 0, n_bits: 16 }),
                    zone_imm: 0,
                    table,
                    alg: 0,
                    actions: vec![Action::Nat { flags: 0, present: 0, range: Vec::new() }],
                });
                return;
            }
            let flags = if *mark { "ct_mark" } else { "ct_label" };
            let mut text = format!("type=select,selection_method={}", if hash_fields.is_some() { "hash" } else { "dp_hash" });
            if let Some(f) = hash_fields {
                text.push_str(&format!(",fields({f})"));
            }
            for (i, b) in backends.iter().enumerate() {
                text.push_str(&format!(
                    ",bucket=bucket_id={i},weight:100,actions=ct(nat(dst={}),commit,table={table},zone=NXM_NX_REG{zone}[0..15],exec(set_field:2/2->{flags}",
                    b.format()
                ));
                match snat {
                    SnatFlag::Skip => text.push_str(&format!(",set_field:4/4->{flags}")),
                    SnatFlag::Force => text.push_str(&format!(",set_field:8/8->{flags}")),
                    SnatFlag::None => {}
                }
                text.push_str("))");
            }
            group(text, ep, ids, out);
        }
        Ovnact::Select { ltable, members, .. } => {
            let Some(sf) = sf else { return };
            let table = ep.first_ptable(ep.pipeline).wrapping_add(*ltable);
            let mut text = "type=select,selection_method=dp_hash".to_owned();
            if ep.dp_hash_l4_sym {
                // The upper 32 bits of the parameter ask for a symmetric L4 hash.
                text.push_str(",selection_method_param=0x100000000");
            }
            let name = &ofproto::flowmatch::field(sf.field).name;
            for (i, (id, weight)) in members.iter().enumerate() {
                text.push_str(&format!(
                    ",bucket=bucket_id={i},weight:{weight},actions=load:{id}->{name}[{}..{}],resubmit(,{table})",
                    sf.ofs,
                    sf.ofs + sf.n_bits - 1
                ));
            }
            group(text, ep, ids, out);
        }
        Ovnact::FwdGroup { liveness, ports } => {
            if ports.is_empty() {
                return;
            }
            let mut text = "type=select,selection_method=dp_hash".to_owned();
            for port in ports {
                // A port this chassis does not know makes no group.
                let Some(key) = (ep.lookup_port)(port) else { return };
                text.push_str(",bucket=");
                if *liveness {
                    let Some(ofport) = (ep.tunnel_ofport)(port) else { return };
                    text.push_str(&format!("watch_port:{ofport},"));
                }
                // OVN writes the key in decimal after `0x`; kept, for the
                // same group text.
                text.push_str(&format!("load=0x{key}->NXM_NX_REG{LOG_OUTPORT}[0..15],resubmit(,{})", ep.output_ptable));
            }
            group(text, ep, ids, out);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_read_as_ovs_reads_them() {
        let v4 = |s: &str, port| Some(Endpoint { ip: IpAddr::V4(s.parse().unwrap()), port });
        let v6 = |s: &str, port| Some(Endpoint { ip: IpAddr::V6(s.parse().unwrap()), port });
        assert_eq!(parse_endpoint("10.0.0.1:80"), v4("10.0.0.1", 80));
        assert_eq!(parse_endpoint("10.0.0.1"), v4("10.0.0.1", 0));
        assert_eq!(parse_endpoint("[fd00::1]:8080"), v6("fd00::1", 8080));
        assert_eq!(parse_endpoint("[fd00::1]"), v6("fd00::1", 0));
        assert_eq!(parse_endpoint("fd00::1"), v6("fd00::1", 0));
        // As OVS: an empty port is none, an unclosed bracket is no matter.
        assert_eq!(parse_endpoint("10.0.0.1:"), v4("10.0.0.1", 0));
        assert_eq!(parse_endpoint("[10.0.0.1"), v4("10.0.0.1", 0));
        for bad in ["", "10.0.0.1:65536", "10.0.0:1", "host:80", "fd00::1:x", "1.2.3.4:-1"] {
            assert_eq!(parse_endpoint(bad), None, "{bad}");
        }
    }
}
