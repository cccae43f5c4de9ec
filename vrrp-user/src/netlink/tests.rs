//! Unit tests over constructed netlink messages; the namespace tests in
//! `tests/tests/netlink_tx.rs` run the same code against a kernel.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtnetlink::{
    packet_core::{ErrorMessage, NetlinkPayload},
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::{
            InfoData, InfoKind, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
        },
    },
};

use super::link::{LinkTracker, oper_up};
use super::*;
use crate::wire::MacAddr;

fn link(index: u32, name: &str, flags: LinkFlags, state: State) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = flags;
    msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
    msg.attributes.push(LinkAttribute::OperState(state));
    msg
}

const UP: LinkFlags = LinkFlags::Up
    .union(LinkFlags::Running)
    .union(LinkFlags::LowerUp);

#[test]
fn interface_from_a_vlan_link() {
    let mut msg = link(7, "vA.42", UP, State::Up);
    msg.attributes.extend([
        LinkAttribute::Address(vec![2, 0, 0, 0, 0, 0x2a]),
        LinkAttribute::Mtu(1500),
        LinkAttribute::Link(3),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Vlan),
            LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(42)])),
        ]),
    ]);
    let iface = Interface::from_message(&msg);
    assert_eq!(iface.ifindex, 7);
    assert_eq!(iface.name, "vA.42");
    assert_eq!(iface.mac, Some(MacAddr([2, 0, 0, 0, 0, 0x2a])));
    assert!(iface.admin_up && iface.oper_up);
    assert_eq!(iface.mtu, 1500);
    assert_eq!(iface.kind.as_deref(), Some("vlan"));
    assert_eq!(iface.vlan, Some(Vlan { parent: 3, id: 42 }));
    assert_eq!(iface.vlan.unwrap().tag().vid, 42);
}

#[test]
fn a_veth_peer_link_is_not_a_vlan_parent() {
    let mut msg = link(4, "vA", UP, State::Up);
    msg.attributes.extend([
        LinkAttribute::Link(9),
        LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
        // Not a 6-byte address: no MAC.
        LinkAttribute::Address(vec![1, 2, 3, 4]),
    ]);
    let iface = Interface::from_message(&msg);
    assert_eq!(iface.vlan, None);
    assert_eq!(iface.mac, None);
    assert_eq!(iface.kind.as_deref(), Some("veth"));
}

#[test]
fn oper_state() {
    assert!(oper_up(&link(1, "a", UP, State::Up)));
    // Loopback and some virtual devices report UNKNOWN with RUNNING.
    assert!(oper_up(&link(1, "lo", UP, State::Unknown)));
    // Admin up, no carrier.
    assert!(!oper_up(&link(1, "a", LinkFlags::Up, State::Down)));
    assert!(!oper_up(&link(1, "a", UP, State::LowerLayerDown)));
    assert!(!oper_up(&link(1, "a", LinkFlags::empty(), State::Down)));
}

fn payload(msg: RouteNetlinkMessage) -> NetlinkPayload<RouteNetlinkMessage> {
    NetlinkPayload::InnerMessage(msg)
}

