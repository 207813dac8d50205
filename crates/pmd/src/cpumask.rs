//! `pmd-cpu-mask`: which CPU cores run PMD threads, written as OVS does, a
//! hexadecimal bit mask (`0x2` = core 1, `6` = cores 1 and 2), any length.

use std::fmt;

/// An error in a CPU mask.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CpuMaskError {
    /// The text is not a hexadecimal number.
    #[error("cpu mask {0:?} is not a hexadecimal number (for example 0x2 for core 1)")]
    NotHex(String),
    /// The mask has no bit set.
    #[error("cpu mask {0:?} names no core")]
    Empty(String),
    /// The mask names cores this process cannot run on.
    #[error("cpu mask {mask} names core(s) {missing} that this machine does not offer (usable cores: {usable})")]
    NoSuchCore {
        /// The mask as written.
        mask: String,
        /// The cores named but absent, as a list.
        missing: String,
        /// The cores that exist for this process.
        usable: String,
    },
}

/// A set of CPU cores, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuMask {
    cores: Vec<usize>,
}

impl CpuMask {
    /// Parses a hexadecimal mask, with or without `0x`.
    pub fn parse(text: &str) -> Result<Self, CpuMaskError> {
        let digits = text.trim();
        let digits = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")).unwrap_or(digits);
        if digits.is_empty() {
            return Err(CpuMaskError::NotHex(text.to_string()));
        }
        let mut cores = Vec::new();
        // The last digit holds cores 0..=3, the one before it 4..=7, and so on.
        for (position, c) in digits.chars().rev().enumerate() {
            let nibble = c.to_digit(16).ok_or_else(|| CpuMaskError::NotHex(text.to_string()))?;
            for bit in 0..4 {
                if nibble & (1 << bit) != 0 {
                    cores.push(position * 4 + bit);
                }
            }
        }
        if cores.is_empty() {
            return Err(CpuMaskError::Empty(text.to_string()));
        }
        Ok(Self { cores })
    }

    /// A mask of the given cores.
    pub fn from_cores(cores: impl IntoIterator<Item = usize>) -> Self {
        let mut cores: Vec<usize> = cores.into_iter().collect();
        cores.sort_unstable();
        cores.dedup();
        Self { cores }
    }

    /// The cores, ascending.
    pub fn cores(&self) -> &[usize] {
        &self.cores
    }

    /// Checks that every core is one this process may run on.
    pub fn check_usable(&self, usable: &[usize]) -> Result<(), CpuMaskError> {
        let missing: Vec<usize> = self.cores.iter().copied().filter(|c| !usable.contains(c)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(CpuMaskError::NoSuchCore { mask: self.to_string(), missing: list(&missing), usable: list(usable) })
    }

    /// The machine's online cores (`/sys/devices/system/cpu/online`).
    ///
    /// Not the calling thread's affinity: EAL narrows the main thread's to
    /// its `-l` cores, and PMD threads are pinned elsewhere.
    pub fn usable_cores() -> Vec<usize> {
        std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|text| parse_cpu_list(&text))
            .unwrap_or_else(|| core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect())
    }
}

/// Parses the kernel's CPU list format (`0-3,8,10-11`).
fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut cores = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (first, last): (usize, usize) = match part.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (part.parse().ok()?, part.parse().ok()?),
        };
        cores.extend(first..=last);
    }
    Some(cores)
}

/// Cores as a comma-separated list, as error messages show them.
pub(crate) fn list(cores: &[usize]) -> String {
    cores.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

impl fmt::Display for CpuMask {
    /// Hexadecimal with `0x`, as OVS prints masks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let top = self.cores.last().copied().unwrap_or(0);
        let mut digits = String::new();
        for position in (0..=top / 4).rev() {
            let nibble = (0..4).filter(|bit| self.cores.contains(&(position * 4 + bit))).fold(0u32, |n, bit| n | 1 << bit);
            digits.push(char::from_digit(nibble, 16).unwrap_or('0'));
        }
        write!(f, "0x{digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_ovs_style_masks() {
        assert_eq!(CpuMask::parse("0x2").map(|m| m.cores().to_vec()), Ok(vec![1]));
        assert_eq!(CpuMask::parse("6").map(|m| m.cores().to_vec()), Ok(vec![1, 2]));
        assert_eq!(CpuMask::parse("0x100000000").map(|m| m.cores().to_vec()), Ok(vec![32]));
        assert_eq!(CpuMask::parse("0XF0").map(|m| m.cores().to_vec()), Ok(vec![4, 5, 6, 7]));
    }

    #[test]
    fn rejects_bad_masks() {
        assert!(matches!(CpuMask::parse(""), Err(CpuMaskError::NotHex(_))));
        assert!(matches!(CpuMask::parse("0x"), Err(CpuMaskError::NotHex(_))));
        assert!(matches!(CpuMask::parse("0xg"), Err(CpuMaskError::NotHex(_))));
        assert!(matches!(CpuMask::parse("0x0"), Err(CpuMaskError::Empty(_))));
    }

    #[test]
    fn names_missing_cores() {
        let mask = CpuMask::parse("0x6").unwrap();
        let err = mask.check_usable(&[0, 1]).unwrap_err();
        assert_eq!(err.to_string(), "cpu mask 0x6 names core(s) 2 that this machine does not offer (usable cores: 0,1)");
        assert!(mask.check_usable(&[0, 1, 2]).is_ok());
    }

    #[test]
    fn reads_kernel_cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("0,2-3,8"), Some(vec![0, 2, 3, 8]));
        assert_eq!(parse_cpu_list("x"), None);
    }

    proptest! {
        #[test]
        fn display_round_trips(cores in proptest::collection::btree_set(0usize..300, 1..20)) {
            let mask = CpuMask::from_cores(cores.iter().copied());
            let again = CpuMask::parse(&mask.to_string()).unwrap();
            prop_assert_eq!(again.cores(), mask.cores());
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = CpuMask::parse(&text);
        }
    }
}
