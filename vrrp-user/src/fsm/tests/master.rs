//! Master (RFC 5798 §6.4.3, RFC 3768 §6.4.3).
use super::*;

/// Priority 100 at 100 cs or 1 s: Master_Down_Interval 3.609375 s.
const DOWN: u64 = 3_609_375;
const SECOND: Duration = Duration::from_secs(1);

/// A priority-100 Master since `DOWN` µs, Adver_Timer at `DOWN + 1 s`.
fn master(interval: AdvertInterval, c: Clock) -> VirtualRouter {
    master_after_silence(config(interval, 100), c.s(0), us(DOWN))
}

fn master_v6(c: Clock) -> VirtualRouter {
    let config = Config {
        primary_address: OURS_V6,
        ..config(v3(100), 100)
    };
    master_after_silence(config, c.s(0), us(DOWN))
}

#[test]
fn the_advert_timer_sends_and_rearms() {
    // §6.4.3: "Send an ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(DOWN + 1_000_000)),
        vec![send(100), arm(Timer::Advert, c.us(DOWN + 2_000_000))]
    );
    // Woken 300 ms late: the next one stays on the schedule, an interval after it was due.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(DOWN + 2_300_000)),
        vec![send(100), arm(Timer::Advert, c.us(DOWN + 3_000_000))]
    );
    // Early or Backup-only timers are stale.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(DOWN + 2_999_999)),
        vec![]
    );
    assert_eq!(vr.handle(down_fired(None), c.s(10)), vec![]);
}

#[test]
fn a_stalled_master_restarts_the_schedule_instead_of_bursting() {
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    // Due at DOWN + 1 s, served 2.5 s later (a stopped process): one advert, the next a full
    // interval from now, not three catch-up adverts.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(DOWN + 3_500_000)),
        vec![send(100), arm(Timer::Advert, c.us(DOWN + 4_500_000))]
    );
}

#[test]
fn v2_advert_timer_uses_seconds() {
    let c = Clock::new();
    let mut vr = master_after_silence(config(v2(2), 100), c.s(0), us(6_609_375));
    assert_eq!(vr.timer(Timer::Advert), Some(c.us(8_609_375)));
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(8_609_375)),
        vec![send(100), arm(Timer::Advert, c.us(10_609_375))]
    );
}

#[test]
fn priority_zero_is_answered_at_once() {
    // §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT; Reset
    // the Adver_Timer to Advertisement_Interval".
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = master(interval, c);
        assert_eq!(
            vr.handle(advert(HIGHER_V4, 0, interval), c.s(4)),
            vec![send(100), arm(Timer::Advert, c.s(5))]
        );
        assert_eq!(vr.state(), State::Master);
    }
}

#[test]
fn a_higher_priority_advert_makes_the_master_back_up() {
    // §6.4.3: "Cancel Adver_Timer; Set Master_Adver_Interval ...; Set Master_Down_Timer to
    // Master_Down_Interval; Transition to the {Backup} state".
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = master(interval, c);
        assert_eq!(
            vr.handle(advert(LOWER_V4, 101, interval), c.s(4)),
            vec![
                changed(
                    State::Master,
                    State::Backup,
                    Reason::HigherPriorityAdvert {
                        source: LOWER_V4,
                        priority: 101
                    }
                ),
                Action::CancelTimer(Timer::Advert),
                Action::RemoveVips,
                arm(Timer::MasterDown, c.us(4_000_000 + DOWN)),
            ]
        );
        assert_eq!(vr.state(), State::Backup);
        assert_eq!(vr.current_master(), Some((LOWER_V4, 101)));
        assert_eq!(vr.timer(Timer::Advert), None);
        // The old Adver_Timer's fire is stale now.
        assert_eq!(
            vr.handle(Event::AdvertTimerFired, c.us(DOWN + 1_000_000)),
            vec![]
        );
    }
}

#[test]
fn v3_master_backing_up_adopts_the_new_masters_interval() {
    // 3 × 0.5 s + 156 × 0.5 s / 256 = 1.8046875 s.
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    let actions = vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(4));
    assert_eq!(
        actions.last(),
        Some(&arm(Timer::MasterDown, c.ns(5_804_687_500)))
    );
    assert_eq!(vr.master_adver_interval(), v3(50));
    // The new Master's next reported advert resets with the adopted interval too.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(5)),
        vec![arm(Timer::MasterDown, c.ns(6_804_687_500))]
    );
}

