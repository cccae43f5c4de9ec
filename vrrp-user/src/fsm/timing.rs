//! The protocol timers' arithmetic: Skew_Time and Master_Down_Interval.
//!
//! VRRPv2 and VRRPv3 disagree on two things here, and both are classic bugs:
//!
//! - the unit of the advertisement interval: whole seconds in v2 (RFC 3768 §5.3.7), centiseconds
//!   in v3 (RFC 5798 §5.2.7). [`AdvertInterval`] carries the version with the value, so a v2
//!   interval can never be read as centiseconds or the other way round;
//! - Skew_Time: `(256 − Priority) / 256` *seconds* in v2 (RFC 3768 §6.1), but
//!   `((256 − Priority) × Master_Adver_Interval) / 256` in v3 (RFC 5798 §6.1). The v3 value is
//!   small with short intervals (priority 254 at 1 cs: 78.125 µs) and must not be truncated to 0,
//!   so it is computed on whole nanoseconds, exactly; the only inexact case (an odd multiple of
//!   half a nanosecond) rounds *up*, so a Backup can only wait a little longer, never less.
use std::{
    fmt,
    time::{Duration, Instant},
};

use crate::units::{Centiseconds, Seconds};

/// The VRRP protocol version an instance speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768 (IPv4 only).
    V2,
    /// VRRPv3, RFC 5798 / RFC 9568 (IPv4 and IPv6).
    V3,
}

impl Version {
    /// The number in the header's version field.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V2 => "VRRPv2",
            Version::V3 => "VRRPv3",
        })
    }
}

/// An advertisement interval in the unit its protocol version carries on the wire.
///
/// The variant *is* the protocol version: an instance's configured interval decides whether it
/// speaks v2 or v3, and a received advert's interval says which version it came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdvertInterval {
    /// VRRPv2 Adver Int (RFC 3768 §5.3.7): whole seconds, valid 1..=255.
    V2(Seconds),
    /// VRRPv3 Max Adver Int (RFC 5798 §5.2.7): centiseconds, valid 1..=4095.
    V3(Centiseconds),
}

impl AdvertInterval {
    /// The protocol version this interval belongs to.
    pub const fn version(self) -> Version {
        match self {
            AdvertInterval::V2(_) => Version::V2,
            AdvertInterval::V3(_) => Version::V3,
        }
    }

    /// The interval as a [`Duration`], converted from its own unit.
    pub const fn as_duration(self) -> Duration {
        match self {
            AdvertInterval::V2(s) => s.as_duration(),
            AdvertInterval::V3(cs) => cs.as_duration(),
        }
    }

    /// Whether the value fits its field and is not zero (a zero interval would make
    /// Master_Down_Interval a bare Skew_Time).
    pub const fn is_valid(self) -> bool {
        match self {
            AdvertInterval::V2(s) => s.0 != 0,
            AdvertInterval::V3(cs) => cs.0 != 0 && cs.0 <= Centiseconds::MAX_V3.0,
        }
    }
}

impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdvertInterval::V2(s) => write!(f, "{} s", s.0),
            AdvertInterval::V3(cs) => write!(f, "{} cs", cs.0),
        }
    }
}

