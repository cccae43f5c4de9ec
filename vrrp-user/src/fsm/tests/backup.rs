//! Backup (RFC 5798 §6.4.2, RFC 3768 §6.4.2).
use super::*;

/// v3, priority 100, 100 cs: Master_Down_Interval 3.609375 s.
const DOWN: u64 = 3_609_375;

fn v3_backup(c: Clock) -> VirtualRouter {
    started_backup(config(v3(100), 100), c.s(0), us(DOWN))
}

#[test]
fn silence_makes_the_backup_master() {
    // §6.4.2: "If the Master_Down_Timer fires": send an advert, announce, set the Adver_Timer.
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let vr = master_after_silence(config(interval, 100), c.s(0), us(DOWN));
        assert_eq!(vr.state(), State::Master);
        assert_eq!(vr.timer(Timer::MasterDown), None);
        assert_eq!(vr.timer(Timer::Advert), Some(c.us(DOWN + 1_000_000)));
    }
}

#[test]
fn an_early_or_repeated_timer_event_is_stale() {
    let c = Clock::new();
    let mut vr = v3_backup(c);
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN - 1)), vec![]);
    assert_eq!(vr.handle(Event::AdvertTimerFired, c.s(3)), vec![]);
    assert_eq!(vr.handle(delay_fired(None), c.s(3)), vec![]);
    assert_eq!(vr.state(), State::Backup);
    // Re-armed by an advert at 1 s; the old deadline's fire arriving now is stale.
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(1));
    assert_eq!(vr.handle(down_fired(None), c.us(DOWN)), vec![]);
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(1_000_000 + DOWN)));
}

#[test]
fn higher_or_equal_priority_adverts_reset_the_master_down_timer() {
    // §6.4.2: "Reset the Master_Down_Timer to Master_Down_Interval".
    for (interval, down) in [(v3(100), DOWN), (v2(1), DOWN), (v2(2), 6_609_375)] {
        let c = Clock::new();
        let mut vr = started_backup(config(interval, 100), c.s(0), us(down));
        for (at, priority) in [(1_000_000, 200), (1_500_000, 100), (2_250_000, 255)] {
            assert_eq!(
                vr.handle(advert(HIGHER_V4, priority, interval), c.us(at)),
                vec![arm(Timer::MasterDown, c.us(at + down))]
            );
            assert_eq!(vr.current_master(), Some((HIGHER_V4, priority)));
        }
        // An equal-priority Master with a lower address is still honoured by a Backup.
        assert_eq!(
            vr.handle(advert(LOWER_V4, 100, interval), c.s(3)),
            vec![arm(Timer::MasterDown, c.us(3_000_000 + down))]
        );
    }
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    // §6.4.2: "Set Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT",
    // recompute Skew_Time = 156 × 0.5 s / 256 = 304.6875 ms and Master_Down = 1.8046875 s.
    let c = Clock::new();
    let mut vr = v3_backup(c);
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(1)),
        vec![arm(Timer::MasterDown, c.ns(2_804_687_500))]
    );
    assert_eq!(vr.master_adver_interval(), v3(50));
    assert_eq!(vr.skew_time(), ns(304_687_500));
    assert_eq!(vr.master_down_interval(), ns(1_804_687_500));
    // And back to a slower Master: 4 × 3 s + 156 × 4 s / 256 = 12 s + 2.4375 s.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(400)), c.s(2)),
        vec![arm(Timer::MasterDown, c.us(16_437_500))]
    );
}

#[test]
fn v3_backup_without_preempt_adopts_a_lower_masters_interval_too() {
    let c = Clock::new();
    let mut vr = started_backup(
        Config {
            preempt: false,
            ..config(v3(100), 100)
        },
        c.s(0),
        us(DOWN),
    );
    assert_eq!(
        vr.handle(advert(LOWER_V4, 50, v3(50)), c.s(1)),
        vec![arm(Timer::MasterDown, c.ns(2_804_687_500))]
    );
    assert_eq!(vr.master_adver_interval(), v3(50));
}

#[test]
fn v2_advert_with_another_interval_is_dropped() {
    // RFC 3768 §7.1: the Adver Interval MUST be the locally configured one, else discard.
    let c = Clock::new();
    let mut vr = started_backup(config(v2(1), 100), c.s(0), us(DOWN));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v2(2)), c.s(1)),
        vec![Action::Dropped(DropReason::IntervalMismatch {
            ours: v2(1),
            theirs: v2(2),
        })]
    );
    // Priority 0 with a wrong interval is dropped as well: validation comes first.
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 0, v2(3)), c.s(1)),
        vec![Action::Dropped(DropReason::IntervalMismatch {
            ours: v2(1),
            theirs: v2(3),
        })]
    );
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(DOWN)));
    assert_eq!(vr.master_adver_interval(), v2(1));
    assert_eq!(vr.current_master(), None);
}

