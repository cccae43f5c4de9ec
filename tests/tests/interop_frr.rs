//! xvrrpd and FRR 8.4's vrrpd (Debian's) as VRRPv3 peers in a lab, over IPv4 and IPv6: both
//! agree on the master (FRR's `show vrrp json`, xvrrpd's status), and the backup takes over
//! both ways — when the master's link is cut (Master_Down timer) and when the master stops
//! (its priority-0 advert) — after which the client reaches the VIP on the new master.
//! FRR 8.4 always checksums VRRPv3 over IPv4 with the pseudo-header (its
//! `checksum-with-ipv4-pseudoheader` switch came later), so xvrrpd's `checksum = "vrrp-only"`
//! is shown not to interoperate with it, with tshark naming which reading each side's adverts
//! follow. Root only.
use std::{
    net::IpAddr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tests::{
    frr::{Frr, FrrVrrp},
    lab::{Lab, config_with_vip},
};

const SETTLE: Duration = Duration::from_secs(8);
/// Both sides must keep agreeing this long (twenty 100 ms adverts).
const STEADY: Duration = Duration::from_secs(2);
const MASTER_PRIORITY: u8 = 200;
const BACKUP_PRIORITY: u8 = 100;
const VIP4: &str = "192.0.2.100";
const VIP6: &str = "2001:db8::100";

#[derive(Clone, Copy, Debug)]
enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn vip(self) -> IpAddr {
        match self {
            Family::Ipv4 => VIP4.parse().unwrap(),
            Family::Ipv6 => VIP6.parse().unwrap(),
        }
    }

    fn prefix_len(self) -> u8 {
        match self {
            Family::Ipv4 => 24,
            Family::Ipv6 => 64,
        }
    }

    fn frr(self, priority: u8) -> FrrVrrp {
        FrrVrrp {
            interface: "eth0".into(),
            vrid: 51,
            priority,
            advert_interval_ms: 100,
            vip: self.vip(),
            prefix_len: self.prefix_len(),
        }
    }

    /// xvrrpd's config; `checksum` only for IPv4 (IPv6 has no choice).
    fn xvrrpd(self, priority: u8, checksum: &str) -> String {
        let checksum = match self {
            Family::Ipv4 => format!("checksum = \"{checksum}\""),
            Family::Ipv6 => String::new(),
        };
        let vip = format!("{}/{}", self.vip(), self.prefix_len());
        config_with_vip("xv", priority, "100ms", &vip, &checksum)
    }
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One xvrrpd router and one FRR router in a lab.
struct Pair {
    // Field order is drop order: FRR stops before the lab removes its namespaces.
    frr: Frr,
    lab: Lab,
    frr_index: usize,
    xvrrpd_index: usize,
    vip: IpAddr,
    tag: String,
}

impl Pair {
    fn xvrrpd_state(&self) -> String {
        self.lab
            .try_status(self.xvrrpd_index)
            .and_then(|status| status["instances"][0]["state"].as_str().map(String::from))
            .unwrap_or_default()
    }

    fn xvrrpd_holds(&self) -> bool {
        self.lab.holds(self.xvrrpd_index, &self.vip.to_string())
    }

    /// FRR master or backup as `frr_master` says, xvrrpd the other, only the master
    /// holding the VIP; the backup has heard the master (both start as backups).
    fn agree(&self, frr_master: bool) -> bool {
        let Some(status) = self.lab.try_status(self.xvrrpd_index) else {
            return false;
        };
        let xvrrpd = &status["instances"][0];
        let frr = self.frr.family();
        let heard = if frr_master {
            xvrrpd["master_address"] == frr["primaryAddress"]
        } else {
            frr["stats"]["adverRx"].as_u64() > Some(0)
        };
        let (frr_state, xvrrpd_state) = if frr_master {
            ("Master", "backup")
        } else {
            ("Backup", "master")
        };
        heard
            && frr["status"] == frr_state
            && xvrrpd["state"] == xvrrpd_state
            && self.frr.holds_vip() == frr_master
            && self.xvrrpd_holds() != frr_master
    }

    fn describe(&self) -> String {
        format!(
            "{}: FRR {} (holds VIP: {}), xvrrpd {} (holds VIP: {})\nFRR: {}\nxvrrpd: {}\n{}{}",
            self.tag,
            self.frr.status(),
            self.frr.holds_vip(),
            self.xvrrpd_state(),
            self.xvrrpd_holds(),
            self.frr.family(),
            self.lab
                .try_status(self.xvrrpd_index)
                .unwrap_or(serde_json::Value::Null),
            self.frr.log_tail(),
            self.lab.logs()
        )
    }

    /// Waits for both sides to agree that FRR is (or is not) master, then checks they keep
    /// agreeing while adverts flow.
    fn assert_agree(&self, frr_master: bool, step: &str) {
        assert!(
            wait_until(SETTLE, || self.agree(frr_master)),
            "{step}: agreement (FRR master: {frr_master})\n{}",
            self.describe()
        );
        let heard_before = self.frr.family()["stats"]["adverRx"].as_u64().unwrap_or(0);
        std::thread::sleep(STEADY);
        assert!(
            self.agree(frr_master),
            "{step}: still agreeing after {STEADY:?}\n{}",
            self.describe()
        );
        let status = self.lab.status(self.xvrrpd_index);
        let instance = &status["instances"][0];
        if frr_master {
            // xvrrpd names FRR's advert source as the master: its primary address (IPv4)
            // or its macvlan's link-local (IPv6).
            let frr_source = self.frr.family()["primaryAddress"].clone();
            assert_eq!(
                instance["master_address"],
                frr_source,
                "{step}: xvrrpd's master is FRR\n{}",
                self.describe()
            );
        } else {
            // FRR keeps accepting xvrrpd's adverts (10 a second).
            let heard = self.frr.family()["stats"]["adverRx"].as_u64().unwrap_or(0);
            assert!(
                heard >= heard_before + 10,
                "{step}: FRR hears xvrrpd's adverts ({heard_before} → {heard})\n{}",
                self.describe()
            );
        }
        assert_eq!(
            status["dataplane"]["counters"]["drop_checksum"],
            0,
            "{step}: no FRR advert fails xvrrpd's checksum\n{}",
            self.describe()
        );
    }

    /// The MACs the client may learn the VIP at from the master: xvrrpd's interface; FRR's
    /// virtual MAC (its ARP / NA answers and gratuitous ARP) or its parent interface's (FRR
    /// replies from the VIP through the parent, and the ARP request it sends for the client
    /// there names the VIP as sender, which updates the client's entry).
    fn master_macs(&self, frr_master: bool) -> Vec<String> {
        let mac = |index: usize| {
            let mac = self.lab.routers[index].netns.mac("eth0");
            mac.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        if frr_master {
            vec![self.frr.virtual_mac(), mac(self.frr_index)]
        } else {
            vec![mac(self.xvrrpd_index)]
        }
    }

    /// The client pings the VIP and has learnt it at one of the master's MACs (a few tries:
    /// the new master's gratuitous ARP / NA may still be on its way).
    fn assert_client_reaches_master(&self, frr_master: bool, step: &str) {
        let vip = self.vip.to_string();
        let family = if self.vip.is_ipv4() { "-4" } else { "-6" };
        let expected = self.master_macs(frr_master);
        let mut learnt = String::new();
        let reached = wait_until(SETTLE, || {
            let pinged = self
                .lab
                .client
                .command("ping")
                .args([family, "-n", "-c", "1", "-W", "1", &vip])
                .output()
                .is_ok_and(|out| out.status.success());
            learnt = self.client_neighbour(&vip);
            pinged && expected.contains(&learnt)
        });
        assert!(
            reached,
            "{step}: the client pings the VIP at one of {expected:?} (learnt: {learnt:?})\n{}",
            self.describe()
        );
    }

    /// The link-layer address the client's neighbour table holds for `address`.
    fn client_neighbour(&self, address: &str) -> String {
        let out = self
            .lab
            .client
            .ip(&["-j", "neigh", "show", "to", address, "dev", "eth0"]);
        let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        entries[0]["lladdr"].as_str().unwrap_or("").to_string()
    }
}

/// The master side (priority 200) runs on r0, the backup side (100) on r1; `frr_master`
/// chooses which one is FRR.
fn scenario(family: Family, frr_master: bool) {
    let tag = format!(
        "fr{}{}",
        if matches!(family, Family::Ipv4) { 4 } else { 6 },
        if frr_master { "f" } else { "x" }
    );
    let mut lab = Lab::new(&tag, 2);
    let (frr_index, xvrrpd_index) = if frr_master { (0, 1) } else { (1, 0) };
    let (frr_priority, xvrrpd_priority) = if frr_master {
        (MASTER_PRIORITY, BACKUP_PRIORITY)
    } else {
        (BACKUP_PRIORITY, MASTER_PRIORITY)
    };
    let vip = family.vip();
    if !frr_master {
        lab.start(
            xvrrpd_index,
            &family.xvrrpd(xvrrpd_priority, "pseudo-header"),
        );
        assert!(
            lab.wait_for_holder(xvrrpd_index, &vip.to_string(), SETTLE),
            "{tag}: xvrrpd master alone\n{}",
            lab.logs()
        );
    }
    let frr = Frr::start(&lab.routers[frr_index].netns, family.frr(frr_priority));
    if frr_master {
        assert!(
            wait_until(SETTLE, || frr.status() == "Master" && frr.holds_vip()),
            "{tag}: FRR master alone: {}\n{}",
            frr.family(),
            frr.log_tail()
        );
        lab.start(
            xvrrpd_index,
            &family.xvrrpd(xvrrpd_priority, "pseudo-header"),
        );
    }
    let pair = Pair {
        frr,
        lab,
        frr_index,
        xvrrpd_index,
        vip,
        tag,
    };
    pair.assert_agree(frr_master, "start");
    pair.assert_client_reaches_master(frr_master, "start");

    // The master's link is cut: the backup hears nothing and takes over at Master_Down.
    let master_index = if frr_master { frr_index } else { xvrrpd_index };
    pair.lab.cut(master_index);
    let backup_took_over = || {
        if frr_master {
            pair.xvrrpd_state() == "master" && pair.xvrrpd_holds()
        } else {
            pair.frr.status() == "Master" && pair.frr.holds_vip()
        }
    };
    assert!(
        wait_until(SETTLE, backup_took_over),
        "cut: the backup takes over\n{}",
        pair.describe()
    );
    pair.assert_client_reaches_master(!frr_master, "cut");

    // Back on the link, the higher priority preempts and both agree again.
    pair.lab.restore(master_index);
    pair.assert_agree(frr_master, "restore");

    // The master stops gracefully, sending a priority-0 advert: the backup takes over.
    if frr_master {
        pair.frr.stop();
    } else {
        pair.lab.signal(xvrrpd_index, "TERM");
    }
    assert!(
        wait_until(SETTLE, || {
            backup_took_over()
                && if frr_master {
                    !pair.frr.holds_vip()
                } else {
                    !pair.xvrrpd_holds()
                }
        }),
        "stop: the backup takes over\n{}",
        pair.describe()
    );
    if frr_master {
        let status = pair.lab.status(xvrrpd_index);
        let counters = &status["instances"][0]["counters"];
        assert!(
            counters["priority_zero_received"].as_u64() >= Some(1),
            "stop: FRR's priority-0 advert reached xvrrpd\n{}",
            pair.describe()
        );
    }
    pair.assert_client_reaches_master(!frr_master, "stop");
}

#[test]
fn frr_and_xvrrpd_agree_and_fail_over_both_ways() {
    let scenarios = [
        (Family::Ipv4, true),
        (Family::Ipv4, false),
        (Family::Ipv6, true),
        (Family::Ipv6, false),
    ];
    // All at once: each lab is mostly waiting on protocol timers.
    std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .iter()
            .map(|&(family, frr_master)| scope.spawn(move || scenario(family, frr_master)))
            .collect();
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// xvrrpd with `checksum = "vrrp-only"` and FRR 8.4 (pseudo-header, no switch) reject each
/// other's adverts: both become master, xvrrpd counts checksum drops, FRR counts nothing
/// received. tshark, on the wire, finds FRR's adverts good only with the pseudo-header and
/// xvrrpd's good only without: each side does what its mode says.
#[test]
fn vrrp_only_checksum_does_not_interoperate_with_frr_8_4() {
    let mut lab = Lab::new("frcks", 2);
    let capture = lab.dir().join("vrrp.pcap");
    let mut dump = lab
        .bridge
        .command("tcpdump")
        .args(["--immediate-mode", "-U", "-n", "-i", "p0", "-w"])
        .arg(&capture)
        .arg("ip proto 112")
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(500));
    lab.start(0, &Family::Ipv4.xvrrpd(MASTER_PRIORITY, "vrrp-only"));
    let frr = Frr::start(&lab.routers[1].netns, Family::Ipv4.frr(BACKUP_PRIORITY));
    let both_master = wait_until(SETTLE, || {
        let status = lab.try_status(0).unwrap_or_default();
        frr.status() == "Master"
            && status["instances"][0]["state"] == "master"
            && status["dataplane"]["counters"]["drop_checksum"].as_u64() >= Some(10)
    });
    let frr_view = frr.family();
    let xvrrpd_view = lab.try_status(0).unwrap_or_default();
    let context = format!(
        "FRR: {frr_view}\nxvrrpd: {xvrrpd_view}\n{}{}",
        frr.log_tail(),
        lab.logs()
    );
    assert!(
        both_master,
        "both master, FRR's adverts dropped on checksum\n{context}"
    );
    assert_eq!(
        frr_view["stats"]["adverRx"], 0,
        "FRR accepts none of xvrrpd's adverts\n{context}"
    );
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();

    for (pseudo_header, good_source, bad_source) in [
        (true, "192.0.2.12", "192.0.2.11"),
        (false, "192.0.2.11", "192.0.2.12"),
    ] {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&capture)
            .args([
                "-o",
                &format!("vrrp.v3_checksum_as_in_v2:{}", !pseudo_header),
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "vrrp.checksum.status",
            ])
            .output()
            .expect("tshark");
        let text = String::from_utf8_lossy(&out.stdout);
        // checksum.status: 1 = Good, 0 = Bad.
        let count = |source: &str, status: &str| {
            text.lines()
                .filter(|line| *line == format!("{source}\t{status}"))
                .count()
        };
        let reading = if pseudo_header {
            "with the pseudo-header"
        } else {
            "without the pseudo-header"
        };
        assert!(
            count(good_source, "1") >= 5 && count(good_source, "0") == 0,
            "{good_source}'s adverts good {reading}:\n{text}"
        );
        assert!(
            count(bad_source, "0") >= 5 && count(bad_source, "1") == 0,
            "{bad_source}'s adverts bad {reading}:\n{text}"
        );
    }
}
