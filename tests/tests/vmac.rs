//! `use_vmac` without a macvlan, end to end: two xvrrpd routers, a client pinging the VIP, and
//! what the client's side of the bridge shows. Root only.
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tests::lab::{Lab, config};

const VIP: &str = "192.0.2.100";
/// VRID 51's IPv4 virtual MAC (RFC 5798 §7.3).
const VMAC: &str = "00:00:5e:00:01:33";
const SETTLE: Duration = Duration::from_secs(8);

/// tcpdump writing a pcap file in the client's namespace; stopped (and the file removed) when
/// dropped.
struct Capture {
    child: Child,
    path: PathBuf,
}

impl Capture {
    fn start(lab: &Lab) -> Capture {
        let path = lab.dir().join("client.pcap");
        let child = lab
            .client
            .command("tcpdump")
            // Immediate mode: otherwise the last packets sit in an unfinished block.
            .args(["--immediate-mode", "-U", "-n", "-i", "eth0", "-w"])
            .arg(&path)
            .arg("arp or ip proto 112")
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump");
        // tcpdump needs a moment before it captures.
        std::thread::sleep(Duration::from_millis(500));
        Capture { child, path }
    }

    /// Stops the capture and returns tshark's fields of the packets `filter` selects.
    fn finish(&mut self, filter: &str, fields: &[&str]) -> Vec<String> {
        self.stop();
        let mut command = Command::new("tshark");
        command.arg("-r").arg(&self.path);
        // VRRPv3 checksums cover the pseudo-header (RFC 5798 §5.2.8), as keepalived's do.
        command.args(["-o", "vrrp.v3_checksum_as_in_v2:FALSE"]);
        command.args(["-Y", filter, "-T", "fields"]);
        for field in fields {
            command.args(["-e", field]);
        }
        let out = command.output().expect("tshark");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status["dataplane"]["counters"][name].as_u64().unwrap_or(0)
}

fn state(lab: &Lab, index: usize) -> Option<String> {
    let status = lab.try_status(index)?;
    status["instances"][0]["state"].as_str().map(str::to_owned)
}

fn wait_for_state(lab: &Lab, index: usize, wanted: &str) {
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if state(lab, index).as_deref() == Some(wanted) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("r{index} never reached {wanted}\n{}", lab.logs());
}

/// The client's neighbour entry for the VIP: `ip neigh` prints `... lladdr MAC STATE`.
fn client_neighbour(lab: &Lab) -> Option<String> {
    let out = lab.client.ip(&["neigh", "show", VIP, "dev", "eth0"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|word| *word == "lladdr")?;
    words.next().map(str::to_owned)
}

/// Which bridge port the bridge has learnt the virtual MAC at.
fn bridge_port_of_vmac(lab: &Lab) -> Option<String> {
    let out = lab
        .bridge
        .command("bridge")
        .args(["fdb", "show", "br", "br0"])
        .output()
        .expect("bridge fdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|line| line.starts_with(VMAC))?;
    let mut words = line.split_whitespace();
    words.find(|word| *word == "dev")?;
    words.next().map(str::to_owned)
}

fn ping(lab: &Lab, count: u32) -> bool {
    lab.client
        .command("ping")
        .args(["-n", "-c", &count.to_string(), "-i", "0.2", "-W", "1", VIP])
        .stdout(Stdio::null())
        .status()
        .expect("ping")
        .success()
}

#[test]
fn clients_reach_the_vip_at_the_virtual_mac_across_a_failover() {
    let mut lab = Lab::new("vmac", 2);
    let mut capture = Capture::start(&lab);
    let vmac = "use_vmac = true";
    lab.start(0, &config("r0", 150, "100ms", vmac));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.start(1, &config("r1", 100, "100ms", vmac));
    wait_for_state(&lab, 1, "backup");

    // The client resolves the VIP (answered by r0's XDP) and pings it through the master.
    assert!(ping(&lab, 5), "ping the VIP through r0\n{}", lab.logs());
    assert_eq!(
        client_neighbour(&lab).as_deref(),
        Some(VMAC),
        "the client knows the VIP at the virtual MAC, also after the master's replies\n{}",
        lab.logs()
    );
    let master = lab.status(0);
    assert!(counter(&master, "arp_reply") >= 1, "{master}");
    assert!(
        counter(&master, "vmac_delivered") >= 5,
        "the echo requests to the virtual MAC reached r0's stack: {master}"
    );
    assert_eq!(bridge_port_of_vmac(&lab).as_deref(), Some("p0"));

    // The master's link is cut: r1 takes over, announces the virtual MAC from its port, and the
    // client's pings to that same MAC resume.
    lab.cut(0);
    wait_for_state(&lab, 1, "master");
    let deadline = Instant::now() + SETTLE;
    while bridge_port_of_vmac(&lab).as_deref() != Some("p1") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        bridge_port_of_vmac(&lab).as_deref(),
        Some("p1"),
        "the bridge learnt the virtual MAC at r1's port from its gratuitous ARP"
    );
    assert!(ping(&lab, 5), "ping the VIP through r1\n{}", lab.logs());
    assert_eq!(client_neighbour(&lab).as_deref(), Some(VMAC));
    let new_master = lab.status(1);
    assert!(
        counter(&new_master, "vmac_delivered") >= 5,
        "the echo requests to the virtual MAC reached r1's stack: {new_master}"
    );

    // On the client's wire: adverts and gratuitous ARPs from the virtual MAC, and the
    // kernel's own ARP never claims the VIP at another MAC.
    let adverts = capture.finish(
        "vrrp",
        &["eth.src", "ip.src", "vrrp.prio", "vrrp.checksum.status"],
    );
    assert!(adverts.len() >= 10, "adverts captured: {adverts:?}");
    assert!(
        adverts.iter().all(|line| line.starts_with(VMAC)),
        "every advert from the virtual MAC: {adverts:?}"
    );
    assert!(
        adverts
            .iter()
            .any(|line| line.contains("192.0.2.11\t150\t"))
    );
    assert!(
        adverts
            .iter()
            .any(|line| line.contains("192.0.2.12\t100\t"))
    );
    // Checksum status 1 = "Good": the frames built in userspace are valid adverts.
    assert!(
        adverts.iter().all(|line| line.ends_with("\t1")),
        "every advert's checksum good: {adverts:?}"
    );
    let gratuitous = capture.finish(
        "arp.opcode == 1 && arp.src.proto_ipv4 == 192.0.2.100 && arp.dst.proto_ipv4 == 192.0.2.100",
        &["eth.src", "arp.src.hw_mac"],
    );
    assert!(
        gratuitous.len() >= 2,
        "GARPs from both masters: {gratuitous:?}"
    );
    assert!(
        gratuitous
            .iter()
            .all(|line| line == &format!("{VMAC}\t{VMAC}")),
        "every gratuitous ARP from and for the virtual MAC: {gratuitous:?}"
    );
    let claims = capture.finish(
        "arp.src.proto_ipv4 == 192.0.2.100",
        &["eth.src", "arp.src.hw_mac"],
    );
    assert!(
        claims.iter().all(|line| line == &format!("{VMAC}\t{VMAC}")),
        "no ARP names the VIP at another MAC: {claims:?}"
    );
}
