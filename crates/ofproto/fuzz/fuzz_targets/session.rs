//! Arbitrary bytes on an OpenFlow connection: framed, then handled by a
//! session, must never panic; every reply must be a well-formed message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::error::{OfError, PortModFailed};
use ofproto::table::Tables;
use ofproto::wire::{Framer, Header, OFPP13_LOCAL};
use ofproto::{Desc, PortCounters, PortDesc, Session, SwitchView};

struct View;

impl SwitchView for View {
    fn datapath_id(&self) -> u64 {
        1
    }
    fn ports(&self) -> Vec<PortDesc> {
        vec![PortDesc::new(1, [2, 0, 0, 0, 0, 1], "p1"), PortDesc::new(OFPP13_LOCAL, [2, 0, 0, 0, 0, 2], "br0")]
    }
    fn desc(&self) -> Desc {
        Desc { mfr: "m".into(), hw: "h".into(), sw: "s".into(), serial: "n".into(), dp: "d".into() }
    }
    fn port_counters(&self) -> Vec<PortCounters> {
        vec![PortCounters { port_no: 1, ..PortCounters::default() }]
    }
    fn port_mod(&self, port_no: u32, _: [u8; 6], _: u32, _: u32) -> Result<(), OfError> {
        if port_no == 1 {
            Ok(())
        } else {
            Err(OfError::PortModFailed(PortModFailed::BadPort))
        }
    }
    fn packet_out(&self, _: u16, _: &[ofproto::actions::Action], _: &[u8]) -> Result<(), OfError> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut session, _) = Session::start();
    let mut tables = Tables::default();
    let mut framer = Framer::default();
    framer.push(data);
    while let Ok(Some(msg)) = framer.next_message() {
        let replies = session.handle(&msg, &View, &mut tables);
        for r in &replies.messages {
            let h = Header::parse(r).expect("a reply has a header");
            assert_eq!(usize::from(h.length), r.len(), "a reply's length field is its length");
        }
        if replies.end.is_some() {
            break;
        }
    }
});
