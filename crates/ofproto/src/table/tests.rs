use super::*;
use crate::error::{FlowModFailed, RoleRequestFailed};
use crate::flowmatch::Mff;

fn m(fields: &[(Mff, &[u8])]) -> Match {
    Match::exact(fields)
}

fn fm(command: Command, m: Match, priority: u16, cookie: u64) -> FlowMod {
    FlowMod { command, new_cookie: cookie, ..FlowMod::add(0, m, priority, vec![Action::Output { port: 1, max_len: 0 }]) }
}

#[test]
fn add_replace_modify_delete() {
    let now = Instant::now();
    let mut t = Tables::default();
    let ip = m(&[(Mff::EthType, &[8, 0])]);
    let ip_dst = m(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 0, 0, 1])]);
    t.apply(&fm(Command::Add, ip.clone(), 10, 1), now).unwrap();
    t.apply(&fm(Command::Add, ip_dst.clone(), 20, 2), now).unwrap();
    t.apply(&fm(Command::Add, ip_dst.clone(), 20, 3), now).unwrap();
    assert_eq!(t.len(), 2, "same match and priority replaces");
    let first = t.table(0).iter().next().unwrap();
    assert_eq!(first.cookie, 3);
    assert_eq!(first.priority, 20, "highest priority first");
    // Non-strict modify of `ip` covers both; strict only the one.
    let mut modify = fm(Command::ModifyStrict, ip.clone(), 10, u64::MAX);
    modify.actions = vec![];
    t.apply(&modify, now).unwrap();
    let rules: Vec<&Rule> = t.table(0).iter().collect();
    assert!(rules[1].actions.is_empty() && !rules[0].actions.is_empty());
    // Delete by cookie.
    let mut del = fm(Command::Delete, Match::catchall(), 0, u64::MAX);
    del.table_id = ALL_TABLES;
    del.cookie = 3;
    del.cookie_mask = u64::MAX;
    let gone = t.apply(&del, now).unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(t.len(), 1);
    let mut overlap = fm(Command::Add, ip_dst, 10, 0);
    overlap.flags = flags::CHECK_OVERLAP;
    assert_eq!(t.apply(&overlap, now).unwrap_err(), OfError::FlowModFailed(FlowModFailed::Overlap));
}

#[test]
fn a_batch_applies_all_or_nothing() {
    let now = Instant::now();
    let mut t = Tables::default();
    let good = fm(Command::Add, Match::catchall(), 1, 0);
    let mut bad = fm(Command::Add, m(&[(Mff::Reg(0), &[0, 0, 0, 1])]), 1, 0);
    bad.flags = flags::CHECK_OVERLAP;
    let before = t.version();
    assert_eq!(
        t.apply_all(&[Change::Flow(Box::new(good.clone())), Change::Flow(Box::new(bad))], now).unwrap_err(),
        (1, OfError::FlowModFailed(FlowModFailed::Overlap))
    );
    assert!(t.is_empty() && t.version() == before);
    t.apply_all(&[Change::Flow(Box::new(good))], now).unwrap();
    assert_eq!((t.len(), t.version()), (1, before + 1));
}

#[test]
fn roles_elect_one_master_and_refuse_stale_generations() {
    let mut r = Roles::default();
    let (a, b) = (r.connect(), r.connect());
    r.request(a, Role::Master, 5).unwrap();
    r.request(b, Role::Master, 6).unwrap();
    assert_eq!((r.role(a), r.role(b)), (Role::Slave, Role::Master));
    assert_eq!(r.request(a, Role::Master, 4), Err(OfError::RoleRequestFailed(RoleRequestFailed::Stale)));
    r.request(a, Role::Equal, 0).unwrap();
    assert_eq!((r.role(a), r.generation()), (Role::Equal, Some(6)));
    // Generation ids compare modulo 2^64.
    r.request(a, Role::Slave, 6u64.wrapping_sub(7).wrapping_add(8)).unwrap();
    r.disconnect(b);
    assert_eq!(r.role(b), Role::Equal);
}

#[test]
fn loose_cover_and_overlap() {
    let ip = m(&[(Mff::EthType, &[8, 0])]);
    let ip_dst = m(&[(Mff::EthType, &[8, 0]), (Mff::Ipv4Dst, &[10, 0, 0, 1])]);
    assert!(covered_by(&ip_dst, &ip) && !covered_by(&ip, &ip_dst));
    assert!(covered_by(&ip, &Match::catchall()));
    assert!(overlaps(&ip, &ip_dst));
    let arp = m(&[(Mff::EthType, &[8, 6])]);
    assert!(!overlaps(&ip, &arp));
}
