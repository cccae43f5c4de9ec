//! keepalived.conf files run by xvrrpd in a lab: a pair sharing three VIPs whose master tracks
//! a check script with weight 2 (priorities 101 / 100), and notify scripts whose calls, order
//! and arguments are recorded. Root only.
use std::{fs, path::Path, time::Duration};

use tests::lab::Lab;

const VIPS: [&str; 3] = ["192.0.2.100", "192.0.2.101", "192.0.2.102"];
const SETTLE: Duration = Duration::from_secs(8);

/// The HAProxy-style pair of published setups, with the check made local to the router (a file
/// in place of `killall -0 haproxy`, which would see every namespace's processes).
fn keepalived_conf(router: usize, priority: u8) -> String {
    format!(
        r#"! Configuration File for keepalived
global_defs {{
   router_id LB{router}
   notification_email {{
     ops@example.com
   }}
}}

vrrp_script chk_haproxy {{
    script "/usr/bin/test -f @DIR@/haproxy-r{router}"
    interval 0.2
    weight 2
}}

vrrp_instance VI_1 {{
    interface eth0
    state {state}
    virtual_router_id 51
    priority {priority}
    version 3
    advert_int 0.1
    virtual_ipaddress {{
        192.0.2.100/24
        192.0.2.101/24
        192.0.2.102/24
    }}
    track_script {{
        chk_haproxy
    }}
    notify_master "@DIR@/record.sh r{router} master"
    notify_backup "@DIR@/record.sh r{router} backup"
    notify_fault "@DIR@/record.sh r{router} fault"
    notify_stop "@DIR@/record.sh r{router} stop"
    notify "@DIR@/record.sh r{router} any"
}}
"#,
        state = if router == 0 { "MASTER" } else { "BACKUP" },
    )
}

/// The lines the notify scripts of `router` recorded so far.
fn calls(dir: &Path, router: usize) -> Vec<String> {
    fs::read_to_string(dir.join(format!("calls-r{router}")))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn holds_all(lab: &Lab, index: usize) -> bool {
    VIPS.iter().all(|vip| lab.holder(vip) == Some(index))
}

#[test]
fn a_failing_check_moves_all_vips_and_notify_scripts_follow() {
    tests::require_root();
    let mut lab = Lab::new("kaconf", 2);
    let dir = lab.dir().to_path_buf();
    lab.write_script(
        "record.sh",
        "router=$1; shift\necho \"$*\" >> \"$(dirname \"$0\")/calls-$router\"\n",
    );
    for router in 0..2 {
        fs::write(dir.join(format!("haproxy-r{router}")), "").unwrap();
    }
    lab.start_file(0, "r0-keepalived.conf", &keepalived_conf(0, 101));
    assert!(
        tests::eventually(SETTLE, || holds_all(&lab, 0)),
        "{}",
        lab.logs()
    );
    lab.start_file(1, "r1-keepalived.conf", &keepalived_conf(1, 100));
    assert!(lab.wait_for_state(1, "backup", SETTLE), "{}", lab.logs());
    // Both checks pass: 103 against 102.
    assert!(
        tests::eventually(
            SETTLE,
            || lab.status(0)["instances"][0]["effective_priority"] == 103
        ),
        "{}",
        lab.status(0)
    );

    // "HAProxy" stops on the master: 101 < 102, the backup preempts and takes all three VIPs.
    fs::remove_file(dir.join("haproxy-r0")).unwrap();
    assert!(
        tests::eventually(SETTLE, || holds_all(&lab, 1)),
        "{}",
        lab.logs()
    );
    assert_eq!(lab.status(0)["instances"][0]["effective_priority"], 101);
    assert_eq!(lab.status(0)["instances"][0]["state"], "backup");

    // It starts again: 103 > 102, the master takes them back.
    fs::write(dir.join("haproxy-r0"), "").unwrap();
    assert!(
        tests::eventually(SETTLE, || holds_all(&lab, 0)),
        "{}",
        lab.logs()
    );

    lab.signal(0, "TERM");
    assert_eq!(lab.wait_exit(0, SETTLE), Some(0), "{}", lab.logs());
    assert!(
        tests::eventually(SETTLE, || holds_all(&lab, 1)),
        "{}",
        lab.logs()
    );

    // notify_<state> with its own arguments, then `notify` with INSTANCE NAME STATE PRIORITY,
    // in transition order; notify_stop when the daemon stops. (The priority of the first
    // Backup line depends on whether the first check finished before start-up: not compared.)
    let expected = [
        "backup",
        "any INSTANCE VI_1 BACKUP",
        "master",
        "any INSTANCE VI_1 MASTER 103",
        "backup",
        "any INSTANCE VI_1 BACKUP 101",
        "master",
        "any INSTANCE VI_1 MASTER 103",
        "stop",
        "any INSTANCE VI_1 STOP 103",
    ];
    assert!(
        tests::eventually(SETTLE, || calls(&dir, 0).len() >= expected.len()),
        "{:?}",
        calls(&dir, 0)
    );
    let matches = |got: &[String], expected: &[&str]| {
        got.len() == expected.len()
            && got.iter().zip(expected).all(|(line, want)| {
                line == want || line.rsplit_once(' ').is_some_and(|(head, _)| head == *want)
            })
    };
    let master_calls = calls(&dir, 0);
    assert!(
        matches(&master_calls, &expected),
        "{master_calls:?}\n{}",
        lab.logs()
    );
    let backup_calls = calls(&dir, 1);
    assert!(
        matches(
            &backup_calls[..4.min(backup_calls.len())],
            &[
                "backup",
                "any INSTANCE VI_1 BACKUP",
                "master",
                "any INSTANCE VI_1 MASTER 102"
            ]
        ),
        "{backup_calls:?}"
    );
}
