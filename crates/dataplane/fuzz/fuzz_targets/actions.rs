//! Header-rewriting actions and tunnel decapsulation over arbitrary bytes:
//! must never panic.
#![no_main]

use dataplane::{execute, Action, Datapath, DropReason, PacketMeta, TunnelKind};
use libfuzzer_sys::fuzz_target;

struct Sink;

impl Datapath<Vec<u8>> for Sink {
    fn output(&mut self, _: u32, _: Vec<u8>) {}
    fn userspace(&mut self, _: Vec<u8>, _: &PacketMeta, _: &[u8]) {}
    fn recirculate(&mut self, _: Vec<u8>, _: PacketMeta) {}
    fn dropped(&mut self, _: DropReason) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, packet)) = data.split_first() else {
        return;
    };
    let action = match which % 8 {
        0 => Action::set_ipv4_src(0x0a00_0001),
        1 => Action::set_ports(1, 2),
        2 => Action::set_eth([2; 6], [4; 6]),
        3 => Action::DecTtl,
        4 => Action::PopVlan,
        5 => Action::PushVlan { tpid: 0x8100, tci: 7 },
        6 => Action::TunnelPop { kind: TunnelKind::Geneve, in_port: 1 },
        _ => Action::TunnelPop { kind: TunnelKind::Vxlan, in_port: 1 },
    };
    execute(&mut Sink, packet.to_vec(), &PacketMeta::default(), 0, &[action, Action::Output(1)]);
});
