//! Criterion benchmarks of the packet path's hot functions.
//!
//! `cargo bench -p dataplane --bench flow` runs them all; a name filter
//! narrows (`-- extract`). Every group sets its throughput in packets, so
//! criterion prints packets per second beside the time per iteration; the
//! crate README turns those into nanoseconds per packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dataplane::hash::{crc32c_u64, crc32c_u64_portable};
use dataplane::key::FieldAccess;
use dataplane::{extract_into, Action, Classifier, Field, FlowMask, HeaderKey, MicroflowCache, MiniKey, PacketMeta, BATCH};
use etherparse::PacketBuilder;

/// The allocator the daemon uses (`crates/vswitchd/src/main.rs`): it backs
/// large heaps with transparent huge pages, which a million megaflows need
/// (the crate README).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A 64-byte UDP/IPv4 frame (without FCS), as the io benchmark sends.
fn udp_frame(src: u32, dst: u32, sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src.to_be_bytes(), dst.to_be_bytes(), 64)
        .udp(sport, dport)
        .write(&mut v, &[0u8; 18])
        .unwrap();
    v
}

fn tcp6_frame(n: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 64)
        .tcp(n, 443, 1, 1000)
        .ack(1)
        .write(&mut v, &[0u8; 10])
        .unwrap();
    v
}

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn key_of(frame: &[u8]) -> MiniKey {
    let mut k = MiniKey::default();
    let _ = extract_into(frame, &PacketMeta::new(1), &mut k);
    k
}

fn hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    let words: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
    g.throughput(Throughput::Elements(1));
    g.bench_function("crc32c_8_words_sse42", |b| b.iter(|| black_box(&words).iter().fold(0u32, |h, &w| crc32c_u64(h, w))));
    g.bench_function("crc32c_8_words_portable", |b| b.iter(|| black_box(&words).iter().fold(0u32, |h, &w| crc32c_u64_portable(h, w))));
    g.finish();
}

fn extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(BATCH as u64));
    let meta = PacketMeta::new(1);
    for (name, frames) in [
        ("udp4_64B", (0..BATCH as u32).map(|i| udp_frame(0x0a00_0001 + i, 0x0a01_0001, 1000 + i as u16, 80)).collect::<Vec<_>>()),
        ("tcp6", (0..BATCH as u16).map(tcp6_frame).collect()),
    ] {
        let mut keys = [MiniKey::default(); BATCH];
        g.bench_function(name, |b| {
            b.iter(|| {
                for (f, k) in frames.iter().zip(keys.iter_mut()) {
                    let _ = extract_into(black_box(f), &meta, k);
                }
                black_box(&keys);
            })
        });
    }
    g.finish();
}

