//! Meters: token buckets that rate-limit the packets of every megaflow
//! whose actions name them (OpenFlow 1.3's meters, OVS's datapath
//! `meter(N)` action).
//!
//! A meter has up to [`MAX_BANDS`] drop bands, each a rate (kilobits or
//! packets per second) and a burst. Each band is a bucket of that many
//! tokens, refilled at its rate with time; a packet costs its size in bits
//! (or one packet) in every band. A packet *exceeds* a band whose bucket
//! holds less than its cost; one that exceeds any band is dropped and
//! counted in the band of highest rate it exceeded, as OpenFlow says; one
//! that exceeds none takes its cost from every bucket.
//!
//! Every PMD thread's megaflows share one [`Meter`] through `Arc`, so the
//! buckets are behind a mutex (a lock and an unlock per metered packet,
//! contended only when two PMD threads meter through one meter at once). A METER_MOD that modifies a meter
//! replaces its bands in place ([`Meter::configure`]), so megaflows that
//! use it need no revalidation.

use std::sync::Mutex;
use std::time::Instant;

/// The most bands a meter has (as OVS).
pub const MAX_BANDS: usize = 8;

/// Token units per bit or packet: buckets count in thousandths, so that
/// a refill of a few microseconds at a low rate is not lost to rounding.
const MILLI: u64 = 1000;

/// Token units per packet, or per kilobit: what one unit of a band's rate
/// or burst holds.
fn unit(packets_unit: bool) -> u64 {
    if packets_unit {
        MILLI
    } else {
        1000 * MILLI
    }
}

/// A band's configuration: drop what exceeds `rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandConfig {
    /// Kilobits or packets per second (per the meter's unit).
    pub rate: u32,
    /// Bucket size in kilobits or packets; 0 means one second of `rate`.
    pub burst: u32,
}

/// A band's counters: what it dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BandStats {
    /// Packets dropped by this band.
    pub packets: u64,
    /// Bytes dropped by this band.
    pub bytes: u64,
}

/// A meter's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeterStats {
    /// Packets that reached the meter.
    pub packets: u64,
    /// Bytes that reached the meter.
    pub bytes: u64,
    /// Per band, in configuration order.
    pub bands: Vec<BandStats>,
}

#[derive(Debug)]
struct Band {
    config: BandConfig,
    /// Tokens now, in thousandths of a bit or packet.
    tokens: u64,
    /// Bucket size, same unit.
    capacity: u64,
    /// What the last refills credited short of a whole token, in
    /// thousandths of a unit times 10⁹ (so that packets nanoseconds apart
    /// still refill the bucket).
    fraction: u64,
    stats: BandStats,
}

#[derive(Debug)]
struct State {
    packets_unit: bool,
    bands: Vec<Band>,
    /// Nanoseconds since `Meter::epoch` of the last refill.
    last: u64,
    packets: u64,
    bytes: u64,
}

/// A meter shared by the megaflows that use it.
#[derive(Debug)]
pub struct Meter {
    id: u32,
    epoch: Instant,
    state: Mutex<State>,
}

impl PartialEq for Meter {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Meter {}

impl std::hash::Hash for Meter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl Meter {
    /// A meter `id` with `bands`, in packets per second if `packets_unit`
    /// (else kilobits per second), its buckets full.
    pub fn new(id: u32, packets_unit: bool, bands: &[BandConfig]) -> Meter {
        let meter = Meter {
            id,
            epoch: Instant::now(),
            state: Mutex::new(State { packets_unit, bands: Vec::new(), last: 0, packets: 0, bytes: 0 }),
        };
        meter.configure(packets_unit, bands);
        meter
    }

