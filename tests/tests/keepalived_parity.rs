//! Parity with keepalived 2.2.7: an xvrrpd pair and a keepalived pair given the same
//! keepalived.conf files make the same master choices. Each scenario runs twice, in separate
//! labs one after the other (never both implementations on one wire): once with two
//! keepalived, once with two xvrrpd. After every step the routers holding the VIP, once that
//! has been stable for a while, are recorded; the two records must be equal, and equal to what
//! RFC 5798 says. Root only.
use std::{
    fs,
    time::{Duration, Instant},
};

use tests::lab::Lab;

const VIP: &str = "192.0.2.100";
/// The holders must stay the same this long to count as the outcome of a step: well over the
/// slowest reaction (a check every second, then an advert every 200 ms).
const STABLE: Duration = Duration::from_secs(3);
/// A step that has not settled by then is recorded as it stands.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Implementation {
    Keepalived,
    Xvrrpd,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Start(usize),
    /// SIGTERM to the router's daemon.
    Stop(usize),
    /// The router's check script starts failing (its file is removed) / passing again.
    FailCheck(usize),
    PassCheck(usize),
    /// The router's tracked interface eth1 goes down / up.
    LinkDown(usize),
    LinkUp(usize),
    /// The routers stop hearing each other (bridge port isolation) / hear each other again.
    Isolate,
    Rejoin,
}

#[derive(Clone, Copy, Debug, Default)]
struct Options {
    nopreempt: bool,
    /// `vrrp_script chk { script "test -f …" interval 1 weight 2 }` tracked by both.
    check: bool,
    /// `track_interface { eth1 }` on both (weight 0: Fault while down).
    track_eth1: bool,
}