#[test]
fn repeats_of_a_discarded_advert_do_not_postpone_the_takeover() {
    // The data plane reports an advert once and only notes the time of its unchanged repeats:
    // after a discarded one (§7.1), those are discarded too, and the Backup takes over when
    // the Master_Down_Timer fires, as RFC 3768 and keepalived do.
    let c = Clock::new();
    let mut vr = started_backup(config(v2(1), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v2(2)), c.ms(500));
    assert_eq!(vr.postponed_by_adverts_seen(), None);
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(2_500))), c.us(DOWN)),
        becomes_master(
            State::Backup,
            Reason::MasterDown {
                silent_for: us(DOWN)
            },
            100,
            c.us(DOWN),
            Duration::from_secs(1),
        )
    );
    // v3: an interval of 0, after a Master it honoured.
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.ms(500));
    let down_at = c.us(500_000 + DOWN);
    assert_eq!(vr.timer(Timer::MasterDown), Some(down_at));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(0)), c.s(1)),
        vec![Action::Dropped(DropReason::InvalidInterval(v3(0)))]
    );
    assert_eq!(vr.current_master(), None);
    let fired = vr.handle(down_fired(Some(c.s(3))), down_at);
    assert_eq!(vr.state(), State::Master, "{fired:?}");
    // A valid advert after a discarded one is reported, and honoured again.
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(0)), c.ms(500));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(1)),
        vec![arm(Timer::MasterDown, c.us(1_000_000 + DOWN))]
    );
    assert_eq!(vr.postponed_by_adverts_seen(), Some(us(DOWN)));
    assert_eq!(
        vr.handle(down_fired(Some(c.s(4))), c.us(1_000_000 + DOWN)),
        vec![arm(Timer::MasterDown, c.us(4_000_000 + DOWN))]
    );
}

/// An advert reported after `previous_seen`, the steady Master's last unreported repeat.
fn advert_after(
    source: IpAddr,
    priority: u8,
    interval: AdvertInterval,
    previous_seen: Instant,
) -> Event {
    Event::AdvertReceived(Advert {
        source,
        priority,
        interval,
        previous_seen: Some(previous_seen),
    })
}

#[test]
fn a_third_routers_discarded_advert_leaves_a_steady_master_in_charge() {
    // The Master (200) was reported at 0.5 s and its repeats, unreported, kept the timer
    // running until 60 s; at 60.2 s a misconfigured router's advert (another v2 interval) is
    // reported and discarded. The timer runs from the Master's last repeat, not from 0.5 s.
    let c = Clock::new();
    let mut vr = started_backup(config(v2(1), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v2(1)), c.ms(500));
    let down_at = c.us(60_000_000 + DOWN);
    assert_eq!(
        vr.handle(advert_after(LOWER_V4, 50, v2(2), c.s(60)), c.ms(60_200)),
        vec![
            arm(Timer::MasterDown, down_at),
            Action::Dropped(DropReason::IntervalMismatch {
                ours: v2(1),
                theirs: v2(2),
            }),
        ]
    );
    assert_eq!(vr.timer(Timer::MasterDown), Some(down_at));
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(60_200))), c.ms(60_201)),
        vec![],
        "not due"
    );
    assert_eq!(vr.state(), State::Backup);
    // The Master's next advert differs from the last one reported: it is reported, honoured.
    assert_eq!(
        vr.handle(advert_after(HIGHER_V4, 200, v2(1), c.ms(60_200)), c.s(61)),
        vec![arm(Timer::MasterDown, c.us(61_000_000 + DOWN))]
    );
    // Had the Master gone silent after 60 s, the takeover comes Master_Down_Interval later.
    let mut vr = started_backup(config(v2(1), 100), c.s(0), us(DOWN));
    vr.handle(advert(HIGHER_V4, 200, v2(1)), c.ms(500));
    vr.handle(advert_after(LOWER_V4, 50, v2(2), c.s(60)), c.ms(60_200));
    let fired = vr.handle(down_fired(Some(c.ms(60_200))), down_at);
    assert_eq!(
        fired[0],
        changed(
            State::Backup,
            State::Master,
            Reason::MasterDown {
                silent_for: us(DOWN)
            }
        )
    );
    // VRRPv3, a third router advertising an interval of 0.
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.ms(500));
    vr.handle(advert_after(LOWER_V4, 50, v3(0), c.s(60)), c.ms(60_200));
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(60_000_000 + DOWN)));
}

