//! The socket-only data plane on real interfaces: two namespaces joined by veths, adverts
//! crafted in one and sent raw (AF_PACKET), judged by the raw IPPROTO 112 sockets of the
//! other. Checks events, observations and the counter slots a frame lands in, as the XDP
//! fixtures do for the XDP program. Root only; fails loudly otherwise.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tests::{
    netns::{Netns, veth},
    packet::send_frames,
};
use tokio::sync::mpsc::{self, error::TryRecvError};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{
        AdvertEvent, InstanceConfig, InstanceKey, InstanceState, event_reasons, instance_flags,
    },
};
use vrrp_user::{
    dataplane::{
        self, CounterTotals, Dataplane, Mode, Request, address16, monotonic_now_ns,
        socket::SocketDataplane,
    },
    units::{Centiseconds, Seconds},
    wire::{
        self, AuthType, ChecksumMode, FrameInfo, IpInfo, MacAddr, V2Advert, V3Advert, VipList,
        VrrpRepr,
    },
};

const A_V4: &str = "192.0.2.1/24";
const B_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const A_V6: &str = "2001:db8::1/64";
/// On A's second veth, which the data plane is not told about.
const A2_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11);
const B_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const PASSWORD: [u8; 8] = *b"xvrrpd\0\0";
const WAIT: Duration = Duration::from_secs(2);
/// Where the VRRP message starts in an untagged IPv4 frame.
const VRRP_V4: usize = 14 + 20;

fn key(ifindex: u32, vrid: u8, family: u8) -> InstanceKey {
    InstanceKey {
        ifindex,
        vlan: 0,
        vrid,
        family,
    }
}

fn config(version: u8, flags: u8) -> InstanceConfig {
    InstanceConfig {
        state: InstanceState::Backup as u8,
        priority: 100,
        version,
        flags,
        auth_data: if flags & instance_flags::AUTH_PASS != 0 {
            PASSWORD
        } else {
            [0; 8]
        },
        silence_ns: 60_000_000_000,
        ..InstanceConfig::default()
    }
}

fn v3_v4(vrid: u8, priority: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid,
        priority,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V4(vec![VIP_V4]),
    })
}

fn v3_v6(priority: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority,
        max_adver_int: Centiseconds(10),
        addresses: VipList::V6(vec![VIP_V6]),
    })
}

fn v2(password: [u8; 8]) -> VrrpRepr {
    VrrpRepr::V2(V2Advert {
        vrid: 52,
        priority: 150,
        adver_int: Seconds(1),
        auth_type: AuthType::SimpleText,
        auth_data: password,
        addresses: vec![VIP_V4],
    })
}

/// Namespace B's side: crafts frames from its veth and sends them raw.
struct Sender<'a> {
    netns: &'a Netns,
    ifindex: u32,
    mac: MacAddr,
}

impl Sender<'_> {
    fn frame_v4(&self, advert: &VrrpRepr, ttl: u8) -> Vec<u8> {
        let mut info = FrameInfo::multicast_v4(self.mac, B_V4, 1);
        if let IpInfo::V4 { ttl: t, .. } = &mut info.ip {
            *t = ttl;
        }
        wire::emit_advert_frame(&info, advert, ChecksumMode::PseudoHeader).expect("emit")
    }

    fn frame_v6(&self, advert: &VrrpRepr, hop_limit: u8) -> Vec<u8> {
        let mut info = FrameInfo::multicast_v6(self.mac, B_V6, 0);
        if let IpInfo::V6 { hop_limit: h, .. } = &mut info.ip {
            *h = hop_limit;
        }
        wire::emit_advert_frame(&info, advert, ChecksumMode::PseudoHeader).expect("emit")
    }

    fn send(&self, frame: &[u8]) {
        self.send_on(self.ifindex, frame);
    }

    fn send_on(&self, ifindex: u32, frame: &[u8]) {
        let frames = [frame.to_vec()];
        self.netns.enter(|| send_frames(ifindex, &frames));
    }
}

