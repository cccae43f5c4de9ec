//! `Netlink::add_address_with` against a real kernel: a VIP added with keepalived's `label`,
//! `scope` and `brd` options is read back with `ip -j addr` carrying each of them, and a scope
//! the kernel refuses is an error naming the address; and a daemon in a lab applies them as
//! Master and removes every VIP on stop. Root only; fails loudly otherwise.
use std::{
    io::{BufRead, BufReader},
    net::IpAddr,
    process::Stdio,
    time::Duration,
};

use serde_json::Value;
use tests::{
    lab::Lab,
    netns::{Netns, veth},
};
use vrrp_user::netlink::{AddressOptions, Netlink};

/// Runs `f` on a current-thread runtime built in the calling (namespace-entered) thread.
fn run<T, F: Future<Output = T>>(f: impl FnOnce() -> F) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f())
}

/// The `addr_info` entry of `dev` for `local`, from `ip -j addr show dev DEV`.
fn addr_info(netns: &Netns, dev: &str, local: &str) -> Option<Value> {
    let out = netns.ip(&["-j", "addr", "show", "dev", dev]);
    let links: Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
    links[0]["addr_info"]
        .as_array()?
        .iter()
        .find(|a| a["local"] == local)
        .cloned()
}

#[test]
fn vip_label_scope_and_broadcast_are_set() {
    tests::require_root();
    let a = Netns::new("nlattr-a");
    let b = Netns::new("nlattr-b");
    veth(&a, "vA", &b, "vB");
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "vA"]);
    let va = a.ifindex("vA");
    a.enter(|| {
        run(|| async {
            let nl = Netlink::new().expect("netlink");
            let with_all = AddressOptions {
                label: Some("vA:web".into()),
                scope: Some(253),
                broadcast: Some("198.51.100.127".parse().unwrap()),
            };
            // Its own subnet: a secondary address must have the scope of its subnet's primary.
            let vip: IpAddr = "198.51.100.100".parse().unwrap();
            // Twice: the second add is the idempotent EEXIST case.
            for _ in 0..2 {
                nl.add_address_with(va, vip, 24, &with_all)
                    .await
                    .expect("add with options");
            }
            let host_scope = AddressOptions {
                scope: Some(254),
                ..AddressOptions::default()
            };
            let vip2: IpAddr = "192.0.2.101".parse().unwrap();
            nl.add_address_with(va, vip2, 32, &host_scope)
                .await
                .expect("add host scope");
            let v6: IpAddr = "2001:db8::100".parse().unwrap();
            let site = AddressOptions {
                scope: Some(200),
                ..AddressOptions::default()
            };
            nl.add_address_with(va, v6, 64, &site)
                .await
                .expect("add IPv6 site scope");

            // In 192.0.2.1/24's subnet another scope than the primary's is refused (EINVAL,
            // "ipv4: Invalid scope value"), and the error names the address.
            let refused = nl
                .add_address_with(
                    va,
                    "192.0.2.102".parse().unwrap(),
                    24,
                    &AddressOptions {
                        scope: Some(253),
                        ..AddressOptions::default()
                    },
                )
                .await
                .expect_err("a link-scope secondary of a global primary");
            assert!(
                refused.to_string().contains("adding 192.0.2.102/24"),
                "{refused}"
            );
            assert_eq!(refused.errno(), Some(libc::EINVAL), "{refused}");

            let info = addr_info(&a, "vA", "198.51.100.100").expect("198.51.100.100 listed");
            assert_eq!(info["prefixlen"], 24, "{info}");
            assert_eq!(info["label"], "vA:web", "{info}");
            assert_eq!(info["scope"], "link", "{info}");
            assert_eq!(info["broadcast"], "198.51.100.127", "{info}");

            let info = addr_info(&a, "vA", "192.0.2.101").expect("192.0.2.101 listed");
            assert_eq!(info["scope"], "host", "{info}");
            // No label given: the kernel names it after the interface.
            assert_eq!(info["label"], "vA", "{info}");

            // The kernel derives an IPv6 address's scope from the address and ignores the
            // header's (the address is added all the same).
            let info = addr_info(&a, "vA", "2001:db8::100").expect("2001:db8::100 listed");
            assert_eq!(info["scope"], "global", "{info}");
            assert!(addr_info(&a, "vA", "192.0.2.102").is_none());

            // Removed with the prefix it was added with, whatever its options.
            nl.remove_address(va, vip, 24).await.expect("remove");
            assert!(addr_info(&a, "vA", "198.51.100.100").is_none());
        })
    });
}

