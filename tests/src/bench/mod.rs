//! `cargo xtask bench`: xvrrpd and keepalived measured side by side in network-namespace labs,
//! one report (table, JSON, SVG) of medians and spreads over repeats. Figures, never pass/fail
//! timing tests: a missed target is reported, not asserted.
//!
//! Every lab is a [`crate::lab::Lab`] (removed on drop, also on panic); floods and CPU hogs are
//! bounded in count and time and run inside the lab's namespaces, so they die with it.
pub mod arp_flood;
pub mod cpu;
pub mod failover;
pub mod peers;
pub mod pinger;
pub mod procfs;
pub mod report;
pub mod starvation;
pub mod stats;
pub mod svg;
pub mod trafgen;
pub mod xdp;

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

/// Set by the Ctrl-C handler: long loops stop at their next step and the labs unwind.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// How much to measure: the full counts the report is for, or a few repeats while developing.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub quick: bool,
}

impl Settings {
    /// `full` repeats normally, `quick` with `--quick`.
    pub fn repeats(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }

    pub fn duration(&self, full: Duration, quick: Duration) -> Duration {
        if self.quick { quick } else { full }
    }
}

/// Panics (unwinding every lab) once Ctrl-C was pressed.
pub fn check_stop() {
    if STOP.load(Ordering::SeqCst) {
        panic!("interrupted");
    }
}

/// Sleeps `duration` in small steps so that Ctrl-C is noticed.
pub fn pause(duration: Duration) {
    let deadline = Instant::now() + duration;
    loop {
        check_stop();
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

/// Polls `done` every 20 ms for up to `limit`; whether it became true.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        pause(Duration::from_millis(20));
    }
    done()
}

/// Master_Down_Interval of a Backup of `priority` (RFC 5798 §6.1 for v3: the skew scales
/// with the interval; RFC 3768 §6.1 for v2: the skew is in seconds).
pub fn master_down_interval(version: u8, interval: Duration, priority: u8) -> Duration {
    interval * 3 + skew_time(version, interval, priority)
}

pub fn skew_time(version: u8, interval: Duration, priority: u8) -> Duration {
    let unit = if version == 2 {
        Duration::from_secs(1)
    } else {
        interval
    };
    unit * u32::from(256 - u16::from(priority)) / 256
}

/// "10ms", "1s": how intervals are shown in case names.
pub fn interval_name(interval: Duration) -> String {
    if interval.as_millis().is_multiple_of(1000) {
        format!("{}s", interval.as_secs())
    } else {
        format!("{}ms", interval.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_down_interval_follows_each_version() {
        let ms = Duration::from_millis;
        // v3, 10 ms, priority 100: 30 ms + 156/256 × 10 ms.
        assert_eq!(
            master_down_interval(3, ms(10), 100),
            Duration::from_nanos(36_093_750)
        );
        // v2, 1 s: the skew is 156/256 s whatever the interval.
        assert_eq!(
            master_down_interval(2, ms(1000), 100),
            Duration::from_nanos(3_609_375_000)
        );
        assert_eq!(skew_time(3, ms(1000), 254), Duration::from_nanos(7_812_500));
        assert_eq!(interval_name(ms(10)), "10ms");
        assert_eq!(interval_name(ms(1000)), "1s");
    }
}
