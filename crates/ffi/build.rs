//! Generates the DPDK bindings at build time.
//!
//! 1. `pkg-config libdpdk` (22.11) gives the include paths, the compiler
//!    flags (`-include rte_config.h -march=corei7`, needed by both clang and
//!    the C compiler so that the headers see the same configuration) and the
//!    libraries to link.
//! 2. bindgen reads `wrapper.h` with those flags, keeping only the allowlisted
//!    API, and with `wrap_static_fns` writes a C file that turns each
//!    allowlisted `static inline` function (`rte_eth_rx_burst`, …) into an
//!    exported `<name>__extern` symbol which the Rust declaration links to.
//! 3. `cc` compiles that file and `shim.c` (macros, thread-locals) with the
//!    same flags.

// A build script reports a broken build environment by panicking.
#![allow(clippy::expect_used)]

use std::env;
use std::path::PathBuf;

/// Functions ferrovs calls. Static inline ones among them are wrapped.
const FUNCTIONS: &[&str] = &[
    // EAL and threads
    "rte_eal_init",
    "rte_eal_cleanup",
    "rte_eal_get_runtime_dir",
    "rte_strerror",
    "rte_version",
    "rte_thread_register",
    "rte_thread_unregister",
    "rte_lcore_id",
    "rte_socket_id",
    "rte_rdtsc",
    "rte_get_tsc_hz",
    // devices
    "rte_dev_probe",
    "rte_dev_remove",
    "rte_devargs_parse",
    "rte_devargs_reset",
    // mempools and mbufs
    "rte_pktmbuf_pool_create",
    "rte_mempool_free",
    "rte_mempool_avail_count",
    "rte_mempool_in_use_count",
    "rte_pktmbuf_alloc",
    "rte_pktmbuf_alloc_bulk",
    "rte_pktmbuf_free",
    "rte_pktmbuf_free_bulk",
    "rte_pktmbuf_append",
    "rte_pktmbuf_prepend",
    "rte_pktmbuf_adj",
    "rte_pktmbuf_reset",
    // ethdev
    "rte_eth_dev_count_avail",
    "rte_eth_dev_get_port_by_name",
    "rte_eth_dev_get_name_by_port",
    "rte_eth_dev_is_valid_port",
    "rte_eth_dev_info_get",
    "rte_eth_dev_configure",
    "rte_eth_dev_adjust_nb_rx_tx_desc",
    "rte_eth_rx_queue_setup",
    "rte_eth_tx_queue_setup",
    "rte_eth_dev_start",
    "rte_eth_dev_set_link_up",
    "rte_eth_dev_set_link_down",
    "rte_eth_dev_stop",
    "rte_eth_dev_close",
    "rte_eth_dev_socket_id",
    "rte_eth_link_get_nowait",
    "rte_eth_macaddr_get",
    "rte_eth_stats_get",
    "rte_eth_stats_reset",
    "rte_eth_promiscuous_enable",
    "rte_eth_rx_burst",
    "rte_eth_tx_burst",
    "rte_eth_dev_set_mtu",
    "rte_eth_dev_get_mtu",
    // vhost-user
    "rte_vhost_driver_register",
    "rte_vhost_driver_unregister",
    "rte_vhost_driver_callback_register",
    "rte_vhost_driver_disable_features",
    "rte_vhost_driver_start",
    "rte_vhost_get_ifname",
    "rte_vhost_get_negotiated_features",
    "rte_vhost_get_numa_node",
    "rte_vhost_get_vring_num",
    "rte_vhost_enable_guest_notification",
    "rte_vhost_enqueue_burst",
    "rte_vhost_dequeue_burst",
    // hand shim
    "ferrovs_rte_errno",
];

/// Types and constants used by name.
const TYPES: &[&str] = &[
    "rte_mbuf",
    "rte_mempool",
    "rte_eth_conf",
    "rte_eth_dev_info",
    "rte_eth_stats",
    "rte_eth_link",
    "rte_ether_addr",
    "rte_vhost_device_ops",
];
const VARS: &[&str] = &[
    "RTE_MAX_ETHPORTS",
    "RTE_MBUF_DEFAULT_BUF_SIZE",
    "RTE_MBUF_DEFAULT_DATAROOM",
    "RTE_PKTMBUF_HEADROOM",
    "RTE_ETH_LINK_.*",
    "RTE_ETH_SPEED_NUM_.*",
    "SOCKET_ID_ANY",
    "LCORE_ID_ANY",
    "RTE_VER_.*",
    "RTE_VHOST_USER_.*",
];

fn main() {
    let dpdk = match pkg_config::Config::new().atleast_version("22.11").probe("libdpdk") {
        Ok(lib) => lib,
        Err(err) => panic!(
            "DPDK 22.11 not found by pkg-config ({err}). Install Debian's libdpdk-dev: \
             run scripts/setup-host (or `make setup`)."
        ),
    };

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let wrapper = manifest.join("wrapper.h");
    let static_fns = out.join("static_fns");

    // The compiler flags from pkg-config, minus the include paths (given
    // separately below): `-include rte_config.h`, `-march=…`, defines.
    let cflags = cflags_of_libdpdk();

    let mut builder = bindgen::Builder::default()
        .header(wrapper.display().to_string())
        .clang_args(dpdk.include_paths.iter().map(|p| format!("-I{}", p.display())))
        .clang_args(cflags.iter())
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .derive_default(true)
        .derive_debug(true)
        .impl_debug(false)
        .layout_tests(true)
        .generate_comments(false)
        .prepend_enum_name(false)
        .size_t_is_usize(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in TYPES {
        builder = builder.allowlist_type(t);
    }
    for v in VARS {
        builder = builder.allowlist_var(v);
    }
    let bindings = builder.generate().expect("bindgen could not generate the DPDK bindings");
    bindings.write_to_file(out.join("bindings.rs")).expect("could not write bindings.rs");

    let mut cc = cc::Build::new();
    cc.file(static_fns.with_extension("c"))
        .file(manifest.join("shim.c"))
        .include(&manifest)
        .includes(&dpdk.include_paths)
        .opt_level(3)
        .warnings(false);
    for flag in &cflags {
        cc.flag(flag);
    }
    cc.compile("ferrovs_dpdk_shim");

    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.c");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The non-`-I` compiler flags of `pkg-config --cflags libdpdk`. The
/// pkg-config crate keeps include paths and defines but drops
/// `-include rte_config.h` and `-march=…`, without which the headers do not
/// describe the library that was built.
fn cflags_of_libdpdk() -> Vec<String> {
    let output = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("pkg-config runs (it found libdpdk a moment ago)");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut flags = Vec::new();
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        if word == "-include" {
            if let Some(file) = words.next() {
                flags.push("-include".to_string());
                flags.push(file.to_string());
            }
        } else if !word.starts_with("-I") {
            flags.push(word.to_string());
        }
    }
    flags
}
