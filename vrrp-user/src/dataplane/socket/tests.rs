//! The socket backend's decisions without sockets: one test per counter slot a datagram can
//! land in, the event reasons, the check order, and "never panics" over arbitrary bytes.
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{InstanceConfig, InstanceKey, InstanceState, PeerKey, event_reasons, instance_flags},
};

use super::recv::Ancillary;
use super::validate::{Datagram, Tables, Verdict};
use crate::units::{Centiseconds, Seconds};
use crate::wire::{
    self, AuthType, ChecksumMode, IpInfo, V2Advert, V3Advert, VipList, VrrpRepr,
    vrrp::{MULTICAST_V4, MULTICAST_V6},
};

const IFINDEX: u32 = 7;
const PEER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const OTHER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const PASSWORD: [u8; 8] = *b"secret\0\0";
const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_000 * SECOND;

fn key(vrid: u8, family: u8) -> InstanceKey {
    InstanceKey {
        ifindex: IFINDEX,
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
        silence_ns: 10 * SECOND,
        ..InstanceConfig::default()
    }
}

/// Interface 7 with VRID 51 v3 on both families and VRID 52 v2 with PASS authentication.
fn tables() -> Tables {
    let mut tables = Tables::default();
    tables.add_interface(IFINDEX);
    tables
        .set_instance(key(51, FAMILY_V4), config(3, 0))
        .unwrap();
    tables
        .set_instance(key(51, FAMILY_V6), config(3, 0))
        .unwrap();
    tables
        .set_instance(key(52, FAMILY_V4), config(2, instance_flags::AUTH_PASS))
        .unwrap();
    tables
}

fn v3(vrid: u8, priority: u8, interval_cs: u16) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid,
        priority,
        max_adver_int: Centiseconds(interval_cs),
        addresses: VipList::V4(vec![VIP_V4]),
    })
}

fn v3_v6(vrid: u8, priority: u8) -> VrrpRepr {
    VrrpRepr::V3(V3Advert {
        vrid,
        priority,
        max_adver_int: Centiseconds(10),
        addresses: VipList::V6(vec![VIP_V6]),
    })
}

fn v2(priority: u8, auth_type: AuthType, auth_data: [u8; 8]) -> VrrpRepr {
    VrrpRepr::V2(V2Advert {
        vrid: 52,
        priority,
        adver_int: Seconds(3),
        auth_type,
        auth_data,
        addresses: vec![VIP_V4],
    })
}

/// The whole IPv4 packet, as the IPv4 raw socket returns it.
fn packet(source: Ipv4Addr, ttl: u8, advert: &VrrpRepr, mode: ChecksumMode) -> Vec<u8> {
    let mut ip = IpInfo::advert_v4(source, MULTICAST_V4, 1);
    if let IpInfo::V4 { ttl: t, .. } = &mut ip {
        *t = ttl;
    }
    wire::emit_advert_ip(&ip, advert, mode).unwrap()
}

fn valid_v4(source: Ipv4Addr, advert: &VrrpRepr) -> Vec<u8> {
    packet(source, 255, advert, ChecksumMode::PseudoHeader)
}

/// The VRRP message alone, as the IPv6 raw socket returns it.
fn message_v6(advert: &VrrpRepr) -> Vec<u8> {
    let ip = IpInfo::advert_v6(PEER_V6, MULTICAST_V6, 0);
    wire::emit_advert_ip(&ip, advert, ChecksumMode::PseudoHeader).unwrap()[40..].to_vec()
}

fn v4(packet: &[u8]) -> Datagram<'_> {
    Datagram::V4 {
        packet,
        reassembled: false,
        truncated: false,
    }
}

fn v6(message: &[u8], hop_limit: u8) -> Datagram<'_> {
    Datagram::V6 {
        message,
        source: PEER_V6,
        destination: Some(MULTICAST_V6),
        hop_limit: Some(hop_limit),
        extension_headers: false,
        truncated: false,
    }
}

