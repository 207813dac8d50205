//! Interfaces and the ports they open: DPDK (EAL, the shared mbuf pool,
//! ethdev ports), vhost-user, the bridges' local tap ports, patch ports,
//! their OpenFlow numbers, and the interface options read into port
//! settings with the warnings OVS gives.

#![allow(clippy::wildcard_imports)]

use super::*;

impl Switch {
    pub(super) fn init_dpdk(&mut self, other_config: Option<&Datum>) {
        if self.eal.is_some() || self.eal_error.is_some() {
            return;
        }
        // The main lcore: the first core of dpdk-lcore-mask, else core 0.
        let lcores = map_get(other_config, "dpdk-lcore-mask")
            .and_then(|m| pmd::CpuMask::parse(&m).ok())
            .map(|m| m.cores().iter().map(usize::to_string).collect::<Vec<_>>().join(","))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "0".to_owned());
        let mut args = vec!["ferrovs".to_owned(), "-l".to_owned(), lcores];
        // No file under /var/run/dpdk (--in-memory), and no telemetry
        // socket there either, as OVS starts DPDK: nothing of this daemon
        // outlives it outside its run directory.
        args.extend(["--in-memory".to_owned(), "--no-telemetry".to_owned()]);
        if let Some(mem) = map_get(other_config, "dpdk-socket-mem") {
            args.extend(["--socket-mem".to_owned(), mem]);
        }
        self.vhost_dir = map_get(other_config, "vhost-sock-dir").map(|d| {
            if std::path::Path::new(&d).components().any(|c| c == std::path::Component::ParentDir) {
                Err(format!("other_config:vhost-sock-dir={d} may not leave the run directory (\"..\")"))
            } else {
                Ok(self.rundir.join(d.trim_start_matches('/')))
            }
        });
        if let Some(extra) = map_get(other_config, "dpdk-extra") {
            args.extend(extra.split_whitespace().map(str::to_owned));
        }
        crate::log::info(&format!("starting DPDK EAL: {}", args.join(" ")));
        let started = Eal::init(&args[1..]).map_err(|e| e.to_string()).and_then(|eal| {
            let pool = shared_pool(&eal)?;
            Ok((eal, pool))
        });
        match started {
            Ok((eal, pool)) => {
                crate::log::info(&format!("DPDK started: {}", Eal::version()));
                self.eal = Some(eal);
                self.pool = Some(Arc::new(pool));
            }
            Err(e) => {
                crate::log::warn(&format!("DPDK failed to start: {e}"));
                self.eal_error = Some(e);
            }
        }
    }

    /// Opens (or keeps) the interface and says what its row should hold.
    pub(super) fn interface(&mut self, replica: &Replica, uuid: Uuid, bridge: &InBridge) -> Option<Desired> {
        let get = |col: &str| replica.value("Interface", &uuid, col);
        let name = string(get("name").as_ref())?;
        let kind = string(get("type").as_ref()).unwrap_or_default();
        let options = get("options");
        let local = bridge.local;
        let result = match kind.as_str() {
            _ if bridge.datapath_type != "netdev" => Err(format!(
                "bridge {} has datapath_type \"{}\": ferrovs runs only userspace bridges (datapath_type=netdev)",
                bridge.name, bridge.datapath_type
            )),
            "dpdk" => {
                let mut warnings = Vec::new();
                let config = port_config(options.as_ref(), integer(get("mtu_request").as_ref()), &mut warnings);
                self.warn_once(&name, warnings);
                self.open_dpdk(&name, map_get(options.as_ref(), "dpdk-devargs"), &config)
            }
            "dpdkvhostuserclient" => {
                let path = map_get(options.as_ref(), "vhost-server-path")
                    .map(PathBuf::from)
                    .ok_or_else(|| "options:vhost-server-path is required for type dpdkvhostuserclient".to_owned());
                let n = self.vhost_rxqs(&name, options.as_ref());
                self.open_vhost(&name, pmd::vhost::Mode::Client, path, n)
            }
            "patch" => self.open_patch(replica, &name, map_get(options.as_ref(), "peer")),
            "dpdkvhostuser" => {
                let path = self.vhost_sock_dir().map(|d| d.join(&name));
                let n = self.vhost_rxqs(&name, options.as_ref());
                self.open_vhost(&name, pmd::vhost::Mode::Server, path, n)
            }
            "internal" if local => self.open_local(&name, bridge.mac),
            "internal" => Err("internal ports other than the bridge's own are not supported by ferrovs yet".to_owned()),
            "" | "system" => {
                Err("interfaces of type \"system\" (kernel devices) are not supported by ferrovs' userspace datapath".to_owned())
            }
            other => Err(format!("interfaces of type \"{other}\" are not supported by ferrovs yet")),
        };
        let mut columns = Vec::new();
        match result {
            Ok(()) => {
                let ofport = self.ofport(&name, integer(get("ofport_request").as_ref()), local);
                columns.push(("ofport", int_datum(ofport)));
                columns.push(("error", Datum::empty()));
                // Down only when an OpenFlow PORT_MOD took it down.
                let port_no = if local { ofproto::wire::OFPP13_LOCAL } else { ofport as u32 };
                let down = self.mgmt.get(&bridge.name).is_some_and(|m| m.port_down(port_no));
                columns.push(("admin_state", str_datum(if down { "down" } else { "up" })));
                if local {
                    // The kernel's view of the device, whoever made it.
                    let up = crate::tap::is_up(&name);
                    columns.push(("link_state", str_datum(if up { "up" } else { "down" })));
                    columns.push(("mac_in_use", opt_str_datum(crate::tap::mac(&name).ok().map(mac_string).as_deref())));
                    columns.push(("mtu", int_datum(1500)));
                } else if kind == "patch" {
                    columns.push(("link_state", str_datum("up")));
                    columns.push((
                        "status",
                        Datum::Map(BTreeMap::from([(
                            Atom::String("peer".into()),
                            Atom::String(self.patches.get(&name).cloned().unwrap_or_default()),
                        )])),
                    ));
                } else if let Some(vhost) = self.ports.get(&name).and_then(|p| p.port.vhost()) {
                    columns.push(("link_state", str_datum(if vhost.connected { "up" } else { "down" })));
                    columns.push(("status", vhost_status(&vhost)));
                    columns.push(("mtu", int_datum(1500)));
                } else if let Some(open) = self.ports.get(&name) {
                    let link = open.port.link().ok();
                    columns.push(("link_state", str_datum(if link.is_some_and(|l| l.up) { "up" } else { "down" })));
                    let speed = link.map(|l| i64::from(l.speed_mbps) * 1_000_000).filter(|&s| s > 0);
                    columns.push(("link_speed", speed.map_or_else(Datum::empty, int_datum)));
                    columns.push(("mac_in_use", opt_str_datum(open.port.mac().ok().map(mac_string).as_deref())));
                    columns.push(("mtu", int_datum(open.port.mtu().map_or(1500, i64::from))));
                }
            }
            Err(error) => {
                // An interface in error is not in the datapath: a port its
                // last good configuration opened is closed.
                if self.ports.contains_key(&name) {
                    self.stop_datapath();
                    self.ports.remove(&name);
                }
                self.ofports.remove(&name);
                columns.push(("ofport", int_datum(-1)));
                columns.push(("error", str_datum(&error)));
                columns.push(("link_state", Datum::empty()));
                columns.push(("admin_state", Datum::empty()));
            }
        }
        Some(Desired { uuid, name, bridge: bridge.name.clone(), vlan: bridge.vlan.clone(), columns })
    }

    /// Opens the bridge's local port `name`. With DPDK it is a DPDK
    /// `net_tap` device (a kernel tap named after the bridge, with `mac`)
    /// that the PMD thread polls slowly (`refresh_datapath`), so that the
    /// kernel's packets reach the tables and `output:LOCAL` reaches the kernel;
    /// without DPDK there is no datapath, and the tap device only stands.
    pub(super) fn open_local(&mut self, name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
        if self.eal.is_none() || self.pool.is_none() {
            return self.open_tap(name, mac);
        }
        // A tap device made before DPDK started gives way to DPDK's.
        self.taps.remove(name);
        let vdev: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let devargs = format!("net_tap_{vdev},iface={name}");
        let before = self.ports.get(name).map(|p| p.spec.clone());
        self.open_dpdk(name, Some(devargs), &PortConfig::default())?;
        // As OVS leaves a bridge's internal interface: administratively
        // down until the host brings it up (`ip link set br0 up`); DPDK
        // brought it up when it started the device. Only when this call
        // opened it: after that, the host's choice stands.
        let opened = self.ports.get(name).map(|p| &p.spec) != before.as_ref();
        if let Some(open) = self.ports.get(name).filter(|_| opened) {
            if let Err(e) = open.port.set_link(false) {
                crate::log::warn(&format!("{name}: {e}"));
            }
        }
        set_local_mac(name, mac)
    }

    /// Creates (or keeps) the bridge's local tap device with `mac`.
    pub(super) fn open_tap(&mut self, name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
        if self.taps.contains_key(name) {
            return set_local_mac(name, mac);
        }
        let tap = crate::tap::Tap::create(name, mac).map_err(|e| format!("could not create tap device {name}: {e}"))?;
        crate::log::info(&format!("{}: created the bridge's local tap device", tap.name()));
        self.taps.insert(name.to_owned(), tap);
        Ok(())
    }

    /// A vhost-user interface's `options:n_rxq`, warning (once) about a
    /// value out of range.
    pub(super) fn vhost_rxqs(&mut self, name: &str, options: Option<&Datum>) -> u16 {
        let mut warnings = Vec::new();
        let n = n_rxq(options, &mut warnings);
        self.warn_once(name, warnings);
        n
    }

    /// Logs the warnings about interface `name`'s configuration when they
    /// differ from the last ones logged for it.
    pub(super) fn warn_once(&mut self, name: &str, warnings: Vec<String>) {
        if self.warned.get(name) == Some(&warnings) {
            return;
        }
        warnings.iter().for_each(|w| crate::log::warn(&format!("{name}: {w}")));
        self.warned.insert(name.to_owned(), warnings);
    }

    /// Opens the DPDK port `name` (again when its devargs or
    /// configuration changed).
    pub(super) fn open_dpdk(&mut self, name: &str, devargs: Option<String>, config: &PortConfig) -> Result<(), String> {
        let Some(devargs) = devargs else {
            return Err("options:dpdk-devargs is required for type dpdk".to_owned());
        };
        let spec = format!("{devargs} {config:?}");
        // A transmit queue per PMD thread; not part of the spec, so that a
        // new pmd-cpu-mask does not reopen the port (threads share what
        // there is).
        let config = PortConfig { n_txq: self.dp.tx_queues_wanted(), ..config.clone() };
        self.open_port(name, spec, |eal, pool| {
            let (port, rx, tx) = Port::open(eal, &devargs, pool, &config).map_err(|e| format!("could not open {devargs}: {e}"))?;
            crate::log::info(&format!("{name}: opened {devargs} as DPDK port {}", port.id().unwrap_or_default()));
            if rx.len() < usize::from(config.n_rxq) {
                let (asked, has) = (config.n_rxq, rx.len());
                crate::log::warn(&format!("{name}: options:n_rxq={asked}, but {devargs} has {has} receive queue(s): polling {has}"));
            }
            Ok((port, rx, tx))
        })
    }

    /// Opens the vhost-user interface `name` on `socket`, a client of
    /// the VM's server or a server itself.
    pub(super) fn open_vhost(
        &mut self,
        name: &str,
        mode: pmd::vhost::Mode,
        socket: Result<PathBuf, String>,
        n_rxq: u16,
    ) -> Result<(), String> {
        let socket = socket?;
        let spec = format!("{mode:?} {} {n_rxq}", socket.display());
        let n_txq = self.dp.tx_queues_wanted();
        self.open_port(name, spec, |_, pool| {
            let opened = Port::open_vhost(&socket, mode, pool, n_rxq, n_txq).map_err(|e| e.to_string())?;
            crate::log::info(&format!(
                "{name}: vhost-user {} on {}",
                if mode == pmd::vhost::Mode::Client { "client" } else { "server" },
                socket.display()
            ));
            Ok(opened)
        })
    }

    /// Polls as many receive queues of each vhost-user port as its guest
    /// has queue pairs, as OVS does when a guest attaches or enables
    /// queues; a port without a guest keeps the queues it has
    /// (`options:n_rxq` until a guest first attaches).
    pub(super) fn follow_guest_queues(&mut self) {
        let changed: Vec<(String, usize)> = self
            .ports
            .iter()
            .filter_map(|(name, p)| {
                let guest = p.port.vhost().filter(|v| v.connected)?;
                let pairs = usize::from((guest.vrings / 2).min(pmd::vhost::MAX_QUEUE_PAIRS));
                (pairs > 0 && pairs != p.n_rxq).then(|| (name.clone(), pairs))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        // Every queue comes back to its port first.
        self.stop_datapath();
        for (name, want) in changed {
            let Some(p) = self.ports.get_mut(&name) else {
                continue;
            };
            p.queues.rx.retain(|q| usize::from(q.queue()) < want);
            if want > p.n_rxq {
                p.queues.rx.extend(p.port.more_rx_queues(p.n_rxq as u16..want as u16));
            }
            crate::log::info(&format!("{name}: the guest has {want} queue pair(s): polling {want} receive queue(s), not {}", p.n_rxq));
            p.n_rxq = want;
        }
    }

    /// Stops the PMD threads, giving each open port its queues back (the
    /// queues of ports closed meanwhile are dropped, which closes them).
    pub(super) fn stop_datapath(&mut self) {
        let mut queues = HashMap::new();
        self.dp.stop(&mut queues);
        for (name, q) in queues {
            if let Some(p) = self.ports.get_mut(&name) {
                p.queues.rx.extend(q.rx);
                p.queues.tx.extend(q.tx);
            }
        }
    }

    /// Opens (or keeps, when `spec` is unchanged) port `name` with `open`;
    /// a failure is remembered and not retried until `spec` changes.
    #[allow(clippy::type_complexity)]
    pub(super) fn open_port(
        &mut self,
        name: &str,
        spec: String,
        open: impl FnOnce(&Eal, Arc<Mempool>) -> Result<(Port, Vec<pmd::RxQueue>, Vec<pmd::TxQueue>), String>,
    ) -> Result<(), String> {
        if self.eal.is_none() || self.pool.is_none() {
            return Err(match &self.eal_error {
                Some(e) => format!("DPDK failed to start: {e}"),
                None => "DPDK is not initialised: set other_config:dpdk-init=true on the Open_vSwitch row".to_owned(),
            });
        }
        if self.ports.get(name).is_some_and(|p| p.spec == spec) {
            return Ok(());
        }
        if let Some((tried, error)) = self.failed.get(name) {
            if *tried == spec {
                return Err(error.clone());
            }
        }
        // The old port goes first: its socket or device may be the new one's.
        if self.ports.contains_key(name) {
            self.stop_datapath();
            self.ports.remove(name);
        }
        let (Some(eal), Some(pool)) = (&self.eal, &self.pool) else {
            return Err("DPDK is not initialised".to_owned());
        };
        match open(eal, Arc::clone(pool)) {
            Ok((port, rxqs, txqs)) => {
                self.failed.remove(name);
                let n_rxq = rxqs.len();
                let queues = dpif::Queues { rx: rxqs, tx: txqs };
                self.ports.insert(name.to_owned(), OpenPort { spec, port, n_rxq, queues });
                Ok(())
            }
            Err(error) => {
                crate::log::warn(&format!("{name}: {error}"));
                self.failed.insert(name.to_owned(), (spec, error.clone()));
                Err(error)
            }
        }
    }

    /// Makes `name` a patch port to `peer`, which must be a patch port
    /// of another bridge whose own peer is `name` (as OVS requires).
    pub(super) fn open_patch(&mut self, replica: &Replica, name: &str, peer: Option<String>) -> Result<(), String> {
        let peer = peer.ok_or("options:peer is required for type patch")?;
        if peer == name {
            return Err(format!("the peer of patch port {name} may not be itself"));
        }
        let row = replica.rows("Interface").find(|(_, row)| string(row.get("name")).as_deref() == Some(peer.as_str()));
        let Some((_, row)) = row else {
            return Err(format!("the peer {peer} of patch port {name} does not exist"));
        };
        if string(row.get("type")).as_deref() != Some("patch") || map_get(row.get("options"), "peer").as_deref() != Some(name) {
            return Err(format!("the peer {peer} of patch port {name} is not a patch port with options:peer={name}"));
        }
        self.patches.insert(name.to_owned(), peer);
        Ok(())
    }

    /// Where `dpdkvhostuser` sockets go: `other_config:vhost-sock-dir`
    /// under the run directory, else the run directory. Read when DPDK
    /// starts, as OVS reads it (a change needs a restart).
    pub(super) fn vhost_sock_dir(&self) -> Result<PathBuf, String> {
        self.vhost_dir.clone().unwrap_or_else(|| Ok(self.rundir.clone()))
    }

    /// The interface's OpenFlow port number: kept once given; the request
    /// when it is valid and free; else the lowest free number.
    pub(super) fn ofport(&mut self, name: &str, request: Option<i64>, local: bool) -> i64 {
        if local {
            return OFPP_LOCAL;
        }
        let taken: BTreeSet<i64> = self.ofports.iter().filter(|(n, _)| n.as_str() != name).map(|(_, p)| *p).collect();
        if let Some(&p) = self.ofports.get(name) {
            if request.is_none_or(|r| r == p) {
                return p;
            }
        }
        let p = match request.filter(|r| (1..OFPP_MAX).contains(r) && !taken.contains(r)) {
            Some(r) => r,
            None => (1..OFPP_MAX).find(|p| !taken.contains(p)).unwrap_or(-1),
        };
        self.ofports.insert(name.to_owned(), p);
        p
    }
}

/// `Interface.status` of a vhost-user port, with OVS's keys.
pub(super) fn vhost_status(v: &pmd::vhost::VhostStatus) -> Datum {
    let mut m = vec![
        ("mode", if v.mode == pmd::vhost::Mode::Client { "client" } else { "server" }.to_owned()),
        ("socket", v.socket.display().to_string()),
        ("status", if v.connected { "connected" } else { "disconnected" }.to_owned()),
    ];
    if v.connected {
        m.push(("num_of_vrings", v.vrings.to_string()));
        m.push(("n_rxq", (v.vrings / 2).to_string()));
        m.push(("numa", v.numa.to_string()));
        m.push(("features", format!("0x{:016x}", v.features)));
    }
    Datum::Map(m.into_iter().map(|(k, v)| (Atom::String(k.to_owned()), Atom::String(v))).collect())
}

/// The cores of `other_config:pmd-cpu-mask` this process may use; by
/// default the last usable core (core 0 stays the control thread's). A
/// mask that is not hexadecimal or names no usable core gives the
/// default too, and a warning.
pub(super) fn pmd_cores(other_config: Option<&Datum>) -> (Vec<usize>, Option<String>) {
    let usable = pmd::CpuMask::usable_cores();
    let default = usable.last().map(|&c| vec![c]).unwrap_or_default();
    let Some(mask) = map_get(other_config, "pmd-cpu-mask") else {
        return (default, None);
    };
    let cores: Vec<usize> = match pmd::CpuMask::parse(&mask) {
        Ok(m) => m.cores().iter().copied().filter(|c| usable.contains(c)).collect(),
        Err(e) => return (default.clone(), Some(format!("other_config:pmd-cpu-mask={mask}: {e}: using core(s) {default:?}"))),
    };
    if cores.is_empty() {
        let why = format!("other_config:pmd-cpu-mask={mask} names none of the cores {usable:?} this process may use: using {default:?}");
        return (default, Some(why));
    }
    (cores, None)
}

/// The largest MTU the shared pool's buffers carry: 2 048 bytes of data
/// less an Ethernet header, a VLAN tag and the CRC.
pub(super) const MAX_MTU: u16 = 2048 - 14 - 4 - 4;

/// `options:n_rxq`: 1 when absent; a value that is not a number of 1 to
/// 32 is 1 too, with a warning in `warnings` (as OVS warns and uses its
/// default).
pub(super) fn n_rxq(options: Option<&Datum>, warnings: &mut Vec<String>) -> u16 {
    let Some(v) = map_get(options, "n_rxq") else {
        return 1;
    };
    let max = pmd::vhost::MAX_QUEUE_PAIRS;
    match v.parse() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            warnings.push(format!("options:n_rxq={v} is not a number of queues from 1 to {max}: using 1"));
            1
        }
    }
}

