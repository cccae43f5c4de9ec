//! Unit tests without sockets of the network kind: payloads, destinations, frames, reports.
//! The namespace tests in `tests/tests/netlink_tx.rs` capture what really goes out.
use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use super::advert::{link_scoped, sockaddr};
use super::*;
use crate::{
    units::{Centiseconds, Seconds},
    wire::{
        self, AuthType, ChecksumMode, IpPair, MacAddr, V2Advert, V3Advert, VipList, VlanTag,
        VrrpPacket, VrrpRepr,
        vrrp::{MULTICAST_V4, MULTICAST_V6, simple_auth_data},
    },
};

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

fn v3_v4() -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority: 100,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V4(vec![VIP4]),
    })
}

fn parse(payload: &[u8], ip: IpPair, mode: ChecksumMode) -> Result<VrrpRepr, wire::Error> {
    VrrpRepr::parse(&VrrpPacket::new_unchecked(payload), &ip, mode)
}

#[test]
fn unicast_checksum_uses_the_peer_address() {
    let advert = v3_v4();
    let unicast = build_advert(
        &advert,
        SRC4.into(),
        PEER4.into(),
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    let to_peer = IpPair::V4 {
        src: SRC4,
        dst: PEER4,
    };
    let to_group = IpPair::V4 {
        src: SRC4,
        dst: MULTICAST_V4,
    };
    assert_eq!(
        parse(&unicast, to_peer, ChecksumMode::PseudoHeader).unwrap(),
        advert
    );
    assert!(parse(&unicast, to_group, ChecksumMode::PseudoHeader).is_err());
    // Without the pseudo-header the destination does not matter.
    let plain = build_advert(&advert, SRC4.into(), PEER4.into(), ChecksumMode::VrrpOnly).unwrap();
    assert_eq!(
        parse(&plain, to_group, ChecksumMode::VrrpOnly).unwrap(),
        advert
    );
}

#[test]
fn v2_and_v6_payloads() {
    let v2 = VrrpRepr::V2(V2Advert {
        vrid: 52,
        priority: 150,
        adver_int: Seconds(1),
        auth_type: AuthType::SimpleText,
        auth_data: simple_auth_data(b"secret"),
        addresses: vec![VIP4],
    });
    let group = IpPair::V4 {
        src: SRC4,
        dst: MULTICAST_V4,
    };
    let payload = build_advert(
        &v2,
        SRC4.into(),
        MULTICAST_V4.into(),
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    assert_eq!(payload.len(), 8 + 4 + 8);
    assert_eq!(parse(&payload, group, ChecksumMode::VrrpOnly).unwrap(), v2);
    assert_eq!(
        build_advert(
            &v2,
            LL.into(),
            MULTICAST_V6.into(),
            ChecksumMode::PseudoHeader
        ),
        Err(wire::Error::V2OverIpv6)
    );
    let v6 = VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority: 100,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V6(vec![VIP6]),
    });
    let payload =
        build_advert(&v6, LL.into(), MULTICAST_V6.into(), ChecksumMode::VrrpOnly).unwrap();
    let pair = IpPair::V6 {
        src: LL,
        dst: MULTICAST_V6,
    };
    assert_eq!(
        parse(&payload, pair, ChecksumMode::PseudoHeader).unwrap(),
        v6
    );
    // Mixed families, or VIPs of the other family.
    assert_eq!(
        build_advert(
            &v6,
            SRC4.into(),
            MULTICAST_V6.into(),
            ChecksumMode::VrrpOnly
        ),
        Err(wire::Error::AddressFamilyMismatch)
    );
    assert_eq!(
        build_advert(
            &v3_v4(),
            LL.into(),
            MULTICAST_V6.into(),
            ChecksumMode::VrrpOnly
        ),
        Err(wire::Error::AddressFamilyMismatch)
    );
}

fn config(source: IpAddr, peers: Vec<IpAddr>) -> SenderConfig {
    SenderConfig {
        interface: "eth0".into(),
        ifindex: 3,
        source,
        peers,
    }
}