fn rejected(tables: &mut Tables, datagram: &Datagram<'_>) -> Counter {
    match tables.receive(IFINDEX, datagram, T0) {
        Verdict::Rejected(counter) => counter,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Accepts and returns the event's reasons (0 if no event).
fn accepted(tables: &mut Tables, datagram: &Datagram<'_>, now: u64) -> u8 {
    match tables.receive(IFINDEX, datagram, now) {
        Verdict::Accepted(event) => event.map_or(0, |e| e.reasons),
        other => panic!("expected acceptance, got {other:?}"),
    }
}

fn address16(address: Ipv4Addr) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..4].copy_from_slice(&address.octets());
    bytes
}

#[test]
fn first_advert_is_a_new_master_with_its_fields_recorded() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    let Verdict::Accepted(Some(event)) = tables.receive(IFINDEX, &v4(&bytes), T0) else {
        panic!("no event");
    };
    assert_eq!(event.reasons, event_reasons::NEW_MASTER);
    assert_eq!(event.instance, key(51, FAMILY_V4));
    assert_eq!((event.priority, event.interval_cs), (120, 100));
    assert_eq!(event.source, address16(PEER_V4));
    assert_eq!(event.ktime_ns, T0);
    assert_eq!(event.previous_ns, 0, "nothing seen before");
    let observation = tables.observation(&key(51, FAMILY_V4)).unwrap();
    assert_eq!(observation.last_advert_ns, T0);
    assert_eq!(observation.adverts, 1);
    assert_eq!(observation.source, address16(PEER_V4));
    assert_eq!((observation.priority, observation.interval_cs), (120, 100));
}

#[test]
fn a_steady_master_raises_no_event_and_changes_raise_their_reasons() {
    let mut tables = tables();
    let steady = valid_v4(PEER_V4, &v3(51, 120, 100));
    accepted(&mut tables, &v4(&steady), T0);
    assert_eq!(accepted(&mut tables, &v4(&steady), T0 + SECOND), 0);
    assert_eq!(tables.observation(&key(51, FAMILY_V4)).unwrap().adverts, 2);

    let priority = valid_v4(PEER_V4, &v3(51, 90, 100));
    let Verdict::Accepted(Some(event)) = tables.receive(IFINDEX, &v4(&priority), T0 + 2 * SECOND)
    else {
        panic!("no event for a priority change");
    };
    assert_eq!(event.reasons, event_reasons::PRIORITY_CHANGED);
    // The unreported repeat before it is when the Master was last heard.
    assert_eq!(event.previous_ns, T0 + SECOND);
    let interval = valid_v4(PEER_V4, &v3(51, 90, 50));
    assert_eq!(
        accepted(&mut tables, &v4(&interval), T0 + 3 * SECOND),
        event_reasons::INTERVAL_CHANGED
    );
    let other = valid_v4(OTHER_V4, &v3(51, 90, 50));
    assert_eq!(
        accepted(&mut tables, &v4(&other), T0 + 4 * SECOND),
        event_reasons::NEW_MASTER
    );
    let resign = valid_v4(OTHER_V4, &v3(51, 0, 50));
    assert_eq!(
        accepted(&mut tables, &v4(&resign), T0 + 5 * SECOND),
        event_reasons::PRIORITY_CHANGED | event_reasons::PRIORITY_ZERO
    );
    let observation = tables.observation(&key(51, FAMILY_V4)).unwrap();
    assert_eq!(observation.adverts, 6);
    assert_eq!(observation.source, address16(OTHER_V4));
    assert_eq!(observation.last_advert_ns, T0 + 5 * SECOND);
}

#[test]
fn after_silence_fires_only_past_the_configured_silence() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    accepted(&mut tables, &v4(&bytes), T0);
    // Exactly the silence is not past it (XDP compares with `>`).
    assert_eq!(accepted(&mut tables, &v4(&bytes), T0 + 10 * SECOND), 0);
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0 + 20 * SECOND + 1),
        event_reasons::AFTER_SILENCE
    );
}