#[test]
fn equal_priority_from_a_higher_address_wins_the_tie() {
    // §6.4.3: equal priority and "the primary IPvX Address of the sender is greater than the
    // local primary IPvX Address (based on an unsigned integer comparison ...)".
    // 192.0.2.11 > 192.0.2.10 numerically.
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 100, v3(100)), c.s(4)),
        vec![
            changed(
                State::Master,
                State::Backup,
                Reason::EqualPriorityHigherAddress {
                    source: HIGHER_V4,
                    priority: 100
                }
            ),
            Action::CancelTimer(Timer::Advert),
            Action::RemoveVips,
            arm(Timer::MasterDown, c.us(4_000_000 + DOWN)),
        ]
    );
    // IPv6, compared as 128-bit integers: 2001:db8::1:0 > 2001:db8::10.
    let mut vr = master_v6(c);
    let actions = vr.handle(advert(HIGHER_V6, 100, v3(100)), c.s(4));
    assert_eq!(
        actions.first(),
        Some(&changed(
            State::Master,
            State::Backup,
            Reason::EqualPriorityHigherAddress {
                source: HIGHER_V6,
                priority: 100
            }
        ))
    );
}

#[test]
fn equal_priority_from_a_lower_address_is_answered() {
    // 192.0.2.9 < 192.0.2.10 as integers (not as text). RFC 5798 says discard; we answer with
    // our own advert so the other side backs off.
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    assert_eq!(
        vr.handle(advert(LOWER_V4, 100, v3(100)), c.s(4)),
        vec![send(100), arm(Timer::Advert, c.s(5))]
    );
    assert_eq!(vr.state(), State::Master);
    let mut vr = master_v6(c);
    assert_eq!(
        vr.handle(advert(LOWER_V6, 100, v3(100)), c.s(4)),
        vec![send(100), arm(Timer::Advert, c.s(5))]
    );
}

#[test]
fn a_lower_priority_advert_is_answered_with_ours() {
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = master(interval, c);
        assert_eq!(
            vr.handle(advert(HIGHER_V4, 99, interval), c.ms(4_200)),
            vec![send(100), arm(Timer::Advert, c.ms(5_200))]
        );
        assert_eq!(vr.state(), State::Master);
    }
    // A v3 Master does not adopt a lower router's interval.
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    vr.handle(advert(HIGHER_V4, 99, v3(20)), c.s(4));
    assert_eq!(vr.master_adver_interval(), v3(100));
}

#[test]
fn v2_master_drops_a_mismatched_interval_even_from_a_higher_priority() {
    let c = Clock::new();
    let mut vr = master(v2(1), c);
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v2(5)), c.s(4)),
        vec![Action::Dropped(DropReason::IntervalMismatch {
            ours: v2(1),
            theirs: v2(5),
        })]
    );
    assert_eq!(vr.state(), State::Master);
}

#[test]
fn a_priority_change_is_advertised_at_once() {
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    assert_eq!(
        vr.handle(Event::PriorityChanged(90), c.s(4)),
        vec![send(90), arm(Timer::Advert, c.s(5))]
    );
    assert_eq!(vr.handle(Event::PriorityChanged(90), c.s(4)), vec![]);
    // Clamped to what a non-owner may advertise.
    assert_eq!(
        vr.handle(Event::PriorityChanged(255), c.s(5)),
        vec![send(254), arm(Timer::Advert, c.s(6))]
    );
    assert_eq!(
        vr.handle(Event::PriorityChanged(0), c.s(6)),
        vec![send(1), arm(Timer::Advert, c.s(7))]
    );
    assert_eq!(vr.priority(), 1);
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.s(7)),
        vec![send(1), arm(Timer::Advert, c.s(8))]
    );
}