#[test]
fn tracker_reports_changes_only() {
    let mut tracker = LinkTracker::default();
    let initial = tracker.resync(&[
        link(1, "lo", UP, State::Unknown),
        link(3, "vA", UP, State::Up),
    ]);
    assert_eq!(
        initial,
        [
            LinkEvent::Changed {
                ifindex: 1,
                name: "lo".into(),
                up: true
            },
            LinkEvent::Changed {
                ifindex: 3,
                name: "vA".into(),
                up: true
            },
        ]
    );
    // Same state again (an MTU change, say): nothing.
    let same = payload(RouteNetlinkMessage::NewLink(link(3, "vA", UP, State::Up)));
    assert_eq!(tracker.handle(&same), Some(vec![]));
    let down = payload(RouteNetlinkMessage::NewLink(link(
        3,
        "vA",
        LinkFlags::Up,
        State::LowerLayerDown,
    )));
    assert_eq!(
        tracker.handle(&down),
        Some(vec![LinkEvent::Changed {
            ifindex: 3,
            name: "vA".into(),
            up: false
        }])
    );
    // Rename while down.
    let renamed = payload(RouteNetlinkMessage::NewLink(link(
        3,
        "vB",
        LinkFlags::Up,
        State::Down,
    )));
    assert_eq!(
        tracker.handle(&renamed),
        Some(vec![LinkEvent::Changed {
            ifindex: 3,
            name: "vB".into(),
            up: false
        }])
    );
    let deleted = payload(RouteNetlinkMessage::DelLink(link(
        3,
        "vB",
        LinkFlags::empty(),
        State::Down,
    )));
    let events = tracker.handle(&deleted).unwrap();
    assert_eq!(
        events,
        [LinkEvent::Removed {
            ifindex: 3,
            name: "vB".into()
        }]
    );
    assert_eq!(events[0].ifindex(), 3);
    assert_eq!(events[0].name(), "vB");
}

#[test]
fn tracker_ignores_bridge_port_messages() {
    let mut tracker = LinkTracker::default();
    tracker.resync(&[link(5, "port", UP, State::Up)]);
    let mut msg = link(5, "port", LinkFlags::empty(), State::Down);
    msg.header.interface_family = AddressFamily::Bridge;
    assert_eq!(
        tracker.handle(&payload(RouteNetlinkMessage::DelLink(msg.clone()))),
        Some(vec![])
    );
    assert_eq!(
        tracker.handle(&payload(RouteNetlinkMessage::NewLink(msg))),
        Some(vec![])
    );
}

#[test]
fn tracker_resync_after_overrun() {
    let mut tracker = LinkTracker::default();
    tracker.resync(&[
        link(1, "lo", UP, State::Unknown),
        link(3, "vA", UP, State::Up),
        link(4, "vC", UP, State::Up),
    ]);
    assert_eq!(tracker.handle(&NetlinkPayload::Overrun(Vec::new())), None);
    let events = tracker.resync(&[
        link(1, "lo", UP, State::Unknown),
        link(3, "vA", LinkFlags::Up, State::Down),
    ]);
    assert_eq!(
        events,
        [
            LinkEvent::Removed {
                ifindex: 4,
                name: "vC".into()
            },
            LinkEvent::Changed {
                ifindex: 3,
                name: "vA".into(),
                up: false
            },
        ]
    );
    // Other payloads (errors, acks) change nothing.
    assert_eq!(
        tracker.handle(&NetlinkPayload::Error(ErrorMessage::default())),
        Some(vec![])
    );
}

fn addr(addr: IpAddr, flags: u32) -> Address {
    Address {
        addr,
        prefix_len: 24,
        flags,
    }
}

#[test]
fn primary_v4_skips_excluded_vips() {
    let vip: IpAddr = Ipv4Addr::new(198, 51, 100, 100).into();
    let real: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
    let v6: IpAddr = "fe80::1".parse::<Ipv6Addr>().unwrap().into();
    let list = [
        addr(v6, 0),
        addr(vip, 0),
        addr(real, AddressFlags::Secondary.bits()),
    ];
    assert_eq!(select_primary(&list, IpFamily::V4, &[]), Some(vip));
    assert_eq!(select_primary(&list, IpFamily::V4, &[vip]), Some(real));
    assert_eq!(select_primary(&list, IpFamily::V4, &[vip, real]), None);
    assert!(list[2].is_secondary());
}

#[test]
fn primary_v6_is_a_usable_link_local() {
    let global: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
    let tentative: IpAddr = "fe80::2".parse::<Ipv6Addr>().unwrap().into();
    let vip_ll: IpAddr = "fe80::100".parse::<Ipv6Addr>().unwrap().into();
    let ll: IpAddr = "fe80::1".parse::<Ipv6Addr>().unwrap().into();
    let list = [
        addr(global, 0),
        addr(tentative, AddressFlags::Tentative.bits()),
        addr(vip_ll, AddressFlags::Nodad.bits()),
        addr(ll, AddressFlags::Permanent.bits()),
    ];
    assert!(list[1].is_tentative());
    assert_eq!(select_primary(&list, IpFamily::V6, &[]), Some(vip_ll));
    assert_eq!(select_primary(&list, IpFamily::V6, &[vip_ll]), Some(ll));
    assert_eq!(select_primary(&list[..2], IpFamily::V6, &[]), None);
}

