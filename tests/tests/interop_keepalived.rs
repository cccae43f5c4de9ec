//! xvrrpd and keepalived 2.2.7 (Debian's) as VRRP peers in a lab: both agree on the master and
//! fail over both ways, VRRPv2 and v3, multicast and unicast; they read a quoted password in
//! one keepalived.conf alike; tshark's VRRP dissector finds every advert xvrrpd sends valid.
//! Root only.
use std::{
    process::Command,
    time::{Duration, Instant},
};

use tests::lab::Lab;

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(8);

#[derive(Clone, Copy, Debug)]
enum Version {
    V2,
    V3,
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Multicast,
    Unicast,
}

fn keepalived_conf(
    version: Version,
    transport: Transport,
    priority: u8,
    me: &str,
    peer: &str,
) -> String {
    let (vrrp_version, advert) = match version {
        Version::V2 => (2, "1"),
        Version::V3 => (3, "0.1"),
    };
    let unicast = match transport {
        Transport::Multicast => String::new(),
        Transport::Unicast => {
            format!("    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n")
        }
    };
    format!(
        "global_defs {{\n    router_id ka\n    vrrp_version {vrrp_version}\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n\
         \x20   priority {priority}\n    advert_int {advert}\n{unicast}\
         \x20   virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn xvrrpd_conf(
    version: Version,
    transport: Transport,
    priority: u8,
    me: &str,
    peer: &str,
) -> String {
    let (number, interval) = match version {
        Version::V2 => (2, "1s"),
        Version::V3 => (3, "100ms"),
    };
    let unicast = match transport {
        Transport::Multicast => String::new(),
        Transport::Unicast => format!("unicast_peers = [\"{peer}\"]\nunicast_source = \"{me}\"\n"),
    };
    format!(
        "[global]\nrouter_id = \"xv\"\ncontrol_socket = \"@SOCKET@\"\n\n[[instance]]\n\
         name = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         version = {number}\nadvert_interval = \"{interval}\"\n\
         virtual_ips = [\"{VIP}/24\"]\n{unicast}"
    )
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

/// `master_is_keepalived`: keepalived (priority 150) on r0 and xvrrpd (100) on r1, or the
/// reverse. Both must agree on the master, then the master stops (priority 0) and the other
/// takes over.
fn scenario(version: Version, transport: Transport, master_is_keepalived: bool) {
    let tag = format!(
        "ka{}{}{}",
        matches!(version, Version::V3) as u8 + 2,
        if matches!(transport, Transport::Unicast) {
            "u"
        } else {
            "m"
        },
        if master_is_keepalived { "k" } else { "x" }
    );
    let mut lab = Lab::new(&tag, 2);
    let (r0, r1) = ("192.0.2.11", "192.0.2.12");
    if master_is_keepalived {
        lab.start_keepalived(0, &keepalived_conf(version, transport, 150, r0, r1));
        assert!(
            lab.wait_for_holder(0, VIP, SETTLE),
            "keepalived master\n{}",
            lab.logs()
        );
        lab.start(1, &xvrrpd_conf(version, transport, 100, r1, r0));
    } else {
        lab.start(0, &xvrrpd_conf(version, transport, 150, r0, r1));
        assert!(
            lab.wait_for_holder(0, VIP, SETTLE),
            "xvrrpd master\n{}",
            lab.logs()
        );
        lab.start_keepalived(1, &keepalived_conf(version, transport, 100, r1, r0));
    }
    // They agree: r0 stays the only holder while r1 runs as backup.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        lab.holder(VIP),
        Some(0),
        "{tag}: one master, r0\n{}",
        lab.logs()
    );
    if master_is_keepalived {
        let status = lab.status(1);
        assert_eq!(status["instances"][0]["state"], "backup", "{tag}: {status}");
        assert_eq!(
            status["instances"][0]["master_address"], r0,
            "{tag}: {status}"
        );
    }

    // The master stops gracefully: the other side takes over.
    lab.signal(0, "TERM");
    assert!(
        wait_until(SETTLE, || lab.holds(1, VIP) && !lab.holds(0, VIP)),
        "{tag}: r1 takes over when r0 stops\n{}",
        lab.logs()
    );
}

#[test]
fn keepalived_and_xvrrpd_agree_and_fail_over_both_ways() {
    let mut scenarios = Vec::new();
    for version in [Version::V2, Version::V3] {
        for transport in [Transport::Multicast, Transport::Unicast] {
            for master_is_keepalived in [true, false] {
                scenarios.push((version, transport, master_is_keepalived));
            }
        }
    }
    // Four at a time: each lab is mostly waiting.
    for chunk in scenarios.chunks(4) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&(version, transport, ka)| {
                    scope.spawn(move || scenario(version, transport, ka))
                })
                .collect();
            for handle in handles {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        });
    }
}