/// Skew_Time for a router of `priority` whose Master_Adver_Interval is `master_adver_interval`.
///
/// - v2, RFC 3768 §6.1: `Skew_Time = (256 − Priority) / 256` seconds (the interval does not
///   enter; it is in the argument only for its version).
/// - v3, RFC 5798 §6.1: `Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256`.
///
/// Exact on nanoseconds; a half nanosecond rounds up. Never zero: `256 − Priority ≥ 1`.
pub fn skew_time(master_adver_interval: AdvertInterval, priority: u8) -> Duration {
    let weight = 256 - u128::from(priority);
    let unit = match master_adver_interval {
        AdvertInterval::V2(_) => Duration::from_secs(1),
        AdvertInterval::V3(cs) => cs.as_duration(),
    };
    let nanos = (weight * unit.as_nanos()).div_ceil(256);
    // At most 256 × 40.95 s / 256 = 40.95 s: always fits.
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Master_Down_Interval = `3 × Master_Adver_Interval + Skew_Time` (RFC 5798 §6.1; RFC 3768 §6.1
/// writes `3 × Advertisement_Interval`, which is the same value since v2 intervals must match).
pub fn master_down_interval(master_adver_interval: AdvertInterval, priority: u8) -> Duration {
    master_adver_interval.as_duration() * 3 + skew_time(master_adver_interval, priority)
}

/// The three timing values a router keeps (RFC 5798 §6.1), recomputed together whenever
/// Master_Adver_Interval or the priority changes, so they can never disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Master_Adver_Interval: the interval the current Master advertises at (v3: adopted from
    /// its adverts, §6.4.2; v2: always ours, RFC 3768 §7.1).
    pub master_adver_interval: AdvertInterval,
    /// Skew_Time (§6.1).
    pub skew_time: Duration,
    /// Master_Down_Interval (§6.1).
    pub master_down_interval: Duration,
}

impl Timing {
    pub fn new(master_adver_interval: AdvertInterval, priority: u8) -> Self {
        Timing {
            master_adver_interval,
            skew_time: skew_time(master_adver_interval, priority),
            master_down_interval: master_down_interval(master_adver_interval, priority),
        }
    }
}

/// Instants one centisecond apart from an origin that every instance of a daemon shares.
///
/// A Master's Adver_Timer, once armed, keeps its phase (each deadline follows the last by the
/// interval). Left alone, instances that became Master at different moments advertise at
/// different instants and the daemon wakes once per instance per interval. Armed on this grid
/// instead, their deadlines coincide, and one wake-up sends every advert due. Every interval is
/// a whole number of centiseconds (v3) or seconds (v2), so a phase on the grid stays on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertGrid {
    origin: Instant,
}

impl AdvertGrid {
    pub const STEP: Duration = Duration::from_millis(10);

    pub const fn new(origin: Instant) -> Self {
        AdvertGrid { origin }
    }

    /// The last grid instant at or before `at`; `at` itself before the origin.
    pub fn floor(&self, at: Instant) -> Instant {
        let Some(since) = at.checked_duration_since(self.origin) else {
            return at;
        };
        let past_grid = since.as_nanos() % Self::STEP.as_nanos();
        // Under one step: fits a u64 of nanoseconds.
        at - Duration::from_nanos(past_grid as u64)
    }
}

