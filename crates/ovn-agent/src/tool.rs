//! What `ferrovs lflow` prints: the compiler's steps on one case a line,
//! in the text `ovstest test-ovn` prints for the same command and line
//! (OVN's `tests/test-ovn.c`), so that the blocks of OVN's `tests/ovn.at`
//! can be piped through ferrovs unchanged.
//!
//! Lines are read as OVS's `ds_get_test_line` reads them: a line starting
//! with `#` is echoed, the rest of a line from a `#` on is dropped, and a
//! blank line prints an empty one.

use std::sync::LazyLock;

use crate::actions::{GenOpt, IdTables, LookupTables, EVENT_OPTS, ND_RA_OPTS};
use crate::compile::{EGRESS_PTABLE, INGRESS_PTABLE, SAVE_INPORT_PTABLE};
use crate::expr::{self, ConstantSet, Sets};
use crate::symtab::Symtab;

named! {
    /// A step of the compiler to run on each line.
    pub enum Step {
        /// `lex`: the tokens.
        Lex = "lex",
        /// `parse-expr`: the expression as parsed.
        ParseExpr = "parse-expr",
        /// `annotate-expr`: with its prerequisites.
        AnnotateExpr = "annotate-expr",
        /// `simplify-expr`: simplified.
        SimplifyExpr = "simplify-expr",
        /// `normalize-expr`: in disjunctive normal form.
        NormalizeExpr = "normalize-expr",
        /// `expr-to-flows`: the OpenFlow matches.
        ExprToFlows = "expr-to-flows",
        /// `parse-actions`: actions parsed, formatted and encoded.
        ParseActions = "parse-actions",
        /// `dump-symtab`: the symbol table (reads nothing).
        DumpSymtab = "dump-symtab",
    }
}

/// The address sets and port groups of `test-ovn`.
pub fn test_sets() -> Sets {
    let mut sets = Sets::default();
    sets.addr_sets.insert("set1".into(), ConstantSet::integers(&["10.0.0.1", "10.0.0.2", "10.0.0.3"]));
    sets.addr_sets.insert("set2".into(), ConstantSet::integers(&["::1", "::2", "::3"]));
    sets.addr_sets.insert("set3".into(), ConstantSet::integers(&["00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03"]));
    sets.addr_sets.insert("set4".into(), ConstantSet::integers::<&str>(&[]));
    sets.port_groups.insert("0_pg1".into(), ConstantSet::strings(&["lsp1", "lsp2", "lsp3"]));
    sets.port_groups.insert("0_pg_empty".into(), ConstantSet::strings::<&str>(&[]));
    sets
}

/// The logical ports of `test-ovn`, with their tunnel keys.
pub const TEST_PORTS: [(&str, u32); 6] = [("eth0", 5), ("eth1", 6), ("LOCAL", 0xfffe), ("lsp1", 0x11), ("lsp2", 0x12), ("lsp3", 0x13)];

/// An expression through the first `steps` steps after parsing (1:
/// annotated, 2: simplified, 3: normalized, 4: converted to matches),
/// printed.
fn expr_steps(line: &str, steps: u8) -> String {
    static SETS: LazyLock<Sets> = LazyLock::new(test_sets);
    let symtab = Symtab::test_ovn();
    let resident = |port: &str| TEST_PORTS.iter().any(|(p, _)| *p == port);
    let mut e = match expr::parse_str(line, symtab, &SETS) {
        Ok(e) => e,
        Err(err) => return err,
    };
    if steps > 0 {
        e = match expr::annotate(e, symtab) {
            Ok(e) => e,
            Err(err) => return err,
        };
    }
    if steps > 1 {
        e = expr::evaluate_condition(expr::simplify(e, symtab), &resident);
    }
    if steps > 2 {
        e = expr::normalize(e, symtab);
    }
    if steps > 3 {
        let port = |name: &str| TEST_PORTS.iter().find(|(p, _)| *p == name).map(|&(_, k)| k);
        return expr::to_matches(&e, symtab, &port).lines().join("\n");
    }
    e.format(symtab)
}

/// The options of `test-ovn`'s generating actions.
struct TestOpts {
    dhcp: Vec<GenOpt>,
    dhcpv6: Vec<GenOpt>,
    nd_ra: Vec<GenOpt>,
    event: Vec<GenOpt>,
}