#[test]
fn tshark_finds_every_xvrrpd_advert_valid() {
    let mut lab = Lab::new("tshark", 1);
    let capture = std::env::temp_dir().join(format!("xvrrpd-tshark-{}.pcap", std::process::id()));
    let mut dump = lab
        .bridge
        .command("tcpdump")
        // Immediate mode: otherwise the last packets sit in an unfinished capture block and
        // are lost when tcpdump is interrupted.
        .args(["--immediate-mode", "-U", "-n", "-i", "p0", "-w"])
        .arg(&capture)
        .arg("ip proto 112")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(500));
    lab.start(
        0,
        &xvrrpd_conf(
            Version::V3,
            Transport::Multicast,
            150,
            "192.0.2.11",
            "192.0.2.12",
        ),
    );
    assert!(lab.wait_for_holder(0, VIP, SETTLE), "{}", lab.logs());
    std::thread::sleep(Duration::from_secs(1));
    lab.signal(0, "TERM");
    lab.wait_exit(0, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();

    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&capture)
        .args([
            "-o",
            "vrrp.v3_checksum_as_in_v2:FALSE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "vrrp.checksum.status",
            "-e",
            "ip.checksum.status",
            "-e",
            "ip.id",
            "-e",
            "vrrp.prio",
        ])
        .output()
        .expect("tshark");
    let _ = std::fs::remove_file(&capture);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 8,
        "adverts captured: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Field value 1 = "Good": the VRRP checksum and the IPv4 header's.
    assert!(
        lines.iter().all(|line| line.starts_with("1\t1\t")),
        "every checksum Good:\n{text}"
    );
    // The Master repeats one prebuilt frame; each still carries the next IP ID, as keepalived's.
    let ids: Vec<u16> = lines
        .iter()
        .map(|line| {
            let id = line.split('\t').nth(2).unwrap_or_default();
            u16::from_str_radix(id.trim_start_matches("0x"), 16).expect("ip.id")
        })
        .collect();
    assert!(
        ids.windows(2)
            .all(|pair| pair[1] == pair[0].wrapping_add(1)),
        "IP IDs count up by one: {ids:?}"
    );
    assert!(lines.iter().any(|line| line.ends_with("\t150")), "{text}");
    assert!(
        lines.last().is_some_and(|line| line.ends_with("\t0")),
        "priority 0 on stop: {text}"
    );
}

/// keepalived and xvrrpd reading the same keepalived.conf agree on its password as written
/// with quotes and a backslash: keepalived keeps single quotes and escapes nothing, and so must
/// xvrrpd, or each drops the other's adverts and both become Master.
#[test]
fn a_quoted_password_means_the_same_to_both() {
    tests::require_root();
    let mut lab = Lab::new("kaquote", 2);
    let conf = |priority: u8| {
        let conf = keepalived_conf(Version::V2, Transport::Multicast, priority, "", "");
        let auth =
            "    authentication {\n        auth_type PASS\n        auth_pass 'se\\cr'\n    }\n";
        conf.replace(
            "    virtual_ipaddress",
            &format!("{auth}    virtual_ipaddress"),
        )
    };
    lab.start_keepalived(0, &conf(150));
    assert!(
        lab.wait_for_holder(0, VIP, SETTLE),
        "keepalived master\n{}",
        lab.logs()
    );
    lab.start_file(1, "keepalived.conf", &conf(100));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.holder(VIP), Some(0), "one master, r0\n{}", lab.logs());
    let status = lab.status(1);
    assert_eq!(status["instances"][0]["state"], "backup", "{status}");
    assert_eq!(
        status["instances"][0]["master_address"], "192.0.2.11",
        "{status}"
    );
}
