//! The chassis's local configuration, read from the `Open_vSwitch` row's
//! `external_ids` as `ovn-controller` 23.03 reads it (`controller/chassis.c`
//! and `ovn-controller.c`): every key may be overridden for one chassis by
//! `KEY-<system-id>` (`lib/ovn-util.c`'s `get_chassis_external_id_value`),
//! so that several chassis can share one database.

use std::collections::{BTreeMap, BTreeSet};

/// The tunnel types a chassis may offer.
pub const ENCAP_TYPES: [&str; 3] = ["geneve", "stt", "vxlan"];

/// `ovn-remote-probe-interval`'s default for remotes that need probes
/// (`DEFAULT_PROBE_INTERVAL_MSEC`).
pub const DEFAULT_PROBE_INTERVAL_MS: u64 = 5000;

/// What the chassis is told of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// `system-id`: the chassis's name.
    pub system_id: String,
    /// `hostname` (else the host's own name, given by the caller).
    pub hostname: String,
    /// `ovn-remote`, split at commas.
    pub remotes: Vec<String>,
    /// `ovn-remote-probe-interval`, ms (0: none; by default 0 for a
    /// `unix:` remote, else 5000).
    pub probe_interval_ms: u64,
    /// `ovn-encap-type`, split at commas (a set); unknown types kept out
    /// and listed in `unknown_encap_types`.
    pub encap_types: BTreeSet<String>,
    /// Types `ovn-encap-type` names that OVN does not know.
    pub unknown_encap_types: Vec<String>,
    /// `ovn-encap-ip`, split at commas (a set).
    pub encap_ips: BTreeSet<String>,
    /// `ovn-encap-csum` (default true).
    pub encap_csum: bool,
    /// `ovn-bridge` (default `br-int`).
    pub bridge: String,
    /// `ovn-bridge-mappings`: physical network → bridge.
    pub bridge_mappings: BTreeMap<String, String>,
    /// `ovn-monitor-all` (default false).
    pub monitor_all: bool,
    /// `ovn-cms-options`, as given.
    pub cms_options: String,
    /// `ovn-transport-zones`, split at commas.
    pub transport_zones: Vec<String>,
}

/// Why there is no configuration yet (`ovn-controller` waits, logging it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalConfigError {
    /// No `external_ids:system-id`.
    #[error("no external_ids:system-id in the Open_vSwitch row")]
    NoSystemId,
    /// No `ovn-remote`.
    #[error("no external_ids:ovn-remote in the Open_vSwitch row")]
    NoRemote,
    /// No `ovn-encap-type` or `ovn-encap-ip`.
    #[error("need to specify an encap type and ip (external_ids:ovn-encap-type, ovn-encap-ip)")]
    NoEncap,
}