/// The DHCPv4, DHCPv6, router-advertisement and `empty_lb_backends`
/// options of `test-ovn` (OVN's own lists).
fn test_opts() -> TestOpts {
    let opts = |list: &[(&str, u16, &str)]| -> Vec<GenOpt> {
        list.iter().map(|&(name, code, kind)| GenOpt { name: name.into(), code, kind: kind.into() }).collect()
    };
    let v4 = [
        ("offerip", 0, "ipv4"),
        ("netmask", 1, "ipv4"),
        ("router", 3, "ipv4"),
        ("dns_server", 6, "ipv4"),
        ("log_server", 7, "ipv4"),
        ("lpr_server", 9, "ipv4"),
        ("hostname", 12, "str"),
        ("domain_name", 15, "str"),
        ("swap_server", 16, "ipv4"),
        ("policy_filter", 21, "ipv4"),
        ("router_solicitation", 32, "ipv4"),
        ("nis_server", 41, "ipv4"),
        ("ntp_server", 42, "ipv4"),
        ("server_id", 54, "ipv4"),
        ("tftp_server", 66, "host_id"),
        ("classless_static_route", 121, "static_routes"),
        ("ip_forward_enable", 19, "bool"),
        ("router_discovery", 31, "bool"),
        ("ethernet_encap", 36, "bool"),
        ("default_ttl", 23, "uint8"),
        ("tcp_ttl", 37, "uint8"),
        ("mtu", 26, "uint16"),
        ("lease_time", 51, "uint32"),
        ("wpad", 252, "str"),
        ("bootfile_name", 67, "str"),
        ("path_prefix", 210, "str"),
        ("tftp_server_address", 150, "ipv4"),
        ("arp_cache_timeout", 35, "uint32"),
        ("tcp_keepalive_interval", 38, "uint32"),
        ("domain_search_list", 119, "domains"),
        ("bootfile_name_alt", 254, "str"),
        ("broadcast_address", 28, "ipv4"),
        ("netbios_name_server", 44, "ipv4"),
        ("netbios_node_type", 46, "uint8"),
        ("next_server", 253, "ipv4"),
    ];
    let v6 = [("server_id", 2, "mac"), ("ia_addr", 5, "ipv6"), ("dns_server", 23, "ipv6"), ("domain_search", 24, "str")];
    TestOpts { dhcp: opts(&v4), dhcpv6: opts(&v6), nd_ra: opts(&ND_RA_OPTS), event: opts(&EVENT_OPTS) }
}

/// The logical ports `test-ovn parse-actions` knows (no lsp2 or lsp3).
const ACTION_PORTS: [(&str, u32); 4] = [("eth0", 5), ("eth1", 6), ("LOCAL", 0xfffe), ("lsp1", 0x11)];

/// One line of actions as `test-ovn parse-actions` prints it: the line,
/// then its canonical text if different, its OpenFlow actions and the
/// groups they use, its prerequisites, or its error. The group and meter
/// ids are those of the lines before too, as in one `test-ovn` run.
fn parse_actions(line: &str, ids: &mut IdTables) -> String {
    action_results(line, ids).join("\n")
}

/// Whether `text`, parsed as actions as `parse-actions` parses them (and
/// encoded), prints as text that, where it parses again, prints the same
/// (an error is fine); for the fuzz target. The printed text may not
/// parse where OVN's does not either: `fwd_group(liveness=true, ;` is
/// accepted and prints as `fwd_group(liveness="true", );`.
pub fn check_actions(text: &str) -> Result<(), String> {
    let results = action_results(text, &mut IdTables::default());
    match results.iter().skip(1).find(|r| r.starts_with("    bad reformat: ")) {
        Some(r) => Err(r.trim_start().to_owned()),
        None => Ok(()),
    }
}

