//! Unit tests of the pure part: the [`Tracker`]'s weight and fault rules.
use std::{path::PathBuf, time::Duration};

use super::*;
use crate::config::{CheckScript, Config, InstanceConfig, TrackFile, TrackInterface, TrackScript};

use CheckStatus::{Failing, Passing, Pending};

fn instance() -> InstanceConfig {
    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 1\n\
                virtual_ips = [\"192.0.2.1\"]\n";
    let loaded = Config::from_toml_str(text, "t.toml").unwrap();
    loaded.config.instances[0].clone()
}

fn script(name: &str, weight: i32) -> CheckScript {
    CheckScript {
        name: name.into(),
        command: vec!["/bin/true".into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        weight,
        rise: 1,
        fall: 1,
        user: None,
        group: None,
        line: 1,
    }
}

fn tracking_scripts(scripts: &[(&str, i32, Option<i32>)]) -> Tracker {
    let mut config = instance();
    config.track_scripts = scripts
        .iter()
        .map(|(name, _, over)| TrackScript {
            script: (*name).into(),
            weight: *over,
        })
        .collect();
    let definitions: Vec<_> = scripts.iter().map(|(n, w, _)| script(n, *w)).collect();
    Tracker::new(&config, &definitions)
}

fn tracking_interfaces(interfaces: &[(&str, i32)]) -> Tracker {
    let mut config = instance();
    config.track_interfaces = interfaces
        .iter()
        .map(|(name, weight)| TrackInterface {
            interface: (*name).into(),
            weight: *weight,
        })
        .collect();
    Tracker::new(&config, &[])
}

fn tracking_files(files: &[(&str, i32)]) -> Tracker {
    let mut config = instance();
    config.track_files = files
        .iter()
        .map(|(name, weight)| TrackFile {
            name: (*name).into(),
            path: PathBuf::from(format!("/run/{name}")),
            weight: *weight,
        })
        .collect();
    Tracker::new(&config, &[])
}

fn healthy(delta: i32) -> Health {
    Health {
        fault: None,
        priority_delta: delta,
    }
}

fn faulty(fault: Fault, delta: i32) -> Health {
    Health {
        fault: Some(fault),
        priority_delta: delta,
    }
}

fn failed(script: &str) -> Fault {
    Fault::CheckFailed {
        script: script.into(),
    }
}

#[test]
fn nothing_tracked_is_healthy_and_never_changes() {
    let mut tracker = Tracker::new(&instance(), &[]);
    assert!(tracker.is_empty());
    assert_eq!(tracker.health(), &healthy(0));
    assert_eq!(tracker.script_status("x", Failing), None);
    assert_eq!(tracker.interface("eth1", false), None);
    assert_eq!(tracker.file("f", 100), None);
}

#[test]
fn weight_zero_script_faults_until_it_passes_and_while_it_fails() {
    let mut tracker = tracking_scripts(&[("chk", 0, None)]);
    assert_eq!(
        tracker.health(),
        &faulty(
            Fault::CheckPending {
                script: "chk".into()
            },
            0
        )
    );
    assert_eq!(tracker.script_status("chk", Passing), Some(healthy(0)));
    assert_eq!(
        tracker.script_status("chk", Failing),
        Some(faulty(failed("chk"), 0))
    );
    assert_eq!(tracker.script_status("chk", Failing), None);
    assert_eq!(tracker.script_status("chk", Passing), Some(healthy(0)));
}

#[test]
fn positive_script_weight_is_added_while_passing() {
    let mut tracker = tracking_scripts(&[("chk", 2, None)]);
    assert_eq!(
        tracker.health(),
        &healthy(0),
        "nothing before the first result"
    );
    assert_eq!(tracker.script_status("chk", Passing), Some(healthy(2)));
    assert_eq!(tracker.script_status("chk", Failing), Some(healthy(0)));
    assert_eq!(tracker.script_status("chk", Failing), None);
}

#[test]
fn first_result_failing_with_positive_weight_changes_nothing() {
    let mut tracker = tracking_scripts(&[("chk", 10, None)]);
    assert_eq!(tracker.script_status("chk", Failing), None);
    assert_eq!(tracker.health(), &healthy(0));
}

#[test]
fn negative_script_weight_is_added_while_failing() {
    let mut tracker = tracking_scripts(&[("chk", -20, None)]);
    assert_eq!(tracker.health(), &healthy(0));
    assert_eq!(tracker.script_status("chk", Passing), None);
    assert_eq!(tracker.script_status("chk", Failing), Some(healthy(-20)));
    assert_eq!(tracker.script_status("chk", Passing), Some(healthy(0)));
}

#[test]
fn instance_weight_overrides_the_scripts() {
    // Script weight 0 (would fault) overridden with -5; script weight 3 overridden with 0.
    let mut tracker = tracking_scripts(&[("a", 0, Some(-5)), ("b", 3, Some(0))]);
    assert_eq!(
        tracker.health(),
        &faulty(Fault::CheckPending { script: "b".into() }, 0)
    );
    assert_eq!(tracker.script_status("b", Passing), Some(healthy(0)));
    assert_eq!(tracker.script_status("a", Failing), Some(healthy(-5)));
    assert_eq!(
        tracker.script_status("b", Failing),
        Some(faulty(failed("b"), -5))
    );
}

#[test]
fn weights_add_up_and_fault_keeps_counting_them() {
    let mut tracker = tracking_scripts(&[("up", 30, None), ("down", -7, None), ("gate", 0, None)]);
    tracker.script_status("gate", Passing);
    tracker.script_status("up", Passing);
    assert_eq!(tracker.script_status("down", Failing), Some(healthy(23)));
    assert_eq!(
        tracker.script_status("gate", Failing),
        Some(faulty(failed("gate"), 23))
    );
}

#[test]
fn first_fault_in_configuration_order_is_the_reason() {
    let mut tracker = tracking_scripts(&[("one", 0, None), ("two", 0, None)]);
    tracker.script_status("one", Passing);
    tracker.script_status("two", Failing);
    assert_eq!(tracker.health().fault, Some(failed("two")));
    assert_eq!(
        tracker.script_status("one", Failing),
        Some(faulty(failed("one"), 0))
    );
    assert_eq!(
        tracker.script_status("one", Passing),
        Some(faulty(failed("two"), 0))
    );
}

#[test]
fn going_back_to_pending_faults_again() {
    let mut tracker = tracking_scripts(&[("chk", 0, None)]);
    tracker.script_status("chk", Passing);
    assert_eq!(
        tracker.script_status("chk", Pending),
        Some(faulty(
            Fault::CheckPending {
                script: "chk".into()
            },
            0
        ))
    );
}

#[test]
fn unknown_script_names_are_ignored() {
    let mut config = instance();
    config.track_scripts = vec![TrackScript {
        script: "undefined".into(),
        weight: None,
    }];
    let mut tracker = Tracker::new(&config, &[script("other", 0)]);
    assert!(tracker.is_empty());
    assert_eq!(tracker.script_status("other", Failing), None);
    assert_eq!(tracker.health(), &healthy(0));
}

#[test]
fn weight_zero_interface_faults_while_down_and_unreported_counts_as_down() {
    let mut tracker = tracking_interfaces(&[("eth1", 0)]);
    let down = faulty(
        Fault::InterfaceDown {
            interface: "eth1".into(),
        },
        0,
    );
    assert_eq!(tracker.health(), &down);
    assert_eq!(tracker.interface("eth1", true), Some(healthy(0)));
    assert_eq!(tracker.interface("eth1", true), None);
    assert_eq!(tracker.interface("eth1", false), Some(down));
    assert_eq!(tracker.interface("eth2", true), None, "not tracked");
}

#[test]
fn interface_weights_follow_keepalived() {
    let mut tracker = tracking_interfaces(&[("up10", 10), ("down-5", -5)]);
    // Both unreported: down. -5 applies, +10 does not.
    assert_eq!(tracker.health(), &healthy(-5));
    assert_eq!(tracker.interface("up10", true), Some(healthy(5)));
    assert_eq!(tracker.interface("down-5", true), Some(healthy(10)));
    assert_eq!(tracker.interface("up10", false), Some(healthy(0)));
}

#[test]
fn file_value_times_weight_is_added() {
    let mut tracker = tracking_files(&[("f", 3)]);
    assert_eq!(tracker.health(), &healthy(0), "unreported counts as 0");
    assert_eq!(tracker.file("f", 5), Some(healthy(15)));
    assert_eq!(tracker.file("f", -4), Some(healthy(-12)));
    assert_eq!(tracker.file("f", 0), Some(healthy(0)));
}

#[test]
fn file_contribution_is_capped_at_253_and_faults_at_minus_254() {
    let mut tracker = tracking_files(&[("f", 2)]);
    assert_eq!(tracker.file("f", 200), Some(healthy(253)));
    assert_eq!(tracker.file("f", -126), Some(healthy(-252)));
    let fault = |value| {
        faulty(
            Fault::FileValue {
                file: "f".into(),
                value,
            },
            0,
        )
    };
    assert_eq!(tracker.file("f", -127), Some(fault(-127)));
    assert_eq!(tracker.file("f", -254), Some(fault(-254)));
    assert_eq!(tracker.file("f", 1), Some(healthy(2)));
}

#[test]
fn negative_file_weight_inverts_the_value() {
    let mut tracker = tracking_files(&[("f", -1)]);
    assert_eq!(tracker.file("f", 10), Some(healthy(-10)));
    assert_eq!(tracker.file("f", -10), Some(healthy(10)));
    assert_eq!(
        tracker.file("f", 254),
        Some(faulty(
            Fault::FileValue {
                file: "f".into(),
                value: 254
            },
            0
        ))
    );
}

#[test]
fn weight_zero_file_faults_on_any_value_but_zero() {
    let mut tracker = tracking_files(&[("f", 0)]);
    assert_eq!(tracker.health(), &healthy(0));
    for value in [1, -1, 254] {
        assert_eq!(
            tracker.file("f", value),
            Some(faulty(
                Fault::FileValue {
                    file: "f".into(),
                    value
                },
                0
            ))
        );
        assert_eq!(tracker.file("f", 0), Some(healthy(0)));
    }
}

#[test]
fn file_values_beyond_254_are_clamped_first() {
    let mut tracker = tracking_files(&[("f", 1)]);
    assert_eq!(tracker.file("f", 10_000), Some(healthy(253)));
    assert_eq!(
        tracker.file("f", -10_000).map(|h| h.fault.is_some()),
        Some(true)
    );
}

#[test]
fn scripts_interfaces_and_files_combine() {
    let mut config = instance();
    config.track_scripts = vec![TrackScript {
        script: "chk".into(),
        weight: None,
    }];
    config.track_interfaces = vec![TrackInterface {
        interface: "eth1".into(),
        weight: -10,
    }];
    config.track_files = vec![TrackFile {
        name: "f".into(),
        path: "/run/f".into(),
        weight: 1,
    }];
    let mut tracker = Tracker::new(&config, &[script("chk", 2)]);
    assert_eq!(tracker.health(), &healthy(-10));
    let updates = [
        Observation::Interface {
            name: "eth1".into(),
            up: true,
        },
        Observation::Script {
            name: "chk".into(),
            status: Passing,
        },
        Observation::File {
            name: "f".into(),
            value: 7,
        },
    ];
    let deltas: Vec<_> = updates
        .iter()
        .map(|o| tracker.observe(o).map(|h| h.priority_delta))
        .collect();
    assert_eq!(deltas, [Some(0), Some(2), Some(9)]);
}

#[test]
fn effective_priority_is_clamped_and_the_owner_untouched() {
    let cases = [
        (100, 2, 102),
        (100, -99, 1),
        (100, -200, 1),
        (100, 154, 254),
        (100, 500, 254),
        (254, 1, 254),
        (1, 0, 1),
        (255, -100, 255),
        (255, 10, 255),
    ];
    for (configured, delta, expected) in cases {
        assert_eq!(
            healthy(delta).priority(configured),
            expected,
            "{configured} {delta:+}"
        );
    }
}

#[test]
fn fault_reasons_read_well() {
    let text = [
        Fault::CheckPending { script: "a".into() }.to_string(),
        failed("b").to_string(),
        Fault::InterfaceDown {
            interface: "eth1".into(),
        }
        .to_string(),
        Fault::FileValue {
            file: "f".into(),
            value: 3,
        }
        .to_string(),
    ];
    assert_eq!(
        text,
        [
            "check script a has not run yet",
            "check script b fails",
            "tracked interface eth1 is down",
            "track file f holds 3",
        ]
    );
}
