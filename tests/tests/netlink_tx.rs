//! `netlink` and `tx` against real kernels: two namespaces joined by a veth pair. Netlink calls
//! are checked with `ip`; what `tx` sends is captured in the other namespace with an AF_PACKET
//! socket and decoded with `wire`. Root only; fails loudly otherwise.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::AsRawFd,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};
use tests::netns::{Netns, veth};
use vrrp_user::{
    netlink::{Interface, IpFamily, LinkEvent, LinkWatch, Netlink, NetlinkError, Vlan},
    tx::{AdvertSender, Garp, SenderConfig, TxError, announce_v4, announce_v6},
    units::{Centiseconds, Seconds},
    wire::{
        self, AuthType, ChecksumMode, FrameInfo, IpInfo, MacAddr, NdpRepr, V2Advert, V3Advert,
        VipList, VlanTag, VrrpRepr,
        vrrp::{MULTICAST_V4, MULTICAST_V6, simple_auth_data},
    },
};

const A_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const B2_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const WAIT: Duration = Duration::from_secs(5);

/// Runs `f` on a current-thread runtime built in the calling (namespace-entered) thread.
fn run<T, F: Future<Output = T>>(f: impl FnOnce() -> F) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f())
}

/// `ip -o addr show dev DEV` in `netns`.
fn addr_show(netns: &Netns, dev: &str) -> String {
    String::from_utf8_lossy(&netns.ip(&["-o", "addr", "show", "dev", dev]).stdout).into_owned()
}

/// The line of `ip -o addr show` that holds `addr/prefix`, if any.
fn addr_line(netns: &Netns, dev: &str, addr_prefix: &str) -> Option<String> {
    let needle = format!(" {addr_prefix} ");
    addr_show(netns, dev)
        .lines()
        .find(|line| line.contains(&needle))
        .map(str::to_owned)
}

