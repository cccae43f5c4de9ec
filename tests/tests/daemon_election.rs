//! xvrrpd routers in a lab: who wins, who answers ARP, how long a client pinging the VIP loses
//! it when the master fails or resigns. Root only.
use std::{net::Ipv4Addr, time::Duration};

use tests::{
    lab::{Lab, Outage, config},
    packet::send_frames,
};
use vrrp_user::{
    units::Centiseconds,
    wire::{self, ChecksumMode, FrameInfo, MacAddr, V3Advert, VipList, VrrpRepr},
};

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(8);

/// Two routers: r0 started first and master, then r1 started and settled as backup.
fn pair(tag: &str, r0: &str, r1: &str) -> Lab {
    let mut lab = Lab::new(tag, 2);
    lab.start(0, r0);
    assert!(
        lab.wait_for_holder(0, VIP, SETTLE),
        "r0 should become master\n{}",
        lab.logs()
    );
    lab.start(1, r1);
    wait_for_state(&lab, 1, "backup");
    lab
}

fn wait_for_state(lab: &Lab, index: usize, state: &str) {
    let deadline = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < deadline {
        if lab
            .try_status(index)
            .is_some_and(|status| status["instances"][0]["state"] == state)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("r{index} never reached {state}\n{}", lab.logs());
}

/// Pings the VIP every 2 ms from the client for `duration` while `during` runs after `lead`.
fn outage_during(lab: &Lab, duration: Duration, lead: Duration, during: impl FnOnce()) -> Outage {
    std::thread::scope(|scope| {
        let ping = scope.spawn(|| lab.ping_outage(VIP, Duration::from_millis(2), duration));
        std::thread::sleep(lead);
        during();
        ping.join().expect("ping thread")
    })
}

#[test]
fn higher_priority_wins_and_answers_arp_from_xdp() {
    let lab = pair(
        "elect",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    // The backup must not take the VIP while the master advertises.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holder(VIP), Some(0), "one master\n{}", lab.logs());

    let ping = lab
        .client
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "1", VIP])
        .output()
        .unwrap();
    assert!(ping.status.success(), "ping the VIP\n{}", lab.logs());
    let status = lab.status(0);
    assert_eq!(status["instances"][0]["state"], "master", "{status}");
    assert_eq!(status["instances"][0]["version"], 3, "{status}");
    // `auto` on veth: generic XDP (see dataplane::xdp::attach_order).
    assert_eq!(status["dataplane"]["mode"], "skb", "{status}");
    assert!(
        status["dataplane"]["counters"]["arp_reply"]
            .as_u64()
            .unwrap()
            >= 1,
        "the client's ARP was answered from XDP: {status}"
    );
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    assert_eq!(
        backup["instances"][0]["master_address"], "192.0.2.11",
        "{backup}"
    );
    assert!(
        backup["dataplane"]["counters"]["advert_accepted"]
            .as_u64()
            .unwrap()
            >= 4,
        "the backup hears the master: {backup}"
    );
    assert!(
        backup["dataplane"]["counters"]["advert_event"]
            .as_u64()
            .unwrap()
            <= 2,
        "but is woken only by changes: {backup}"
    );
}