/// A `dpdk` interface's queues and MTU from its options (`n_rxq`,
/// `n_rxq_desc`, `n_txq_desc`) and `mtu_request`, as OVS reads them:
/// descriptor counts are powers of two up to 4096, the MTU at most
/// [`MAX_MTU`] (the shared pool's buffers hold 2 048-byte frames). A
/// value out of range does not take the port down, as in OVS: the
/// default is used, and `warnings` says why.
pub(super) fn port_config(options: Option<&Datum>, mtu_request: Option<i64>, warnings: &mut Vec<String>) -> PortConfig {
    let mut config = PortConfig { n_rxq: n_rxq(options, warnings), ..PortConfig::default() };
    if let Some(mtu) = mtu_request {
        match u16::try_from(mtu) {
            Ok(m) if (68..=MAX_MTU).contains(&m) => config.mtu = Some(m),
            _ => warnings.push(format!(
                "mtu_request={mtu} is not supported: ferrovs' buffers hold frames of an MTU from 68 to {MAX_MTU} (no jumbo frames yet); the MTU stays the device's"
            )),
        }
    }
    let defaults = PortConfig::default();
    for (key, slot, default) in
        [("n_rxq_desc", &mut config.rxq_size, defaults.rxq_size), ("n_txq_desc", &mut config.txq_size, defaults.txq_size)]
    {
        if let Some(v) = map_get(options, key) {
            match v.parse::<u16>() {
                Ok(n) if n.is_power_of_two() && n <= 4096 => *slot = n,
                _ => warnings.push(format!("options:{key}={v} is not a power of two from 1 to 4096: using {default}")),
            }
        }
    }
    config
}

/// Gives the kernel device `name` (the local port) `mac`, if it has
/// another.
pub(super) fn set_local_mac(name: &str, mac: Option<[u8; 6]>) -> Result<(), String> {
    match mac.filter(|m| crate::tap::mac(name).ok().as_ref() != Some(m)) {
        Some(m) => crate::tap::set_mac(name, m).map_err(|e| format!("could not set the MAC of {name}: {e}")),
        None => Ok(()),
    }
}

/// The mbuf pool every port shares, sized as OVS sizes its shared pool:
/// 256 Ki buffers, halved while the memory is short, down to 16 Ki.
pub(super) fn shared_pool(eal: &Eal) -> Result<Mempool, String> {
    let mut n: u32 = 4096 * 64;
    loop {
        match Mempool::new(eal, &MempoolConfig::new("ferrovs", n - 1)) {
            Ok(pool) => {
                crate::log::info(&format!("mbuf pool of {} buffers", n - 1));
                return Ok(pool);
            }
            Err(e) if n <= 4096 * 4 => return Err(e.to_string()),
            Err(_) => n /= 2,
        }
    }
}