/// Waits for `dev`'s link-local address to finish DAD; returns it.
fn link_local(netns: &Netns, dev: &str) -> Ipv6Addr {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = netns.ip(&["-6", "-o", "addr", "show", "dev", dev, "scope", "link"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ready = text
            .lines()
            .find(|l| !l.contains("tentative"))
            .and_then(|l| {
                let cidr = l.split_whitespace().skip_while(|w| *w != "inet6").nth(1)?;
                cidr.split('/').next()?.parse().ok()
            });
        if let Some(addr) = ready {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "{dev}: no usable link-local: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn netlink_interfaces_and_addresses() {
    let a = Netns::new("nl-a");
    let b = Netns::new("nl-b");
    veth(&a, "vA", &b, "vB");
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "vA"]);
    // A bridge stands for a second, idle interface (this lab's kernel has no dummy driver).
    a.ip(&["link", "add", "br0", "type", "bridge"]);
    let (va, br0) = (a.ifindex("vA"), a.ifindex("br0"));
    a.enter(|| {
        run(|| async {
            let nl = Netlink::new().expect("netlink");
            let iface = nl.interface("vA").await.expect("vA");
            assert_eq!(iface.ifindex, va);
            assert_eq!(iface.name, "vA");
            assert_eq!(iface.mac, Some(MacAddr(a.mac("vA"))));
            assert!(iface.admin_up && iface.oper_up, "{iface:?}");
            assert_eq!(
                (iface.mtu, iface.kind.as_deref(), iface.vlan),
                (1500, Some("veth"), None)
            );
            assert_eq!(nl.interface_by_index(va).await.expect("by index"), iface);
            let bridge = nl.interface("br0").await.expect("br0");
            assert!(!bridge.admin_up && !bridge.oper_up, "{bridge:?}");
            assert_eq!(bridge.kind.as_deref(), Some("bridge"));
            let all = nl.interfaces().await.expect("dump");
            assert!(
                all.iter().any(|i| i.name == "lo") && all.contains(&iface),
                "{all:?}"
            );

            // IPv4 VIP: add twice, see it, remove twice.
            let vip4 = IpAddr::from(VIP_V4);
            for _ in 0..2 {
                nl.add_address(va, vip4, 24).await.expect("add VIP");
            }
            assert!(
                addr_line(&a, "vA", "192.0.2.100/24").is_some(),
                "{}",
                addr_show(&a, "vA")
            );
            assert_eq!(
                nl.primary_address(va, IpFamily::V4, &[vip4])
                    .await
                    .expect("primary"),
                Some(IpAddr::from(A_V4))
            );

            // IPv6 VIP: usable at once (NODAD), with its prefix route.
            let vip6 = IpAddr::from(VIP_V6);
            for _ in 0..2 {
                nl.add_address(va, vip6, 64).await.expect("add VIP6");
            }
            let line = addr_line(&a, "vA", "2001:db8::100/64").expect("VIP6 listed");
            assert!(!line.contains("tentative"), "{line}");
            // Control: without NODAD the kernel runs DAD first.
            a.ip(&["addr", "add", "2001:db8::200/64", "dev", "vA"]);
            let control = addr_line(&a, "vA", "2001:db8::200/64").expect("control listed");
            assert!(control.contains("tentative"), "{control}");
            let listed = nl
                .addresses(va, Some(IpFamily::V6))
                .await
                .expect("addresses");
            let vip = listed
                .iter()
                .find(|x| x.addr == vip6)
                .expect("VIP6 in dump");
            assert!(!vip.is_tentative() && vip.prefix_len == 64, "{vip:?}");
            let routes = a.ip(&["-6", "route", "show", "2001:db8::/64"]);
            assert!(
                String::from_utf8_lossy(&routes.stdout).contains("dev vA"),
                "prefix route missing"
            );

            // The primary IPv6 address is the link-local one once DAD is over, never a VIP.
            let deadline = Instant::now() + WAIT;
            let ll = loop {
                match nl
                    .primary_address(va, IpFamily::V6, &[vip6])
                    .await
                    .expect("primary v6")
                {
                    Some(IpAddr::V6(ll)) => break ll,
                    other => assert!(Instant::now() < deadline, "no link-local: {other:?}"),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(ll, link_local(&a, "vA"));

            for _ in 0..2 {
                nl.remove_address(va, vip4, 24).await.expect("remove VIP");
                nl.remove_address(va, vip6, 64).await.expect("remove VIP6");
            }
            let shown = addr_show(&a, "vA");
            assert!(
                !shown.contains("192.0.2.100") && !shown.contains("2001:db8::100/"),
                "{shown}"
            );
            assert!(shown.contains("192.0.2.1/24"), "{shown}");

            // A VIP listed before the real address is skipped when excluded.
            let vip = IpAddr::from(Ipv4Addr::new(203, 0, 113, 100));
            nl.add_address(br0, vip, 24).await.expect("add on br0");
            a.ip(&["addr", "add", "198.51.100.1/24", "dev", "br0"]);
            assert_eq!(
                nl.primary_address(br0, IpFamily::V4, &[]).await.unwrap(),
                Some(vip)
            );
            assert_eq!(
                nl.primary_address(br0, IpFamily::V4, &[vip]).await.unwrap(),
                Some(IpAddr::from(Ipv4Addr::new(198, 51, 100, 1)))
            );
            assert_eq!(
                nl.primary_address(br0, IpFamily::V6, &[]).await.unwrap(),
                None
            );
        })
    });
}

#[test]
#[ignore = "needs a kernel with CONFIG_VLAN_8021Q (this lab's has none): run with --ignored"]
fn netlink_vlan() {
    let a = Netns::new("nlv-a");
    let b = Netns::new("nlv-b");
    veth(&a, "vA", &b, "vB");
    a.ip(&[
        "link", "add", "link", "vA", "name", "vA.42", "type", "vlan", "id", "42",
    ]);
    let (va, vlan) = (a.ifindex("vA"), a.ifindex("vA.42"));
    a.enter(|| {
        run(|| async {
            let nl = Netlink::new().expect("netlink");
            let iface: Interface = nl.interface("vA.42").await.expect("vA.42");
            assert_eq!(iface.ifindex, vlan);
            assert_eq!(iface.vlan, Some(Vlan { parent: va, id: 42 }));
            assert_eq!(iface.kind.as_deref(), Some("vlan"));
            assert_eq!(iface.mac, Some(MacAddr(a.mac("vA"))));
            assert_eq!(nl.interface("vA").await.expect("vA").vlan, None);
        })
    });
}

#[test]
fn netlink_errors() {
    let a = Netns::new("nle-a");
    let b = Netns::new("nle-b");
    veth(&a, "vA", &b, "vB");
    // A macvlan has a parent (IFLA_LINK) but is no VLAN.
    a.ip(&[
        "link", "add", "link", "vA", "name", "mv0", "type", "macvlan",
    ]);
    // IPv6 disabled on a device: the kernel refuses IPv6 addresses with EACCES.
    a.ip(&["link", "add", "br9", "type", "bridge"]);
    let sysctl = a
        .command("sysctl")
        .args(["-qw", "net.ipv6.conf.br9.disable_ipv6=1"])
        .status()
        .expect("sysctl");
    assert!(sysctl.success());
    let (va, br9) = (a.ifindex("vA"), a.ifindex("br9"));
    a.enter(|| {
        run(|| async {
            let nl = Netlink::new().expect("netlink");
            let macvlan = nl.interface("mv0").await.expect("mv0");
            assert_eq!((macvlan.kind.as_deref(), macvlan.vlan), (Some("macvlan"), None));

            let err = nl.interface("eth9").await.unwrap_err();
            assert_eq!(err.to_string(), "interface eth9 does not exist");
            let long = nl.interface("a-name-far-too-long").await.unwrap_err();
            assert!(matches!(long, NetlinkError::NoSuchInterface(_)), "{long}");
            let missing = 0x7fff_0000;
            assert!(matches!(
                nl.interface_by_index(missing).await,
                Err(NetlinkError::NoSuchIndex(_))
            ));
            let vip = IpAddr::from(VIP_V4);
            assert!(matches!(
                nl.add_address(missing, vip, 24).await,
                Err(NetlinkError::NoSuchIndex(_))
            ));
            assert!(matches!(
                nl.remove_address(missing, vip, 24).await,
                Err(NetlinkError::NoSuchIndex(_))
            ));
            assert!(matches!(
                nl.add_address(va, vip, 33).await,
                Err(NetlinkError::InvalidPrefix { .. })
            ));
            // A kernel refusal comes back with its errno and what was asked.
            let err = nl.add_address(br9, IpAddr::from(VIP_V6), 64).await.unwrap_err();
            assert_eq!(err.errno(), Some(libc::EACCES), "{err}");
            assert_eq!(
                err.to_string(),
                format!("adding 2001:db8::100/64 to interface index {br9}: Permission denied (os error 13)")
            );
        })
    });
}

/// Waits for an event equal to `want`; returns the events before it, fails with them if it
/// does not come.
async fn expect_event(watch: &mut LinkWatch, want: LinkEvent) -> Vec<LinkEvent> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = watch.recv().await {
            if event == want {
                return true;
            }
            seen.push(event);
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "waiting for {want:?}; saw {seen:?}");
    seen
}

#[test]
fn netlink_link_watch() {
    let a = Netns::new("nlw-a");
    let b = Netns::new("nlw-b");
    veth(&a, "vA", &b, "vB");
    let va = a.ifindex("vA");
    let changed = |up| LinkEvent::Changed {
        ifindex: va,
        name: "vA".into(),
        up,
    };
    a.enter(|| {
        run(|| async {
            let nl = Netlink::new().expect("netlink");
            let mut watch = nl.watch_links().await.expect("watch");
            // The current state comes first.
            expect_event(&mut watch, changed(true)).await;
            // The peer going down takes vA's carrier.
            b.ip(&["link", "set", "vB", "down"]);
            expect_event(&mut watch, changed(false)).await;
            b.ip(&["link", "set", "vB", "up"]);
            expect_event(&mut watch, changed(true)).await;
            a.ip(&["link", "set", "vA", "down"]);
            expect_event(&mut watch, changed(false)).await;
            a.ip(&["link", "set", "vA", "up"]);
            expect_event(&mut watch, changed(true)).await;
            a.ip(&["link", "add", "br1", "type", "bridge"]);
            let br1 = a.ifindex("br1");
            let name = "br1".to_owned();
            expect_event(
                &mut watch,
                LinkEvent::Changed {
                    ifindex: br1,
                    name: name.clone(),
                    up: false,
                },
            )
            .await;
            // A bridge port's AF_BRIDGE notifications are not link events: vA joining and
            // leaving br1 must not read as vA removed.
            a.ip(&["link", "set", "vA", "master", "br1"]);
            a.ip(&["link", "set", "vA", "nomaster"]);
            a.ip(&["link", "del", "br1"]);
            let before = expect_event(&mut watch, LinkEvent::Removed { ifindex: br1, name }).await;
            assert!(
                before
                    .iter()
                    .all(|e| !matches!(e, LinkEvent::Removed { ifindex, .. } if *ifindex == va)),
                "{before:?}"
            );
            a.ip(&["link", "del", "vA"]);
            expect_event(
                &mut watch,
                LinkEvent::Removed {
                    ifindex: va,
                    name: "vA".into(),
                },
            )
            .await;
        })
    });
}

/// An AF_PACKET socket receiving every frame of one interface, in the namespace of the
/// thread that opened it. The kernel takes the 802.1Q tag off received frames (into
/// metadata); the capture puts it back, so frames are as they were on the wire.
struct Capture(Socket);

const PACKET_OUTGOING: u8 = 4;

impl Capture {
    fn open(ifindex: u32) -> Capture {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(all))),
        )
        .expect("AF_PACKET socket");
        socket
            .bind(&tests::packet::link_address(
                ifindex,
                libc::ETH_P_ALL as u16,
            ))
            .expect("bind to the interface");
        tests::packet::enable_option(&socket, libc::PACKET_AUXDATA);
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Capture(socket)
    }

    /// One incoming frame (tag restored), `None` on timeout or for an outgoing frame.
    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        let mut control = [0u64; 16];
        // SAFETY: plain data; all-zero is a valid starting value.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut from).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` is valid for the length given.
        let n = usize::try_from(unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, 0) }).ok()?;
        if from.sll_pkttype == PACKET_OUTGOING {
            return None;
        }
        let mut frame = buf[..n].to_vec();
        // SAFETY: the kernel filled `control` with `msg_controllen` bytes of cmsgs.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: a cmsg header the kernel wrote; PACKET_AUXDATA carries a tpacket_auxdata.
            unsafe {
                if (*cmsg).cmsg_level == libc::SOL_PACKET
                    && (*cmsg).cmsg_type == libc::PACKET_AUXDATA
                {
                    let aux: libc::tpacket_auxdata =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 && frame.len() >= 12 {
                        let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                            aux.tp_vlan_tpid
                        } else {
                            0x8100
                        };
                        let tag = [tpid.to_be_bytes(), aux.tp_vlan_tci.to_be_bytes()].concat();
                        frame.splice(12..12, tag);
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Some(frame)
    }

    /// Incoming frames `keep` accepts, until there are `want` of them or the wait is over.
    fn frames(&self, want: usize, wait: Duration, keep: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while out.len() < want && Instant::now() < deadline {
            if let Some(frame) = self.recv().filter(|f| keep(f)) {
                out.push(frame);
            }
        }
        out
    }
}