/// The echoed line, then the result lines of `parse-actions`.
fn action_results(line: &str, ids: &mut IdTables) -> Vec<String> {
    use crate::actions::{self, EncodeParams, ParseParams, Pipeline};
    let symtab = Symtab::test_ovn();
    static OPTS: LazyLock<TestOpts> = LazyLock::new(test_opts);
    let pp = ParseParams {
        symtab,
        n_tables: 24,
        cur_ltable: 10,
        pipeline: Pipeline::Ingress,
        dhcp_opts: &OPTS.dhcp,
        dhcpv6_opts: &OPTS.dhcpv6,
        nd_ra_opts: &OPTS.nd_ra,
        event_opts: &OPTS.event,
    };
    let mut out = vec![line.to_owned()];
    let (acts, prereqs) = match actions::parse(line, &pp) {
        Ok(parsed) => parsed,
        Err(e) => {
            out.push(format!("    {e}"));
            return out;
        }
    };
    let text = actions::format(&acts, symtab);
    if text != line {
        out.push(format!("    formats as {text}"));
    }
    let port = |name: &str| ACTION_PORTS.iter().find(|(p, _)| *p == name).map(|&(_, k)| k);
    let ep = EncodeParams {
        lookup_port: &port,
        is_switch: true,
        pipeline: Pipeline::Ingress,
        ingress_ptable: INGRESS_PTABLE,
        egress_ptable: EGRESS_PTABLE,
        // test-ovn's `output` goes to OFTABLE_SAVE_INPORT, ingress or not.
        output_ptable: SAVE_INPORT_PTABLE,
        common_nat_ct_zone: actions::LOG_DNAT_ZONE,
        tables: LookupTables::OVN,
        // test-ovn's tunnels are numbered as its ports.
        tunnel_ofport: &|name| port(name).map(|p| p as u16),
        lflow_uuid: 0xaaaaaaaa_bbbbbbbb_cccccccc_dddddddd,
        dp_key: 0xabcdef,
        collector_ids: &[0, 200],
        ctrl_meter_id: None,
        // test-ovn probes no datapath features.
        meters: false,
        dp_hash_l4_sym: false,
        ct_zero_snat: false,
    };
    let encoded = ofproto::actions_format::actions_format(&actions::encode(&acts, symtab, &ep, ids));
    out.push(format!("    encodes as {encoded}"));
    // As test-ovn: each group whose `group:ID` holds the text.
    for (id, text) in ids.groups.iter() {
        if format!("group:{id}").contains(&encoded) {
            out.push(format!("    uses group: id({id}), name({text})"));
        }
    }
    if let Some(p) = prereqs {
        out.push(format!("    has prereqs {}", p.format(symtab)));
    }
    // The canonical text must read back to itself.
    match actions::parse(&text, &pp) {
        Ok((again, _)) if actions::format(&again, symtab) == text => {}
        Ok((again, _)) => out.push(format!("    bad reformat: {}", actions::format(&again, symtab))),
        Err(e) => out.push(format!("    reparse error: {e}")),
    }
    out
}

/// Runs `step` on each line of `input`; returns what it prints.
pub fn run(step: Step, input: &str) -> String {
    let mut ids = IdTables::default();
    let mut each: Box<dyn FnMut(&str) -> String> = match step {
        Step::Lex => Box::new(crate::lex::format_tokens),
        Step::ParseExpr => Box::new(|l| expr_steps(l, 0)),
        Step::AnnotateExpr => Box::new(|l| expr_steps(l, 1)),
        Step::SimplifyExpr => Box::new(|l| expr_steps(l, 2)),
        Step::NormalizeExpr => Box::new(|l| expr_steps(l, 3)),
        Step::ExprToFlows => Box::new(|l| expr_steps(l, 4)),
        Step::ParseActions => Box::new(|l| parse_actions(l, &mut ids)),
        Step::DumpSymtab => return Symtab::test_ovn().dump(),
    };
    let mut out = String::new();
    for line in input.lines() {
        if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let line = line.split('#').next().unwrap_or("");
        if line.trim_matches([' ', '\t', '\n']).is_empty() {
            out.push('\n');
            continue;
        }
        out.push_str(&each(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_test_ovn_reads_them() {
        let out = run(Step::Lex, "# a comment\na b # not this\n  \n1.2.3.4/24\n");
        assert_eq!(out, "# a comment\na b\n\n1.2.3.0/24\n");
    }

    #[test]
    fn every_step_has_its_name() {
        for &(name, step) in Step::ALL {
            assert_eq!(Step::from_name(name), Some(step));
            assert_eq!(step.name(), name);
        }
        assert_eq!(Step::from_name("nope"), None);
    }
}
