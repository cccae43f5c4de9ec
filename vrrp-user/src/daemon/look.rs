//! The grid of instants a Backup's Master_Down_Timer is looked at ([`super::master_watch`]).
//!
//! With XDP a steady Master's adverts are not reported: a Backup learns of them when its
//! Master_Down_Timer is due and the data plane tells when the last one arrived. Looking at each
//! instance's own deadline is one wake-up of the daemon per instance per ~2.5 advert intervals.
//! Instead the daemon looks a little early, at an instant on a grid shared by every instance,
//! so that one wake-up serves all the instances whose deadlines fall in the same grid step.
use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The grid's step. A live Master keeps a deadline at least 2 × Advertisement_Interval +
/// Skew_Time after the last look (RFC 5798 §6.1; VRRPv3's shortest interval is 10 ms), more than
/// 20 ms: the grid instant before it is then always still ahead, and every look moves on.
const GRID: Duration = Duration::from_millis(20);

/// When to wake for a Master_Down_Timer `deadline`: the last grid instant before it if that is
/// still ahead of `now`, else the deadline itself (so that the timer fires on time).
pub fn wake_at(deadline: Instant, now: Instant) -> Instant {
    on_grid(origin(), deadline, now)
}

/// Where the daemon's grids start: this one and the Masters' advert grid
/// ([`crate::fsm::AdvertGrid`]), whose steps divide this one's, so that looks and adverts
/// share wake-ups too.
pub fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// [`wake_at`] on the grid that starts at `epoch`.
fn on_grid(epoch: Instant, deadline: Instant, now: Instant) -> Instant {
    let Some(since) = deadline.checked_duration_since(epoch) else {
        return deadline;
    };
    let offset = since.as_nanos() - since.as_nanos() % GRID.as_nanos();
    let look = u64::try_from(offset)
        .ok()
        .and_then(|offset| epoch.checked_add(Duration::from_nanos(offset)));
    match look {
        Some(look) if look > now && look < deadline => look,
        _ => deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `now` after the grid's epoch, which whichever test came first set.
    fn now() -> Instant {
        wake_at(Instant::now(), Instant::now());
        Instant::now()
    }

    #[test]
    fn looks_fall_on_one_grid_before_the_deadline() {
        let now = now();
        let first = wake_at(now + Duration::from_millis(57), now);
        let second = wake_at(now + Duration::from_millis(51), now);
        assert_eq!(first, second, "deadlines in one grid step share a look");
        assert!(first > now && first <= now + Duration::from_millis(51));
        assert!(now + Duration::from_millis(51) - first < GRID);
    }

    #[test]
    fn a_deadline_whose_grid_instant_has_passed_is_kept() {
        let now = now();
        let deadline = now + Duration::from_millis(3);
        let look = wake_at(deadline, now);
        assert!(look == deadline || look > now, "never a look in the past");
        // Once the look has happened, the next wake is the deadline itself.
        assert_eq!(wake_at(deadline, look.max(now)), deadline);
        assert_eq!(wake_at(now, now), now);
    }

    #[test]
    fn the_grid_holds_after_years_of_uptime() {
        let epoch = Instant::now();
        let now = epoch + Duration::from_secs(10 * 365 * 24 * 3600) + Duration::from_millis(3);
        let deadline = now + Duration::from_millis(30);
        assert_eq!(
            on_grid(epoch, deadline, now),
            now + Duration::from_millis(17)
        );
    }
}