#[test]
fn every_advert_matters_while_master() {
    let mut tables = tables();
    let mut master = config(3, 0);
    master.state = InstanceState::Master as u8;
    tables.set_instance(key(51, FAMILY_V4), master).unwrap();
    let bytes = valid_v4(PEER_V4, &v3(51, 50, 100));
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0),
        event_reasons::NEW_MASTER | event_reasons::WHILE_MASTER
    );
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0 + 1),
        event_reasons::WHILE_MASTER
    );
}

#[test]
fn v2_intervals_are_seconds_times_100_and_pass_auth_is_accepted() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v2(100, AuthType::SimpleText, PASSWORD));
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0),
        event_reasons::NEW_MASTER
    );
    assert_eq!(
        tables.observation(&key(52, FAMILY_V4)).unwrap().interval_cs,
        300
    );
}

#[test]
fn ipv6_adverts_use_ancillary_data_and_the_pseudo_header() {
    let mut tables = tables();
    let message = message_v6(&v3_v6(51, 110));
    let Verdict::Accepted(Some(event)) = tables.receive(IFINDEX, &v6(&message, 255), T0) else {
        panic!("no event");
    };
    assert_eq!(event.instance, key(51, FAMILY_V6));
    assert_eq!(event.source, PEER_V6.octets());
    assert_eq!(event.interval_cs, 10);
}

#[test]
fn other_interfaces_are_ignored_uncounted() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    assert_eq!(tables.receive(8, &v4(&bytes), T0), Verdict::Ignored);
    // Even garbage: XDP is not attached there, so nothing is judged.
    assert_eq!(tables.receive(8, &v4(&[0x45]), T0), Verdict::Ignored);
    assert_eq!(tables.observation(&key(51, FAMILY_V4)), None);
}

#[test]
fn unknown_vrid_is_counted_and_left_alone() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(99, 120, 100));
    assert_eq!(
        rejected(&mut tables, &v4(&bytes)),
        Counter::AdvertUnknownVrid
    );
    // The family is part of the key: VRID 52 runs v2 over IPv4 only.
    let message = message_v6(&v3_v6(52, 110));
    assert_eq!(
        rejected(&mut tables, &v6(&message, 255)),
        Counter::AdvertUnknownVrid
    );
}

#[test]
fn truncated() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    // Shorter than an IPv4 header.
    assert_eq!(
        rejected(&mut tables, &v4(&bytes[..19])),
        Counter::DropTruncated
    );
    // Total length beyond what was received.
    assert_eq!(
        rejected(&mut tables, &v4(&bytes[..bytes.len() - 1])),
        Counter::DropTruncated
    );
    // A VRRP message shorter than its fixed header.
    let mut short = bytes[..26].to_vec();
    short[2..4].copy_from_slice(&26u16.to_be_bytes());
    assert_eq!(rejected(&mut tables, &v4(&short)), Counter::DropTruncated);
    // The receive buffer was too small.
    let cut = Datagram::V4 {
        packet: &bytes,
        reassembled: false,
        truncated: true,
    };
    assert_eq!(rejected(&mut tables, &cut), Counter::DropTruncated);
    assert_eq!(
        rejected(&mut tables, &v6(&[0x31, 51], 255)),
        Counter::DropTruncated
    );
}