/// The same keepalived.conf for both implementations; `dir` holds the check files.
fn keepalived_conf(router: usize, priority: u8, options: Options, dir: &str) -> String {
    let script = if options.check {
        format!(
            "vrrp_script chk {{\n    script \"/usr/bin/test -f {dir}/ok-r{router}\"\n    \
             interval 1\n    weight 2\n}}\n"
        )
    } else {
        String::new()
    };
    let mut extra = String::new();
    if options.nopreempt {
        extra.push_str("    nopreempt\n");
    }
    if options.track_eth1 {
        extra.push_str("    track_interface {\n        eth1\n    }\n");
    }
    if options.check {
        extra.push_str("    track_script {\n        chk\n    }\n");
    }
    format!(
        "global_defs {{\n    router_id r{router}\n    vrrp_version 3\n}}\n{script}\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n\
         \x20   priority {priority}\n    advert_int 0.2\n{extra}\
         \x20   virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// The routers holding the VIP once that has not changed for [`STABLE`].
fn settled_holders(lab: &Lab) -> Vec<usize> {
    let holders = || -> Vec<usize> { (0..2).filter(|&i| lab.holds(i, VIP)).collect() };
    let deadline = Instant::now() + LIMIT;
    let mut current = holders();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = holders();
        if now != current {
            current = now;
            since = Instant::now();
        } else if since.elapsed() >= STABLE {
            break;
        }
    }
    current
}

/// Runs `steps` with `implementation` on both routers; the settled holders after each step.
fn run(
    tag: &str,
    implementation: Implementation,
    priorities: [u8; 2],
    options: Options,
    steps: &[Step],
) -> (Vec<Vec<usize>>, String) {
    let short = match implementation {
        Implementation::Keepalived => "ka",
        Implementation::Xvrrpd => "xv",
    };
    let mut lab = Lab::new(&format!("par-{tag}-{short}"), 2);
    let dir = lab.dir().display().to_string();
    for router in 0..2 {
        fs::write(lab.dir().join(format!("ok-r{router}")), "").unwrap();
        if options.track_eth1 {
            let netns = &lab.routers[router].netns;
            netns.ip(&[
                "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
            ]);
            netns.ip(&["link", "set", "eth1", "up"]);
            netns.ip(&["link", "set", "eth1p", "up"]);
        }
    }
    let mut outcomes = Vec::new();
    for step in steps {
        match *step {
            Step::Start(router) => {
                let conf = keepalived_conf(router, priorities[router], options, &dir);
                match implementation {
                    Implementation::Keepalived => lab.start_keepalived(router, &conf),
                    Implementation::Xvrrpd => {
                        lab.start_file(router, &format!("r{router}-keepalived.conf"), &conf)
                    }
                }
            }
            Step::Stop(router) => {
                lab.signal(router, "TERM");
                assert!(
                    lab.wait_exit(router, Duration::from_secs(10)).is_some(),
                    "{implementation:?} r{router} did not stop\n{}",
                    lab.logs()
                );
            }
            Step::FailCheck(router) => {
                fs::remove_file(lab.dir().join(format!("ok-r{router}"))).unwrap()
            }
            Step::PassCheck(router) => {
                fs::write(lab.dir().join(format!("ok-r{router}")), "").unwrap()
            }
            Step::LinkDown(router) => {
                lab.routers[router]
                    .netns
                    .ip(&["link", "set", "eth1", "down"]);
            }
            Step::LinkUp(router) => {
                lab.routers[router].netns.ip(&["link", "set", "eth1", "up"]);
            }
            Step::Isolate => (0..2).for_each(|router| lab.isolate(router, true)),
            Step::Rejoin => (0..2).for_each(|router| lab.isolate(router, false)),
        }
        outcomes.push(settled_holders(&lab));
    }
    let logs = lab.logs();
    (outcomes, logs)
}

/// Runs the scenario with keepalived, then with xvrrpd; both must give `expected` (the
/// routers holding the VIP after each step).
fn parity(tag: &str, priorities: [u8; 2], options: Options, steps: &[(Step, &[usize])]) {
    tests::require_root();
    let actions: Vec<Step> = steps.iter().map(|(step, _)| *step).collect();
    let expected: Vec<Vec<usize>> = steps.iter().map(|(_, want)| want.to_vec()).collect();
    let (keepalived, keepalived_logs) = run(
        tag,
        Implementation::Keepalived,
        priorities,
        options,
        &actions,
    );
    let (xvrrpd, xvrrpd_logs) = run(tag, Implementation::Xvrrpd, priorities, options, &actions);
    assert_eq!(
        xvrrpd, keepalived,
        "xvrrpd chose differently from keepalived; steps {actions:?}\n\
         keepalived logs:\n{keepalived_logs}\nxvrrpd logs:\n{xvrrpd_logs}"
    );
    assert_eq!(
        keepalived, expected,
        "both agree, but not with RFC 5798; steps {actions:?}\n{keepalived_logs}"
    );
}

#[test]
fn the_higher_priority_is_master() {
    parity(
        "prio",
        [101, 100],
        Options::default(),
        &[(Step::Start(0), &[0]), (Step::Start(1), &[0])],
    );
}

#[test]
fn with_equal_priorities_the_higher_primary_address_wins() {
    // Started one after the other, the first stays master (an equal priority does not
    // preempt); only two masters that hear each other compare addresses: 192.0.2.12 wins.
    parity(
        "equal",
        [100, 100],
        Options::default(),
        &[
            (Step::Start(0), &[0]),
            (Step::Start(1), &[0]),
            (Step::Isolate, &[0, 1]),
            (Step::Rejoin, &[1]),
        ],
    );
}

#[test]
fn nopreempt_keeps_the_master_when_a_higher_priority_starts_late() {
    parity(
        "nopre",
        [101, 100],
        Options {
            nopreempt: true,
            ..Options::default()
        },
        &[
            (Step::Start(1), &[1]),
            (Step::Start(0), &[1]),
            (Step::Stop(1), &[0]),
        ],
    );
}

#[test]
fn a_failing_weight_2_check_on_the_master_hands_over() {
    parity(
        "check",
        [101, 100],
        Options {
            check: true,
            ..Options::default()
        },
        &[
            (Step::Start(0), &[0]),
            (Step::Start(1), &[0]),
            (Step::FailCheck(0), &[1]),
            (Step::PassCheck(0), &[0]),
        ],
    );
}

#[test]
fn a_tracked_interface_down_on_the_master_hands_over() {
    parity(
        "track",
        [101, 100],
        Options {
            track_eth1: true,
            ..Options::default()
        },
        &[
            (Step::Start(0), &[0]),
            (Step::Start(1), &[0]),
            (Step::LinkDown(0), &[1]),
            (Step::LinkUp(0), &[0]),
        ],
    );
}

#[test]
fn a_stopped_master_hands_over() {
    parity(
        "stop",
        [101, 100],
        Options::default(),
        &[
            (Step::Start(0), &[0]),
            (Step::Start(1), &[0]),
            (Step::Stop(0), &[1]),
        ],
    );
}