/// The EtherType after an optional 802.1Q tag, and where the L3 header starts.
fn l3(frame: &[u8]) -> (u16, usize) {
    let at = |i: usize| {
        frame
            .get(i..i + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    match at(12) {
        0x8100 => (at(16), 18),
        other => (other, 14),
    }
}

fn is_vrrp(frame: &[u8]) -> bool {
    match l3(frame) {
        (0x0800, l3) => frame.get(l3 + 9) == Some(&112),
        (0x86dd, l3) => frame.get(l3 + 6) == Some(&112),
        _ => false,
    }
}

fn is_arp(frame: &[u8]) -> bool {
    l3(frame).0 == 0x0806
}

fn is_na(frame: &[u8]) -> bool {
    let (ethertype, l3) = l3(frame);
    ethertype == 0x86dd && frame.get(l3 + 6) == Some(&58) && frame.get(l3 + 40) == Some(&136)
}

fn v3_v4(vrid: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid,
        priority: 100,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V4(vec![VIP_V4]),
    })
}

fn v3_v6() -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority: 100,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V6(vec![VIP_V6]),
    })
}

/// Two namespaces joined by vA–vB, IPv4 on both ends, B's capture socket on vB.
struct Lab {
    a: Netns,
    b: Netns,
    va: u32,
    mac_a: MacAddr,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let a = Netns::new(&format!("{tag}-a"));
        let b = Netns::new(&format!("{tag}-b"));
        veth(&a, "vA", &b, "vB");
        a.ip(&["addr", "add", "192.0.2.1/24", "dev", "vA"]);
        b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vB"]);
        b.ip(&["addr", "add", "192.0.2.3/24", "dev", "vB"]);
        let (va, mac_a) = (a.ifindex("vA"), MacAddr(a.mac("vA")));
        Lab { a, b, va, mac_a }
    }

    fn capture(&self, dev: &str) -> Capture {
        let index = self.b.ifindex(dev);
        self.b.enter(|| Capture::open(index))
    }

    fn sender(&self, source: IpAddr, peers: Vec<IpAddr>) -> AdvertSender {
        let config = SenderConfig {
            interface: "vA".into(),
            ifindex: self.va,
            source,
            peers,
        };
        self.a
            .enter(|| AdvertSender::open(&config))
            .expect("sender")
    }
}

