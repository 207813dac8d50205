//! Reading the `Open_vSwitch` database's rows: datum helpers, the
//! desired state of each interface, controllers, VLAN modes, datapath ids,
//! and the updates that write back only what changed.

#![allow(clippy::wildcard_imports)]

use super::*;

/// The controllers of `bridge`, with OVS's defaults (probe 5 s, backoff
/// 8 s) and the `SSL` table's files.
pub(super) fn controller_configs(replica: &Replica, bridge: &ovsdb::Row) -> Vec<crate::controller::ControllerConfig> {
    use crate::controller::{ControllerConfig, DEFAULT_MAX_BACKOFF, DEFAULT_PROBE};
    let ssl = replica
        .rows("Open_vSwitch")
        .next()
        .and_then(|(ovs, _)| uuids(replica.value("Open_vSwitch", ovs, "ssl").as_ref()).into_iter().next())
        .and_then(|row| {
            let file = |col: &str| string(replica.value("SSL", &row, col).as_ref()).map(PathBuf::from);
            Some(ovsdb::SslConfig { private_key: file("private_key")?, certificate: file("certificate")?, ca_cert: file("ca_cert")? })
        });
    uuids(bridge.get("controller"))
        .into_iter()
        .filter_map(|uuid| {
            let col = |c: &str| replica.value("Controller", &uuid, c);
            let ms = |c: &str| integer(col(c).as_ref()).map(|v| std::time::Duration::from_millis(v.max(0) as u64));
            Some(ControllerConfig {
                target: string(col("target").as_ref())?,
                probe: match ms("inactivity_probe") {
                    Some(d) if d.is_zero() => None,
                    Some(d) => Some(d),
                    None => Some(DEFAULT_PROBE),
                },
                max_backoff: ms("max_backoff").unwrap_or(DEFAULT_MAX_BACKOFF),
                ssl: ssl.clone(),
            })
        })
        .collect()
}

/// `Bridge.protocols` as a version bitmap; empty allows every version
/// ferrovs speaks, as OVS allows all of its own.
pub(super) fn protocols(d: Option<&Datum>) -> u32 {
    let names: Vec<String> = match d {
        Some(Datum::Set(atoms)) => atoms.iter().filter_map(|a| if let Atom::String(s) = a { Some(s.clone()) } else { None }).collect(),
        Some(d) => d.as_str().map(str::to_owned).into_iter().collect(),
        None => Vec::new(),
    };
    if names.is_empty() {
        return ofproto::wire::all_versions();
    }
    names.iter().filter_map(|n| n.strip_prefix("OpenFlow1")?.parse::<u32>().ok()).fold(0, |b, minor| b | 1 << (minor + 1))
}

pub(super) fn string(d: Option<&Datum>) -> Option<String> {
    d?.as_str().map(str::to_owned)
}

pub(super) fn integer(d: Option<&Datum>) -> Option<i64> {
    d?.as_integer()
}

pub(super) fn map_get(d: Option<&Datum>, key: &str) -> Option<String> {
    d?.map_str(key).map(str::to_owned)
}

pub(super) fn uuids(d: Option<&Datum>) -> Vec<Uuid> {
    d.map(Datum::uuids).unwrap_or_default()
}

pub(super) fn str_datum(s: &str) -> Datum {
    Datum::scalar(Atom::String(s.to_owned()))
}

pub(super) fn opt_str_datum(s: Option<&str>) -> Datum {
    s.map_or_else(Datum::empty, str_datum)
}

pub(super) fn int_datum(i: i64) -> Datum {
    Datum::scalar(Atom::Integer(i))
}