#[test]
fn destinations() {
    assert_eq!(
        config(SRC4.into(), vec![]).destinations().unwrap(),
        [IpAddr::from(MULTICAST_V4)]
    );
    assert_eq!(
        config(LL.into(), vec![]).destinations().unwrap(),
        [IpAddr::from(MULTICAST_V6)]
    );
    let peers: Vec<IpAddr> = vec![PEER4.into(), Ipv4Addr::new(192, 0, 2, 3).into()];
    assert_eq!(
        config(SRC4.into(), peers.clone()).destinations().unwrap(),
        peers
    );
    // A global IPv6 source is fine for unicast, not for the multicast group.
    let global: IpAddr = VIP6.into();
    assert!(
        config(global, vec!["2001:db8::2".parse().unwrap()])
            .destinations()
            .is_ok()
    );
    let err = config(global, vec![]).destinations().unwrap_err();
    assert_eq!(
        err.to_string(),
        "eth0: IPv6 adverts to ff02::12 must come from the link-local address (RFC 5798 §5.1.2.1), not 2001:db8::100"
    );
    for bad in [
        config(SRC4.into(), vec![LL.into()]),
        config(SRC4.into(), vec![MULTICAST_V4.into()]),
        config(Ipv4Addr::UNSPECIFIED.into(), vec![]),
        config(MULTICAST_V4.into(), vec![]),
        SenderConfig {
            ifindex: 0,
            ..config(SRC4.into(), vec![])
        },
    ] {
        assert!(
            matches!(bad.destinations(), Err(TxError::Config { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn link_scoped_destinations_carry_the_interface() {
    assert!(link_scoped(&LL));
    assert!(link_scoped(&MULTICAST_V6));
    assert!(!link_scoped(&VIP6));
    assert!(!link_scoped(&"ff05::12".parse().unwrap()));
    let addr = sockaddr(MULTICAST_V6.into(), 7).as_socket_ipv6().unwrap();
    assert_eq!(
        (*addr.ip(), addr.scope_id(), addr.port()),
        (MULTICAST_V6, 7, 0)
    );
    assert_eq!(
        sockaddr(VIP6.into(), 7)
            .as_socket_ipv6()
            .unwrap()
            .scope_id(),
        0
    );
    let v4 = sockaddr(PEER4.into(), 7).as_socket_ipv4().unwrap();
    assert_eq!(*v4.ip(), PEER4);
}

#[test]
fn announcements() {
    let mac = MacAddr([0x02, 0, 0, 0, 0, 1]);
    let (ethertype, frame) = announcement(mac, None, VIP4.into(), true).unwrap();
    assert_eq!(ethertype, 0x0806);
    let (eth, arp) = wire::arp::parse_frame(&frame).unwrap();
    assert_eq!((eth.src, eth.dst), (mac, MacAddr::BROADCAST));
    assert!(arp.is_gratuitous());
    assert_eq!((arp.sender_mac, arp.sender_ip), (mac, VIP4));

    let vlan = VlanTag {
        pcp: 0,
        dei: false,
        vid: 42,
    };
    for router in [false, true] {
        let (ethertype, frame) = announcement(mac, Some(vlan), VIP6.into(), router).unwrap();
        assert_eq!(ethertype, 0x8100);
        let (eth, ip, ndp) = wire::ndp::parse_frame(&frame).unwrap();
        assert_eq!(eth.vlan, Some(vlan));
        assert_eq!((ip.src, ip.hop_limit), (VIP6, 255));
        let wire::NdpRepr::NeighborAdvert {
            flags,
            target,
            target_lladdr,
        } = ndp
        else {
            panic!("not an NA: {ndp:?}");
        };
        assert_eq!((target, target_lladdr), (VIP6, Some(mac)));
        assert!(flags.override_ && !flags.solicited);
        assert_eq!(
            flags.router, router,
            "the Router flag as the interface forwards"
        );
    }
}

#[test]
fn reports_and_errors() {
    let err = || TxError::Send {
        interface: "eth0".into(),
        what: "the advert to",
        addr: MULTICAST_V4.into(),
        source: io::Error::from_raw_os_error(libc::ENETDOWN),
    };
    assert!(
        err()
            .to_string()
            .starts_with("eth0: sending the advert to 224.0.0.18: "),
        "{}",
        err()
    );
    assert_eq!(
        err().io_error().and_then(io::Error::raw_os_error),
        Some(libc::ENETDOWN)
    );
    assert_eq!(
        BatchReport {
            sent: 2,
            errors: vec![]
        }
        .into_result()
        .unwrap(),
        2
    );
    assert!(
        BatchReport {
            sent: 1,
            errors: vec![err()]
        }
        .into_result()
        .is_err()
    );
    assert_eq!(
        BurstReport {
            sent: 4,
            errors: vec![]
        }
        .into_result()
        .unwrap(),
        4
    );
    assert!(
        BurstReport {
            sent: 0,
            errors: vec![err()]
        }
        .into_result()
        .is_err()
    );
    assert!(matches!(
        Garp::open("eth0", 0, MacAddr::ZERO, None),
        Err(TxError::Config { .. })
    ));
}