#[test]
fn ip_header() {
    let mut tables = tables();
    let good = valid_v4(PEER_V4, &v3(51, 120, 100));
    let broken = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = good.clone();
        edit(&mut bytes);
        bytes
    };
    let cases = [
        broken(&|b| b[0] = 0x65),                       // version 6
        broken(&|b| b[0] = 0x44),                       // IHL 4
        broken(&|b| b[6] = 0x20),                       // more fragments
        broken(&|b| b[7] = 0x01),                       // fragment offset
        broken(&|b| b[2..4].copy_from_slice(&[0, 16])), // total < header
    ];
    for bytes in &cases {
        assert_eq!(rejected(&mut tables, &v4(bytes)), Counter::DropIpHeader);
    }
    // The kernel reassembled it: XDP would have dropped the fragments.
    let reassembled = Datagram::V4 {
        packet: &good,
        reassembled: true,
        truncated: false,
    };
    assert_eq!(rejected(&mut tables, &reassembled), Counter::DropIpHeader);
    // IPv6 without the ancillary data the header fields come from.
    let message = message_v6(&v3_v6(51, 110));
    let blind = Datagram::V6 {
        message: &message,
        source: PEER_V6,
        destination: Some(MULTICAST_V6),
        hop_limit: None,
        extension_headers: false,
        truncated: false,
    };
    assert_eq!(rejected(&mut tables, &blind), Counter::DropIpHeader);
}

#[test]
fn ipv4_options_are_skipped() {
    let mut tables = tables();
    let good = valid_v4(PEER_V4, &v3(51, 120, 100));
    // Insert a 4-byte NOP option; the IP header checksum is not the data plane's concern.
    let mut bytes = good[..20].to_vec();
    bytes[0] = 0x46;
    bytes.extend_from_slice(&[1, 1, 1, 0]);
    bytes.extend_from_slice(&good[20..]);
    let total = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&total.to_be_bytes());
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0),
        event_reasons::NEW_MASTER
    );
}

#[test]
fn ipv6_extension_headers_are_not_judged() {
    let mut tables = tables();
    let message = message_v6(&v3_v6(51, 110));
    let with_options = Datagram::V6 {
        message: &message,
        source: PEER_V6,
        destination: Some(MULTICAST_V6),
        hop_limit: Some(255),
        extension_headers: true,
        truncated: false,
    };
    assert_eq!(tables.receive(IFINDEX, &with_options, T0), Verdict::Ignored);
}

#[test]
fn ttl() {
    let mut tables = tables();
    let bytes = packet(PEER_V4, 254, &v3(51, 120, 100), ChecksumMode::PseudoHeader);
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropTtl);
    let message = message_v6(&v3_v6(51, 110));
    assert_eq!(rejected(&mut tables, &v6(&message, 64)), Counter::DropTtl);
}

#[test]
fn unicast_peers_replace_the_ttl_check() {
    let mut tables = tables();
    tables
        .set_instance(key(51, FAMILY_V6), config(3, instance_flags::REQUIRE_PEER))
        .unwrap();
    let message = message_v6(&v3_v6(51, 110));
    // keepalived's unicast IPv6 adverts leave with hop limit 64: accepted from a listed peer.
    assert_eq!(rejected(&mut tables, &v6(&message, 64)), Counter::DropPeer);
    tables
        .allow_peer(PeerKey {
            instance: key(51, FAMILY_V6),
            address: PEER_V6.octets(),
        })
        .unwrap();
    assert_eq!(
        accepted(&mut tables, &v6(&message, 64), T0),
        event_reasons::NEW_MASTER
    );
    tables.forbid_peer(&PeerKey {
        instance: key(51, FAMILY_V6),
        address: PEER_V6.octets(),
    });
    assert_eq!(rejected(&mut tables, &v6(&message, 64)), Counter::DropPeer);
}

#[test]
fn peer() {
    let mut tables = tables();
    tables
        .set_instance(key(51, FAMILY_V4), config(3, instance_flags::REQUIRE_PEER))
        .unwrap();
    tables
        .allow_peer(PeerKey {
            instance: key(51, FAMILY_V4),
            address: address16(OTHER_V4),
        })
        .unwrap();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropPeer);
    assert_eq!(tables.observation(&key(51, FAMILY_V4)), None);
}

