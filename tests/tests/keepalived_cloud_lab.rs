//! Issue 5, scenario (2): a cloud setup where multicast does not get through, run from
//! keepalived.conf files: two routers with `unicast_src_ip` / `unicast_peer`, both `state
//! BACKUP` with `nopreempt`, PASS authentication, and a `vrrp_sync_group` of two IPv4 instances
//! (VRIDs 51 and 52) with notify scripts at instance and group level that record their argv.
//! Root only.
use std::{fs, path::Path, time::Duration};

use tests::lab::Lab;

const VIP_1: &str = "192.0.2.100";
const VIP_2: &str = "192.0.2.101";
const SETTLE: Duration = Duration::from_secs(10);

/// Router `router`'s keepalived.conf: its address, its peer's, and the priorities of VI_1 and
/// VI_2. VI_1 follows `trk0`, a link of the router's own.
fn cloud_conf(router: usize, priorities: (u8, u8)) -> String {
    conf_with_group(router, priorities, true)
}

/// As [`cloud_conf`], with or without the sync group.
fn conf_with_group(router: usize, priorities: (u8, u8), grouped: bool) -> String {
    let members: &[&str] = if grouped { &["VI_1", "VI_2"] } else { &[] };
    conf_with_members(router, priorities, members)
}

/// As [`cloud_conf`], with the sync group's members in the order given (none: no group).
fn conf_with_members(router: usize, priorities: (u8, u8), members: &[&str]) -> String {
    let address = |r: usize| format!("192.0.2.{}", 11 + r);
    let (src, peer) = (address(router), address(1 - router));
    let notify = |who: &str| {
        ["master", "backup", "fault", "stop"]
            .iter()
            .map(|state| {
                format!("    notify_{state} \"@DIR@/record.sh r{router} {who}-{state}\"\n")
            })
            .chain([format!(
                "    notify \"@DIR@/record.sh r{router} {who}-any\"\n"
            )])
            .collect::<String>()
    };
    let instance = |name: &str, vrid: u8, priority: u8, vip: &str, track: &str| {
        format!(
            r#"
vrrp_instance {name} {{
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 1
    unicast_src_ip {src}
    unicast_peer {{
        {peer}
    }}
    authentication {{
        auth_type PASS
        auth_pass cl0ud-pw
    }}
    virtual_ipaddress {{
        {vip}/24
    }}
{track}{notify}}}
"#,
            notify = notify(&name.to_lowercase()),
        )
    };
    let group = match members {
        [] => String::new(),
        members => format!(
            "vrrp_sync_group G1 {{\n    group {{\n        {}\n    }}\n{}}}\n",
            members.join("\n        "),
            notify("group")
        ),
    };
    format!(
        "global_defs {{\n    router_id CLOUD{router}\n}}\n\n{group}{vi1}{vi2}",
        vi1 = instance(
            "VI_1",
            51,
            priorities.0,
            VIP_1,
            "    track_interface {\n        trk0\n    }\n"
        ),
        vi2 = instance("VI_2", 52, priorities.1, VIP_2, ""),
    )
}

/// A lab of two routers whose bridge floods no multicast to them, with the recording script
/// and each router's `trk0` up.
fn cloud_lab(tag: &str) -> Lab {
    let lab = Lab::new(tag, 2);
    let sysctl = lab.routers[1]
        .netns
        .command("sysctl")
        .args(["-qw", "net.ipv4.icmp_echo_ignore_broadcasts=0"])
        .status()
        .expect("sysctl");
    assert!(sysctl.success());
    assert!(
        multicast_reaches_r1(&lab),
        "control: multicast gets through before flooding is off"
    );
    for port in ["p0", "p1"] {
        let status = lab
            .bridge
            .command("bridge")
            .args(["link", "set", "dev", port, "mcast_flood", "off"])
            .status()
            .expect("bridge link set");
        assert!(status.success(), "turning multicast flooding off on {port}");
    }
    assert!(
        !multicast_reaches_r1(&lab),
        "multicast still gets through: the lab is not a cloud"
    );
    for router in &lab.routers {
        // A veth pair of the router's own stands for a tracked uplink (no dummy module needed).
        let netns = &router.netns;
        netns.ip(&[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ]);
        netns.ip(&["link", "set", "trk1", "up"]);
        netns.ip(&["link", "set", "trk0", "up"]);
    }
    lab.write_script(
        "record.sh",
        "router=$1; shift\necho \"$*\" >> \"$(dirname \"$0\")/calls-$router\"\n",
    );
    lab
}