/// Extraction, hashing and a microflow hit for a burst of 32 packets drawn
/// from 1000 flows that all sit in the cache: the PMD's common case.
fn microflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("microflow");
    g.throughput(Throughput::Elements(BATCH as u64));
    let frames: Vec<Vec<u8>> = (0..1000u32).map(|i| udp_frame(0x0a00_0001 + i, 0x0a01_0001, 1000 + i as u16, 80)).collect();
    let mut cls = Classifier::new();
    let mut mask = FlowMask::default();
    mask.exact(Field::IN_PORT).exact(Field::ETH_TYPE).exact(Field::NW_DST);
    let mut cache: MicroflowCache = MicroflowCache::new(8192, 1).unwrap();
    for f in &frames {
        let k = key_of(f);
        let flow = cls.insert(&k, &mask, Arc::from(vec![Action::Output(2)]));
        cache.insert(&k, k.hash(0), &flow, ());
    }
    let meta = PacketMeta::new(1);
    let mut headers: MicroflowCache<HeaderKey, u32> = MicroflowCache::new(8192, 1).unwrap();
    for f in &frames {
        let k = key_of(f);
        let flow = cls.lookup(&k).unwrap();
        let h = HeaderKey::of(f, &meta).unwrap();
        headers.insert(&h, h.hash(), flow, k.hash(0));
    }
    // Two flows whose both candidate slots are taken may push each other
    // out; draw the bursts from the flows that are in both caches.
    let cached = |f: &Vec<u8>| {
        let h = HeaderKey::of(f, &meta).unwrap();
        cache.lookup(&key_of(f), key_of(f).hash(0)).is_some() && headers.lookup(&h, h.hash()).is_some()
    };
    let frames: Vec<Vec<u8>> = frames.iter().filter(|f| cached(f)).cloned().collect();
    assert!(frames.len() > 950);
    let mut rng = Rng(7);
    let bursts: Vec<[usize; BATCH]> = (0..256).map(|_| std::array::from_fn(|_| rng.next() as usize % frames.len())).collect();
    let mut keys = [MiniKey::default(); BATCH];
    let mut n = 0;
    g.bench_function("extract_hash_hit", |b| {
        b.iter(|| {
            n = (n + 1) % bursts.len();
            let mut hits = 0;
            for (i, k) in bursts[n].iter().zip(keys.iter_mut()) {
                let _ = extract_into(&frames[*i], &meta, k);
                let h = k.hash(0);
                hits += usize::from(cache.lookup(k, h).is_some());
            }
            assert_eq!(hits, BATCH);
        })
    });
    // The same bursts through the cache keyed on header bytes: no
    // extraction.
    g.bench_function("header_key_hit", |b| {
        b.iter(|| {
            n = (n + 1) % bursts.len();
            let mut hits = 0;
            for i in bursts[n].iter() {
                let h = HeaderKey::of(black_box(&frames[*i]), &meta);
                hits += usize::from(h.and_then(|h| headers.lookup(&h, h.hash())).is_some());
            }
            assert_eq!(hits, BATCH);
        })
    });
    g.finish();
}

/// `flows` megaflows spread over `subtables` masks, and keys that hit them.
///
/// Every mask matches `in_port`, `eth_type`, `nw_proto`, `nw_src/8` (which
/// tells the subtables apart: a packet matches in exactly one) and an
/// `nw_dst` prefix of a different length per subtable.
fn populate(subtables: usize, flows: usize, lookups: usize) -> (Classifier, Vec<MiniKey>) {
    populate_with(subtables, flows, lookups, |rng, n| rng.next() as usize % n)
}

/// Lookups that hit subtable `s` with probability 2^-(s+1) (the last one
/// takes the remainder): traffic that ranking can exploit.
fn skewed(rng: &mut Rng, n: usize) -> usize {
    (rng.next().trailing_zeros() as usize).min(n - 1)
}

/// As [`populate`], with `pick` choosing the subtable each lookup hits.
fn populate_with(subtables: usize, flows: usize, lookups: usize, pick: fn(&mut Rng, usize) -> usize) -> (Classifier, Vec<MiniKey>) {
    let mut cls = Classifier::new();
    let masks: Vec<FlowMask> = (0..subtables)
        .map(|s| {
            let mut m = FlowMask::default();
            m.exact(Field::IN_PORT).exact(Field::ETH_TYPE).exact(Field::NW_PROTO);
            m.set(Field::NW_SRC, 0xff00_0000);
            m.set(Field::NW_DST, u128::from(u32::MAX << (16 - s.min(16))));
            m
        })
        .collect();
    let per = flows.div_ceil(subtables);
    let key = |s: usize, j: usize, rng: &mut Rng| {
        let r = rng.next();
        let src = (10 + s as u32) << 24 | (r as u32 & 0x00ff_ffff);
        // The low half is fixed per flow: longer prefixes match part of it.
        let dst = (j as u32) << 16 | ((j as u32).wrapping_mul(0x9e37) & 0xffff);
        key_of(&udp_frame(src, dst, (r >> 48) as u16, 80))
    };
    let mut rng = Rng(1);
    let mut installed = 0;
    'fill: for j in 0..per {
        for (s, mask) in masks.iter().enumerate() {
            if installed == flows {
                break 'fill;
            }
            cls.insert(&key(s, j, &mut rng), mask, Arc::from(vec![Action::Output(2)]));
            installed += 1;
        }
    }
    assert_eq!(cls.len(), flows);
    assert_eq!(cls.subtables().len(), subtables);
    // The PMD ranks its subtables every second, which also rebuilds a
    // partition chosen while the classifier was small.
    cls.rank(dataplane::classifier::RANK_INTERVAL_MS);
    let keys = (0..lookups)
        .map(|_| {
            let s = pick(&mut rng, subtables);
            let j = rng.next() as usize % (flows / subtables).max(1);
            key(s, j, &mut rng)
        })
        .collect();
    (cls, keys)
}