#[test]
fn version() {
    let mut tables = tables();
    // v2 for a v3 instance (VRID 52's v2 advert, renumbered to 51).
    let mut bytes = valid_v4(PEER_V4, &v2(100, AuthType::None, [0; 8]));
    bytes[21] = 51;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropVersion);
    // v3 for the v2 instance.
    let bytes = valid_v4(PEER_V4, &v3(52, 100, 100));
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropVersion);
    // v2 over IPv6, even for an instance configured (wrongly) as v2.
    tables
        .set_instance(key(53, FAMILY_V6), config(2, 0))
        .unwrap();
    let mut message = message_v6(&v3_v6(53, 100));
    message[0] = 0x21;
    assert_eq!(
        rejected(&mut tables, &v6(&message, 255)),
        Counter::DropVersion
    );
}

#[test]
fn message_type() {
    let mut tables = tables();
    let mut bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    bytes[20] = 0x32;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropType);
}

#[test]
fn address_count() {
    let mut tables = tables();
    let mut bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    bytes[23] = 2;
    assert_eq!(
        rejected(&mut tables, &v4(&bytes)),
        Counter::DropAddressCount
    );
    // v2 needs its 8 bytes of authentication data after the addresses.
    let bytes = valid_v4(PEER_V4, &v2(100, AuthType::SimpleText, PASSWORD));
    let mut short = bytes[..bytes.len() - 8].to_vec();
    let total = short.len() as u16;
    short[2..4].copy_from_slice(&total.to_be_bytes());
    assert_eq!(
        rejected(&mut tables, &v4(&short)),
        Counter::DropAddressCount
    );
    // Every count of IPv4 addresses fits an Ethernet frame, and is taken.
    let many = |addresses| {
        VrrpRepr::V3(V3Advert {
            vrid: 51,
            priority: 100,
            max_adver_int: Centiseconds(100),
            addresses,
        })
    };
    let bytes = valid_v4(
        PEER_V4,
        &many(VipList::V4(
            (0..=254).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect(),
        )),
    );
    assert_eq!(bytes.len() - 20, 8 + 255 * 4);
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0),
        event_reasons::NEW_MASTER
    );
    // More than XDP's checksum loop covers (1480 bytes), however consistent the count.
    let ipv6 = |count: u16| {
        let addresses = (1..=count).map(|n| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n));
        message_v6(&many(VipList::V6(addresses.collect())))
    };
    assert_eq!(ipv6(92).len(), vrrp_common::advert::MAX_LEN);
    assert_eq!(
        accepted(&mut tables, &v6(&ipv6(92), 255), T0),
        event_reasons::NEW_MASTER
    );
    assert_eq!(
        rejected(&mut tables, &v6(&ipv6(93), 255)),
        Counter::DropAddressCount
    );
}

#[test]
fn checksum() {
    let mut tables = tables();
    let mut bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    bytes[26] ^= 0xff;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropChecksum);
    // RFC 9568-style v3 IPv4 checksums (no pseudo-header) only with the instance's flag.
    let vrrp_only = packet(PEER_V4, 255, &v3(51, 120, 100), ChecksumMode::VrrpOnly);
    assert_eq!(
        rejected(&mut tables, &v4(&vrrp_only)),
        Counter::DropChecksum
    );
    tables
        .set_instance(
            key(51, FAMILY_V4),
            config(3, instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER),
        )
        .unwrap();
    assert_eq!(
        accepted(&mut tables, &v4(&vrrp_only), T0),
        event_reasons::NEW_MASTER
    );
    // IPv6 always includes the pseudo-header: a different destination breaks it.
    let message = message_v6(&v3_v6(51, 110));
    let elsewhere = Datagram::V6 {
        message: &message,
        source: PEER_V6,
        destination: Some(VIP_V6),
        hop_limit: Some(255),
        extension_headers: false,
        truncated: false,
    };
    assert_eq!(rejected(&mut tables, &elsewhere), Counter::DropChecksum);
    // v2 covers the message alone.
    let mut bytes = valid_v4(PEER_V4, &v2(100, AuthType::SimpleText, PASSWORD));
    bytes[22] = 99;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropChecksum);
}

