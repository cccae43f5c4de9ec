//! Kernel timestamps (CLOCK_MONOTONIC nanoseconds, what bpf_ktime_get_ns returns) as `Instant`s.
//! `Instant` reads the same clock on Linux but cannot be built from a raw value, so one pair of
//! readings taken together anchors the conversion.
use std::time::{Duration, Instant};

use crate::dataplane::monotonic_now_ns;

#[derive(Clone, Copy, Debug)]
pub struct KernelClock {
    anchor: Instant,
    anchor_ns: u64,
}

impl KernelClock {
    pub fn new() -> KernelClock {
        KernelClock {
            anchor: Instant::now(),
            anchor_ns: monotonic_now_ns(),
        }
    }

    /// The `Instant` of a kernel timestamp.
    pub fn instant(&self, kernel_ns: u64) -> Instant {
        if kernel_ns >= self.anchor_ns {
            self.anchor + Duration::from_nanos(kernel_ns - self.anchor_ns)
        } else {
            self.anchor
                .checked_sub(Duration::from_nanos(self.anchor_ns - kernel_ns))
                .unwrap_or(self.anchor)
        }
    }
}

impl KernelClock {
    /// The kernel timestamp of an `Instant` (0 for one before boot, which cannot happen).
    pub fn kernel_ns(&self, at: Instant) -> u64 {
        if at >= self.anchor {
            let after = (at - self.anchor).as_nanos();
            self.anchor_ns
                .saturating_add(u64::try_from(after).unwrap_or(u64::MAX))
        } else {
            let before = (self.anchor - at).as_nanos();
            (self.anchor_ns).saturating_sub(u64::try_from(before).unwrap_or(u64::MAX))
        }
    }
}

impl Default for KernelClock {
    fn default() -> Self {
        KernelClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_time_maps_onto_instants_to_the_microsecond() {
        let clock = KernelClock::new();
        let now_ns = monotonic_now_ns();
        let now = Instant::now();
        let mapped = clock.instant(now_ns);
        let gap = if mapped > now {
            mapped - now
        } else {
            now - mapped
        };
        assert!(gap < Duration::from_millis(5), "{gap:?}");
        assert_eq!(
            clock.instant(now_ns + 1_000) - clock.instant(now_ns),
            Duration::from_micros(1)
        );
        // And back, to the nanosecond, either side of the anchor.
        for ns in [now_ns + 1_234_567, clock.anchor_ns - 7_654_321] {
            assert_eq!(clock.kernel_ns(clock.instant(ns)), ns);
        }
    }
}