#[test]
fn address_from_message_prefers_local() {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.prefix_len = 32;
    msg.header.flags = AddressHeaderFlags::Permanent;
    // A point-to-point address: IFA_ADDRESS is the peer.
    msg.attributes.push(AddressAttribute::Address(
        Ipv4Addr::new(203, 0, 113, 2).into(),
    ));
    msg.attributes.push(AddressAttribute::Local(
        Ipv4Addr::new(203, 0, 113, 1).into(),
    ));
    let a = Address::from_message(&msg).unwrap();
    assert_eq!(a.addr, IpAddr::from(Ipv4Addr::new(203, 0, 113, 1)));
    assert_eq!(a.prefix_len, 32);
    assert_eq!(a.flags, AddressFlags::Permanent.bits());
    // IFA_FLAGS, when present, has all 32 bits.
    msg.attributes.push(AddressAttribute::Flags(
        AddressFlags::Noprefixroute | AddressFlags::Permanent,
    ));
    assert_eq!(Address::from_message(&msg).unwrap().flags, 0x280);
    assert_eq!(Address::from_message(&AddressMessage::default()), None);
}

#[test]
fn errors() {
    assert_eq!(
        NetlinkError::NoSuchInterface("eth9".into()).to_string(),
        "interface eth9 does not exist"
    );
    let mut message = ErrorMessage::default();
    message.code = std::num::NonZeroI32::new(-libc::EPERM);
    let err = failed(
        "adding 192.0.2.100/24 to interface index 3".into(),
        rtnetlink::Error::NetlinkError(message),
    );
    assert_eq!(err.errno(), Some(libc::EPERM));
    assert!(
        err.to_string()
            .starts_with("adding 192.0.2.100/24 to interface index 3: "),
        "{err}"
    );
    let err = failed("x".into(), rtnetlink::Error::RequestFailed);
    assert_eq!(err.errno(), None);
    let v4: IpAddr = Ipv4Addr::new(192, 0, 2, 100).into();
    assert!(matches!(
        check_prefix(v4, 33),
        Err(NetlinkError::InvalidPrefix { prefix_len: 33, .. })
    ));
    assert!(check_prefix(v4, 32).is_ok());
    assert!(check_prefix("2001:db8::1".parse().unwrap(), 128).is_ok());
    assert!(check_prefix("2001:db8::1".parse().unwrap(), 129).is_err());
}

#[test]
fn no_runtime_is_an_error_not_a_panic() {
    assert!(matches!(Netlink::new(), Err(NetlinkError::NoRuntime)));
}

#[test]
fn address_options_set_scope_label_and_replace_the_computed_broadcast() {
    use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
    let mut message = AddressMessage::default();
    message
        .attributes
        .push(AddressAttribute::Broadcast("192.0.2.255".parse().unwrap()));
    let options = AddressOptions {
        label: Some("eth0:vip".into()),
        scope: Some(253),
        broadcast: Some("192.0.2.127".parse().unwrap()),
    };
    options.apply(&mut message);
    assert_eq!(message.header.scope, AddressScope::Link);
    assert_eq!(
        message.attributes,
        [
            AddressAttribute::Broadcast("192.0.2.127".parse().unwrap()),
            AddressAttribute::Label("eth0:vip".into()),
        ]
    );
    // Nothing set: the request builder's message is left as it is.
    let mut plain = AddressMessage::default();
    plain
        .attributes
        .push(AddressAttribute::Broadcast("192.0.2.255".parse().unwrap()));
    let before = plain.clone();
    AddressOptions::default().apply(&mut plain);
    assert_eq!(plain, before);
}