#[test]
fn after_lowering_its_priority_the_master_yields_to_a_former_backup() {
    let c = Clock::new();
    let mut vr = master(v3(100), c);
    vr.handle(Event::PriorityChanged(50), c.s(4));
    let actions = vr.handle(advert(LOWER_V4, 80, v3(100)), c.ms(4_001));
    assert_eq!(
        actions.first(),
        Some(&changed(
            State::Master,
            State::Backup,
            Reason::HigherPriorityAdvert {
                source: LOWER_V4,
                priority: 80
            }
        ))
    );
    // Priority 50 at 100 cs: 3 s + 206/256 s = 3.8046875 s.
    assert_eq!(
        actions.last(),
        Some(&arm(Timer::MasterDown, c.ns(4_001_000_000 + 3_804_687_500)))
    );
}

#[test]
fn the_owner_is_only_displaced_by_another_owner_with_a_higher_address() {
    let c = Clock::new();
    let mut vr = router(config(v3(100), 255));
    vr.handle(Event::Startup, c.s(0));
    // Nobody can advertise more than 255: a 254 is answered.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 254, v3(100)), c.ms(500)),
        vec![send(255), arm(Timer::Advert, c.ms(1_500))]
    );
    // A misconfigured second owner with a lower address is answered too ...
    assert_eq!(
        vr.handle(advert(LOWER_V4, 255, v3(100)), c.ms(600)),
        vec![send(255), arm(Timer::Advert, c.ms(1_600))]
    );
    // ... and one with a higher address wins the tie-break (§6.4.3 does not exempt owners).
    // Skew at priority 255: 1 s / 256 = 3.90625 ms.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 255, v3(100)), c.ms(700)),
        vec![
            changed(
                State::Master,
                State::Backup,
                Reason::EqualPriorityHigherAddress {
                    source: HIGHER_V4,
                    priority: 255
                }
            ),
            Action::CancelTimer(Timer::Advert),
            Action::RemoveVips,
            arm(Timer::MasterDown, c.ns(700_000_000 + 3_003_906_250)),
        ]
    );
    // When that one resigns, the owner takes over after its Skew_Time.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 0, v3(100)), c.s(2)),
        vec![arm(Timer::MasterDown, c.ns(2_003_906_250))]
    );
    let at = c.ns(2_003_906_250);
    assert_eq!(
        vr.handle(down_fired(None), at),
        becomes_master(
            State::Backup,
            Reason::PriorityZeroReceived { source: HIGHER_V4 },
            255,
            at,
            SECOND
        )
    );
}

#[test]
fn on_a_grid_the_advert_timer_comes_early_once_then_keeps_the_grid() {
    let c = Clock::new();
    let mut vr = started_backup(config(v3(1), 100), c.s(0), ns(36_093_750));
    vr.set_advert_grid(AdvertGrid::new(c.s(0)));
    // Master at 36.09375 ms: its first advert goes now, the next at the grid instant before
    // 46.09375 ms (6.09375 ms early), not an interval later.
    let mut became = vr.handle(down_fired(None), c.ns(36_093_750));
    assert_eq!(became.pop(), Some(arm(Timer::Advert, c.ms(40))));
    assert!(became.contains(&send(100)));
    // Served 1.2 ms late, the schedule stays on the grid: 50 ms, not 51.2.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(41_200)),
        vec![send(100), arm(Timer::Advert, c.ms(50))]
    );
    // After a stall, afresh from now, and back on the grid.
    assert_eq!(
        vr.handle(Event::AdvertTimerFired, c.us(95_500)),
        vec![send(100), arm(Timer::Advert, c.ms(100))]
    );
}

#[test]
fn a_new_priority_within_a_grid_step_is_sent_without_rearming() {
    // The Adver_Timer already falls on the grid instant the new advert would re-arm it for:
    // nothing is armed, so whoever repeats the advert must learn the priority from the send.
    let c = Clock::new();
    let mut vr = started_backup(config(v3(1), 100), c.s(0), ns(36_093_750));
    vr.set_advert_grid(AdvertGrid::new(c.s(0)));
    let became = vr.handle(down_fired(None), c.ns(36_093_750));
    assert_eq!(became.last(), Some(&arm(Timer::Advert, c.ms(40))));
    assert_eq!(
        vr.handle(Event::PriorityChanged(90), c.ms(37)),
        vec![send(90)]
    );
}
