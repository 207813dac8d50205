//! The actions that translate others on copies of the packet:
//! `check_pkt_larger`, which forks the rest of the list in two, and
//! `clone`, whose changes the actions after it do not see.

#![allow(clippy::wildcard_imports)]

use super::*;

impl Walk<'_> {
    /// `check_pkt_larger(pkt_len)->dst`: the packet's length is not in the
    /// flow key, so the rest of the action list (`rest`, a rule's when
    /// `rule_cookie` is given) is translated twice, with the bit set and
    /// clear, each followed by the action set, and the datapath chooses
    /// per packet (`check_pkt_len`). As in OVS, nothing after the list
    /// runs: the actions of the rules that resubmitted here are over.
    pub(super) fn check_pkt_larger(&mut self, pkt_len: u16, dst: &Subfield, rest: &[Action], rule_cookie: Option<u64>) {
        self.commit();
        let outer = std::mem::take(&mut self.out);
        let saved = (self.flow, self.base, self.written, self.vlan_tpid, self.base_tpid);
        let action_set = std::mem::take(&mut self.action_set);
        let mut branches = Vec::new();
        for bit in [1u128, 0] {
            (self.flow, self.base, self.written, self.vlan_tpid, self.base_tpid) = saved;
            self.action_set.clone_from(&action_set);
            self.stopped = false;
            self.note(|| {
                format!("check_pkt_larger: the packet is {} than {pkt_len} bytes", if bit == 1 { "longer" } else { "not longer" })
            });
            self.set_field(dst.field, bit << dst.ofs, bits(dst.n_bits) << dst.ofs);
            match rule_cookie {
                Some(cookie) => self.run_rule(rest, cookie),
                None => self.run(rest),
            }
            if self.error.is_none() {
                self.finish_action_set();
            }
            branches.push(std::mem::take(&mut self.out));
        }
        self.out = outer;
        let less_equal = branches.pop().unwrap_or_default();
        let greater = branches.pop().unwrap_or_default();
        self.out.push(Dp::CheckPktLen { size: pkt_len, greater: greater.into(), less_equal: less_equal.into() });
        self.stopped = true;
    }

    /// `clone(actions)`: the actions run, then the packet is again as it
    /// was before them. The datapath has no clone, so what they changed in
    /// its headers is set back by the next commit; the registers, the
    /// action set and `exit` are the clone's own.
    pub(super) fn clone_actions(&mut self, inner: &[Action]) {
        let (flow, tpid) = (self.flow, self.vlan_tpid);
        let action_set = self.action_set.clone();
        self.run(inner);
        self.flow = flow;
        self.vlan_tpid = tpid;
        self.action_set = action_set;
        self.stopped = self.error.is_some();
        // Header bytes the datapath now holds differently are written.
        for i in 0..self.flow.len() {
            if self.flow[i] != self.base[i] {
                self.written[i] = 0xff;
            }
        }
    }
}