/// When a Master's Adver_Timer is due next, once the deadline `due` has been served at `now`
/// (RFC 5798 §6.4.3: "Send an ADVERTISEMENT; Reset the Adver_Timer to
/// Advertisement_Interval"). Counted from when the timer was due, not from when it was served:
/// wake-up latency would otherwise add up advert after advert (about 1 ms late per 10 ms
/// advert). After a stall longer than an interval, it starts afresh from `now` rather than
/// catch up with a burst. On `grid`, if given, at or before the instant computed, but always
/// after `now` (a deadline off the grid could otherwise floor to one already served).
pub fn next_advert_deadline(
    due: Instant,
    now: Instant,
    interval: Duration,
    grid: Option<AdvertGrid>,
) -> Instant {
    let from = if now.saturating_duration_since(due) < interval {
        due
    } else {
        now
    };
    let on_grid = |at: Instant| grid.map_or(at, |grid| grid.floor(at));
    match on_grid(from + interval) {
        at if at > now => at,
        _ => on_grid(now + interval),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn v2(s: u8) -> AdvertInterval {
        AdvertInterval::V2(Seconds(s))
    }
    const fn v3(cs: u16) -> AdvertInterval {
        AdvertInterval::V3(Centiseconds(cs))
    }
    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn v3_skew_scales_with_the_interval() {
        // 156 × 1 s / 256 = 609.375 ms; Master_Down = 3 s + that.
        assert_eq!(skew_time(v3(100), 100), us(609_375));
        assert_eq!(master_down_interval(v3(100), 100), us(3_609_375));
        // 156 × 2 s / 256 = 1.21875 s
        assert_eq!(skew_time(v3(200), 100), us(1_218_750));
        assert_eq!(master_down_interval(v3(200), 100), us(7_218_750));
        // 156 × 0.5 s / 256 = 304.6875 ms
        assert_eq!(skew_time(v3(50), 100), Duration::from_nanos(304_687_500));
        assert_eq!(
            master_down_interval(v3(50), 100),
            Duration::from_nanos(1_804_687_500)
        );
    }

    #[test]
    fn v2_skew_is_in_seconds_whatever_the_interval() {
        assert_eq!(skew_time(v2(1), 100), us(609_375));
        assert_eq!(skew_time(v2(2), 100), us(609_375));
        assert_eq!(master_down_interval(v2(1), 100), us(3_609_375));
        assert_eq!(master_down_interval(v2(2), 100), us(6_609_375));
        // 1/256 s at priority 255, 255/256 s at priority 1.
        assert_eq!(skew_time(v2(1), 255), Duration::from_nanos(3_906_250));
        assert_eq!(skew_time(v2(1), 1), Duration::from_nanos(996_093_750));
    }

    #[test]
    fn short_v3_skew_is_not_truncated_to_zero() {
        // 2 × 10 ms / 256 = 78.125 µs (holo-vrrp computes 0 here).
        assert_eq!(skew_time(v3(1), 254), Duration::from_nanos(78_125));
        assert_eq!(
            master_down_interval(v3(1), 254),
            Duration::from_nanos(30_078_125)
        );
        // 10 ms / 256 = 39 062.5 ns: the half nanosecond rounds up.
        assert_eq!(skew_time(v3(1), 255), Duration::from_nanos(39_063));
    }

    #[test]
    fn extremes_do_not_overflow() {
        // 255 × 40.95 s / 256
        assert_eq!(skew_time(v3(4095), 1), Duration::from_nanos(40_790_039_063));
        assert_eq!(
            master_down_interval(v2(255), 1),
            Duration::from_secs(765) + Duration::from_nanos(996_093_750)
        );
    }

    #[test]
    fn validity_and_units() {
        assert!(!v2(0).is_valid());
        assert!(v2(255).is_valid());
        assert!(!v3(0).is_valid());
        assert!(v3(4095).is_valid());
        assert!(!v3(4096).is_valid());
        assert_eq!(v2(1).as_duration(), Duration::from_secs(1));
        assert_eq!(v3(1).as_duration(), Duration::from_millis(10));
        assert_eq!(v2(3).version(), Version::V2);
        assert_eq!(v3(3).version(), Version::V3);
        assert_eq!(v3(100).to_string(), "100 cs");
        assert_eq!(v2(1).to_string(), "1 s");
    }

    #[test]
    fn timing_keeps_the_three_values_together() {
        let t = Timing::new(v3(100), 100);
        assert_eq!(t.master_adver_interval, v3(100));
        assert_eq!(t.skew_time, us(609_375));
        assert_eq!(t.master_down_interval, us(3_609_375));
    }
}

#[cfg(test)]
mod advert_grid {
    use super::*;

    #[test]
    fn floors_to_the_last_centisecond_of_the_grid() {
        let origin = Instant::now();
        let grid = AdvertGrid::new(origin);
        let ms = Duration::from_millis;
        assert_eq!(grid.floor(origin + ms(37)), origin + ms(30));
        assert_eq!(grid.floor(origin + ms(30)), origin + ms(30));
        assert_eq!(
            grid.floor(origin + Duration::from_nanos(39_999_999)),
            origin + ms(30)
        );
        // Ten years on, to the nanosecond.
        let years = Duration::from_secs(10 * 365 * 24 * 3600);
        assert_eq!(
            grid.floor(origin + years + ms(1234) + Duration::from_nanos(5)),
            origin + years + ms(1230)
        );
    }

    #[test]
    fn instants_before_the_origin_are_left_alone() {
        let origin = Instant::now() + Duration::from_secs(1);
        let at = Instant::now();
        assert_eq!(AdvertGrid::new(origin).floor(at), at);
    }

    #[test]
    fn the_next_advert_keeps_the_phase_unless_stalled() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Served 3 ms late: the next one is still due one interval after the last deadline.
        assert_eq!(
            next_advert_deadline(t0, t0 + ms(3), ms(10), None),
            t0 + ms(10)
        );
        // Stalled for more than an interval: afresh from now, no burst to catch up.
        assert_eq!(
            next_advert_deadline(t0, t0 + ms(25), ms(10), None),
            t0 + ms(35)
        );
        // On the grid: floored to a step of it.
        let grid = AdvertGrid::new(t0);
        assert_eq!(
            next_advert_deadline(t0 + ms(4), t0 + ms(4), ms(100), Some(grid)),
            t0 + ms(100)
        );
        // Off the grid and served late, it would floor to now: one interval on instead.
        assert_eq!(
            next_advert_deadline(t0 + ms(5), t0 + ms(10), ms(10), Some(grid)),
            t0 + ms(20)
        );
    }
}

#[cfg(test)]
mod version_number {
    use super::Version;

    #[test]
    fn version_numbers_are_the_header_values() {
        assert_eq!(Version::V2.number(), 2);
        assert_eq!(Version::V3.number(), 3);
    }
}