/// Decodes captured adverts, asserting what every advert we send must have.
fn decode(frames: &[Vec<u8>], mode: ChecksumMode, mac: MacAddr) -> Vec<(FrameInfo, VrrpRepr)> {
    frames
        .iter()
        .map(|frame| {
            let (info, advert) = wire::parse_advert_frame(frame, mode).expect("valid advert");
            assert_eq!(info.src_mac, mac);
            assert_eq!(info.ttl(), 255, "{info:?}");
            match info.ip {
                IpInfo::V4 { tos, dont_frag, .. } => assert_eq!((tos, dont_frag), (0xc0, false)),
                IpInfo::V6 { traffic_class, .. } => assert_eq!(traffic_class, 0xc0),
            }
            (info, advert)
        })
        .collect()
}

#[test]
fn tx_adverts_ipv4_multicast() {
    let lab = Lab::new("txm");
    let capture = lab.capture("vB");
    let sender = lab.sender(A_V4.into(), vec![]);
    assert_eq!(
        sender.destinations().collect::<Vec<_>>(),
        [IpAddr::from(MULTICAST_V4)]
    );

    // v3 with the pseudo-header, v3 without, v2 with a password.
    let v2 = VrrpRepr::V2(V2Advert {
        vrid: 52,
        priority: 150,
        adver_int: Seconds(1),
        auth_type: AuthType::SimpleText,
        auth_data: simple_auth_data(b"secret"),
        addresses: vec![VIP_V4],
    });
    let cases = [
        (v3_v4(51), ChecksumMode::PseudoHeader),
        (v3_v4(53), ChecksumMode::VrrpOnly),
        (v2, ChecksumMode::VrrpOnly),
    ];
    for (advert, mode) in &cases {
        sender.send(advert, *mode).expect("send");
        let frames = capture.frames(1, WAIT, is_vrrp);
        assert_eq!(frames.len(), 1, "advert not captured");
        let (info, got) = decode(&frames, *mode, lab.mac_a).remove(0);
        assert_eq!(&got, advert);
        assert_eq!(
            (info.src_ip(), info.dst_ip()),
            (IpAddr::from(A_V4), IpAddr::from(MULTICAST_V4))
        );
        assert_eq!(info.dst_mac, MacAddr::ipv4_multicast(MULTICAST_V4));
        if advert.version() == 3 {
            // The checksum is the one of the mode used, not the other.
            let other = match mode {
                ChecksumMode::PseudoHeader => ChecksumMode::VrrpOnly,
                ChecksumMode::VrrpOnly => ChecksumMode::PseudoHeader,
            };
            assert!(wire::parse_advert_frame(&frames[0], other).is_err());
        }
    }

    // A batch: three VRIDs in one sendmmsg.
    let batch = [v3_v4(60), v3_v4(61), v3_v4(62)];
    let report = sender.send_batch(&batch, ChecksumMode::PseudoHeader);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.sent, 3);
    let frames = capture.frames(3, WAIT, is_vrrp);
    let vrids: Vec<u8> = decode(&frames, ChecksumMode::PseudoHeader, lab.mac_a)
        .iter()
        .map(|(_, a)| a.vrid())
        .collect();
    assert_eq!(vrids, [60, 61, 62]);

    // A VIP list of the wrong family is refused before anything is sent.
    let err = sender
        .send(&v3_v6(), ChecksumMode::PseudoHeader)
        .unwrap_err();
    assert!(matches!(err, TxError::Encode { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("vA: building the advert to 224.0.0.18"),
        "{err}"
    );
}

#[test]
fn tx_adverts_ipv4_unicast() {
    let lab = Lab::new("txu");
    let capture = lab.capture("vB");
    let peers = vec![IpAddr::from(B_V4), IpAddr::from(B2_V4)];
    let sender = lab.sender(A_V4.into(), peers.clone());
    sender
        .send(&v3_v4(51), ChecksumMode::PseudoHeader)
        .expect("send");
    let frames = capture.frames(2, WAIT, is_vrrp);
    let decoded = decode(&frames, ChecksumMode::PseudoHeader, lab.mac_a);
    let mut dsts: Vec<IpAddr> = decoded.iter().map(|(info, _)| info.dst_ip()).collect();
    dsts.sort();
    // Each one's pseudo-header checksum is for its own destination (parse verified it).
    assert_eq!(dsts, peers);
    for (info, advert) in &decoded {
        assert_eq!(info.src_ip(), IpAddr::from(A_V4));
        assert_eq!(info.dst_mac, MacAddr(lab.b.mac("vB")));
        assert_eq!(advert, &v3_v4(51));
    }
}

#[test]
fn tx_adverts_ipv6() {
    let lab = Lab::new("tx6");
    let (ll_a, ll_b) = (link_local(&lab.a, "vA"), link_local(&lab.b, "vB"));
    let capture = lab.capture("vB");
    let sender = lab.sender(ll_a.into(), vec![]);
    // IPV6_CHECKSUM stays off (-1): the VRRP checksum is ours.
    let mut offset: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `offset` and `len` are valid for writing an int.
    let rc = unsafe {
        libc::getsockopt(
            sender.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            (&raw mut offset).cast(),
            &mut len,
        )
    };
    assert_eq!((rc, offset), (0, -1));

    sender
        .send(&v3_v6(), ChecksumMode::PseudoHeader)
        .expect("send");
    let frames = capture.frames(1, WAIT, is_vrrp);
    assert_eq!(frames.len(), 1, "advert not captured");
    let (info, advert) = decode(&frames, ChecksumMode::PseudoHeader, lab.mac_a).remove(0);
    assert_eq!(advert, v3_v6());
    assert_eq!(
        (info.src_ip(), info.dst_ip()),
        (IpAddr::from(ll_a), IpAddr::from(MULTICAST_V6))
    );
    assert_eq!(info.dst_mac, MacAddr::ipv6_multicast(MULTICAST_V6));

    // Unicast to the peer's link-local address: hop limit 255 too (RFC 5798 §5.1.2.3).
    let unicast = lab.sender(ll_a.into(), vec![ll_b.into()]);
    unicast
        .send(&v3_v6(), ChecksumMode::PseudoHeader)
        .expect("send");
    let frames = capture.frames(1, WAIT, is_vrrp);
    assert_eq!(frames.len(), 1, "unicast advert not captured");
    let (info, _) = decode(&frames, ChecksumMode::PseudoHeader, lab.mac_a).remove(0);
    assert_eq!(info.dst_ip(), IpAddr::from(ll_b));
}

/// A raw VRRP socket in the sender's own namespace, joined to the group on vA.
fn own_receiver(lab: &Lab, v6: bool) -> Socket {
    lab.a.enter(|| {
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(112))).expect("raw");
        if v6 {
            socket
                .join_multicast_v6(&MULTICAST_V6, lab.va)
                .expect("join v6");
        } else {
            socket
                .join_multicast_v4_n(
                    &MULTICAST_V4,
                    &socket2::InterfaceIndexOrAddress::Index(lab.va),
                )
                .expect("join v4");
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        socket
    })
}