/// Whether r1 answers r0's pings to 224.0.0.1 (all hosts; the bridge floods it like VRRP's
/// 224.0.0.18: both are link-local groups).
fn multicast_reaches_r1(lab: &Lab) -> bool {
    let out = lab.routers[0]
        .netns
        .command("ping")
        .args([
            "-n",
            "-c",
            "3",
            "-i",
            "0.2",
            "-w",
            "2",
            "-I",
            "eth0",
            "224.0.0.1",
        ])
        .output()
        .expect("ping");
    String::from_utf8_lossy(&out.stdout).contains("from 192.0.2.12")
}

/// The lines recorded on `router` by the scripts of `who` (`vi_1`, `vi_2`, `group`), with the
/// `who-` prefix removed.
fn calls(dir: &Path, router: usize, who: &str) -> Vec<String> {
    fs::read_to_string(dir.join(format!("calls-r{router}")))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix(&format!("{who}-")))
        .map(str::to_owned)
        .collect()
}

fn holds_both(lab: &Lab, router: usize) -> bool {
    lab.holder(VIP_1) == Some(router) && lab.holder(VIP_2) == Some(router)
}

fn states(lab: &Lab, router: usize) -> Vec<String> {
    let status = lab.status(router);
    let instances = status["instances"].as_array().expect("instances");
    instances
        .iter()
        .map(|i| i["state"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// One instance's notify calls for a sequence of states, at `priority`.
fn instance_calls(name: &str, priority: u8, states: &[&str]) -> Vec<String> {
    states
        .iter()
        .flat_map(|state| {
            [
                state.to_lowercase(),
                format!("any INSTANCE {name} {state} {priority}"),
            ]
        })
        .collect()
}

fn group_calls(states: &[&str]) -> Vec<String> {
    states
        .iter()
        .flat_map(|state| [state.to_lowercase(), format!("any GROUP G1 {state} 0")])
        .collect()
}

#[test]
fn a_fault_of_one_member_moves_the_whole_group_and_nopreempt_keeps_it_there() {
    tests::require_root();
    let mut lab = cloud_lab("kacloud");
    let dir = lab.dir().to_path_buf();

    // Start: the first router up takes both instances of the group; the second stays Backup.
    lab.start_file(0, "r0-keepalived.conf", &cloud_conf(0, (150, 150)));
    assert!(
        tests::eventually(SETTLE, || holds_both(&lab, 0)),
        "{}",
        lab.logs()
    );
    assert_eq!(states(&lab, 0), ["master", "master"]);
    lab.start_file(1, "r1-keepalived.conf", &cloud_conf(1, (100, 100)));
    assert!(
        tests::eventually(SETTLE, || lab.try_status(1).is_some_and(|_| states(
            &lab, 1
        ) == [
            "backup", "backup"
        ])),
        "{}",
        lab.logs()
    );
    // Unicast adverts (with PASS auth) keep it there past several Master_Down_Intervals.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(states(&lab, 1), ["backup", "backup"], "{}", lab.logs());
    assert!(holds_both(&lab, 0));

    // VI_1's tracked interface goes down on the master: the whole group goes to Fault there
    // and both instances move to the other router.
    lab.routers[0].netns.ip(&["link", "set", "trk0", "down"]);
    assert!(
        tests::eventually(SETTLE, || holds_both(&lab, 1)),
        "{}",
        lab.logs()
    );
    assert!(
        tests::eventually(SETTLE, || states(&lab, 0) == ["fault", "fault"]),
        "{}",
        lab.logs()
    );
    assert_eq!(states(&lab, 1), ["master", "master"]);

    // The fault ends: both leave Fault for Backup, and with nopreempt the group stays on the
    // other router although the first one has the higher priority.
    lab.routers[0].netns.ip(&["link", "set", "trk0", "up"]);
    assert!(
        tests::eventually(SETTLE, || states(&lab, 0) == ["backup", "backup"]),
        "{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(states(&lab, 0), ["backup", "backup"], "{}", lab.logs());
    assert!(holds_both(&lab, 1), "{}", lab.logs());

    // Stop both daemons, the Backup first.
    for router in 0..2 {
        lab.signal(router, "TERM");
        assert_eq!(lab.wait_exit(router, SETTLE), Some(0), "{}", lab.logs());
    }

    // Each notifier's calls, in order: notify_<state> with its own arguments, then `notify`
    // with INSTANCE|GROUP NAME STATE PRIORITY (0 for a group); the stop scripts at shutdown.
    let r0 = ["BACKUP", "MASTER", "FAULT", "BACKUP", "STOP"];
    let r1 = ["BACKUP", "MASTER", "STOP"];
    let expected = [
        (0, "vi_1", instance_calls("VI_1", 150, &r0)),
        (0, "vi_2", instance_calls("VI_2", 150, &r0)),
        (0, "group", group_calls(&r0)),
        (1, "vi_1", instance_calls("VI_1", 100, &r1)),
        (1, "vi_2", instance_calls("VI_2", 100, &r1)),
        (1, "group", group_calls(&r1)),
    ];
    for (router, who, want) in expected {
        assert!(
            tests::eventually(SETTLE, || calls(&dir, router, who).len() >= want.len()),
            "r{router} {who}: {:?}",
            calls(&dir, router, who)
        );
        assert_eq!(
            calls(&dir, router, who),
            want,
            "r{router} {who}\n{}",
            lab.logs()
        );
    }
}

#[test]
fn without_a_fault_only_the_groups_joint_state_is_seen() {
    tests::require_root();
    let mut lab = cloud_lab("kacljoint");
    let dir = lab.dir().to_path_buf();
    // Priorities 254 / 1 for VI_1 / VI_2 on r0, 1 / 254 on r1: Master_Down_Intervals of
    // 3.008 s and 3.996 s. r1 starts once r0 runs (a few hundred ms later, well under the
    // 0.988 s between the two). Were they not synced, r0's VI_1 and r1's VI_2 would each win
    // first and, with nopreempt, stay split. In one sync group r0's VI_1 takes VI_2 along at
    // once, r1 hears both in time and the group stays whole on r0.
    lab.start_file(0, "r0-keepalived.conf", &cloud_conf(0, (254, 1)));
    assert!(lab.wait_for_state(0, "backup", SETTLE), "{}", lab.logs());
    lab.start_file(1, "r1-keepalived.conf", &cloud_conf(1, (1, 254)));
    assert!(
        tests::eventually(SETTLE, || holds_both(&lab, 0)),
        "{}",
        lab.logs()
    );
    let (master, backup) = (0, 1);
    assert!(
        tests::eventually(SETTLE, || lab.try_status(1).is_some_and(|_| states(
            &lab, 1
        ) == [
            "backup", "backup"
        ])),
        "{}",
        lab.logs()
    );
    // Sample for a while: each router's two instances are always in the same state.
    for _ in 0..40 {
        assert_eq!(states(&lab, master), ["master", "master"], "{}", lab.logs());
        assert_eq!(states(&lab, backup), ["backup", "backup"], "{}", lab.logs());
        assert!(holds_both(&lab, master));
        std::thread::sleep(Duration::from_millis(100));
    }
    for router in [backup, master] {
        lab.signal(router, "TERM");
        assert_eq!(lab.wait_exit(router, SETTLE), Some(0), "{}", lab.logs());
    }
    // Every notifier saw the same states on each router: the group's, never a split one.
    let states_of = |router: usize, who: &str| -> Vec<String> {
        calls(&dir, router, who)
            .into_iter()
            .filter(|line| !line.starts_with("any "))
            .collect()
    };
    let joint = |router: usize| -> Vec<String> {
        let want: &[&str] = if router == master {
            &["backup", "master", "stop"]
        } else {
            &["backup", "stop"]
        };
        want.iter().map(|s| s.to_string()).collect()
    };
    for router in 0..2 {
        for who in ["vi_1", "vi_2", "group"] {
            assert!(
                tests::eventually(SETTLE, || states_of(router, who).len()
                    >= joint(router).len()),
                "r{router} {who}: {:?}",
                calls(&dir, router, who)
            );
            assert_eq!(
                states_of(router, who),
                joint(router),
                "r{router} {who}\n{}",
                lab.logs()
            );
        }
    }
}

#[test]
fn a_reload_that_changes_the_group_moves_its_members_as_they_are() {
    tests::require_root();
    let mut lab = cloud_lab("kaclreload");
    let conf = "r0-keepalived.conf";
    // A member's notify calls, exactly, once nothing has happened for a while (a flap's
    // scripts would have run by then).
    let calls_are = |lab: &Lab, who: &str, want: &[&str]| {
        let want = instance_calls(&who.to_uppercase(), 150, want);
        tests::eventually(SETTLE, || calls(lab.dir(), 0, who).len() >= want.len());
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(calls(lab.dir(), 0, who), want, "{who}\n{}", lab.logs());
    };
    let states_are = |lab: &Lab, want: [&str; 2]| {
        assert!(
            tests::eventually(SETTLE, || states(lab, 0) == want),
            "{:?}\n{}",
            states(lab, 0),
            lab.logs()
        );
    };
    // No group at first: alone, r0 takes both instances.
    lab.start_file(0, conf, &conf_with_group(0, (150, 150), false));
    assert!(
        tests::eventually(SETTLE, || holds_both(&lab, 0)),
        "{}",
        lab.logs()
    );
    for who in ["vi_1", "vi_2"] {
        calls_are(&lab, who, &["BACKUP", "MASTER"]);
    }

    // The reload adds the group: its members join it as Masters and the group is Master; no
    // member resigned or moved (their scripts saw nothing new).
    lab.reload_with(0, conf, &conf_with_group(0, (150, 150), true));
    assert!(
        tests::eventually(SETTLE, || calls(lab.dir(), 0, "group")
            == group_calls(&["MASTER"])),
        "{:?}\n{}",
        calls(lab.dir(), 0, "group"),
        lab.logs()
    );
    assert!(holds_both(&lab, 0), "{}", lab.logs());
    for who in ["vi_1", "vi_2"] {
        calls_are(&lab, who, &["BACKUP", "MASTER"]);
    }

    // A fault of VI_1 holds VI_2 in Fault too; a reload that changes the group (its members'
    // order) keeps VI_2 held, without an instant out of Fault.
    lab.routers[0].netns.ip(&["link", "set", "trk0", "down"]);
    states_are(&lab, ["fault", "fault"]);
    lab.reload_with(
        0,
        conf,
        &conf_with_members(0, (150, 150), &["VI_2", "VI_1"]),
    );
    states_are(&lab, ["fault", "fault"]);
    calls_are(&lab, "vi_2", &["BACKUP", "MASTER", "FAULT"]);
    assert_eq!(
        calls(lab.dir(), 0, "group"),
        group_calls(&["MASTER", "FAULT"]),
        "{}",
        lab.logs()
    );

    // A reload that renames the faulted member: its fault carries over under the new name.
    let renamed = conf_with_members(0, (150, 150), &["VI_2", "VI_1"]).replace("VI_1", "VI_1B");
    lab.reload_with(0, conf, &renamed);
    states_are(&lab, ["fault", "fault"]);
    calls_are(&lab, "vi_2", &["BACKUP", "MASTER", "FAULT"]);
    assert_eq!(
        calls(lab.dir(), 0, "group"),
        group_calls(&["MASTER", "FAULT"]),
        "{}",
        lab.logs()
    );

    // The reload removes the group: with trk0 still down only VI_1 stays in Fault; VI_2 is out
    // of the hold and, alone, takes over again.
    lab.reload_with(0, conf, &conf_with_group(0, (150, 150), false));
    states_are(&lab, ["fault", "master"]);
    calls_are(
        &lab,
        "vi_2",
        &["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"],
    );
    calls_are(&lab, "vi_1", &["BACKUP", "MASTER", "FAULT"]);
    assert!(
        !lab.logs().contains("restarting the instance"),
        "{}",
        lab.logs()
    );
}