fn megaflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("megaflow_hit");
    g.throughput(Throughput::Elements(1));
    for subtables in [1, 4, 16] {
        let (cls, keys) = populate(subtables, 1024, 4096);
        let mut n = 0;
        g.bench_function(format!("{subtables}_subtables"), |b| {
            b.iter(|| {
                n = (n + 1) % keys.len();
                assert!(cls.lookup(&keys[n]).is_some());
            })
        });
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("megaflow_batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    for (name, flows) in [("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)] {
        let (cls, keys) = populate(16, flows, 1 << 16);
        let mut n = 0;
        g.bench_function(format!("16_subtables_{name}_flows"), |b| {
            b.iter(|| {
                n = (n + BATCH) % keys.len();
                let mut out = [None; BATCH];
                let found = cls.lookup_batch(&keys[n..n + BATCH], u32::MAX, &mut out);
                assert_eq!(found, u32::MAX);
            })
        });
    }
    // Skewed traffic, after one ranking: the subtables most hit come first.
    let (mut cls, keys) = populate_with(16, 1_000_000, 1 << 16, skewed);
    for k in &keys {
        let _ = cls.lookup(k);
    }
    cls.rank(2 * dataplane::classifier::RANK_INTERVAL_MS);
    let mut n = 0;
    g.bench_function("16_subtables_1M_flows_skewed_ranked", |b| {
        b.iter(|| {
            n = (n + BATCH) % keys.len();
            let mut out = [None; BATCH];
            let found = cls.lookup_batch(&keys[n..n + BATCH], u32::MAX, &mut out);
            assert_eq!(found, u32::MAX);
        })
    });
    g.finish();
}

/// The cost of installing one megaflow in place (what ferrovs does) against
/// copying a 64 k-megaflow subtable and swapping it in, as a snapshot
/// (RCU) design would have to: the reasoning in `classifier.rs`.
fn install(c: &mut Criterion) {
    let mut g = c.benchmark_group("install");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    let (mut cls, _) = populate(1, 65_536, 0);
    let mut mask = FlowMask::default();
    mask.exact(Field::IN_PORT).exact(Field::ETH_TYPE).exact(Field::NW_PROTO);
    mask.set(Field::NW_SRC, 0xff00_0000);
    mask.set(Field::NW_DST, 0xffff_0000);
    let mut rng = Rng(99);
    let fresh = |rng: &mut Rng| {
        let r = rng.next();
        key_of(&udp_frame(10 << 24, 0xffff_0000 | r as u32 & 0xffff, 1, 80))
    };
    g.bench_function("in_place_64k", |b| {
        b.iter_batched(
            || fresh(&mut rng),
            |k| {
                let f = cls.insert(&k, &mask, Arc::from(vec![Action::Output(2)]));
                cls.remove(&f);
            },
            BatchSize::SmallInput,
        )
    });
    // The snapshot design's step: copy the subtable's table (its buckets
    // and a reference count per megaflow), insert, publish the copy.
    let hasher = |f: &Arc<dataplane::Megaflow>| dataplane::hash::spread(Arc::as_ptr(f) as usize as u32);
    let mut table = hashbrown::HashTable::new();
    for f in cls.iter() {
        table.insert_unique(hasher(f), Arc::clone(f), hasher);
    }
    let extra = Arc::clone(cls.iter().next().unwrap());
    g.bench_function("copy_on_write_64k", |b| {
        b.iter(|| {
            let mut copy = table.clone();
            copy.insert_unique(hasher(&extra), Arc::clone(&extra), hasher);
            black_box(copy)
        })
    });
    g.finish();
}

// The macro's function has no doc comment of its own to take.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, hash, extract, microflow, megaflow, batch, install);
}
use group::benches;
criterion_main!(benches);