fn received(socket: &Socket) -> usize {
    let mut count = 0;
    let mut buf = [std::mem::MaybeUninit::new(0u8); 1500];
    while socket.recv(&mut buf).is_ok() {
        count += 1;
    }
    count
}

#[test]
fn tx_multicast_loop_is_off() {
    let lab = Lab::new("txl");
    let ll_a = link_local(&lab.a, "vA");
    let capture = lab.capture("vB");
    for (source, advert, v6) in [
        (IpAddr::from(A_V4), v3_v4(51), false),
        (ll_a.into(), v3_v6(), true),
    ] {
        let receiver = own_receiver(&lab, v6);
        let sender = lab.sender(source, vec![]);
        for _ in 0..3 {
            sender
                .send(&advert, ChecksumMode::PseudoHeader)
                .expect("send");
        }
        assert_eq!(
            capture.frames(3, WAIT, is_vrrp).len(),
            3,
            "adverts not on the wire"
        );
        assert_eq!(
            received(&receiver),
            0,
            "the sender heard its own adverts (v6: {v6})"
        );
        // Control: with the loop on, the same receiver hears them.
        let (level, option) = if v6 {
            (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP)
        } else {
            (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)
        };
        let on: libc::c_int = 1;
        // SAFETY: an int option of the right size on a live socket.
        let rc = unsafe {
            libc::setsockopt(
                sender.as_raw_fd(),
                level,
                option,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        sender
            .send(&advert, ChecksumMode::PseudoHeader)
            .expect("send");
        assert_eq!(received(&receiver), 1, "control: loop on (v6: {v6})");
        capture.frames(1, WAIT, is_vrrp);
    }
}

#[test]
fn tx_gratuitous_arp_and_na() {
    let lab = Lab::new("txg");
    let capture = lab.capture("vB");
    let vips = [IpAddr::from(VIP_V4), IpAddr::from(VIP_V6)];
    let garp = lab
        .a
        .enter(|| Garp::open("vA", lab.va, lab.mac_a, None))
        .expect("garp");
    let started = Instant::now();
    let tally = AtomicU64::new(0);
    let report = run(|| garp.send_burst(&vips, 3, Duration::from_millis(50), &tally));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.sent, 6);
    assert_eq!(tally.load(Ordering::Relaxed), 6);
    // Six messages, each 50 ms after the one before (not only between rounds).
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "no pause between messages: {:?}",
        started.elapsed()
    );

    let frames = capture.frames(6, WAIT, |f| is_arp(f) || is_na(f));
    assert_eq!(frames.len(), 6);
    let (arps, nas): (Vec<_>, Vec<_>) = frames.iter().partition(|f| is_arp(f));
    assert_eq!((arps.len(), nas.len()), (3, 3));
    for frame in arps {
        let (eth, arp) = wire::arp::parse_frame(frame).expect("ARP");
        assert_eq!(
            (eth.src, eth.dst, eth.vlan),
            (lab.mac_a, MacAddr::BROADCAST, None)
        );
        assert!(arp.is_gratuitous(), "{arp:?}");
        assert_eq!((arp.sender_mac, arp.sender_ip), (lab.mac_a, VIP_V4));
    }
    for frame in nas {
        let (eth, ip, ndp) = wire::ndp::parse_frame(frame).expect("NA");
        assert_eq!(eth.src, lab.mac_a);
        assert_eq!(
            (ip.src, ip.dst, ip.hop_limit),
            (VIP_V6, wire::ndp::ALL_NODES, 255)
        );
        let NdpRepr::NeighborAdvert {
            flags,
            target,
            target_lladdr,
        } = ndp
        else {
            panic!("not an NA: {ndp:?}");
        };
        assert_eq!((target, target_lladdr), (VIP_V6, Some(lab.mac_a)));
        assert!(
            flags.override_ && !flags.router && !flags.solicited,
            "{flags:?}"
        );
    }
}