/// A comma-separated list, empty items left out.
fn list(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

impl LocalConfig {
    /// The configuration in `external_ids`; `host_name` stands in for an
    /// unset `hostname`.
    pub fn from_external_ids(ids: &BTreeMap<String, String>, host_name: &str) -> Result<LocalConfig, LocalConfigError> {
        let system_id = ids.get("system-id").filter(|s| !s.is_empty()).ok_or(LocalConfigError::NoSystemId)?.clone();
        // `KEY-<system-id>` first, then `KEY`.
        let get = |key: &str| ids.get(&format!("{key}-{system_id}")).or_else(|| ids.get(key)).map(String::as_str);
        let flag = |key: &str, default: bool| match get(key) {
            Some("true") => true,
            Some("false") => false,
            _ => default,
        };
        let remote = get("ovn-remote").filter(|r| !r.is_empty()).ok_or(LocalConfigError::NoRemote)?;
        let (Some(types), Some(ips)) = (get("ovn-encap-type"), get("ovn-encap-ip")) else {
            return Err(LocalConfigError::NoEncap);
        };
        let (encap_types, unknown): (BTreeSet<String>, BTreeSet<String>) = list(types).partition(|t| ENCAP_TYPES.contains(&t.as_str()));
        // As `stream_or_pstream_needs_probes` on the whole list: by its
        // first remote's kind.
        let default_probe = if remote.starts_with("unix:") { 0 } else { DEFAULT_PROBE_INTERVAL_MS };
        Ok(LocalConfig {
            hostname: get("hostname").unwrap_or(host_name).to_owned(),
            remotes: list(remote).collect(),
            probe_interval_ms: get("ovn-remote-probe-interval").and_then(|v| v.parse().ok()).unwrap_or(default_probe),
            encap_types,
            unknown_encap_types: unknown.into_iter().collect(),
            encap_ips: list(ips).collect(),
            encap_csum: flag("ovn-encap-csum", true),
            bridge: get("ovn-bridge").filter(|b| !b.is_empty()).unwrap_or("br-int").to_owned(),
            bridge_mappings: list(get("ovn-bridge-mappings").unwrap_or(""))
                .filter_map(|m| m.split_once(':').map(|(net, br)| (net.to_owned(), br.to_owned())))
                .collect(),
            monitor_all: flag("ovn-monitor-all", false),
            cms_options: get("ovn-cms-options").unwrap_or("").to_owned(),
            transport_zones: list(get("ovn-transport-zones").unwrap_or("")).collect(),
            system_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_reference_chassis_reads_as_ovn_controller_reads_it() {
        // hv1 of shared/ovn's harness.
        let c = LocalConfig::from_external_ids(
            &ids(&[
                ("system-id", "hv1"),
                ("hostname", "hv1"),
                ("ovn-remote", "tcp:127.0.0.1:6642"),
                ("ovn-encap-type", "geneve"),
                ("ovn-encap-ip", "127.0.0.1"),
                ("ovn-bridge-mappings", "physnet1:br-ex"),
                ("ovn-monitor-all", "true"),
            ]),
            "vm",
        )
        .unwrap();
        assert_eq!(c.system_id, "hv1");
        assert_eq!(c.remotes, ["tcp:127.0.0.1:6642"]);
        assert_eq!(c.probe_interval_ms, 5000);
        assert_eq!(c.encap_types, BTreeSet::from(["geneve".to_owned()]));
        assert_eq!(c.bridge, "br-int");
        assert_eq!(c.bridge_mappings.get("physnet1").map(String::as_str), Some("br-ex"));
        assert!(c.monitor_all && c.encap_csum);
    }

    #[test]
    fn per_chassis_keys_win_and_defaults_hold() {
        let c = LocalConfig::from_external_ids(
            &ids(&[
                ("system-id", "hv2"),
                ("ovn-remote", "unix:/run/sb.sock,tcp:10.0.0.1:6642"),
                ("ovn-encap-type", "vxlan,geneve,gre"),
                ("ovn-encap-ip", "10.0.0.2"),
                ("ovn-encap-ip-hv2", "10.0.0.3,10.0.0.4"),
                ("ovn-bridge-hv1", "br-other"),
                ("ovn-encap-csum", "false"),
                ("ovn-transport-zones", "tz1,,tz2"),
            ]),
            "host",
        )
        .unwrap();
        assert_eq!(c.hostname, "host");
        assert_eq!(c.remotes.len(), 2);
        assert_eq!(c.probe_interval_ms, 0, "a unix: remote needs no probes");
        assert_eq!(c.encap_types, BTreeSet::from(["geneve".to_owned(), "vxlan".to_owned()]));
        assert_eq!(c.unknown_encap_types, ["gre"]);
        assert_eq!(c.encap_ips, BTreeSet::from(["10.0.0.3".to_owned(), "10.0.0.4".to_owned()]));
        assert_eq!(c.bridge, "br-int", "another chassis's key is not ours");
        assert!(!c.encap_csum && !c.monitor_all);
        assert_eq!(c.transport_zones, ["tz1", "tz2"]);
    }

    #[test]
    fn what_is_missing_says_so() {
        let base = [("system-id", "hv1"), ("ovn-remote", "tcp:1.2.3.4:6642"), ("ovn-encap-type", "geneve"), ("ovn-encap-ip", "1.2.3.4")];
        assert!(LocalConfig::from_external_ids(&ids(&base), "h").is_ok());
        for (missing, err) in [
            (0, LocalConfigError::NoSystemId),
            (1, LocalConfigError::NoRemote),
            (2, LocalConfigError::NoEncap),
            (3, LocalConfigError::NoEncap),
        ] {
            let without: Vec<(&str, &str)> = base.iter().enumerate().filter(|(i, _)| *i != missing).map(|(_, p)| *p).collect();
            assert_eq!(LocalConfig::from_external_ids(&ids(&without), "h"), Err(err));
        }
    }
}
