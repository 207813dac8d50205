//! A snapshot of the Southbound tables the compiler reads, from rows in
//! OVSDB's JSON notation (a `select` of each table, or a dump of them as
//! `{"Table": [row, …]}`), and the view of one chassis on it: which ports
//! are resident on it and which are related to it, as `ovn-controller`'s
//! binding module decides from the same rows.
//!
//! The view reads the database alone: a VIF is local when its binding
//! names the chassis (the agent itself will also know the VIFs plugged
//! into its bridge), and a gateway port when the chassis has the highest
//! priority in its HA group (the agent will also know which tunnels are
//! up). Tunnel ports are the bridge's, so they are not known here.

use std::collections::{HashMap, HashSet};

use ovsdb::datum::{Atom, Datum};
use serde_json::Value;

use crate::actions::{GenOpt, Pipeline};
use crate::compile::{Context, Datapath, Local, LogicalFlow};
use crate::expr::{ConstantSet, Sets};
use crate::symtab::Symtab;

/// A `Port_Binding` row, as the view needs it.
#[derive(Debug, Clone)]
struct Port {
    datapath: u128,
    key: u32,
    kind: String,
    chassis: Option<u128>,
    ha_group: Option<u128>,
    l3gateway_chassis: Option<String>,
}

/// The tables the compiler reads.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Each logical flow and the datapaths it is on (its own, or its
    /// datapath group's).
    pub flows: Vec<(LogicalFlow, Vec<u128>)>,
    /// Datapaths by UUID, with their names (`external_ids:name`).
    pub datapaths: HashMap<u128, (Datapath, String)>,
    ports: HashMap<String, Port>,
    mcast: HashMap<(u128, String), u32>,
    addr_sets: HashMap<String, ConstantSet>,
    port_groups: HashMap<String, ConstantSet>,
    dhcp_opts: Vec<GenOpt>,
    dhcpv6_opts: Vec<GenOpt>,
    chassis: HashMap<String, u128>,
    ha_groups: HashMap<u128, Vec<(u128, i64)>>,
}

/// A row's columns, parsed.
struct Row<'a>(&'a serde_json::Map<String, Value>);

impl Row<'_> {
    fn datum(&self, col: &str) -> Datum {
        self.0.get(col).and_then(|v| Datum::from_json(v).ok()).unwrap_or_else(Datum::empty)
    }
    fn uuid(&self) -> Option<u128> {
        self.uuid_of("_uuid")
    }
    fn uuid_of(&self, col: &str) -> Option<u128> {
        self.datum(col).uuids().first().map(|u| u.0)
    }
    fn string(&self, col: &str) -> String {
        self.datum(col).as_str().unwrap_or("").to_owned()
    }
    fn integer(&self, col: &str) -> i64 {
        self.datum(col).as_integer().unwrap_or(0)
    }
    fn strings(&self, col: &str) -> Vec<String> {
        match self.datum(col) {
            Datum::Set(set) => set
                .into_iter()
                .filter_map(|a| match a {
                    Atom::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            Datum::Map(_) => Vec::new(),
        }
    }
    fn map(&self, col: &str, key: &str) -> Option<String> {
        self.datum(col).map_str(key).map(str::to_owned)
    }
}

/// The rows of `table` in `tables` (a missing table has none).
fn rows<'a>(tables: &'a Value, table: &str) -> impl Iterator<Item = Row<'a>> {
    tables.get(table).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object).map(Row)
}

impl Snapshot {
    /// The snapshot of `tables`, `{"Table": [row, …]}`; a row that lacks
    /// what the compiler needs (a UUID, a known pipeline) is left out and
    /// counted in the second value.
    pub fn from_tables(tables: &Value) -> (Snapshot, usize) {
        let mut s = Snapshot::default();
        let mut bad = 0;
        for r in rows(tables, "Datapath_Binding") {
            let Some(uuid) = r.uuid() else {
                bad += 1;
                continue;
            };
            let name = r.map("external_ids", "name").unwrap_or_default();
            let dp = Datapath {
                uuid,
                tunnel_key: r.integer("tunnel_key") as u32,
                is_switch: r.map("external_ids", "logical-switch").is_some(),
                snat_ct_zone: r.map("external_ids", "snat-ct-zone").is_some(),
            };
            s.datapaths.insert(uuid, (dp, name));
        }
        for r in rows(tables, "Chassis") {
            if let Some(uuid) = r.uuid() {
                s.chassis.insert(r.string("name"), uuid);
            }
        }
        let ha_chassis: HashMap<u128, (u128, i64)> =
            rows(tables, "HA_Chassis").filter_map(|r| Some((r.uuid()?, (r.uuid_of("chassis")?, r.integer("priority"))))).collect();
        for r in rows(tables, "HA_Chassis_Group") {
            if let Some(uuid) = r.uuid() {
                let members = r.datum("ha_chassis").uuids().iter().filter_map(|u| ha_chassis.get(&u.0).copied()).collect();
                s.ha_groups.insert(uuid, members);
            }
        }
        for r in rows(tables, "Port_Binding") {
            let Some(datapath) = r.uuid_of("datapath") else {
                bad += 1;
                continue;
            };
            let port = Port {
                datapath,
                key: r.integer("tunnel_key") as u32,
                kind: r.string("type"),
                chassis: r.uuid_of("chassis"),
                ha_group: r.uuid_of("ha_chassis_group"),
                l3gateway_chassis: r.map("options", "l3gateway-chassis"),
            };
            s.ports.insert(r.string("logical_port"), port);
        }
        for r in rows(tables, "Multicast_Group") {
            if let Some(dp) = r.uuid_of("datapath") {
                s.mcast.insert((dp, r.string("name")), r.integer("tunnel_key") as u32);
            }
        }
        for r in rows(tables, "Address_Set") {
            s.addr_sets.insert(r.string("name"), ConstantSet::integers(&r.strings("addresses")));
        }
        for r in rows(tables, "Port_Group") {
            s.port_groups.insert(r.string("name"), ConstantSet::strings(&r.strings("ports")));
        }
        for (table, list) in [("DHCP_Options", &mut s.dhcp_opts), ("DHCPv6_Options", &mut s.dhcpv6_opts)] {
            for r in rows(tables, table) {
                list.push(GenOpt { name: r.string("name"), code: r.integer("code") as u16, kind: r.string("type") });
            }
        }
        let groups: HashMap<u128, Vec<u128>> = rows(tables, "Logical_DP_Group")
            .filter_map(|r| Some((r.uuid()?, r.datum("datapaths").uuids().iter().map(|u| u.0).collect())))
            .collect();
        for r in rows(tables, "Logical_Flow") {
            let pipeline = Pipeline::from_name(&r.string("pipeline"));
            let (Some(uuid), Some(pipeline)) = (r.uuid(), pipeline) else {
                bad += 1;
                continue;
            };
            let mut dps: Vec<u128> = r.uuid_of("logical_datapath").into_iter().collect();
            if let Some(g) = r.uuid_of("logical_dp_group") {
                dps.extend(groups.get(&g).into_iter().flatten());
            }
            let controller_meter = Some(r.string("controller_meter")).filter(|m| !m.is_empty());
            let flow = LogicalFlow {
                uuid,
                pipeline,
                table_id: r.integer("table_id").clamp(0, 255) as u8,
                priority: r.integer("priority").clamp(0, 65535) as u16,
                match_text: r.string("match"),
                actions: r.string("actions"),
                controller_meter,
                in_out_port: r.map("tags", "in_out_port"),
            };
            s.flows.push((flow, dps));
        }
        (s, bad)
    }