/// Namespace A's side: the data plane under test and its event queue.
struct Receiver {
    dataplane: Box<dyn Dataplane>,
    events: mpsc::Receiver<AdvertEvent>,
}

impl Receiver {
    fn counters(&self) -> CounterTotals {
        self.dataplane.counters().expect("counters")
    }

    /// Waits until `counter` has moved past `before`.
    async fn counted(&self, counter: Counter, before: u64) {
        let wait = async {
            while self.counters().get(counter) <= before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("{} did not move: {:?}", counter.name(), self.counters()));
    }

    /// Sends `frame` and waits for it to be counted under `counter`; asserts no event came.
    async fn expect_silent(&mut self, sender: &Sender<'_>, frame: &[u8], counter: Counter) {
        let before = self.counters().get(counter);
        sender.send(frame);
        self.counted(counter, before).await;
        // One datagram is judged, counted and its event queued without an await in between:
        // had it raised one, it would be in the queue now.
        self.assert_no_event(counter.name());
    }

    /// Sends `frame` and returns the one event it raises.
    async fn expect_event(&mut self, sender: &Sender<'_>, frame: &[u8]) -> AdvertEvent {
        sender.send(frame);
        let event = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event; counters {:?}", self.counters()))
            .expect("event queue closed");
        self.assert_no_event("after one event");
        event
    }

    fn assert_no_event(&mut self, what: &str) {
        match self.events.try_recv() {
            Err(TryRecvError::Empty) => {}
            other => panic!("{what}: unexpected event {other:?}"),
        }
    }
}

/// Builds a current-thread runtime in the calling (namespace-entered) thread and runs `f`.
fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce() -> F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f());
}

