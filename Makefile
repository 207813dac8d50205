# The two commands of the README's quick start, and their parts.
CARGO ?= cargo
FERROVS := target/release/ferrovs

.PHONY: demo test setup build gates bench-io fuzz clean

## Prepare the host, build, start the switch with ferrovs ctl on a private
## run directory (flows from ovs-ofctl, traffic from a net_pcap port, live
## throughput, counters moving, megaflows), then stop it, and run the
## simple scenario of bench switch against OVS-DPDK and testpmd.
demo: setup build
	FERROVS=$(FERROVS) scripts/demo-switch
	$(FERROVS) bench switch --vs ovs --vs testpmd --scenario simple --flows 1000 --seconds 5

## Prepare the host and run the whole test suite.
test: setup
	$(CARGO) nextest run --workspace

## Every cargo-fuzz target of the project, SECONDS each (default 60):
## make fuzz SECONDS=600.
SECONDS ?= 60
fuzz: setup
	scripts/fuzz $(SECONDS)

## Install packages, reserve hugepages (idempotent; uses sudo when not root).
setup:
	scripts/setup-host

build:
	$(CARGO) build --release --bin ferrovs --bin ferrovs-bench

## The CI gates of shared/STYLE.md.
gates:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings -D clippy::undocumented_unsafe_blocks
	RUSTDOCFLAGS=-Dwarnings $(CARGO) doc --workspace --no-deps

bench-io: build
	$(FERROVS) bench io --flows 1000 --seconds 10 --vs testpmd

clean:
	$(CARGO) clean
