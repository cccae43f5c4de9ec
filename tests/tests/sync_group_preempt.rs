//! A `vrrp_sync_group` on two routers that each prefer a different member, with preemption on
//! (keepalived's default): router 0 has VI_1 at 150 and VI_2 at 100, router 1 the reverse. Each
//! router's group cannot have both members' elections won, so a group that takes over as soon
//! as one member wins flaps for ever; keepalived's rule (a member goes Master only if the group
//! is Master or every other member wants Master too) settles. Multicast, VRRPv3 with 100 ms
//! adverts. Root only.
use std::{
    thread,
    time::{Duration, Instant},
};

use tests::lab::Lab;

const VIP_1: &str = "192.0.2.100";
const VIP_2: &str = "192.0.2.101";

fn conf(router: usize, priorities: (u8, u8)) -> String {
    let instance = |name: &str, vrid: u8, priority: u8, vip: &str| {
        format!(
            r#"
vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    version 3
    advert_int 0.1
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"#
        )
    };
    format!(
        "global_defs {{\n    router_id CROSS{router}\n}}\n\n\
         vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{}",
        instance("VI_1", 61, priorities.0, VIP_1),
        instance("VI_2", 62, priorities.1, VIP_2),
    )
}

/// Per router: (became_master, released_master) summed over its instances, and its states.
fn snapshot(lab: &Lab, router: usize) -> ((u64, u64), Vec<String>) {
    let status = lab.status(router);
    let instances = status["instances"].as_array().expect("instances");
    let count = |key: &str| {
        instances
            .iter()
            .map(|i| i["counters"][key].as_u64().expect("counter"))
            .sum::<u64>()
    };
    let states = instances
        .iter()
        .map(|i| i["state"].as_str().unwrap_or("?").to_owned())
        .collect();
    ((count("became_master"), count("released_master")), states)
}

#[test]
fn crossing_priorities_with_preemption_settle_on_one_router() {
    tests::require_root();
    let mut lab = Lab::new("sgcross", 2);
    lab.start_file(0, "r0-keepalived.conf", &conf(0, (150, 100)));
    lab.start_file(1, "r1-keepalived.conf", &conf(1, (100, 150)));

    // Settle: both VIPs on one router, both of its members Master, the other's both Backup.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(15);
    let holder = loop {
        let (a, b) = (lab.holder(VIP_1), lab.holder(VIP_2));
        if let (Some(a), Some(b)) = (a, b)
            && a == b
            && lab.try_status(0).is_some()
            && lab.try_status(1).is_some()
        {
            let mut states = [snapshot(&lab, 0).1, snapshot(&lab, 1).1];
            states.swap(0, a);
            if states == [["master", "master"], ["backup", "backup"]] {
                break a;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the group never settled on one router\n{}",
            lab.logs()
        );
        thread::sleep(Duration::from_millis(50));
    };
    eprintln!("settled on router {holder} after {:?}", start.elapsed());
    // Hold it for a while: no transition anywhere (about 30 Master_Down_Intervals).
    let before = [snapshot(&lab, 0), snapshot(&lab, 1)];
    thread::sleep(Duration::from_secs(10));
    let after = [snapshot(&lab, 0), snapshot(&lab, 1)];
    assert_eq!(
        before,
        after,
        "transitions while settled on router {holder}\n{}",
        lab.logs()
    );
    assert_eq!(lab.holder(VIP_1), Some(holder), "{}", lab.logs());
    assert_eq!(lab.holder(VIP_2), Some(holder), "{}", lab.logs());
}