pub(super) fn mac_string(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// What one interface's row should hold after reconciliation.
pub(super) struct Desired {
    pub(super) uuid: Uuid,
    pub(super) name: String,
    pub(super) bridge: String,
    pub(super) vlan: ofproto::normal::VlanMode,
    pub(super) columns: Vec<(&'static str, Datum)>,
}

/// A port's VLAN configuration, as OVS reads `tag`, `trunks` and
/// `vlan_mode` (an access port when it has a tag, unless told `trunk`).
pub(super) fn vlan_mode(replica: &Replica, port: &Uuid) -> ofproto::normal::VlanMode {
    use ofproto::normal::VlanMode;
    let tag = integer(replica.value("Port", port, "tag").as_ref()).and_then(|t| u16::try_from(t).ok());
    let mode = string(replica.value("Port", port, "vlan_mode").as_ref());
    let trunks: Vec<u16> = match replica.value("Port", port, "trunks") {
        Some(Datum::Set(set)) => set.iter().filter_map(|a| if let Atom::Integer(i) = a { u16::try_from(*i).ok() } else { None }).collect(),
        _ => Vec::new(),
    };
    match (tag, mode.as_deref()) {
        (Some(t), None | Some("access")) => VlanMode::Access(t),
        _ => VlanMode::Trunk(trunks),
    }
}

impl Desired {
    pub(super) fn column(&self, name: &str) -> Option<&Datum> {
        self.columns.iter().find(|(c, _)| *c == name).map(|(_, d)| d)
    }

    /// The port as OpenFlow clients see it, if it has a number.
    pub(super) fn port_desc(&self) -> Option<PortDesc> {
        let ofport = integer(self.column("ofport")).filter(|&p| p >= 1)?;
        let port_no = if ofport == OFPP_LOCAL { ofproto::wire::OFPP13_LOCAL } else { u32::try_from(ofport).ok()? };
        let mac = string(self.column("mac_in_use")).and_then(|m| parse_mac(&m)).unwrap_or_default();
        let up = string(self.column("link_state")).as_deref() == Some("up");
        Some(PortDesc { state: if up { 0 } else { 1 }, ..PortDesc::new(port_no, mac, &self.name) })
    }
}

pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s.split(':').map(|p| u8::from_str_radix(p, 16)).collect::<Result<_, _>>().ok()?;
    parts.try_into().ok()
}

/// A bridge's datapath id, 16 hex digits, as OVS chooses it:
/// `other_config:datapath-id` when valid, else from `other_config:hwaddr`,
/// else from the bridge's UUID (a stable, locally administered MAC).
pub(super) fn datapath_id(bridge: &Uuid, other_config: Option<&Datum>) -> String {
    if let Some(id) = map_get(other_config, "datapath-id") {
        let id = id.strip_prefix("0x").unwrap_or(&id).to_ascii_lowercase();
        if id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            return id;
        }
    }
    if let Some(mac) = map_get(other_config, "hwaddr") {
        let digits: String = mac.split(':').collect();
        if mac.split(':').count() == 6 && digits.len() == 12 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return format!("0000{}", digits.to_ascii_lowercase());
        }
    }
    let mac = ((bridge.0 as u64) & 0x0000_feff_ffff_ffff) | 0x0000_0200_0000_0000;
    format!("{mac:016x}")
}

/// Adds to `ops` an update of row `uuid` setting the columns of `want`
/// whose value in `replica` differs, if any does (so the daemon's own
/// writes, echoed back by the server, settle instead of looping).
pub(super) fn update_changed<'a>(
    ops: &mut Vec<Value>,
    replica: &Replica,
    table: &str,
    uuid: &Uuid,
    want: impl IntoIterator<Item = (&'a str, Datum)>,
) {
    let row: serde_json::Map<String, Value> = want
        .into_iter()
        .filter(|(col, value)| replica.value(table, uuid, col).as_ref() != Some(value))
        .map(|(col, value)| (col.to_owned(), value.to_json()))
        .collect();
    if !row.is_empty() {
        ops.push(json!({"op": "update", "table": table, "where": [["_uuid", "==", ["uuid", uuid.to_string()]]], "row": row}));
    }
}

impl Switch {
    /// Writes each controller's connection state back: `is_connected`,
    /// `role` (other, master or slave) and `status`
    /// (OVS's `state` and `last_error`).
    pub(super) fn controller_status(&self, replica: &Replica, ops: &mut Vec<Value>) {
        for (_, bridge) in replica.rows("Bridge") {
            let Some(mgmt) = string(bridge.get("name")).and_then(|n| self.mgmt.get(&n)) else {
                continue;
            };
            for uuid in uuids(bridge.get("controller")) {
                let Some(target) = string(replica.value("Controller", &uuid, "target").as_ref()) else {
                    continue;
                };
                let Some(st) = mgmt.controllers.status(&target) else {
                    continue;
                };
                let connected = st.connected > 0;
                let mut status = vec![(Atom::String("state".into()), Atom::String(st.state.into()))];
                if let Some(e) = &st.last_error {
                    status.push((Atom::String("last_error".into()), Atom::String(e.clone())));
                }
                let role = match st.conn.filter(|_| connected) {
                    Some(conn) => Datum::scalar(Atom::String(mgmt.controllers.role(conn).name().into())),
                    None => Datum::empty(),
                };
                update_changed(
                    ops,
                    replica,
                    "Controller",
                    &uuid,
                    [
                        ("is_connected", Datum::scalar(Atom::Boolean(connected))),
                        ("role", role),
                        ("status", Datum::Map(status.into_iter().collect())),
                    ],
                );
            }
        }
    }
}