#[test]
fn auth() {
    let mut tables = tables();
    let wrong = valid_v4(PEER_V4, &v2(100, AuthType::SimpleText, *b"guessed\0"));
    assert_eq!(rejected(&mut tables, &v4(&wrong)), Counter::DropAuth);
    let none = valid_v4(PEER_V4, &v2(100, AuthType::None, PASSWORD));
    assert_eq!(rejected(&mut tables, &v4(&none)), Counter::DropAuth);
    // An instance without authentication refuses adverts that carry some.
    tables
        .set_instance(key(52, FAMILY_V4), config(2, 0))
        .unwrap();
    let pass = valid_v4(PEER_V4, &v2(100, AuthType::SimpleText, PASSWORD));
    assert_eq!(rejected(&mut tables, &v4(&pass)), Counter::DropAuth);
    let ah = valid_v4(PEER_V4, &v2(100, AuthType::Ah, [0; 8]));
    assert_eq!(rejected(&mut tables, &v4(&ah)), Counter::DropAuth);
    assert_eq!(
        accepted(&mut tables, &v4(&none), T0),
        event_reasons::NEW_MASTER
    );
}

#[test]
fn checks_run_in_the_rfc_order() {
    let mut tables = tables();
    // TTL before version, version before type, type before length, length before checksum.
    let mut bytes = packet(PEER_V4, 1, &v3(51, 120, 100), ChecksumMode::PseudoHeader);
    bytes[20] = 0x25; // v2, type 5
    bytes[23] = 9; // count
    bytes[26] ^= 1; // checksum
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropTtl);
    bytes[8] = 255;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropVersion);
    bytes[20] = 0x35;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropType);
    bytes[20] = 0x31;
    assert_eq!(
        rejected(&mut tables, &v4(&bytes)),
        Counter::DropAddressCount
    );
    bytes[23] = 1;
    assert_eq!(rejected(&mut tables, &v4(&bytes)), Counter::DropChecksum);
    bytes[26] ^= 1;
    accepted(&mut tables, &v4(&bytes), T0);
}

#[test]
fn updates_keep_the_observation_and_removal_forgets_it() {
    let mut tables = tables();
    let bytes = valid_v4(PEER_V4, &v3(51, 120, 100));
    accepted(&mut tables, &v4(&bytes), T0);
    // A state change is an update: the master is not forgotten.
    let mut master = config(3, 0);
    master.state = InstanceState::Master as u8;
    tables.set_instance(key(51, FAMILY_V4), master).unwrap();
    let observation = tables.observation(&key(51, FAMILY_V4)).unwrap();
    assert_eq!(observation.adverts, 1);
    let generation = observation.generation;
    assert_ne!(generation, 0);
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0 + 1),
        event_reasons::WHILE_MASTER
    );
    tables.remove_instance(&key(51, FAMILY_V4));
    assert_eq!(tables.observation(&key(51, FAMILY_V4)), None);
    assert_eq!(
        rejected(&mut tables, &v4(&bytes)),
        Counter::AdvertUnknownVrid
    );
    // Re-added, it starts over as XDP's new generation does.
    tables
        .set_instance(key(51, FAMILY_V4), config(3, 0))
        .unwrap();
    assert_eq!(tables.observation(&key(51, FAMILY_V4)), None);
    assert_eq!(
        accepted(&mut tables, &v4(&bytes), T0 + 2),
        event_reasons::NEW_MASTER
    );
    let observation = tables.observation(&key(51, FAMILY_V4)).unwrap();
    assert_eq!(observation.adverts, 1);
    assert_ne!(observation.generation, generation);
    assert_ne!(observation.generation, 0);
}