    /// The compiler's context: the address sets, port groups and DHCP
    /// options of the snapshot, OVN's own router-advertisement and event
    /// options, no IPFIX collector, and a datapath with meters but no
    /// all-zero SNAT or symmetric L4 hash (ferrovs' own; the caller may
    /// say otherwise).
    pub fn context<'a>(&self, symtab: &'a Symtab) -> Context<'a> {
        let opts = |list: &[(&str, u16, &str)]| -> Vec<GenOpt> {
            list.iter().map(|&(name, code, kind)| GenOpt { name: name.into(), code, kind: kind.into() }).collect()
        };
        Context {
            symtab,
            sets: Sets { addr_sets: self.addr_sets.clone(), port_groups: self.port_groups.clone(), dp_id: 0 },
            dhcp_opts: self.dhcp_opts.clone(),
            dhcpv6_opts: self.dhcpv6_opts.clone(),
            nd_ra_opts: opts(&crate::actions::ND_RA_OPTS),
            event_opts: opts(&crate::actions::EVENT_OPTS),
            collector_ids: Vec::new(),
            meters: true,
            dp_hash_l4_sym: false,
            ct_zero_snat: false,
        }
    }

    /// The view of chassis `name` (`None`: every port related, none
    /// resident).
    pub fn view(&self, name: Option<&str>) -> View<'_> {
        let chassis = name.map(|n| (n.to_owned(), self.chassis.get(n).copied()));
        let mut related = HashSet::new();
        let mut resident = HashSet::new();
        if let Some((name, uuid)) = &chassis {
            for (pname, p) in &self.ports {
                let here = uuid.is_some() && p.chassis == *uuid;
                let ha = p.ha_group.and_then(|g| self.ha_groups.get(&g));
                let ha_member = ha.is_some_and(|m| m.iter().any(|(c, _)| Some(*c) == *uuid));
                let ha_active = ha.and_then(|m| m.iter().max_by_key(|(_, prio)| *prio)).is_some_and(|(c, _)| Some(*c) == *uuid);
                let is_resident = match p.kind.as_str() {
                    "chassisredirect" if ha.is_some() => ha_active,
                    _ => here,
                };
                let is_related = match p.kind.as_str() {
                    "patch" | "vtep" | "localnet" | "localport" => true,
                    "l3gateway" => p.l3gateway_chassis.as_deref() == Some(name.as_str()),
                    "chassisredirect" | "external" => here || ha_member,
                    _ => here,
                };
                if is_resident {
                    resident.insert(pname.clone());
                }
                if is_related {
                    let dp_key = self.datapaths.get(&p.datapath).map_or(0, |(d, _)| d.tunnel_key);
                    related.insert((dp_key, p.key));
                }
            }
        }
        View { snapshot: self, all: chassis.is_none(), related, resident }
    }
}

/// One chassis's view of a [`Snapshot`].
#[derive(Debug)]
pub struct View<'a> {
    snapshot: &'a Snapshot,
    all: bool,
    related: HashSet<(u32, u32)>,
    resident: HashSet<String>,
}

impl Local for View<'_> {
    fn port_binding(&self, name: &str) -> Option<(u128, u32)> {
        self.snapshot.ports.get(name).map(|p| (p.datapath, p.key))
    }
    fn multicast_group(&self, dp: u128, name: &str) -> Option<u32> {
        self.snapshot.mcast.get(&(dp, name.to_owned())).copied()
    }
    fn is_resident(&self, name: &str) -> bool {
        self.resident.contains(name)
    }
    fn is_related(&self, dp_key: u32, port_key: u32) -> bool {
        self.all || self.related.contains(&(dp_key, port_key))
    }
    fn tunnel_ofport(&self, _name: &str) -> Option<u16> {
        None
    }
}
