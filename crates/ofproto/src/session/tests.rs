use super::*;
use crate::error::{BadRequest, PortModFailed};
use crate::wire::{OFP13, OFPP13_LOCAL};

struct Fake;
impl SwitchView for Fake {
    fn datapath_id(&self) -> u64 {
        0x1234
    }
    fn ports(&self) -> Vec<PortDesc> {
        vec![PortDesc::new(OFPP13_LOCAL, [2, 0, 0, 0, 0, 1], "br0")]
    }
    fn desc(&self) -> Desc {
        Desc { mfr: "m".into(), hw: "h".into(), sw: "s".into(), serial: "n".into(), dp: "d".into() }
    }
    fn port_counters(&self) -> Vec<PortCounters> {
        vec![PortCounters { port_no: 1, rx_packets: 5, ..PortCounters::default() }, PortCounters { port_no: 2, ..PortCounters::default() }]
    }
    fn port_mod(&self, _: u32, _: [u8; 6], _: u32, _: u32) -> Result<(), OfError> {
        Err(OfError::PortModFailed(PortModFailed::BadPort))
    }
    fn packet_out(&self, in_port: u16, actions: &[crate::actions::Action], packet: &[u8]) -> Result<(), OfError> {
        // Accepts one shape, to check the decoding.
        let ok = in_port == 3 && actions == [crate::actions::Action::Output { port: 2, max_len: 0 }] && packet == b"abc";
        if ok {
            Ok(())
        } else {
            Err(OfError::BadRequest(BadRequest::BadPacket))
        }
    }
}

#[test]
fn packet_out_in_every_layout() {
    // output:2, in 1.0's and 1.1+'s action layouts.
    let out10 = [0u8, 0, 0, 8, 0, 2, 0, 0];
    let out13 = [0u8, 0, 0, 16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut b10 = vec![0xff, 0xff, 0xff, 0xff, 0, 3, 0, 8];
    b10.extend_from_slice(&out10);
    b10.extend_from_slice(b"abc");
    let mut b13 = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3, 0, 16, 0, 0, 0, 0, 0, 0];
    b13.extend_from_slice(&out13);
    b13.extend_from_slice(b"abc");
    // 1.5: the in_port in a match (OXM in_port = 3, padded to 8 bytes).
    let mut b15 = vec![0xff, 0xff, 0xff, 0xff, 0, 16, 0, 0, 0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0];
    b15.extend_from_slice(&out13);
    b15.extend_from_slice(b"abc");
    for (v, body) in [(OFP10, b10), (OFP13, b13.clone()), (OFP15, b15)] {
        let mut s = open(v);
        let r = s.handle(&message(v, ty::PACKET_OUT, 5, &body), &Fake, &mut Tables::default());
        assert!(r.messages.is_empty(), "version {v}: {:?}", r.messages);
    }
    // A buffered packet: ferrovs keeps none.
    let mut buffered = b13.clone();
    buffered[..4].copy_from_slice(&[0, 0, 0, 1]);
    let r = open(OFP13).handle(&message(OFP13, ty::PACKET_OUT, 5, &buffered), &Fake, &mut Tables::default());
    assert_eq!(&r.messages[0][8..12], &[0, 1, 0, 8], "BAD_REQUEST/BUFFER_UNKNOWN");
    // Actions longer than the message.
    let mut long = b13;
    long[8..10].copy_from_slice(&[1, 0]);
    let r = open(OFP13).handle(&message(OFP13, ty::PACKET_OUT, 5, &long), &Fake, &mut Tables::default());
    assert_eq!(r.messages.len(), 1, "an error");
}

fn open(v: u8) -> Session {
    let (mut s, hello) = Session::start();
    assert_eq!(Header::parse(&hello).unwrap().ty, ty::HELLO);
    assert_eq!(s.handle(&wire::hello(v), &Fake, &mut Tables::default()), Replies::default());
    assert_eq!(s.version(), Some(v));
    s
}

#[test]
fn features_echo_config_barrier_in_both_versions() {
    for v in [OFP10, OFP13] {
        let mut s = open(v);
        let r = s.handle(&message(v, ty::FEATURES_REQUEST, 5, &[]), &Fake, &mut Tables::default()).messages;
        let h = Header::parse(&r[0]).unwrap();
        assert_eq!((h.ty, h.xid), (ty::FEATURES_REPLY, 5));
        assert_eq!(&r[0][8..16], &0x1234u64.to_be_bytes());
        assert_eq!(r[0].len(), if v == OFP10 { 32 + 48 } else { 32 });
        let r = s.handle(&message(v, ty::ECHO_REQUEST, 6, b"x"), &Fake, &mut Tables::default());
        assert_eq!(r.messages[0], message(v, ty::ECHO_REPLY, 6, b"x"));
        assert!(!r.after_sync, "an echo is answered at once");
        assert!(s.handle(&message(v, ty::SET_CONFIG, 7, &[0, 1, 0, 64]), &Fake, &mut Tables::default()).messages.is_empty());
        let r = s.handle(&message(v, ty::GET_CONFIG_REQUEST, 8, &[]), &Fake, &mut Tables::default()).messages;
        assert_eq!(&r[0][8..], &[0, 1, 0, 64]);
        let barrier = if v == OFP10 { ty::BARRIER_REQUEST_10 } else { ty::BARRIER_REQUEST_13 };
        let r = s.handle(&message(v, barrier, 9, &[]), &Fake, &mut Tables::default());
        assert_eq!(Header::parse(&r.messages[0]).unwrap().ty, barrier + 1);
        assert!(r.after_sync, "a barrier's reply waits for the datapath");
    }
}

