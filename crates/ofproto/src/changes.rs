//! What changed in a bridge's tables, version by version: the match of
//! every flow mod and of every rule a timeout removed, so that the
//! datapath's revalidator checks only the megaflows a change can affect (a
//! packet a changed rule does not match takes the same path as before).
//! Changes that are not a match (group, meter and TLV table mods) count as
//! a change of everything. The log keeps the last [`KEPT`] changes; asked
//! for more, it says it does not know.

use std::sync::Arc;

use crate::flowmatch::Match;

/// Changes kept.
pub const KEPT: usize = 4096;

/// The log of one bridge's table changes.
#[derive(Clone, Debug, Default)]
pub struct ChangeLog {
    /// (version after the change, the match it concerned).
    entries: imbl::Vector<(u64, Arc<Match>)>,
    /// The highest version whose changes were dropped from the log.
    dropped: u64,
}

impl ChangeLog {
    /// Records that version `version` changed the rules `m` covers.
    pub fn record(&mut self, version: u64, m: &Match) {
        self.entries.push_back((version, Arc::new(m.clone())));
        while self.entries.len() > KEPT {
            if let Some((v, _)) = self.entries.pop_front() {
                self.dropped = self.dropped.max(v);
            }
        }
    }

    /// Records that version `version` may have changed any rule.
    pub fn record_all(&mut self, version: u64) {
        self.record(version, &Match::catchall());
    }

    /// The matches of the changes after version `since`, or `None` when
    /// the log no longer has them all.
    pub fn since(&self, since: u64) -> Option<Vec<Arc<Match>>> {
        if self.dropped > since {
            return None;
        }
        Some(self.entries.iter().filter(|(v, _)| *v > since).map(|(_, m)| Arc::clone(m)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flowmatch::Mff;

    #[test]
    fn changes_since_a_version_until_the_log_forgets_them() {
        let mut log = ChangeLog::default();
        let port = |p: u16| Match::exact(&[(Mff::InPort, &p.to_be_bytes())]);
        log.record(1, &port(1));
        log.record(2, &port(2));
        assert_eq!(log.since(0).map(|v| v.len()), Some(2));
        assert_eq!(log.since(1).unwrap().as_slice(), &[Arc::new(port(2))]);
        assert_eq!(log.since(2).map(|v| v.len()), Some(0));
        for v in 3..3 + KEPT as u64 {
            log.record(v, &port(3));
        }
        assert_eq!(log.since(1), None, "version 2's change is forgotten");
        assert!(log.since(3).is_some());
        log.record_all(10_000);
        assert!(log.since(9_999).unwrap()[0].wc.iter().all(|&b| b == 0), "everything");
    }
}
