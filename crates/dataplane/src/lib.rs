//! The packet path without DPDK: flow key extraction, the microflow cache,
//! the megaflow classifier and datapath actions, working on plain byte
//! buffers so that they can be tested, benchmarked and fuzzed anywhere.
//!
//! Status: not written yet (issue 3). Today the PMD threads of the `pmd`
//! crate forward whole bursts between ports without looking into packets.

#![forbid(unsafe_code)]