#[test]
fn unknown_and_malformed_messages_get_errors_and_the_session_goes_on() {
    let mut s = open(OFP13);
    let queue_config = message(OFP13, 22, 3, &[0; 48]);
    let r = s.handle(&queue_config, &Fake, &mut Tables::default()).messages;
    assert_eq!(&r[0][8..12], &[0, 1, 0, 1], "BAD_REQUEST/BAD_TYPE");
    assert_eq!(&r[0][12..], &queue_config[..56]);
    let flow_mod = message(OFP13, 14, 4, &[0; 48]);
    let r = s.handle(&flow_mod, &Fake, &mut Tables::default()).messages;
    assert_eq!(&r[0][8..12], &[0, 4, 0, 0], "BAD_MATCH/BAD_TYPE: a match of type 0 (1.0's standard match)");
    let r = s.handle(&message(OFP10, ty::ECHO_REQUEST, 4, &[]), &Fake, &mut Tables::default()).messages;
    assert_eq!(&r[0][8..12], &[0, 1, 0, 0], "BAD_VERSION");
    let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 5, &[0, 99, 0, 0, 0, 0, 0, 0]), &Fake, &mut Tables::default()).messages;
    assert_eq!(&r[0][8..12], &[0, 1, 0, 2], "BAD_MULTIPART");
    let r = s.handle(&message(OFP13, ty::SET_CONFIG, 6, &[0]), &Fake, &mut Tables::default()).messages;
    assert_eq!(&r[0][8..12], &[0, 1, 0, 6], "BAD_LEN");
    let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 7, &[0, 13, 0, 0, 0, 0, 0, 0]), &Fake, &mut Tables::default()).messages;
    assert_eq!(r[0].len(), 8 + 8 + 64, "PORT_DESC with one port");
    let all = [0, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 8, &all), &Fake, &mut Tables::default()).messages;
    assert_eq!(r[0].len(), 8 + 8 + 2 * 112, "PORT stats for all ports");
    let one = [0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0];
    let r = s.handle(&message(OFP13, ty::MULTIPART_REQUEST_13, 9, &one), &Fake, &mut Tables::default()).messages;
    assert_eq!(r[0].len(), 8 + 8 + 112, "PORT stats for port 2");
}

#[test]
fn async_configuration_in_both_layouts() {
    let c = AsyncConfig { flow_removed: [0x3, 0x1], ..AsyncConfig::default() };
    let mut d = AsyncConfig::default();
    d.update14(&c.encode14()).unwrap();
    assert_eq!(d, c);
    assert_eq!(AsyncConfig::decode13(&c.encode13()).unwrap(), c);
    assert_eq!(d.update14(&[0, 1, 0, 2]), Err(OfError::BadRequest(BadRequest::BadLen)));
    // Over a session: set, then get, in 1.3.
    let mut s = open(OFP13);
    let mut t = Tables::default();
    assert!(s.handle(&message(OFP13, ty::SET_ASYNC, 1, &c.encode13()), &Fake, &mut t).messages.is_empty());
    let r = s.handle(&message(OFP13, ty::GET_ASYNC_REQUEST, 2, &[]), &Fake, &mut t).messages;
    assert_eq!(&r[0][8..], &c.encode13()[..]);
}

#[test]
fn a_slave_may_not_change_the_tables() {
    let mut tables = Tables::default();
    let mut open_as = |generation: u64, role: u32| {
        let (mut s, _) = Session::start();
        s.set_connection(tables.roles.connect());
        s.handle(&wire::hello(OFP13), &Fake, &mut tables);
        let mut body = role.to_be_bytes().to_vec();
        body.extend_from_slice(&[0; 4]);
        body.extend_from_slice(&generation.to_be_bytes());
        let r = s.handle(&message(OFP13, ty::ROLE_REQUEST, 1, &body), &Fake, &mut tables).messages;
        assert_eq!(Header::parse(&r[0]).unwrap().ty, ty::ROLE_REPLY);
        assert_eq!(&r[0][8..12], &role.to_be_bytes());
        s
    };
    let mut slave = open_as(1, 3);
    let _master = open_as(2, 2);
    // An empty flow mod (add, table 0, match-all): refused as IS_SLAVE.
    let mut fm = vec![0u8; 40];
    fm.extend_from_slice(&[0, 1, 0, 4, 0, 0, 0, 0]);
    let r = slave.handle(&message(OFP13, ty::FLOW_MOD, 3, &fm), &Fake, &mut tables).messages;
    assert_eq!(&r[0][8..12], &[0, 1, 0, 10], "BAD_REQUEST/IS_SLAVE");
    assert!(tables.is_empty());
}

#[test]
fn no_common_version_ends_the_session_with_hello_failed() {
    let (mut s, _) = Session::start();
    let r = s.handle(&message(0x03, ty::HELLO, 1, &[0, 1, 0, 8, 0, 0, 0, 0x08]), &Fake, &mut Tables::default());
    assert_eq!(r.end, Some(SessionEnd::Incompatible));
    assert_eq!(&r.messages[0][8..12], &[0, 0, 0, 0]);
}