#[test]
fn raw_sockets_validate_adverts_like_xdp() {
    let a = Netns::new("sock-a");
    let b = Netns::new("sock-b");
    veth(&a, "va", &b, "vb");
    veth(&a, "va2", &b, "vb2");
    a.ip(&["addr", "add", A_V4, "dev", "va"]);
    a.ip(&["addr", "add", A_V6, "dev", "va", "nodad"]);
    a.ip(&["addr", "add", "2001:db8::11/128", "dev", "va2", "nodad"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
    b.ip(&["addr", "add", "2001:db8::2/64", "dev", "vb", "nodad"]);
    let va = a.ifindex("va");
    let va2_mac = MacAddr(a.mac("va2"));
    let sender = Sender {
        netns: &b,
        ifindex: b.ifindex("vb"),
        mac: MacAddr(b.mac("vb")),
    };
    let vb2 = b.ifindex("vb2");

    a.enter(|| {
        run(|| async {
            let (dataplane, events) = dataplane::open(Request::Off).expect("socket data plane");
            let mut rx = Receiver { dataplane, events };
            assert_eq!(rx.dataplane.mode(), Mode::Socket);
            assert_eq!(
                rx.dataplane.add_interface("va", va, Some("veth")).unwrap(),
                Mode::Socket
            );
            // Adding it again is harmless.
            assert_eq!(
                rx.dataplane.add_interface("va", va, Some("veth")).unwrap(),
                Mode::Socket
            );
            let plane = &mut rx.dataplane;
            plane
                .set_instance(key(va, 51, FAMILY_V4), config(3, 0))
                .unwrap();
            plane
                .set_instance(key(va, 51, FAMILY_V6), config(3, 0))
                .unwrap();
            plane
                .set_instance(key(va, 52, FAMILY_V4), config(2, instance_flags::AUTH_PASS))
                .unwrap();
            plane.heartbeat().unwrap();

            // VRRPv3 over IPv4: the first advert is a new master.
            let first = sender.frame_v4(&v3_v4(51, 100), 255);
            let before = monotonic_now_ns();
            let event = rx.expect_event(&sender, &first).await;
            let after = monotonic_now_ns();
            assert_eq!(event.reasons, event_reasons::NEW_MASTER);
            assert_eq!(event.instance, key(va, 51, FAMILY_V4));
            assert_eq!(event.source, address16(IpAddr::V4(B_V4)));
            assert_eq!((event.priority, event.interval_cs), (100, 100));
            let seen = rx.dataplane.observation(key(va, 51, FAMILY_V4)).unwrap();
            let seen = seen.expect("an observation");
            assert_eq!(seen.adverts, 1);
            assert_eq!(seen.source, address16(IpAddr::V4(B_V4)));
            assert_eq!((seen.priority, seen.interval_cs), (100, 100));
            assert!((before..=after).contains(&seen.last_advert_ns));
            assert_eq!(event.ktime_ns, seen.last_advert_ns);

            // A steady master's repeat only moves the observation.
            let accepted = rx.counters().get(Counter::AdvertAccepted);
            rx.expect_silent(&sender, &first, Counter::AdvertAccepted)
                .await;
            let seen = rx.dataplane.observation(key(va, 51, FAMILY_V4)).unwrap();
            assert_eq!(seen.unwrap().adverts, 2);
            assert_eq!(rx.counters().get(Counter::AdvertAccepted), accepted + 1);

            let event = rx
                .expect_event(&sender, &sender.frame_v4(&v3_v4(51, 120), 255))
                .await;
            assert_eq!(event.reasons, event_reasons::PRIORITY_CHANGED);
            assert_eq!(event.priority, 120);

            // Invalid adverts: dropped under their reason, nobody woken.
            let ttl_254 = sender.frame_v4(&v3_v4(51, 120), 254);
            rx.expect_silent(&sender, &ttl_254, Counter::DropTtl).await;
            let mut bad_checksum = first.clone();
            bad_checksum[VRRP_V4 + 6] ^= 0x5a;
            rx.expect_silent(&sender, &bad_checksum, Counter::DropChecksum)
                .await;
            let unknown = sender.frame_v4(&v3_v4(99, 100), 255);
            rx.expect_silent(&sender, &unknown, Counter::AdvertUnknownVrid)
                .await;

            // VRRPv2 with simple-text authentication; the interval is whole seconds.
            let event = rx
                .expect_event(&sender, &sender.frame_v4(&v2(PASSWORD), 255))
                .await;
            assert_eq!(event.reasons, event_reasons::NEW_MASTER);
            assert_eq!(event.instance, key(va, 52, FAMILY_V4));
            assert_eq!((event.priority, event.interval_cs), (150, 100));
            let wrong = sender.frame_v4(&v2(*b"guessed\0"), 255);
            rx.expect_silent(&sender, &wrong, Counter::DropAuth).await;

            // VRRPv3 over IPv6: hop limit, destination and interface from ancillary data.
            let event = rx
                .expect_event(&sender, &sender.frame_v6(&v3_v6(110), 255))
                .await;
            assert_eq!(event.reasons, event_reasons::NEW_MASTER);
            assert_eq!(event.instance, key(va, 51, FAMILY_V6));
            assert_eq!(event.source, B_V6.octets());
            assert_eq!((event.priority, event.interval_cs), (110, 10));
            let seen = rx.dataplane.observation(key(va, 51, FAMILY_V6)).unwrap();
            assert_eq!(seen.expect("an IPv6 observation").source, B_V6.octets());
            let hop_64 = sender.frame_v6(&v3_v6(110), 64);
            rx.expect_silent(&sender, &hop_64, Counter::DropTtl).await;

            // While we are master, every advert is the state machine's business.
            let mut master = config(3, 0);
            master.state = InstanceState::Master as u8;
            rx.dataplane
                .set_instance(key(va, 51, FAMILY_V6), master)
                .unwrap();
            let event = rx
                .expect_event(&sender, &sender.frame_v6(&v3_v6(110), 255))
                .await;
            assert_eq!(event.reasons, event_reasons::WHILE_MASTER);

            // An interface that was not added: its adverts are not judged at all. A valid one
            // (unicast to A's address there) goes first, then one on `va` as a marker.
            let before = rx.counters();
            let mut unicast = FrameInfo::multicast_v6(sender.mac, B_V6, 0);
            unicast.dst_mac = va2_mac;
            unicast.ip = IpInfo::advert_v6(B_V6, A2_V6, 0);
            let stray = wire::emit_advert_frame(&unicast, &v3_v6(200), ChecksumMode::PseudoHeader)
                .expect("emit");
            sender.send_on(vb2, &stray);
            let marker = sender.frame_v6(&v3_v6(110), 255);
            rx.expect_event(&sender, &marker).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let moved: Vec<_> = Counter::ALL
                .iter()
                .filter(|c| rx.counters().get(**c) != before.get(**c))
                .map(|c| c.name())
                .collect();
            assert_eq!(moved, ["advert_accepted", "advert_event"]);
            assert_eq!(
                rx.counters().get(Counter::AdvertAccepted),
                before.get(Counter::AdvertAccepted) + 1
            );
            rx.assert_no_event("after the stray advert");

            // Every slot, in the end.
            let totals = rx.counters();
            let expected = [
                (Counter::AdvertAccepted, 7),
                (Counter::AdvertEvent, 6),
                (Counter::AdvertUnknownVrid, 1),
                (Counter::DropTtl, 2),
                (Counter::DropChecksum, 1),
                (Counter::DropAuth, 1),
            ];
            for counter in Counter::ALL {
                let want = expected
                    .iter()
                    .find(|(c, _)| *c == counter)
                    .map_or(0, |(_, n)| *n);
                assert_eq!(totals.get(counter), want, "{}", counter.name());
            }
        });
    });
}

/// An interface with IPv6 disabled is added and receives IPv4 adverts, and a full event queue
/// loses events, counted, without blocking the receive task.
#[test]
fn ipv4_only_interface_and_a_full_event_queue() {
    let a = Netns::new("sock4-a");
    let b = Netns::new("sock4-b");
    veth(&a, "va", &b, "vb");
    let disabled = a
        .command("sysctl")
        .args(["-qw", "net.ipv6.conf.va.disable_ipv6=1"])
        .status()
        .expect("sysctl");
    assert!(disabled.success());
    a.ip(&["addr", "add", A_V4, "dev", "va"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
    let va = a.ifindex("va");
    let sender = Sender {
        netns: &b,
        ifindex: b.ifindex("vb"),
        mac: MacAddr(b.mac("vb")),
    };
    a.enter(|| {
        run(|| async {
            let (events_in, events) = mpsc::channel(1);
            let dataplane = SocketDataplane::open(events_in).expect("socket data plane");
            let mut rx = Receiver {
                dataplane: Box::new(dataplane),
                events,
            };
            assert_eq!(
                rx.dataplane.add_interface("va", va, Some("veth")).unwrap(),
                Mode::Socket
            );
            rx.dataplane
                .set_instance(key(va, 51, FAMILY_V4), config(3, 0))
                .unwrap();
            let event = rx
                .expect_event(&sender, &sender.frame_v4(&v3_v4(51, 100), 255))
                .await;
            assert_eq!(event.reasons, event_reasons::NEW_MASTER);

            // Nobody reads: the second change fills the queue, the third is lost.
            for priority in [110, 120] {
                let before = rx.counters().get(Counter::AdvertAccepted);
                sender.send(&sender.frame_v4(&v3_v4(51, priority), 255));
                rx.counted(Counter::AdvertAccepted, before).await;
            }
            let totals = rx.counters();
            assert_eq!(totals.get(Counter::AdvertAccepted), 3);
            assert_eq!(totals.get(Counter::AdvertEvent), 2);
            assert_eq!(totals.get(Counter::EventLost), 1);
            let queued = rx.events.try_recv().expect("the queued event");
            assert_eq!(queued.priority, 110);
            rx.assert_no_event("after the lost one");
            // The observation kept up all the same.
            let seen = rx.dataplane.observation(key(va, 51, FAMILY_V4)).unwrap();
            assert_eq!(seen.expect("observation").priority, 120);
        });
    });
}