#[test]
fn a_master_lowering_its_priority_is_preempted_master_down_interval_after_its_last_repeat() {
    // RFC 5798 §6.4.2 discards the lower-priority advert; the timer, reset by the Master's
    // last honoured repeat (59 s), runs out (keepalived: "received lower priority advert").
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(1));
    let down_at = c.us(59_000_000 + DOWN);
    assert_eq!(
        vr.handle(advert_after(HIGHER_V4, 50, v3(100), c.s(59)), c.s(60)),
        vec![arm(Timer::MasterDown, down_at)]
    );
    assert_eq!(vr.postponed_by_adverts_seen(), None);
    assert_eq!(vr.handle(down_fired(Some(c.s(60))), c.ms(60_001)), vec![]);
    let fired = vr.handle(down_fired(Some(c.s(62))), down_at);
    assert_eq!(
        fired[0],
        changed(
            State::Backup,
            State::Master,
            Reason::Preempted {
                master: HIGHER_V4,
                priority: 50
            }
        )
    );
}

#[test]
fn repeats_of_a_master_not_honoured_do_not_move_the_timer() {
    // After priority 0 the timer runs Skew_Time; what came before changes nothing.
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 0, v3(100)), c.s(1));
    let skew_at = vr.timer(Timer::MasterDown).unwrap();
    vr.handle(advert_after(LOWER_V4, 50, v3(0), c.s(1)), c.ms(1_200));
    assert_eq!(vr.timer(Timer::MasterDown), Some(skew_at));
}

#[test]
fn malformed_or_foreign_adverts_are_dropped() {
    let c = Clock::new();
    let mut vr = v3_backup(c);
    let cases = [
        (
            advert(HIGHER_V4, 200, v2(1)),
            DropReason::VersionMismatch {
                ours: Version::V3,
                theirs: Version::V2,
            },
        ),
        (
            advert(HIGHER_V4, 200, v3(0)),
            DropReason::InvalidInterval(v3(0)),
        ),
        (
            advert(HIGHER_V4, 200, v3(4096)),
            DropReason::InvalidInterval(v3(4096)),
        ),
        (
            advert(HIGHER_V6, 200, v3(100)),
            DropReason::AddressFamilyMismatch,
        ),
        (advert(OURS_V4, 200, v3(100)), DropReason::OwnAddress),
    ];
    for (event, reason) in cases {
        assert_eq!(vr.handle(event, c.s(1)), vec![Action::Dropped(reason)]);
    }
    assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(DOWN)));
}

#[test]
fn priority_zero_sets_the_timer_to_skew_time_and_then_takes_over() {
    // §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer to
    // Skew_Time". v3 priority 100 at 100 cs: 609.375 ms; v2 priority 200: 56/256 s = 218.75 ms.
    for (interval, priority, skew) in [(v3(100), 100, 609_375), (v2(1), 200, 218_750)] {
        let c = Clock::new();
        let down = 3_000_000 + skew;
        let mut vr = started_backup(config(interval, priority), c.s(0), us(down));
        vr.handle(advert(HIGHER_V4, 250, interval), c.s(1));
        assert_eq!(
            vr.handle(advert(HIGHER_V4, 0, interval), c.s(2)),
            vec![arm(Timer::MasterDown, c.us(2_000_000 + skew))]
        );
        assert_eq!(vr.current_master(), None);
        // The kernel saw the priority-0 advert itself just before: it must not postpone anything.
        let at = c.us(2_000_000 + skew);
        assert_eq!(
            vr.handle(down_fired(Some(c.ms(1_999))), at),
            becomes_master(
                State::Backup,
                Reason::PriorityZeroReceived { source: HIGHER_V4 },
                priority,
                at,
                interval.as_duration(),
            )
        );
    }
}

#[test]
fn priority_zero_skew_uses_the_adopted_interval() {
    // After adopting 50 cs: 156 × 0.5 s / 256 = 304.6875 ms.
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(50)), c.s(1));
    assert_eq!(
        vr.handle(advert(HIGHER_V4, 0, v3(50)), c.s(2)),
        vec![arm(Timer::MasterDown, c.ns(2_304_687_500))]
    );
}

#[test]
fn a_new_master_after_priority_zero_is_honoured_again() {
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.s(1));
    vr.handle(advert(HIGHER_V4, 0, v3(100)), c.s(2));
    // A faster Backup (higher priority, smaller skew) took over and is reported as a new Master.
    assert_eq!(
        vr.handle(advert(LOWER_V4, 150, v3(100)), c.ms(2_300)),
        vec![arm(Timer::MasterDown, c.us(2_300_000 + DOWN))]
    );
    assert_eq!(vr.current_master(), Some((LOWER_V4, 150)));
}