/// The `addr_info` entries of `dev` in a lab router, by address.
fn router_addr(lab: &Lab, router: usize, dev: &str, local: &str) -> Option<Value> {
    addr_info(&lab.routers[router].netns, dev, local)
}

/// A keepalived.conf master whose VIPs carry every option: they show up with them in
/// `ip -j addr` (one on a second interface through `dev`), and all go when the daemon stops.
#[test]
fn a_master_adds_vips_with_their_options_and_removes_them_all_on_stop() {
    tests::require_root();
    let mut lab = Lab::new("vipattr", 1);
    let router = &lab.routers[0].netns;
    // A second interface with carrier for `dev eth1` (a veth pair inside the router).
    router.ip(&[
        "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    router.ip(&["link", "set", "eth1", "up"]);
    router.ip(&["link", "set", "eth1p", "up"]);
    let eth1_mac = router.mac("eth1").map(|b| format!("{b:02x}")).join(":");
    // The gratuitous ARP for the eth1 VIP, seen at the other end of eth1.
    let mut capture = router
        .command("timeout")
        .args(["15", "tcpdump", "-l", "-n", "-e", "-c", "1", "-i", "eth1p"])
        .args(["arp", "and", "host", "203.0.113.100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump");
    // tcpdump says "listening on" once it captures (after a line about verbosity).
    let mut stderr = BufReader::new(capture.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("listening on eth1p") {
        let before = said.len();
        stderr.read_line(&mut said).unwrap();
        assert!(said.len() > before, "tcpdump ended: {said}");
    }
    let config = r#"
vrrp_instance VI_1 {
    interface eth0
    state MASTER
    virtual_router_id 51
    priority 101
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24 label eth0:web
        198.51.100.100/24 brd 198.51.100.127 scope link label eth0:lnk
        203.0.113.100/24 dev eth1 label eth1:vip
        203.0.113.101/32 dev eth1 scope host
    }
}
"#;
    lab.start_file(0, "r0-keepalived.conf", config);
    assert!(
        lab.wait_for_state(0, "master", Duration::from_secs(8)),
        "{}",
        lab.logs()
    );
    let everything = |lab: &Lab| {
        [
            ("eth0", "192.0.2.100"),
            ("eth0", "198.51.100.100"),
            ("eth1", "203.0.113.100"),
            ("eth1", "203.0.113.101"),
        ]
        .map(|(dev, local)| router_addr(lab, 0, dev, local))
    };
    assert!(
        tests::eventually(Duration::from_secs(5), || everything(&lab)
            .iter()
            .all(Option::is_some)),
        "{:?}\n{}",
        everything(&lab),
        lab.logs()
    );
    let [web, link, other, host] = everything(&lab).map(Option::unwrap);
    assert_eq!(
        (&web["prefixlen"], &web["label"], &web["scope"]),
        (
            &Value::from(24),
            &Value::from("eth0:web"),
            &Value::from("global")
        ),
        "{web}"
    );
    assert_eq!(
        (&link["label"], &link["scope"], &link["broadcast"]),
        (
            &Value::from("eth0:lnk"),
            &Value::from("link"),
            &Value::from("198.51.100.127")
        ),
        "{link}"
    );
    assert_eq!(
        (&other["prefixlen"], &other["label"]),
        (&Value::from(24), &Value::from("eth1:vip")),
        "{other}"
    );
    assert_eq!(
        (&host["prefixlen"], &host["scope"]),
        (&Value::from(32), &Value::from("host")),
        "{host}"
    );
    // Nothing of eth1's went on eth0 or the other way round.
    assert!(router_addr(&lab, 0, "eth0", "203.0.113.100").is_none());
    assert!(router_addr(&lab, 0, "eth1", "192.0.2.100").is_none());
    let captured = capture.wait_with_output().expect("tcpdump");
    let garp = String::from_utf8_lossy(&captured.stdout);
    assert!(
        garp.contains(&eth1_mac) && garp.contains("203.0.113.100"),
        "no gratuitous ARP from eth1 ({eth1_mac}) for 203.0.113.100: {garp:?}\n{}",
        lab.logs()
    );
    // The start-up note about the VIPs XDP does not answer for.
    let log = std::fs::read_to_string(lab.dir().join("r0.log")).unwrap();
    assert!(
        log.contains("virtual IP 203.0.113.100 goes on eth1, not on eth0"),
        "{log}"
    );

    lab.signal(0, "TERM");
    assert_eq!(
        lab.wait_exit(0, Duration::from_secs(8)),
        Some(0),
        "{}",
        lab.logs()
    );
    assert_eq!(everything(&lab), [None, None, None, None], "{}", lab.logs());
}
