//! Two and three xvrrpd routers in a lab: who wins, who answers ARP, how long a client loses
//! the VIP when the master fails. Root only.
use std::time::Duration;

use tests::lab::{Lab, config};

const VIP: &str = "192.0.2.100";

#[test]
fn higher_priority_wins_answers_arp_from_xdp_and_fails_over_on_link_cut() {
    let mut lab = Lab::new("elect", 2);
    lab.start(0, &config("r0", 150, "100ms", ""));
    lab.start(1, &config("r1", 100, "100ms", ""));
    assert!(
        lab.wait_for_holder(0, VIP, Duration::from_secs(5)),
        "r0 (priority 150) should hold the VIP\n{}",
        lab.logs()
    );
    // Let the backup settle: it must not take the VIP while the master advertises.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        lab.holder(VIP),
        Some(0),
        "one master\n{}\nr0: {}\nr1: {}",
        lab.logs(),
        lab.status(0),
        lab.status(1)
    );

    // The client reaches the VIP; its ARP request is answered by r0's XDP program.
    let ping = lab
        .client
        .command("ping")
        .args(["-c", "3", "-i", "0.2", "-W", "1", VIP])
        .output()
        .unwrap();
    assert!(ping.status.success(), "ping the VIP\n{}", lab.logs());
    let status = lab.status(0);
    assert_eq!(status["instances"][0]["state"], "master", "{status}");
    assert!(
        status["dataplane"]["counters"]["arp_reply"]
            .as_u64()
            .unwrap()
            >= 1,
        "ARP answered from XDP: {status}"
    );
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    assert_eq!(
        backup["instances"][0]["master_address"], "192.0.2.11",
        "{backup}"
    );

    // Cut the master's link: the backup takes over within Master_Down_Interval (3 × 100 ms +
    // skew 61 ms) plus slack for the lab.
    lab.cut(0);
    assert!(
        lab.wait_for_holder_or_both(1, VIP, Duration::from_secs(2)),
        "r1 takes over after the cut\n{}",
        lab.logs()
    );
}
