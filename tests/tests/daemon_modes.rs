//! xvrrpd in its other modes, in a lab: unicast, IPv6, VRRPv2 with PASS authentication, and a
//! LAN with no master. Root only.
use std::{
    process::{Command, Stdio},
    time::Duration,
};

use tests::lab::{Lab, config, config_with_vip};

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(8);

fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status["dataplane"]["counters"][name].as_u64().unwrap_or(0)
}

#[test]
fn unicast_sends_no_multicast_and_ignores_non_peers() {
    let mut lab = Lab::new("ucast", 3);
    let capture = lab
        .bridge
        .command("tcpdump")
        .args(["--immediate-mode", "-n", "-l", "-i", "br0", "ip proto 112"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(500));
    let unicast =
        |me: &str, peer: &str| format!("unicast_peers = [\"{peer}\"]\nunicast_source = \"{me}\"");
    lab.start(
        0,
        &config("r0", 150, "100ms", &unicast("192.0.2.11", "192.0.2.12")),
    );
    lab.start(
        1,
        &config("r1", 100, "100ms", &unicast("192.0.2.12", "192.0.2.11")),
    );
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("kill")
        .args(["-INT", &capture.id().to_string()])
        .status();
    let out = capture.wait_with_output().expect("tcpdump output");
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(lines.lines().count() >= 5, "unicast adverts seen:\n{lines}");
    assert!(
        !lines.contains("224.0.0.18"),
        "no multicast advert:\n{lines}"
    );
    assert!(lines.contains("192.0.2.11 > 192.0.2.12"), "{lines}");

    // A router not in the peer lists, at a higher priority, is not heard.
    lab.start(2, &config("r2", 200, "100ms", ""));
    std::thread::sleep(Duration::from_secs(2));
    assert!(lab.holds(0, VIP), "r0 stays master\n{}", lab.logs());
    let status = lab.status(0);
    assert_eq!(status["instances"][0]["state"], "master", "{status}");
    assert!(
        counter(&status, "drop_peer") > 0,
        "non-peer adverts counted: {status}"
    );
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
}

#[test]
fn ipv6_instance_end_to_end() {
    let vip = "2001:db8::100";
    let mut lab = Lab::new("v6", 2);
    // r0 forwards IPv6: its advertisements are a router's (RFC 4861 §7.2.4; a client that
    // learnt the VIP as a router's drops its default route through it on one that is not).
    let forwarding = lab.routers[0]
        .netns
        .command("sysctl")
        .args(["-qw", "net.ipv6.conf.eth0.forwarding=1"])
        .status()
        .expect("sysctl");
    assert!(forwarding.success());
    lab.start(
        0,
        &config_with_vip("r0", 150, "100ms", &format!("{vip}/64"), ""),
    );
    assert!(lab.wait_for_holder(0, vip, SETTLE), "{}", lab.logs());
    lab.start(
        1,
        &config_with_vip("r1", 100, "100ms", &format!("{vip}/64"), ""),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lab.holder(vip), Some(0), "one master\n{}", lab.logs());
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["family"], "ipv6", "{backup}");
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    let master_address = backup["instances"][0]["master_address"]
        .as_str()
        .unwrap_or("");
    assert!(
        master_address.starts_with("fe80::"),
        "adverts from the link-local: {backup}"
    );

    let ping = lab
        .client
        .command("ping")
        .args(["-6", "-c", "3", "-i", "0.2", "-W", "1", vip])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "ping6 the VIP: {}{}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr),
        lab.status(0)["dataplane"],
        lab.logs()
    );
    let status = lab.status(0);
    assert!(
        counter(&status, "na_reply") >= 1,
        "NS answered from XDP: {status}"
    );
    let neighbour = lab.client.ip(&["-6", "neigh", "show", vip, "dev", "eth0"]);
    let neighbour = String::from_utf8_lossy(&neighbour.stdout);
    assert!(
        neighbour.split_whitespace().any(|word| word == "router"),
        "the client learnt the VIP as a router's: {neighbour}"
    );

    lab.signal(0, "TERM");
    assert!(
        lab.wait_for_holder(1, vip, SETTLE),
        "r1 takes over\n{}",
        lab.logs()
    );
}