#[test]
fn tables_are_bounded_like_the_maps() {
    let mut tables = Tables::default();
    for vrid in 0..=255u8 {
        for family in [FAMILY_V4, FAMILY_V6] {
            for ifindex in 0..2 {
                let key = InstanceKey {
                    ifindex,
                    vlan: 0,
                    vrid,
                    family,
                };
                tables.set_instance(key, config(3, 0)).unwrap();
            }
        }
    }
    let one_more = InstanceKey {
        ifindex: 2,
        vlan: 0,
        vrid: 1,
        family: FAMILY_V4,
    };
    assert!(tables.set_instance(one_more, config(3, 0)).is_err());
    // Updating an existing one still works.
    let existing = InstanceKey {
        ifindex: 1,
        vlan: 0,
        vrid: 1,
        family: FAMILY_V4,
    };
    tables.set_instance(existing, config(2, 0)).unwrap();
}

/// Builds one control message the way the kernel lays it out (`CMSG_LEN`, `CMSG_SPACE`).
fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
    // SAFETY: pure arithmetic on a length.
    let (len, space) = unsafe {
        (
            libc::CMSG_LEN(data.len() as u32) as usize,
            libc::CMSG_SPACE(data.len() as u32) as usize,
        )
    };
    let mut bytes = vec![0u8; space];
    bytes[..size_of::<usize>()].copy_from_slice(&len.to_ne_bytes());
    let at = size_of::<usize>();
    bytes[at..at + 4].copy_from_slice(&level.to_ne_bytes());
    bytes[at + 4..at + 8].copy_from_slice(&kind.to_ne_bytes());
    let data_at = len - data.len();
    bytes[data_at..len].copy_from_slice(data);
    bytes
}

#[test]
fn ancillary_data_of_both_families() {
    let mut pktinfo = vec![];
    pktinfo.extend_from_slice(&9i32.to_ne_bytes());
    pktinfo.extend_from_slice(&[192, 0, 2, 1, 224, 0, 0, 18]);
    let mut control = cmsg(libc::SOL_IP, libc::IP_PKTINFO, &pktinfo);
    control.extend(cmsg(libc::SOL_IP, libc::IP_TTL, &255i32.to_ne_bytes()));
    let parsed = Ancillary::parse(&control, false);
    assert_eq!(parsed.ifindex, Some(9));
    assert!(!parsed.reassembled && !parsed.extension_headers);

    let mut pktinfo6 = MULTICAST_V6.octets().to_vec();
    pktinfo6.extend_from_slice(&11u32.to_ne_bytes());
    let mut control = cmsg(libc::SOL_IPV6, libc::IPV6_HOPLIMIT, &255i32.to_ne_bytes());
    control.extend(cmsg(libc::SOL_IPV6, libc::IPV6_PKTINFO, &pktinfo6));
    let parsed = Ancillary::parse(&control, false);
    assert_eq!(parsed.ifindex, Some(11));
    assert_eq!(parsed.destination_v6, Some(MULTICAST_V6));
    assert_eq!(parsed.hop_limit, Some(255));
    assert!(!parsed.extension_headers);

    control.extend(cmsg(
        libc::SOL_IPV6,
        libc::IPV6_HOPOPTS,
        &[58, 0, 5, 2, 0, 0, 1, 0],
    ));
    assert!(Ancillary::parse(&control, false).extension_headers);
    let fragsize = cmsg(
        libc::SOL_IPV6,
        libc::IPV6_RECVFRAGSIZE,
        &1280i32.to_ne_bytes(),
    );
    let parsed = Ancillary::parse(&fragsize, false);
    assert!(parsed.reassembled && parsed.extension_headers);
    // A truncated control buffer only overflows with extension-header options.
    assert!(Ancillary::parse(&[], true).extension_headers);
    let fragsize = cmsg(libc::SOL_IP, libc::IP_RECVFRAGSIZE, &1400i32.to_ne_bytes());
    assert!(Ancillary::parse(&fragsize, false).reassembled);
}