#[test]
fn tx_announcements_tagged_on_the_parent() {
    let lab = Lab::new("txv");
    let capture = lab.capture("vB");
    let tag = Some(VlanTag {
        pcp: 0,
        dei: false,
        vid: 42,
    });
    lab.a.enter(|| {
        announce_v4(lab.va, lab.mac_a, VIP_V4, tag).expect("GARP");
        announce_v6(lab.va, lab.mac_a, VIP_V6, tag).expect("NA");
    });
    let frames = capture.frames(2, WAIT, |f| is_arp(f) || is_na(f));
    assert_eq!(frames.len(), 2);
    let arp = frames.iter().find(|f| is_arp(f)).expect("ARP on VLAN 42");
    let (eth, arp) = wire::arp::parse_frame(arp).expect("ARP");
    assert_eq!((eth.vlan, arp.sender_ip), (tag, VIP_V4));
    let na = frames.iter().find(|f| is_na(f)).expect("NA on VLAN 42");
    let (eth, _, ndp) = wire::ndp::parse_frame(na).expect("NA");
    assert_eq!(eth.vlan, tag);
    assert!(matches!(ndp, NdpRepr::NeighborAdvert { target, .. } if target == VIP_V6));
}

#[test]
fn tx_setup_errors() {
    let lab = Lab::new("txe");
    // Not an address of vA: binding fails, with the interface and address named.
    let config = SenderConfig {
        interface: "vA".into(),
        ifindex: lab.va,
        source: IpAddr::from(Ipv4Addr::new(198, 51, 100, 7)),
        peers: vec![],
    };
    let err = lab.a.enter(|| AdvertSender::open(&config)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vA: binding to 198.51.100.7: Cannot assign requested address (os error 99)"
    );
}