#[test]
fn equal_priority_goes_to_the_higher_address() {
    // The tie-break applies when two masters meet (RFC 5798 §6.4.3): let both become master
    // while they cannot hear each other, then join them.
    let mut lab = Lab::new("tie", 2);
    lab.isolate(0, true);
    lab.isolate(1, true);
    lab.start(0, &config("r0", 100, "100ms", ""));
    lab.start(1, &config("r1", 100, "100ms", ""));
    wait_for_state(&lab, 0, "master");
    wait_for_state(&lab, 1, "master");
    lab.isolate(0, false);
    lab.isolate(1, false);
    // r1 is 192.0.2.12, r0 192.0.2.11: the higher primary address wins.
    assert!(
        lab.wait_for_holder(1, VIP, SETTLE),
        "r1 should win the tie\n{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holder(VIP), Some(1), "{}", lab.logs());
}

#[test]
fn three_routers_fail_over_in_priority_order() {
    let mut lab = Lab::new("three", 3);
    lab.start(0, &config("r0", 150, "100ms", ""));
    lab.start(1, &config("r1", 120, "100ms", ""));
    lab.start(2, &config("r2", 100, "100ms", ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.cut(0);
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "{}",
        lab.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!lab.holds(2, VIP), "r2 stays backup\n{}", lab.logs());
}

/// The client's outage when the master's link is cut, against Master_Down_Interval + 20 ms.
fn failover_outage(tag: &str, interval: &str, master_down: Duration) {
    let lab = pair(
        tag,
        &config("r0", 150, interval, ""),
        &config("r1", 100, interval, ""),
    );
    let lead = Duration::from_millis(300);
    let outage = outage_during(&lab, master_down * 2 + Duration::from_secs(1), lead, || {
        lab.cut(0)
    });
    assert!(lab.holds(1, VIP), "r1 took over\n{}", lab.logs());
    assert!(outage.received > 0, "{outage:?}");
    let bound = master_down + Duration::from_millis(20);
    assert!(
        outage.longest <= bound,
        "advert {interval}: outage {:?} exceeds Master_Down_Interval + 20 ms = {bound:?} \
         ({outage:?})\n{}",
        outage.longest,
        lab.logs()
    );
    eprintln!(
        "advert {interval}: outage {:?} (bound {bound:?})",
        outage.longest
    );
}

// Master_Down_Interval = 3 × interval + (256 − 100) × interval / 256 for the backup (priority 100).
#[test]
fn link_cut_outage_at_10ms_adverts() {
    failover_outage("cut10", "10ms", Duration::from_micros(30_000 + 6_094));
}

#[test]
fn link_cut_outage_at_100ms_adverts() {
    failover_outage("cut100", "100ms", Duration::from_micros(300_000 + 60_938));
}

#[test]
fn link_cut_outage_at_1s_adverts() {
    failover_outage("cut1s", "1s", Duration::from_micros(3_000_000 + 609_375));
}

#[test]
fn graceful_stop_hands_over_within_skew_time() {
    let mut lab = pair(
        "stop",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    let outage = outage_during(
        &lab,
        Duration::from_secs(2),
        Duration::from_millis(300),
        || lab.signal(0, "TERM"),
    );
    assert_eq!(
        lab.wait_exit(0, Duration::from_secs(5)),
        Some(0),
        "exit 0\n{}",
        lab.logs()
    );
    assert!(!lab.holds(0, VIP), "the stopped master removed its VIP");
    assert!(lab.holds(1, VIP), "r1 took over\n{}", lab.logs());
    // Priority 0 makes the backup wait only Skew_Time: (256 − 100) × 100 ms / 256.
    let bound = Duration::from_micros(60_938) + Duration::from_millis(20);
    assert!(
        outage.longest <= bound,
        "handover outage {:?} exceeds Skew_Time + 20 ms = {bound:?}\n{}",
        outage.longest,
        lab.logs()
    );
    eprintln!("graceful handover outage {:?}", outage.longest);
}

#[test]
fn failback_with_preemption_and_none_without() {
    let lab = pair(
        "back",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    lab.cut(0);
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "{}",
        lab.logs()
    );
    lab.restore(0);
    assert!(
        lab.wait_for_holder(0, VIP, SETTLE),
        "r0 preempts when its link returns\n{}",
        lab.logs()
    );

    let lab = pair(
        "nopre",
        &config("r0", 150, "100ms", "preempt = false"),
        &config("r1", 100, "100ms", ""),
    );
    lab.cut(0);
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "{}",
        lab.logs()
    );
    lab.restore(0);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        lab.holder(VIP),
        Some(1),
        "without preemption r0 stays backup\n{}",
        lab.logs()
    );
}

#[test]
fn a_killed_master_leaves_no_xdp_program_and_is_replaced() {
    let mut lab = pair(
        "kill",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    let has_xdp = |lab: &Lab| {
        let out = lab.routers[0].netns.ip(&["link", "show", "eth0"]);
        String::from_utf8_lossy(&out.stdout).contains("xdp")
    };
    assert!(has_xdp(&lab), "XDP attached while running");
    lab.signal(0, "KILL");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!has_xdp(&lab), "the program died with the process");
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "r1 took over\n{}",
        lab.logs()
    );
    // The killed daemon could not remove its VIP: started again, now below r1, r0 removes it
    // before it starts as Backup (else its kernel answers for the VIP r1 holds).
    assert!(lab.holds(0, VIP), "the VIP a killed master leaves");
    lab.start(0, &config("r0", 50, "100ms", ""));
    wait_for_state(&lab, 0, "backup");
    assert_eq!(lab.holder(VIP), Some(1), "{}", lab.logs());
    assert!(
        lab.logs().contains("already configured before start"),
        "{}",
        lab.logs()
    );
}