    /// The meter's OpenFlow id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Replaces the bands (full buckets, counters of bands kept by
    /// position), as a METER_MOD that modifies the meter.
    pub fn configure(&self, packets_unit: bool, bands: &[BandConfig]) {
        let mut s = self.lock();
        let old: Vec<BandStats> = s.bands.iter().map(|b| b.stats).collect();
        s.packets_unit = packets_unit;
        s.bands = bands
            .iter()
            .take(MAX_BANDS)
            .enumerate()
            .map(|(i, &config)| {
                let size = if config.burst == 0 { config.rate } else { config.burst };
                let capacity = u64::from(size).max(1) * unit(packets_unit);
                Band { config, tokens: capacity, capacity, fraction: 0, stats: old.get(i).copied().unwrap_or_default() }
            })
            .collect();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the buckets
        // inconsistent in a way that matters more than losing the meter.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Meters a packet of `bytes` bytes now: true if it passes.
    pub fn admit(&self, bytes: usize) -> bool {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.admit_at(bytes, now)
    }

    /// Meters a packet of `bytes` bytes at `now` nanoseconds after the
    /// meter was made (never earlier than a previous call's `now`).
    pub fn admit_at(&self, bytes: usize, now: u64) -> bool {
        let mut s = self.lock();
        let elapsed = now.saturating_sub(s.last);
        s.last = s.last.max(now);
        s.packets += 1;
        s.bytes += bytes as u64;
        let packets_unit = s.packets_unit;
        let cost = if packets_unit { MILLI } else { bytes as u64 * 8 * MILLI };
        let per_unit = unit(packets_unit);
        for band in &mut s.bands {
            // rate per second × elapsed ns / 1e9, in thousandths of a unit.
            let credit = u128::from(band.config.rate) * u128::from(elapsed) * u128::from(per_unit) + u128::from(band.fraction);
            band.fraction = (credit % 1_000_000_000) as u64;
            band.tokens = (u128::from(band.tokens) + credit / 1_000_000_000).min(u128::from(band.capacity)) as u64;
            if band.tokens == band.capacity {
                band.fraction = 0;
            }
        }
        let exceeded = s.bands.iter().enumerate().filter(|(_, b)| b.tokens < cost).max_by_key(|(_, b)| b.config.rate).map(|(i, _)| i);
        match exceeded {
            Some(i) => {
                if let Some(b) = s.bands.get_mut(i) {
                    b.stats.packets += 1;
                    b.stats.bytes += bytes as u64;
                }
                false
            }
            None => {
                for b in &mut s.bands {
                    b.tokens -= cost;
                }
                true
            }
        }
    }

    /// The counters now.
    pub fn stats(&self) -> MeterStats {
        let s = self.lock();
        MeterStats { packets: s.packets, bytes: s.bytes, bands: s.bands.iter().map(|b| b.stats).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn packets_per_second_pass_the_burst_then_the_rate() {
        let m = Meter::new(1, true, &[BandConfig { rate: 1000, burst: 10 }]);
        let passed = (0..100).filter(|_| m.admit_at(64, 0)).count();
        assert_eq!(passed, 10, "a full bucket of 10 packets, then nothing");
        // 1000 packets/s refill one packet per millisecond.
        assert!(m.admit_at(64, MS));
        assert!(!m.admit_at(64, MS));
        let passed = (1..=1000u64).filter(|t| m.admit_at(64, MS + t * MS / 2)).count();
        assert_eq!(passed, 500, "two packets offered per token: half pass");
        let s = m.stats();
        assert_eq!(s.packets, 1102);
        assert_eq!(s.bands[0].packets, 1102 - 10 - 1 - 500);
        assert_eq!(s.bands[0].bytes, s.bands[0].packets * 64);
    }

    #[test]
    fn kilobits_count_bits_and_a_zero_burst_is_one_second() {
        // 8 kb/s: one 1000-byte packet (8000 bits) per second; the bucket
        // holds one second.
        let m = Meter::new(2, false, &[BandConfig { rate: 8, burst: 0 }]);
        assert!(m.admit_at(1000, 0));
        assert!(!m.admit_at(1000, 0));
        assert!(!m.admit_at(1000, 500 * MS));
        assert!(m.admit_at(1000, 1000 * MS));
        // Small packets: 100 bytes = 800 bits, ten per second.
        let passed = (0..20).filter(|_| m.admit_at(100, 2000 * MS)).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn the_exceeded_band_of_highest_rate_counts_the_drop() {
        let m = Meter::new(3, true, &[BandConfig { rate: 100, burst: 1 }, BandConfig { rate: 10, burst: 2 }]);
        assert!(m.admit_at(60, 0));
        // Band 0 (rate 100) is empty, band 1 (rate 10) still has a token:
        // only band 0 is exceeded.
        assert!(!m.admit_at(60, 0));
        assert_eq!(m.stats().bands, vec![BandStats { packets: 1, bytes: 60 }, BandStats::default()]);
        // 10 ms later band 0 has a token again, band 1 (0.1 token) too.
        assert!(m.admit_at(60, 10 * MS));
        // Both exceeded now: the drop goes to band 0, of the higher rate.
        assert!(!m.admit_at(60, 10 * MS));
        assert_eq!(m.stats().bands[0].packets, 2);
        assert_eq!(m.stats().bands[1].packets, 0);
    }

    #[test]
    fn configure_refills_and_keeps_band_counters() {
        let m = Meter::new(4, true, &[BandConfig { rate: 1, burst: 1 }]);
        assert!(m.admit_at(64, 0));
        assert!(!m.admit_at(64, 0));
        m.configure(true, &[BandConfig { rate: 1000, burst: 5 }]);
        assert_eq!((0..10).filter(|_| m.admit_at(64, 0)).count(), 5);
        assert_eq!(m.stats().bands[0].packets, 1 + 5);
    }

    #[test]
    fn packets_nanoseconds_apart_still_refill() {
        // 10 Mpps offered to a 1000 packets/s meter for one second.
        let m = Meter::new(6, true, &[BandConfig { rate: 1000, burst: 1 }]);
        let passed = (0..10_000_000u64).filter(|i| m.admit_at(64, i * 100)).count();
        assert!((999..=1001).contains(&passed), "{passed}");
        // And 1 Gb/s of 1500-byte packets through a 1 Mb/s meter: 1000 kb/s
        // is 83 such packets a second.
        let m = Meter::new(7, false, &[BandConfig { rate: 1000, burst: 12 }]);
        let passed = (0..83_334u64).filter(|i| m.admit_at(1500, i * 12_000)).count();
        assert!((83..=84).contains(&passed), "{passed}");
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let m = Meter::new(5, true, &[BandConfig { rate: 1000, burst: 1 }]);
        assert!(m.admit_at(64, 10 * MS));
        assert!(!m.admit_at(64, 5 * MS));
        assert!(!m.admit_at(64, 10 * MS));
        assert!(m.admit_at(64, 11 * MS));
    }
}
