//! Backups' Master_Down_Timers in the kernel: the watch program arms a slot's `bpf_timer`, the
//! timer moves its deadline on by the adverts the XDP program records, and only a silent
//! Master is reported (a `MASTER_DOWN_DUE` event). Real time, real kernel timers; every wait is
//! bounded and no assertion depends on how fast the machine is. Root only; fails loudly
//! otherwise.
use std::time::{Duration, Instant};

use aya::programs::{TestRun, TestRunOptions};
use tests::{frames::*, xdp::*};
use vrrp_common::{
    Counter, FAMILY_V4,
    maps::{AdvertEvent, InstanceKey, MasterDownRequest, event_reasons},
};
use vrrp_user::{dataplane::monotonic_now_ns, wire::ChecksumMode};

const MS: Duration = Duration::from_millis(1);

/// The first event within `bound`, polled every millisecond.
fn next_event(lab: &mut XdpLab, bound: Duration) -> Option<AdvertEvent> {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if let Some(event) = lab.events().into_iter().next() {
            return Some(event);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

fn counter(lab: &XdpLab, counter: Counter) -> u64 {
    lab.dataplane.counters().expect("counters").get(counter)
}

/// Runs a Master's first advert, whose (new master) event is not the subject here.
fn first_advert(lab: &mut XdpLab, advert: &[u8]) {
    lab.run(advert);
    let events = lab.events();
    assert!(
        events
            .iter()
            .all(|e| e.reasons & event_reasons::NEW_MASTER != 0),
        "{events:?}"
    );
}

/// Watches the instance's Master_Down_Timer in the kernel for `deadline` from now; the
/// deadline, in kernel nanoseconds.
fn arm(lab: &mut XdpLab, key: InstanceKey, deadline: Duration, postpone: Option<Duration>) -> u64 {
    let deadline = monotonic_now_ns() + deadline.as_nanos() as u64;
    let watched = lab.dataplane.watch_master_down(key, deadline, postpone);
    assert!(watched.expect("armed"), "this kernel runs bpf_timer");
    deadline
}

fn backup_lab() -> (XdpLab, InstanceKey) {
    let key = instance_key(0, 51, FAMILY_V4);
    let mut lab = XdpLab::new();
    lab.instance(key, backup_config(3));
    (lab, key)
}

#[test]
fn a_silent_master_is_reported_once_its_deadline_passes() {
    let (mut lab, key) = backup_lab();
    let deadline = arm(&mut lab, key, 30 * MS, None);
    let event = next_event(&mut lab, Duration::from_secs(5)).expect("a MASTER_DOWN_DUE event");
    assert_eq!(event.reasons, event_reasons::MASTER_DOWN_DUE);
    assert_eq!(event.instance, key);
    assert!(event.ktime_ns >= deadline, "reported before its deadline");
    assert_eq!(counter(&lab, Counter::MasterDownDue), 1);
    // Reported once: the timer stopped.
    assert!(next_event(&mut lab, Duration::from_millis(100)).is_none());
}

#[test]
fn adverts_seen_postpone_the_deadline_until_they_stop() {
    let (mut lab, key) = backup_lab();
    let advert = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    // A generous postponement: only a stall of the test itself longer than it could make the
    // Master look silent.
    let postpone = Duration::from_millis(200);
    first_advert(&mut lab, &advert);
    arm(&mut lab, key, 30 * MS, Some(postpone));
    // A Master advertising every 10 ms for 0.6 s (60 adverts, bounded) is never reported.
    for _ in 0..60 {
        lab.run(&advert);
        std::thread::sleep(Duration::from_millis(10));
        assert!(
            lab.events().is_empty(),
            "reported while the Master advertises"
        );
    }
    let last_advert = lab
        .dataplane
        .observation(key)
        .unwrap()
        .unwrap()
        .last_advert_ns;
    assert!(
        counter(&lab, Counter::MasterDownRearmed) >= 1,
        "the timer slept again"
    );
    let event = next_event(&mut lab, Duration::from_secs(5)).expect("reported once silent");
    assert_eq!(event.reasons, event_reasons::MASTER_DOWN_DUE);
    assert!(
        event.ktime_ns >= last_advert + postpone.as_nanos() as u64,
        "reported before Master_Down_Interval had passed since the last advert"
    );
}

#[test]
fn without_postponement_adverts_do_not_delay_the_report() {
    // A resigned Master (priority 0) or one we preempt: its adverts do not hold the Backup.
    let (mut lab, key) = backup_lab();
    let advert = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    first_advert(&mut lab, &advert);
    let deadline = arm(&mut lab, key, 50 * MS, None);
    let mut event = None;
    for _ in 0..500 {
        lab.run(&advert);
        if let Some(first) = lab.events().into_iter().next() {
            event = Some(first);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let event = event.expect("reported while adverts kept coming");
    assert_eq!(event.reasons, event_reasons::MASTER_DOWN_DUE);
    assert!(event.ktime_ns >= deadline);
    assert_eq!(counter(&lab, Counter::MasterDownRearmed), 0);
}

#[test]
fn adverts_of_an_older_generation_do_not_postpone() {
    // Entering Backup forgets the Master: what was seen before must not hold the timer.
    let (mut lab, key) = backup_lab();
    first_advert(&mut lab, &frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader));
    lab.dataplane.forget_observation(key).unwrap();
    arm(&mut lab, key, 30 * MS, Some(Duration::from_secs(10)));
    let event = next_event(&mut lab, Duration::from_secs(5)).expect("reported");
    assert_eq!(event.reasons, event_reasons::MASTER_DOWN_DUE);
    assert_eq!(counter(&lab, Counter::MasterDownRearmed), 0);
}

#[test]
fn an_unwatched_timer_stays_silent_and_can_be_watched_again() {
    let (mut lab, key) = backup_lab();
    arm(&mut lab, key, 30 * MS, None);
    lab.dataplane.unwatch_master_down(key).unwrap();
    assert!(next_event(&mut lab, Duration::from_millis(150)).is_none());
    // Re-armed (the timer was initialised before: the program takes it as it is).
    arm(&mut lab, key, 10 * MS, None);
    assert!(next_event(&mut lab, Duration::from_secs(5)).is_some());
    // Removing the instance stops its timer too.
    arm(&mut lab, key, 30 * MS, None);
    lab.dataplane.remove_instance(key).unwrap();
    assert!(next_event(&mut lab, Duration::from_millis(150)).is_none());
}

#[test]
fn requests_the_program_cannot_serve_are_refused() {
    let (mut lab, _) = backup_lab();
    let unknown = instance_key(0, 52, FAMILY_V4);
    let err = (lab.dataplane)
        .watch_master_down(unknown, monotonic_now_ns(), None)
        .unwrap_err();
    assert!(err.to_string().contains("no observation slot"), "{err:#}");
    let beyond = MasterDownRequest {
        slot: vrrp_common::maps::MAX_INSTANCES,
        ..MasterDownRequest::default()
    };
    // SAFETY: plain old data with explicit padding.
    let beyond = unsafe {
        std::slice::from_raw_parts(
            (&beyond as *const MasterDownRequest).cast::<u8>(),
            size_of::<MasterDownRequest>(),
        )
    };
    let short = [0u8; 20];
    for (what, frame) in [("slot beyond the array", beyond), ("short request", &short)] {
        let result = lab
            .dataplane
            .master_down_program_mut()
            .unwrap()
            .test_run(TestRunOptions {
                data_in: Some(frame),
                ..Default::default()
            })
            .expect("BPF_PROG_TEST_RUN");
        assert_eq!(result.return_value, XDP_DROP, "{what}");
    }
}
