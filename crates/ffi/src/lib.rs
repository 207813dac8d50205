//! Raw bindings to the system DPDK 22.11.
//!
//! This crate holds no logic. Safe wrappers live in the `pmd` crate; every
//! `unsafe` block there that calls into this crate carries a `// SAFETY:`
//! line.
//!
//! # How the bindings are generated
//!
//! `build.rs` runs at every build against the DPDK the machine has:
//!
//! - `pkg-config libdpdk` (at least 22.11; Debian 12's `libdpdk-dev`) gives
//!   the include paths, the libraries and the flags
//!   `-include rte_config.h -march=corei7`, which both bindgen's clang and the
//!   C compiler get, so that the headers describe the library that was built;
//! - bindgen reads `wrapper.h` (EAL, lcore, cycles, devargs, mempool, mbuf,
//!   ethdev, vhost headers), keeping only an allowlist of the functions, types
//!   and constants ferrovs uses (see `FUNCTIONS`, `TYPES`, `VARS` in
//!   `build.rs`);
//! - bindgen's `wrap_static_fns` writes a C file defining an exported
//!   `<name>__extern` function for every allowlisted `static inline` function
//!   (`rte_eth_rx_burst`, `rte_eth_tx_burst`, `rte_pktmbuf_alloc`,
//!   `rte_pktmbuf_free`, `rte_rdtsc`, …); the Rust declaration of `<name>`
//!   links to it. `cc` compiles that file together with `shim.c`, the hand
//!   shim for what is a macro or a per-lcore variable rather than a function
//!   (`rte_errno` → [`ferrovs_rte_errno`]).
//!
//! Drivers (`net_pcap`, `net_null`, `net_vhost`, `mempool_ring`, …) are not
//! linked: Debian's EAL loads them at `rte_eal_init` from its plugin
//! directory.

mod bindings {
    #![allow(
        non_upper_case_globals,
        non_camel_case_types,
        non_snake_case,
        dead_code,
        missing_debug_implementations,
        missing_docs, // generated from DPDK's headers
        unsafe_op_in_unsafe_fn,
        clippy::all,
        clippy::undocumented_unsafe_blocks,
        rustdoc::all
    )]
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub use bindings::*;
