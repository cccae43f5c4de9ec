//! keepalived.conf `track_interface` and `track_file` weights run by xvrrpd in a lab: a pair
//! whose master owes its lead to a tracked interface (weight 15) and loses it to a
//! maintenance file (weight -10). Root only.
use std::{fs, time::Duration};

use tests::lab::Lab;

const VIP: &str = "192.0.2.110";
const SETTLE: Duration = Duration::from_secs(8);

/// r0: priority 100, +15 while `trk0` is up, -10 × the integer in `maintenance`.
/// r1: priority 110, nothing tracked.
fn keepalived_conf(router: usize) -> String {
    let tracking = if router == 0 {
        "    track_interface {\n        trk0 weight 15\n    }\n    track_file {\n        \
         maintenance weight -10\n    }\n"
    } else {
        ""
    };
    format!(
        r#"vrrp_track_file maintenance {{
    file "@DIR@/maintenance"
}}

vrrp_instance VI_1 {{
    interface eth0
    state BACKUP
    virtual_router_id 52
    priority {priority}
    version 3
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}/24
    }}
{tracking}}}
"#,
        priority = if router == 0 { 100 } else { 110 },
    )
}

/// r0 has become `priority` and the VIP is on `holder`.
fn settles(lab: &Lab, priority: u64, holder: usize) -> bool {
    tests::eventually(SETTLE, || {
        lab.try_status(0)
            .is_some_and(|status| status["instances"][0]["effective_priority"] == priority)
            && lab.holder(VIP) == Some(holder)
    })
}

#[test]
fn interface_and_file_weights_move_the_master() {
    tests::require_root();
    let mut lab = Lab::new("katrack", 2);
    let dir = lab.dir().to_path_buf();
    let maintenance = dir.join("maintenance");
    fs::write(&maintenance, "0\n").unwrap();
    let r0 = &lab.routers[0].netns;
    // A veth pair of the router's own stands for a tracked uplink (no dummy module needed).
    r0.ip(&[
        "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ]);
    r0.ip(&["link", "set", "trk1", "up"]);
    r0.ip(&["link", "set", "trk0", "up"]);
    lab.start_file(0, "r0-keepalived.conf", &keepalived_conf(0));
    lab.start_file(1, "r1-keepalived.conf", &keepalived_conf(1));
    // 100 + 15 = 115 beats 110.
    assert!(settles(&lab, 115, 0), "{}\n{}", lab.status(0), lab.logs());

    // The tracked interface goes down: 100 < 110, r1 preempts.
    lab.routers[0].netns.ip(&["link", "set", "trk0", "down"]);
    assert!(settles(&lab, 100, 1), "{}\n{}", lab.status(0), lab.logs());
    assert_eq!(lab.status(0)["instances"][0]["state"], "backup");

    // Up again: 115, r0 preempts back.
    lab.routers[0].netns.ip(&["link", "set", "trk0", "up"]);
    assert!(settles(&lab, 115, 0), "{}\n{}", lab.status(0), lab.logs());

    // Maintenance 1: 115 - 10 = 105 < 110, r1 takes over; 0: r0 back at 115.
    fs::write(&maintenance, "1\n").unwrap();
    assert!(settles(&lab, 105, 1), "{}\n{}", lab.status(0), lab.logs());
    fs::write(&maintenance, "0\n").unwrap();
    assert!(settles(&lab, 115, 0), "{}\n{}", lab.status(0), lab.logs());
    // r1 never moved from its configured priority.
    assert_eq!(lab.status(1)["instances"][0]["effective_priority"], 110);
}