#[test]
fn a_recent_kernel_seen_advert_rearms_instead_of_taking_over() {
    // The Master's repeats are not reported; the timer fires at the deadline set by the last
    // reported advert, and the kernel says it saw one 109.375 ms ago.
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.ms(500));
    let fire = c.us(500_000 + DOWN);
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(4_000))), fire),
        vec![arm(Timer::MasterDown, c.us(4_000_000 + DOWN))]
    );
    assert_eq!(vr.state(), State::Backup);
    // One nanosecond of margin is enough to re-arm ...
    let fire = c.us(4_000_000 + DOWN);
    assert_eq!(
        vr.handle(down_fired(Some(c.ns(4_000_000_001))), fire),
        vec![arm(Timer::MasterDown, c.ns(4_000_000_001 + DOWN * 1_000))]
    );
    // ... while an advert exactly Master_Down_Interval old means the Master is down.
    let fire = c.ns(4_000_000_001 + DOWN * 1_000);
    assert_eq!(
        vr.handle(down_fired(Some(c.ns(4_000_000_001))), fire),
        becomes_master(
            State::Backup,
            Reason::MasterDown {
                silent_for: us(DOWN)
            },
            100,
            fire,
            Duration::from_secs(1),
        )
    );
}

#[test]
fn a_late_wake_up_delays_but_never_fakes_a_takeover() {
    // The daemon was starved and sees the timer 6 s late; the Master kept advertising.
    let c = Clock::new();
    let mut vr = v3_backup(c);
    vr.handle(advert(HIGHER_V4, 200, v3(100)), c.ms(500));
    assert_eq!(
        vr.handle(down_fired(Some(c.ms(9_500))), c.s(10)),
        vec![arm(Timer::MasterDown, c.us(9_500_000 + DOWN))]
    );
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn adverts_seen_before_any_was_reported_postpone_the_takeover() {
    // Nothing reported since startup: whatever the kernel saw counts (never a false takeover).
    let c = Clock::new();
    let mut vr = v3_backup(c);
    assert_eq!(
        vr.handle(down_fired(Some(c.s(3))), c.us(DOWN)),
        vec![arm(Timer::MasterDown, c.us(3_000_000 + DOWN))]
    );
    // Then silence: the Master has been gone since 3 s.
    let fire = c.us(3_000_000 + DOWN);
    assert_eq!(
        vr.handle(down_fired(Some(c.s(3))), fire),
        becomes_master(
            State::Backup,
            Reason::MasterDown {
                silent_for: us(DOWN)
            },
            100,
            fire,
            Duration::from_secs(1),
        )
    );
}

#[test]
fn priority_change_in_backup_recomputes_skew_for_the_next_reset() {
    // Both versions' skew depends on the priority; the running timer is left alone.
    for interval in [v2(1), v3(100)] {
        let c = Clock::new();
        let mut vr = started_backup(config(interval, 100), c.s(0), us(DOWN));
        vr.handle(advert(HIGHER_V4, 250, interval), c.s(1));
        assert_eq!(vr.handle(Event::PriorityChanged(200), c.s(2)), vec![]);
        assert_eq!(vr.priority(), 200);
        assert_eq!(vr.skew_time(), us(218_750));
        assert_eq!(vr.timer(Timer::MasterDown), Some(c.us(1_000_000 + DOWN)));
        assert_eq!(
            vr.handle(advert(HIGHER_V4, 250, interval), c.s(3)),
            vec![arm(Timer::MasterDown, c.us(6_218_750))]
        );
    }
}

#[test]
fn adverts_seen_postpone_the_takeover_only_where_the_machine_would_honour_them() {
    // What the daemon may watch without waking the machine (the timer firing still decides).
    let c = Clock::new();
    let down = Some(us(DOWN));
    let mut vr = v3_backup(c);
    assert_eq!(vr.postponed_by_adverts_seen(), down, "no Master heard yet");
    vr.handle(advert(HIGHER_V4, 200, v3(50)), c.ms(500));
    // A higher Master, whose interval the Backup adopted: postponed by the new interval.
    assert_eq!(vr.postponed_by_adverts_seen(), Some(ns(1_804_687_500)));
    // After priority 0 the Skew_Time runs out whatever the kernel saw (§6.4.2).
    vr.handle(advert(HIGHER_V4, 0, v3(50)), c.s(1));
    assert_eq!(vr.postponed_by_adverts_seen(), None);
    // A lower-priority Master we preempt: its adverts do not hold the timer back.
    let mut vr = v3_backup(c);
    vr.handle(advert(LOWER_V4, 50, v3(100)), c.ms(500));
    assert_eq!(vr.postponed_by_adverts_seen(), None);
    // Nor is anything watched outside Backup.
    let vr = master_after_silence(config(v3(100), 100), c.s(0), us(DOWN));
    assert_eq!(vr.postponed_by_adverts_seen(), None);
}