#[test]
fn malformed_ancillary_data_stops_the_walk() {
    let good = cmsg(libc::SOL_IPV6, libc::IPV6_HOPLIMIT, &255i32.to_ne_bytes());
    // A length running past the buffer, a length below the header, a cut header.
    let mut long = good.clone();
    long[..size_of::<usize>()].copy_from_slice(&1000usize.to_ne_bytes());
    assert_eq!(Ancillary::parse(&long, false).hop_limit, None);
    let mut tiny = good.clone();
    tiny[..size_of::<usize>()].copy_from_slice(&1usize.to_ne_bytes());
    assert_eq!(Ancillary::parse(&tiny, false).hop_limit, None);
    assert_eq!(Ancillary::parse(&good[..10], false), Ancillary::default());
    let mut huge = good.clone();
    huge[..size_of::<usize>()].copy_from_slice(&usize::MAX.to_ne_bytes());
    assert_eq!(Ancillary::parse(&huge, false).hop_limit, None);
    // The same after a good message: the end offset would overflow.
    let mut second = good.clone();
    second.extend_from_slice(&huge);
    assert_eq!(Ancillary::parse(&second, false).hop_limit, Some(255));
    let mut almost = good.clone();
    almost.extend_from_slice(&good);
    let at = good.len();
    almost[at..at + size_of::<usize>()].copy_from_slice(&(usize::MAX - 3).to_ne_bytes());
    assert_eq!(Ancillary::parse(&almost, false).hop_limit, Some(255));
}

proptest! {
    #[test]
    fn any_ipv4_bytes_are_judged_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let mut tables = tables();
        let _ = tables.receive(IFINDEX, &v4(&bytes), T0);
    }

    #[test]
    fn any_ipv6_message_is_judged_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..1200),
        hop_limit in any::<u8>(),
    ) {
        let mut tables = tables();
        let _ = tables.receive(IFINDEX, &v6(&bytes, hop_limit), T0);
    }

    #[test]
    fn any_vrrp_header_after_a_valid_ip_header_is_judged_without_panicking(
        message in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut tables = tables();
        let mut bytes = valid_v4(PEER_V4, &v3(51, 120, 100))[..20].to_vec();
        bytes.extend_from_slice(&message);
        let total = bytes.len() as u16;
        bytes[2..4].copy_from_slice(&total.to_be_bytes());
        let _ = tables.receive(IFINDEX, &v4(&bytes), T0);
    }

    #[test]
    fn any_control_bytes_parse_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        truncated in any::<bool>(),
    ) {
        let _ = Ancillary::parse(&bytes, truncated);
    }
}

#[test]
fn socket_errors_back_off_up_to_a_second() {
    use std::time::Duration;
    assert_eq!(super::backoff(1), Duration::from_millis(10));
    assert_eq!(super::backoff(2), Duration::from_millis(20));
    assert_eq!(super::backoff(7), Duration::from_millis(640));
    assert_eq!(super::backoff(8), Duration::from_secs(1));
    assert_eq!(super::backoff(u32::MAX), Duration::from_secs(1));
}

#[test]
fn counters_sum_per_slot() {
    let counters = super::Counters::new();
    counters.add(Counter::DropTtl);
    counters.add(Counter::DropTtl);
    counters.add(Counter::EventLost);
    let totals = counters.totals();
    assert_eq!(totals.get(Counter::DropTtl), 2);
    assert_eq!(totals.get(Counter::EventLost), 1);
    assert_eq!(totals.0.iter().sum::<u64>(), 3);
}

#[test]
fn opening_outside_a_runtime_is_an_error_not_a_panic() {
    let (sender, _receiver) = tokio::sync::mpsc::channel(1);
    let err = super::SocketDataplane::open(sender)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("tokio runtime"), "{err:#}");
}