/// An excluded address of the other family than the instance's is answered for from XDP too.
#[test]
fn an_ipv4_instance_answers_for_its_excluded_ipv6_address_from_xdp() {
    let excluded = "2001:db8::100";
    let mut lab = Lab::new("excl6", 1);
    let extra = format!("excluded_ips = [\"{excluded}/64\"]");
    lab.start(0, &config("r0", 150, "100ms", &extra));
    assert!(
        lab.wait_for_holder(0, "192.0.2.100", SETTLE),
        "{}",
        lab.logs()
    );
    let ping = lab
        .client
        .command("ping")
        .args(["-6", "-c", "3", "-i", "0.2", "-W", "1", excluded])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "ping6 the excluded address: {}{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        String::from_utf8_lossy(&ping.stderr),
        lab.logs()
    );
    let status = lab.status(0);
    assert!(
        counter(&status, "na_reply") >= 1,
        "NS answered from XDP: {status}"
    );
}

#[test]
fn v2_with_pass_authentication_ignores_a_wrong_password() {
    let mut lab = Lab::new("auth", 3);
    let v2 = |password: &str| format!("version = 2\nauth_pass = \"{password}\"");
    lab.start(0, &config("r0", 150, "1s", &v2("secret12")));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.start(1, &config("r1", 100, "1s", &v2("secret12")));
    lab.start(2, &config("r2", 200, "1s", &v2("wrong123")));
    std::thread::sleep(Duration::from_secs(5));
    let backup = lab.status(1);
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    assert_eq!(
        backup["instances"][0]["master_address"], "192.0.2.11",
        "{backup}"
    );
    assert!(
        counter(&backup, "drop_auth") > 0,
        "wrong password counted: {backup}"
    );
    assert!(
        lab.holds(0, VIP),
        "r0 is not preempted by r2\n{}",
        lab.logs()
    );
}

#[test]
fn nobody_answers_arp_for_the_vip_without_a_master() {
    let mut lab = Lab::new("nomaster", 1);
    lab.start(0, &config("r0", 150, "100ms", ""));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    let arping = |lab: &Lab| {
        lab.client
            .command("arping")
            .args(["-c", "1", "-w", "1", "-I", "eth0", VIP])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(arping(&lab), "the master answers\n{}", lab.logs());
    lab.signal(0, "TERM");
    assert_eq!(lab.wait_exit(0, Duration::from_secs(5)), Some(0));
    assert!(!arping(&lab), "no master, no answer");
}

#[test]
fn socket_mode_elects_and_fails_over_without_xdp() {
    let socket_mode = |router_id: &str, priority: u8| {
        config("", priority, "100ms", "").replacen(
            "router_id = \"\"",
            &format!("router_id = \"{router_id}\"\nxdp = \"off\""),
            1,
        )
    };
    let mut lab = Lab::new("sockm", 2);
    lab.start(0, &socket_mode("r0", 150));
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    lab.start(1, &socket_mode("r1", 100));
    std::thread::sleep(Duration::from_secs(1));
    let backup = lab.status(1);
    assert_eq!(backup["dataplane"]["mode"], "socket", "{backup}");
    assert_eq!(backup["instances"][0]["state"], "backup", "{backup}");
    assert!(
        counter(&backup, "advert_accepted") >= 5,
        "adverts through the socket: {backup}"
    );
    let ping = lab
        .client
        .command("ping")
        .args(["-c", "2", "-i", "0.2", "-W", "1", VIP])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "the kernel answers ARP for the VIP\n{}",
        lab.logs()
    );
    lab.cut(0);
    assert!(
        lab.wait_for_holder_or_both(1, VIP, SETTLE),
        "{}",
        lab.logs()
    );
}

#[test]
fn without_privileges_xdp_falls_back_loudly_then_fails_clearly() {
    let lab = Lab::new("nopriv", 1);
    let dir = std::env::temp_dir().join(format!("xvrrpd-nopriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The unprivileged user may not be able to reach the build directory: run a copy. The
    // directory is the user's, for the control socket and its lock file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.join("xvrrpd");
    std::fs::copy(tests::lab::xvrrpd_binary(), &binary).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let path = dir.join("r0.toml");
    let socket = dir.join("r0.sock");
    std::fs::write(
        &path,
        config("r0", 150, "100ms", "").replace("@SOCKET@", &socket.to_string_lossy()),
    )
    .unwrap();
    let out = lab.routers[0]
        .netns
        .command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["run", "-c"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("XDP is unavailable") && text.contains("falling back to socket mode"),
        "{text}"
    );
    assert!(text.contains("needs CAP_NET_RAW"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