#[test]
fn a_third_routers_lower_advert_does_not_unseat_a_live_master() {
    // The backup honours r0; r0's steady repeats are not reported to its state machine. A
    // third router's advert at a lower priority is reported and discarded (§6.4.2): the
    // Master_Down_Timer must run from r0's last repeat, not from its last reported advert.
    let lab = pair(
        "third",
        &config("r0", 150, "100ms", ""),
        &config("r1", 100, "100ms", ""),
    );
    // Well past Master_Down_Interval (about 0.36 s) since r0's last reported advert.
    std::thread::sleep(Duration::from_secs(2));
    let became_master = |lab: &Lab| {
        lab.status(1)["instances"][0]["counters"]["became_master"]
            .as_u64()
            .expect("became_master")
    };
    let before = became_master(&lab);
    let stranger = FrameInfo::multicast_v4(
        MacAddr(lab.client.mac("eth0")),
        Ipv4Addr::new(192, 0, 2, 50),
        1,
    );
    let advert = VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority: 50,
        max_adver_int: Centiseconds(10),
        addresses: VipList::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]),
    });
    let frame = wire::emit_advert_frame(&stranger, &advert, ChecksumMode::PseudoHeader)
        .expect("emit advert");
    let ifindex = lab.client.ifindex("eth0");
    lab.client.enter(|| send_frames(ifindex, &[frame]));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(became_master(&lab), before, "r1 took over\n{}", lab.logs());
    assert_eq!(lab.holder(VIP), Some(0), "{}", lab.logs());
    let status = lab.status(1);
    assert_eq!(
        status["instances"][0]["master_address"], "192.0.2.11",
        "{status}"
    );
}

#[test]
fn a_vip_two_instances_list_is_removed_too_when_a_killed_daemon_left_it() {
    // Both instances list the VIP, and neither holds it when r0 starts again as Backup: it is
    // the killed daemon's leftover, not a running Master's.
    let two = |router: &str, priority: u8| {
        config(router, priority, "100ms", "")
            + &format!(
                "\n[[instance]]\nname = \"VI_2\"\ninterface = \"eth0\"\nvrid = 52\n\
                 priority = {priority}\nadvert_interval = \"100ms\"\n\
                 virtual_ips = [\"{VIP}/24\"]\n"
            )
    };
    let mut lab = Lab::new("twice", 2);
    lab.start(0, &two("r0", 150));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.signal(0, "KILL");
    std::thread::sleep(Duration::from_millis(200));
    lab.start(1, &two("r1", 200));
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "{}",
        lab.logs()
    );
    assert!(lab.holds(0, VIP), "the VIP a killed master leaves");
    lab.start(0, &two("r0", 100));
    wait_for_state(&lab, 0, "backup");
    assert!(
        !lab.holds(0, VIP),
        "r0 still holds the leftover\n{}",
        lab.logs()
    );
}
