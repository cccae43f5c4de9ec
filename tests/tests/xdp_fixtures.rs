//! The XDP program, fixture by fixture, under BPF_PROG_TEST_RUN: frame and map contents in;
//! action, output frame, counter deltas and ring-buffer events out. Frames are built, and
//! replies checked, with the `wire` module. Root only; fails loudly otherwise.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use tests::{frames::*, xdp::*};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{InstanceState, event_reasons, instance_flags},
};
use vrrp_user::{
    units::{Centiseconds, Seconds},
    wire::{
        self, AuthType, ChecksumMode, FrameInfo, MacAddr, NdpRepr, V2Advert, V3Advert, VipList,
        VrrpRepr, arp, ndp,
    },
};

/// Asserts that exactly `expected` counters moved, by the given amounts.
fn assert_counters(name: &str, outcome: &Outcome, expected: &[(Counter, u64)]) {
    for counter in Counter::ALL {
        let want = expected
            .iter()
            .find(|(c, _)| *c == counter)
            .map_or(0, |(_, n)| *n);
        assert_eq!(
            outcome.counters.get(counter),
            want,
            "{name}: counter {}",
            counter.name()
        );
    }
}

/// A valid advert for a configured instance: consumed, recorded, one event on first sight.
fn assert_absorbed(name: &str, lab: &mut XdpLab, frame: &[u8], family: u8, vlan: u16) {
    let outcome = lab.run(frame);
    assert_eq!(outcome.action, XDP_DROP, "{name}: action");
    assert_counters(
        name,
        &outcome,
        &[(Counter::AdvertAccepted, 1), (Counter::AdvertEvent, 1)],
    );
    let events = lab.events();
    assert_eq!(events.len(), 1, "{name}: events");
    assert_eq!(events[0].instance, instance_key(vlan, 51, family), "{name}");
    assert_eq!(events[0].reasons, event_reasons::NEW_MASTER, "{name}");
    let observation = lab
        .dataplane
        .observation(instance_key(vlan, 51, family))
        .unwrap()
        .expect("observation");
    assert_eq!(observation.adverts, 1, "{name}");
    assert!(observation.last_advert_ns > 0, "{name}");
}

#[test]
fn the_longest_adverts_an_ethernet_frame_carries_are_absorbed() {
    // 255 IPv4 addresses: 1028 bytes in VRRPv3, 1036 in VRRPv2; 90 IPv6 addresses: 1448.
    let v4: Vec<Ipv4Addr> = (0..255).map(|n| Ipv4Addr::new(192, 0, 2, n)).collect();
    let v6: Vec<Ipv6Addr> = (1..=90)
        .map(|n| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
        .collect();
    let v3 = |addresses| {
        VrrpRepr::V3(V3Advert {
            vrid: 51,
            priority: 150,
            max_adver_int: Centiseconds(100),
            addresses,
        })
    };
    let v2 = VrrpRepr::V2(V2Advert {
        vrid: 51,
        priority: 150,
        adver_int: Seconds(1),
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses: v4.clone(),
    });
    let cases = [
        (
            "v2, 255 addresses",
            2,
            FAMILY_V4,
            frame_v4(&v2, ChecksumMode::PseudoHeader),
        ),
        (
            "v3, 255 IPv4 addresses",
            3,
            FAMILY_V4,
            frame_v4(&v3(VipList::V4(v4)), ChecksumMode::PseudoHeader),
        ),
        (
            "v3, 90 IPv6 addresses",
            3,
            FAMILY_V6,
            frame_v6(&v3(VipList::V6(v6))),
        ),
    ];
    for (name, version, family, frame) in cases {
        let mut lab = XdpLab::new();
        lab.instance(instance_key(0, 51, family), backup_config(version));
        assert_absorbed(name, &mut lab, &frame, family, 0);
    }
}

#[test]
fn valid_adverts_of_each_kind_are_absorbed_and_recorded() {
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(2));
    let frame = frame_v4(
        &v2(150, AuthType::None, &[0; 8]),
        ChecksumMode::PseudoHeader,
    );
    assert_absorbed("v2", &mut lab, &frame, FAMILY_V4, 0);
    let observation = lab
        .dataplane
        .observation(instance_key(0, 51, FAMILY_V4))
        .unwrap()
        .unwrap();
    assert_eq!(observation.priority, 150);
    assert_eq!(
        observation.interval_cs, 100,
        "v2 seconds are recorded as centiseconds"
    );
    assert_eq!(observation.source, dataplane_address(PEER_V4.into()));

    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    assert_absorbed("v3 ipv4", &mut lab, &frame, FAMILY_V4, 0);

    let mut lab = XdpLab::new();
    let mut config = backup_config(3);
    config.flags = instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER;
    lab.instance(instance_key(0, 51, FAMILY_V4), config);
    let frame = frame_v4(&v3_v4(150), ChecksumMode::VrrpOnly);
    assert_absorbed("v3 ipv4, RFC 9568 checksum", &mut lab, &frame, FAMILY_V4, 0);

    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V6), backup_config(3));
    let frame = frame_v6(&v3_v6(150));
    assert_absorbed("v3 ipv6", &mut lab, &frame, FAMILY_V6, 0);
    let observation = lab
        .dataplane
        .observation(instance_key(0, 51, FAMILY_V6))
        .unwrap()
        .unwrap();
    assert_eq!(observation.interval_cs, 10);

    let mut lab = XdpLab::new();
    lab.instance(instance_key(42, 51, FAMILY_V4), backup_config(3));
    let mut info = FrameInfo::multicast_v4(MacAddr(PEER_MAC), PEER_V4, 7);
    info.vlan = Some(vlan(42));
    let frame = wire::emit_advert_frame(&info, &v3_v4(150), ChecksumMode::PseudoHeader).unwrap();
    assert_absorbed("802.1q-tagged v3", &mut lab, &frame, FAMILY_V4, 42);
}

fn dataplane_address(address: IpAddr) -> [u8; 16] {
    vrrp_user::dataplane::address16(address)
}

#[test]
fn adverts_for_vrids_we_do_not_run_are_counted_and_passed_untouched() {
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 52, FAMILY_V4), backup_config(3));
    // Same VRID on another VLAN is another instance.
    lab.instance(instance_key(42, 51, FAMILY_V4), backup_config(3));
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    let outcome = lab.run(&frame);
    assert_eq!(outcome.action, XDP_PASS);
    assert_eq!(outcome.frame, frame);
    assert_counters("unknown vrid", &outcome, &[(Counter::AdvertUnknownVrid, 1)]);
    assert!(lab.events().is_empty());
}

#[test]
fn an_instance_may_ask_for_its_adverts_to_be_passed_on() {
    let mut lab = XdpLab::new();
    let mut config = backup_config(3);
    config.flags = instance_flags::PASS_ADVERTS;
    lab.instance(instance_key(0, 51, FAMILY_V4), config);
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    let outcome = lab.run(&frame);
    assert_eq!(outcome.action, XDP_PASS);
    assert_eq!(outcome.frame, frame);
    assert_counters(
        "pass adverts",
        &outcome,
        &[(Counter::AdvertAccepted, 1), (Counter::AdvertEvent, 1)],
    );
}

/// Each kind of invalid advert is dropped under its own counter, and wakes nobody.
#[test]
fn invalid_adverts_are_dropped_and_counted_by_reason() {
    let valid_v3 = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    let vrrp_at = 14 + 20;
    let patched = |offset: usize, value: u8| {
        let mut frame = valid_v3.clone();
        frame[offset] = value;
        frame
    };
    let mut ihl_4 = valid_v3.clone();
    ihl_4[14] = 0x44;
    let mut fragment = valid_v3.clone();
    fragment[14 + 6] = 0x20; // more fragments
    let long_total_length = edit_ipv4_header(&valid_v3, |header| header[3] += 8);
    let mut header_checksum = valid_v3.clone();
    header_checksum[14 + 10] ^= 0x01;
    // A bit flipped in the source: the VRRP checksum (v2 leaves the addresses out) cannot tell.
    let mut flipped_source = frame_v4(
        &v2(150, AuthType::None, &[0; 8]),
        ChecksumMode::PseudoHeader,
    );
    flipped_source[14 + 15] ^= 0x01;
    let cases: Vec<(&str, u8, u8, Vec<u8>, Counter)> = vec![
        (
            "ttl 254",
            3,
            0,
            with_ttl(&v3_v4(150), 254),
            Counter::DropTtl,
        ),
        ("ttl 1", 3, 0, with_ttl(&v3_v4(150), 1), Counter::DropTtl),
        (
            "v2 advert to a v3 instance",
            3,
            0,
            frame_v4(
                &v2(150, AuthType::None, &[0; 8]),
                ChecksumMode::PseudoHeader,
            ),
            Counter::DropVersion,
        ),
        (
            "v3 advert to a v2 instance",
            2,
            0,
            valid_v3.clone(),
            Counter::DropVersion,
        ),
        (
            "version 4",
            3,
            0,
            patched(vrrp_at, 0x41),
            Counter::DropVersion,
        ),
        ("type 2", 3, 0, patched(vrrp_at, 0x32), Counter::DropType),
        (
            "count too high",
            3,
            0,
            patched(vrrp_at + 3, 3),
            Counter::DropAddressCount,
        ),
        (
            "count too low",
            3,
            0,
            patched(vrrp_at + 3, 1),
            Counter::DropAddressCount,
        ),
        (
            "checksum",
            3,
            0,
            patched(vrrp_at + 7, valid_v3[vrrp_at + 7] ^ 0x01),
            Counter::DropChecksum,
        ),
        (
            "pseudo-header checksum to an RFC 9568 instance",
            3,
            instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER,
            valid_v3.clone(),
            Counter::DropChecksum,
        ),
        (
            "RFC 9568 checksum to a default instance",
            3,
            0,
            frame_v4(&v3_v4(150), ChecksumMode::VrrpOnly),
            Counter::DropChecksum,
        ),
        ("IHL 4", 3, 0, ihl_4, Counter::DropIpHeader),
        (
            "IPv4 header checksum",
            3,
            0,
            header_checksum,
            Counter::DropIpHeader,
        ),
        (
            "v2 advert whose source lost a bit",
            2,
            0,
            flipped_source,
            Counter::DropIpHeader,
        ),
        ("fragment", 3, 0, fragment, Counter::DropIpHeader),
        (
            "IP length beyond the frame",
            3,
            0,
            long_total_length,
            Counter::DropTruncated,
        ),
        (
            "frame cut inside the address list",
            3,
            0,
            valid_v3[..valid_v3.len() - 2].to_vec(),
            Counter::DropTruncated,
        ),
    ];
    for (name, version, flags, frame, counter) in cases {
        let mut lab = XdpLab::new();
        let mut config = backup_config(version);
        config.flags = flags;
        lab.instance(instance_key(0, 51, FAMILY_V4), config);
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_DROP, "{name}: action");
        assert_counters(name, &outcome, &[(counter, 1)]);
        assert!(lab.events().is_empty(), "{name}: no event");
        assert!(
            lab.dataplane
                .observation(instance_key(0, 51, FAMILY_V4))
                .unwrap()
                .is_none(),
            "{name}: nothing recorded"
        );
    }
}

#[test]
fn ipv4_options_are_skipped() {
    // IHL 6: one word of options (four NOPs) between the header and the advert.
    let valid = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    let mut frame = valid[..14 + 20].to_vec();
    frame.extend_from_slice(&[1, 1, 1, 1]);
    frame.extend_from_slice(&valid[14 + 20..]);
    frame[14] = 0x46;
    let total = u16::from_be_bytes([frame[16], frame[17]]) + 4;
    frame[16..18].copy_from_slice(&total.to_be_bytes());
    frame[24..26].copy_from_slice(&[0, 0]);
    let checksum = wire::checksum::finish(&[wire::checksum::data(&frame[14..14 + 24])]);
    frame[24..26].copy_from_slice(&checksum.to_be_bytes());
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    assert_absorbed("IHL 6", &mut lab, &frame, FAMILY_V4, 0);

    // The options are under the header checksum too.
    frame[14 + 20] = 0;
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    let outcome = lab.run(&frame);
    assert_eq!(outcome.action, XDP_DROP);
    assert_counters(
        "IHL 6, option changed",
        &outcome,
        &[(Counter::DropIpHeader, 1)],
    );
}

#[test]
fn v2_simple_text_authentication_must_match() {
    let password = *b"secret12";
    let mut config = backup_config(2);
    config.flags = instance_flags::AUTH_PASS;
    config.auth_data = password;
    let cases = [
        (
            "right password",
            v2(150, AuthType::SimpleText, &password),
            None,
        ),
        (
            "wrong password",
            v2(150, AuthType::SimpleText, b"secret13"),
            Some(Counter::DropAuth),
        ),
        (
            "no authentication",
            v2(150, AuthType::None, &[0; 8]),
            Some(Counter::DropAuth),
        ),
    ];
    for (name, advert, drop) in cases {
        let mut lab = XdpLab::new();
        lab.instance(instance_key(0, 51, FAMILY_V4), config);
        let frame = frame_v4(&advert, ChecksumMode::PseudoHeader);
        match drop {
            None => assert_absorbed(name, &mut lab, &frame, FAMILY_V4, 0),
            Some(counter) => {
                let outcome = lab.run(&frame);
                assert_eq!(outcome.action, XDP_DROP, "{name}");
                assert_counters(name, &outcome, &[(counter, 1)]);
            }
        }
    }
    // An instance without authentication refuses adverts that carry a password.
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(2));
    let outcome = lab.run(&frame_v4(
        &v2(150, AuthType::SimpleText, &password),
        ChecksumMode::PseudoHeader,
    ));
    assert_counters(
        "password to an open instance",
        &outcome,
        &[(Counter::DropAuth, 1)],
    );
}

#[test]
fn with_an_allow_list_only_listed_peers_are_heard() {
    let key = instance_key(0, 51, FAMILY_V4);
    let mut config = backup_config(3);
    config.flags = instance_flags::REQUIRE_PEER;
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);

    let mut lab = XdpLab::new();
    lab.instance(key, config);
    lab.allow_peer(key, "192.0.2.99".parse().unwrap());
    let outcome = lab.run(&frame);
    assert_eq!(outcome.action, XDP_DROP);
    assert_counters("unlisted peer", &outcome, &[(Counter::DropPeer, 1)]);

    let mut lab = XdpLab::new();
    lab.instance(key, config);
    lab.allow_peer(key, PEER_V4.into());
    assert_absorbed("listed peer", &mut lab, &frame, FAMILY_V4, 0);

    // keepalived's unicast adverts may leave with the default TTL / hop limit; the allow-list
    // replaces the TTL check, as in keepalived.
    let mut lab = XdpLab::new();
    lab.instance(key, config);
    lab.allow_peer(key, PEER_V4.into());
    assert_absorbed(
        "listed peer, ttl 64",
        &mut lab,
        &with_ttl(&v3_v4(150), 64),
        FAMILY_V4,
        0,
    );
}

#[test]
fn repeats_from_a_steady_master_wake_nobody_but_changes_do() {
    let key = instance_key(0, 51, FAMILY_V4);
    let mut lab = XdpLab::new();
    lab.instance(key, backup_config(3));
    let steady = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    assert_absorbed("first", &mut lab, &steady, FAMILY_V4, 0);
    for _ in 0..3 {
        let outcome = lab.run(&steady);
        assert_eq!(outcome.action, XDP_DROP);
        assert_counters("repeat", &outcome, &[(Counter::AdvertAccepted, 1)]);
    }
    assert!(lab.events().is_empty(), "repeats make no event");
    let last_repeat = lab.dataplane.observation(key).unwrap().unwrap();
    assert_eq!(last_repeat.adverts, 4);

    let expect_event = |lab: &mut XdpLab, frame: &[u8], reasons: u8, what: &str| {
        let outcome = lab.run(frame);
        assert_counters(
            what,
            &outcome,
            &[(Counter::AdvertAccepted, 1), (Counter::AdvertEvent, 1)],
        );
        let events = lab.events();
        assert_eq!(events.len(), 1, "{what}");
        assert_eq!(events[0].reasons, reasons, "{what}: reasons");
        events[0]
    };
    let event = expect_event(
        &mut lab,
        &frame_v4(&v3_v4(120), ChecksumMode::PseudoHeader),
        event_reasons::PRIORITY_CHANGED,
        "priority change",
    );
    // The event tells when the unreported repeat before it arrived.
    assert_eq!(event.previous_ns, last_repeat.last_advert_ns);
    assert!(event.ktime_ns > event.previous_ns);
    expect_event(
        &mut lab,
        &frame_v4(&v3_v4(0), ChecksumMode::PseudoHeader),
        event_reasons::PRIORITY_CHANGED | event_reasons::PRIORITY_ZERO,
        "priority 0",
    );
    let other_master = FrameInfo::multicast_v4(MacAddr(PEER_MAC), "192.0.2.12".parse().unwrap(), 1);
    let frame =
        wire::emit_advert_frame(&other_master, &v3_v4(0), ChecksumMode::PseudoHeader).unwrap();
    expect_event(
        &mut lab,
        &frame,
        event_reasons::NEW_MASTER | event_reasons::PRIORITY_ZERO,
        "new master",
    );
    let mut slower = v3_v4(0);
    if let VrrpRepr::V3(advert) = &mut slower {
        advert.max_adver_int = Centiseconds(200);
    }
    let frame =
        wire::emit_advert_frame(&other_master, &slower, ChecksumMode::PseudoHeader).unwrap();
    expect_event(
        &mut lab,
        &frame,
        event_reasons::INTERVAL_CHANGED | event_reasons::PRIORITY_ZERO,
        "interval change",
    );

    // While we are master every advert matters to the state machine.
    let mut master = backup_config(3);
    master.state = InstanceState::Master as u8;
    lab.instance(key, master);
    expect_event(
        &mut lab,
        &frame,
        event_reasons::WHILE_MASTER | event_reasons::PRIORITY_ZERO,
        "while master",
    );

    // After the configured silence, an unchanged advert is news again.
    let mut lab = XdpLab::new();
    let mut config = backup_config(3);
    config.silence_ns = 0;
    lab.instance(key, config);
    assert_absorbed("first", &mut lab, &steady, FAMILY_V4, 0);
    expect_event(
        &mut lab,
        &steady,
        event_reasons::AFTER_SILENCE,
        "after silence",
    );
}

#[test]
fn arp_requests_for_owned_vips_are_answered_in_place() {
    for vlan in [None, Some(vlan(42))] {
        let vid = vlan.map_or(0, |tag| tag.vid);
        let mut lab = XdpLab::new();
        lab.own(vid, VIP_V4.into());
        let request = arp_request(VIP_V4, vlan);
        let outcome = lab.run(&request);
        assert_eq!(outcome.action, XDP_TX, "vlan {vid}");
        assert_counters("arp reply", &outcome, &[(Counter::ArpReply, 1)]);
        let expected = arp::answer_request(&request, MacAddr(OUR_MAC))
            .unwrap()
            .expect("a request has an answer");
        assert_eq!(outcome.frame, expected, "vlan {vid}: exact reply bytes");
        let (ethernet, reply) = arp::parse_frame(&outcome.frame).unwrap();
        assert_eq!(ethernet.dst, MacAddr(CLIENT_MAC));
        assert_eq!(ethernet.src, MacAddr(OUR_MAC));
        assert_eq!(ethernet.vlan, vlan);
        assert_eq!(reply.operation, wire::ArpOperation::Reply);
        assert_eq!(
            (reply.sender_mac, reply.sender_ip),
            (MacAddr(OUR_MAC), VIP_V4)
        );
        assert_eq!(
            (reply.target_mac, reply.target_ip),
            (MacAddr(CLIENT_MAC), CLIENT_V4)
        );
    }
}

#[test]
fn arp_not_for_us_is_left_alone() {
    let mut lab = XdpLab::new();
    lab.own(0, VIP_V4.into());
    let gratuitous = arp::gratuitous_frame(MacAddr(PEER_MAC), VIP_V4, None).unwrap();
    let other_vip = arp_request("192.0.2.101".parse().unwrap(), None);
    let tagged_elsewhere = arp_request(VIP_V4, Some(vlan(7)));
    let mut reply = arp_request(VIP_V4, None);
    reply[14 + 7] = 2;
    for (name, frame) in [
        ("gratuitous ARP for our VIP", gratuitous),
        ("request for a VIP we do not own", other_vip),
        ("request on another VLAN", tagged_elsewhere),
        ("a reply", reply),
    ] {
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_PASS, "{name}");
        assert_eq!(outcome.frame, frame, "{name}: untouched");
        assert_counters(name, &outcome, &[]);
    }
}

#[test]
fn a_stale_heartbeat_ends_ownership() {
    let mut lab = XdpLab::new();
    lab.own(0, VIP_V4.into());
    lab.own(0, VIP_V6.into());
    lab.heartbeat_stale();
    for (name, frame) in [
        ("arp", arp_request(VIP_V4, None)),
        ("ns", solicitation(VIP_V6, CLIENT_V6)),
    ] {
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_PASS, "{name}");
        assert_eq!(outcome.frame, frame, "{name}: untouched");
        assert_counters(name, &outcome, &[(Counter::OwnershipStale, 1)]);
    }
    lab.heartbeat_fresh();
    assert_eq!(lab.run(&arp_request(VIP_V4, None)).action, XDP_TX);
}

/// The heartbeat program stamps the kernel's real tick count: ownership holds right after it
/// and lapses once the heartbeat is older than the owner's bound, in wall-clock time.
#[test]
fn ownership_lapses_when_the_heartbeat_outlives_its_bound() {
    const BOUND: Duration = Duration::from_millis(300);
    let mut lab = XdpLab::new();
    lab.own_for(0, VIP_V4.into(), OUR_MAC, BOUND);
    lab.heartbeat_fresh();
    assert_eq!(lab.run(&arp_request(VIP_V4, None)).action, XDP_TX);

    // Past the bound and its one tick of rounding, with room for a slow machine.
    std::thread::sleep(BOUND * 2 + Duration::from_millis(100));
    let outcome = lab.run(&arp_request(VIP_V4, None));
    assert_eq!(outcome.action, XDP_PASS);
    assert_counters("lapsed", &outcome, &[(Counter::OwnershipStale, 1)]);

    lab.heartbeat_fresh();
    assert_eq!(lab.run(&arp_request(VIP_V4, None)).action, XDP_TX);
}

#[test]
fn solicitations_for_owned_vips_become_advertisements() {
    for source in [CLIENT_V6, Ipv6Addr::UNSPECIFIED] {
        let mut lab = XdpLab::new();
        lab.own(0, VIP_V6.into());
        let request = solicitation(VIP_V6, source);
        let outcome = lab.run(&request);
        assert_eq!(outcome.action, XDP_TX, "from {source}");
        assert_counters("na reply", &outcome, &[(Counter::NaReply, 1)]);
        let expected = ndp::answer_solicitation(&request, MacAddr(OUR_MAC), false)
            .unwrap()
            .expect("an NS has an answer");
        assert_eq!(outcome.frame, expected, "from {source}: exact reply bytes");
        // parse_frame verifies the ICMPv6 checksum.
        let (ethernet, ip, na) = ndp::parse_frame(&outcome.frame).expect("a valid NA");
        assert_eq!(ip.src, VIP_V6);
        assert_eq!(ip.hop_limit, 255);
        assert_eq!(ethernet.src, MacAddr(OUR_MAC));
        let NdpRepr::NeighborAdvert {
            flags,
            target,
            target_lladdr,
        } = na
        else {
            panic!("not an NA: {na:?}");
        };
        assert_eq!(target, VIP_V6);
        assert_eq!(target_lladdr, Some(MacAddr(OUR_MAC)));
        assert!(flags.override_);
        assert_eq!(flags.solicited, !source.is_unspecified());
    }
}

#[test]
fn advertisements_go_where_the_solicitation_says_with_the_router_flag_as_configured() {
    // The source link-layer option names the solicitor's MAC; the frame may come from another
    // (a bridge, a proxy): the kernel answers the option's.
    let option_mac = [0x02, 0, 0, 0, 0, 0x77];
    let request = edit_icmpv6(&solicitation(VIP_V6, CLIENT_V6), |icmp| {
        icmp[26..32].copy_from_slice(&option_mac)
    });
    for router in [false, true] {
        let mut lab = XdpLab::new();
        match router {
            true => lab.own_as_router(0, VIP_V6.into()),
            false => lab.own(0, VIP_V6.into()),
        }
        let outcome = lab.run(&request);
        assert_eq!(outcome.action, XDP_TX);
        let expected = ndp::answer_solicitation(&request, MacAddr(OUR_MAC), router)
            .unwrap()
            .expect("an answer");
        assert_eq!(
            outcome.frame, expected,
            "router {router}: exact reply bytes"
        );
        let (ethernet, _, na) = ndp::parse_frame(&outcome.frame).expect("a valid NA");
        assert_eq!(ethernet.dst, MacAddr(option_mac));
        let NdpRepr::NeighborAdvert { flags, .. } = na else {
            panic!("not an NA: {na:?}");
        };
        assert_eq!(flags.router, router);
    }
    // Up to four options are read: a source link-layer address and three more.
    let four_options = edit_icmpv6(&request, |icmp| {
        for _ in 0..3 {
            icmp.extend_from_slice(&[14, 1, 0, 0, 0, 0, 0, 0]);
        }
    });
    let mut lab = XdpLab::new();
    lab.own(0, VIP_V6.into());
    let outcome = lab.run(&four_options);
    assert_eq!(outcome.action, XDP_TX);
    let (ethernet, _, _) = ndp::parse_frame(&outcome.frame).expect("a valid NA");
    assert_eq!(ethernet.dst, MacAddr(option_mac));
}

/// `frame`, an untagged NS, after `edit` of its ICMPv6 message, the checksum made valid.
fn edit_icmpv6(frame: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (head, icmp) = frame.split_at(14 + 40);
    let mut icmp = icmp.to_vec();
    edit(&mut icmp);
    let mut frame = head.to_vec();
    frame[18..20].copy_from_slice(&(icmp.len() as u16).to_be_bytes());
    frame.extend_from_slice(&icmp);
    let at =
        |offset: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&frame[offset..offset + 16]).unwrap());
    let (src, dst) = (at(22), at(38));
    wire::NdpPacket::new_unchecked(&mut frame[54..]).fill_checksum(&src, &dst);
    frame
}

#[test]
fn solicitations_not_for_us_are_left_alone() {
    let mut lab = XdpLab::new();
    lab.own(0, VIP_V6.into());
    let mut bad_checksum = solicitation(VIP_V6, CLIENT_V6);
    bad_checksum[14 + 40 + 3] ^= 0xff;
    let mut hop_limit_64 = solicitation(VIP_V6, CLIENT_V6);
    hop_limit_64[14 + 7] = 64;
    let dad = solicitation(VIP_V6, Ipv6Addr::UNSPECIFIED);
    // RFC 4861 §7.1.1: invalid, the stack discards them.
    let dad_to_the_vip = {
        let mut frame = dad.clone();
        frame[38..54].copy_from_slice(&VIP_V6.octets());
        edit_icmpv6(&frame, |_| {})
    };
    let dad_with_source_option = edit_icmpv6(&dad, |icmp| {
        icmp.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0x77])
    });
    let zero_length_option = edit_icmpv6(&solicitation(VIP_V6, CLIENT_V6), |icmp| {
        icmp.extend_from_slice(&[14, 0, 0, 0, 0, 0, 0, 0])
    });
    // The source link-layer option two units long: not an Ethernet address.
    let long_source_option = edit_icmpv6(&solicitation(VIP_V6, CLIENT_V6), |icmp| {
        icmp[25] = 2;
        icmp.extend_from_slice(&[0; 8]);
    });
    let option_past_the_end = edit_icmpv6(&solicitation(VIP_V6, CLIENT_V6), |icmp| {
        icmp.extend_from_slice(&[14, 2, 0, 0, 0, 0, 0, 0])
    });
    // Valid, but more options than this path reads: the stack answers it.
    let many_options = edit_icmpv6(&solicitation(VIP_V6, CLIENT_V6), |icmp| {
        for _ in 0..4 {
            icmp.extend_from_slice(&[14, 1, 0, 0, 0, 0, 0, 0]);
        }
    });
    for (name, frame) in [
        (
            "VIP we do not own",
            solicitation("2001:db8::101".parse().unwrap(), CLIENT_V6),
        ),
        ("bad checksum", bad_checksum),
        ("hop limit 64", hop_limit_64),
        ("duplicate address detection to the VIP", dad_to_the_vip),
        (
            "duplicate address detection with a source link-layer option",
            dad_with_source_option,
        ),
        ("an option of length 0", zero_length_option),
        ("a source link-layer option of 16 bytes", long_source_option),
        ("an option running past the message", option_past_the_end),
        ("five options", many_options),
    ] {
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_PASS, "{name}");
        assert_eq!(outcome.frame, frame, "{name}: untouched");
        assert_counters(name, &outcome, &[]);
    }
}

#[test]
fn other_traffic_passes_untouched_and_uncounted() {
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    lab.own(0, VIP_V4.into());
    let mut tcp = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    tcp[14 + 9] = 6;
    let mut udp6 = frame_v6(&v3_v6(150));
    udp6[14 + 6] = 17;
    let mut icmp6_echo = solicitation(VIP_V6, CLIENT_V6);
    icmp6_echo[14 + 40] = 128;
    let mut lldp = tcp.clone();
    lldp[12..14].copy_from_slice(&0x88ccu16.to_be_bytes());
    for (name, frame) in [
        ("tcp to a VIP", tcp),
        ("udp over ipv6", udp6),
        ("icmpv6 echo", icmp6_echo),
        ("lldp", lldp),
    ] {
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_PASS, "{name}");
        assert_eq!(outcome.frame, frame, "{name}: untouched");
        assert_counters(name, &outcome, &[]);
    }
}

#[test]
fn observations_survive_config_updates_but_not_removal() {
    let key = instance_key(0, 51, FAMILY_V4);
    let mut lab = XdpLab::new();
    lab.instance(key, backup_config(3));
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    assert_absorbed("first", &mut lab, &frame, FAMILY_V4, 0);

    // A new effective priority is a config update: the master is not forgotten.
    let mut config = backup_config(3);
    config.priority = 90;
    lab.instance(key, config);
    lab.run(&frame);
    assert!(lab.events().is_empty(), "same master after a config update");
    assert_eq!(lab.dataplane.observation(key).unwrap().unwrap().adverts, 2);

    // Removed and added again, the instance starts from nothing, although its slot is reused.
    lab.dataplane.remove_instance(key).unwrap();
    assert!(lab.dataplane.observation(key).unwrap().is_none());
    lab.instance(key, backup_config(3));
    assert!(lab.dataplane.observation(key).unwrap().is_none());
    assert_absorbed("after re-adding", &mut lab, &frame, FAMILY_V4, 0);
}

#[test]
fn a_forgotten_master_is_reported_again() {
    let key = instance_key(0, 51, FAMILY_V4);
    let mut lab = XdpLab::new();
    lab.instance(key, backup_config(3));
    let frame = frame_v4(&v3_v4(150), ChecksumMode::PseudoHeader);
    assert_absorbed("first", &mut lab, &frame, FAMILY_V4, 0);
    lab.run(&frame);
    assert!(lab.events().is_empty(), "a repeat is silent");
    lab.dataplane.forget_observation(key).unwrap();
    assert!(lab.dataplane.observation(key).unwrap().is_none());
    assert_absorbed("after forgetting", &mut lab, &frame, FAMILY_V4, 0);
}

/// `use_vmac`: VRID 51's IPv4 virtual MAC (RFC 5798 §7.3).
const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 51];

#[test]
fn a_vip_owned_with_the_virtual_mac_is_answered_with_it() {
    let mut lab = XdpLab::new();
    lab.own_with_mac(0, VIP_V4.into(), VMAC);
    let request = arp_request(VIP_V4, None);
    let outcome = lab.run(&request);
    assert_eq!(outcome.action, XDP_TX);
    let expected = arp::answer_request(&request, MacAddr(VMAC))
        .unwrap()
        .unwrap();
    assert_eq!(outcome.frame, expected, "exact reply bytes");
    let (ethernet, reply) = arp::parse_frame(&outcome.frame).unwrap();
    assert_eq!(ethernet.src, MacAddr(VMAC));
    assert_eq!((reply.sender_mac, reply.sender_ip), (MacAddr(VMAC), VIP_V4));

    let vmac_v6 = [0x00, 0x00, 0x5e, 0x00, 0x02, 51];
    lab.own_with_mac(0, VIP_V6.into(), vmac_v6);
    let request = solicitation(VIP_V6, CLIENT_V6);
    let outcome = lab.run(&request);
    assert_eq!(outcome.action, XDP_TX);
    let (ethernet, _, na) = ndp::parse_frame(&outcome.frame).expect("a valid NA");
    assert_eq!(ethernet.src, MacAddr(vmac_v6));
    let NdpRepr::NeighborAdvert { target_lladdr, .. } = na else {
        panic!("not an NA: {na:?}");
    };
    assert_eq!(target_lladdr, Some(MacAddr(vmac_v6)));
}

#[test]
fn frames_to_an_owned_virtual_mac_reach_the_stack_under_the_interface_mac() {
    let mut lab = XdpLab::new();
    lab.own_vmac(TEST_IFINDEX, VMAC);
    let tcp = to_mac(&tcp_v4(), VMAC);
    let outcome = lab.run(&tcp);
    assert_eq!(outcome.action, XDP_PASS);
    assert_eq!(
        outcome.frame,
        to_mac(&tcp, OUR_MAC),
        "only the destination changes"
    );
    assert_counters("tcp to the vmac", &outcome, &[(Counter::VmacDelivered, 1)]);

    // A unicast ARP request to the virtual MAC (a client refreshing its entry) is still
    // answered when the VIP is owned, and handed to the stack when it is not.
    lab.own_with_mac(0, VIP_V4.into(), VMAC);
    let refresh = to_mac(&arp_request(VIP_V4, None), VMAC);
    let outcome = lab.run(&refresh);
    assert_eq!(outcome.action, XDP_TX);
    assert_counters(
        "arp refresh",
        &outcome,
        &[(Counter::VmacDelivered, 1), (Counter::ArpReply, 1)],
    );
    assert_eq!(
        arp::parse_frame(&outcome.frame).unwrap().0.src,
        MacAddr(VMAC)
    );
    let other = to_mac(&arp_request("192.0.2.101".parse().unwrap(), None), VMAC);
    let outcome = lab.run(&other);
    assert_eq!(outcome.action, XDP_PASS);
    assert_eq!(outcome.frame, to_mac(&other, OUR_MAC));

    // Tagged frames too: the MAC is the interface's whatever the VLAN.
    let mut info = FrameInfo::multicast_v4(MacAddr(PEER_MAC), PEER_V4, 7);
    info.vlan = Some(vlan(42));
    info.dst_mac = MacAddr(VMAC);
    let tagged = wire::emit_advert_frame(&info, &v3_v4(150), ChecksumMode::PseudoHeader).unwrap();
    let outcome = lab.run(&tagged);
    assert_eq!(outcome.frame[..6], OUR_MAC, "tagged frame");
}

#[test]
fn frames_to_other_or_lapsed_virtual_macs_pass_untouched() {
    let mut lab = XdpLab::new();
    lab.own_vmac(TEST_IFINDEX, VMAC);
    // Owned on another interface only.
    let elsewhere = [0x00, 0x00, 0x5e, 0x00, 0x01, 52];
    lab.own_vmac(TEST_IFINDEX + 1, elsewhere);
    let tcp = tcp_v4();
    for (name, destination) in [
        ("a VRID we do not own", [0x00, 0x00, 0x5e, 0x00, 0x01, 50]),
        (
            "the IPv6 MAC of our VRID",
            [0x00, 0x00, 0x5e, 0x00, 0x02, 51],
        ),
        ("owned on another interface", elsewhere),
        ("not a virtual MAC kind", [0x00, 0x00, 0x5e, 0x00, 0x03, 51]),
        (
            "another OUI starting with 00",
            [0x00, 0x50, 0x56, 0x00, 0x01, 51],
        ),
        ("the interface's own MAC", OUR_MAC),
    ] {
        let frame = to_mac(&tcp, destination);
        let outcome = lab.run(&frame);
        assert_eq!(outcome.action, XDP_PASS, "{name}");
        assert_eq!(outcome.frame, frame, "{name}: untouched");
        assert_counters(name, &outcome, &[]);
    }

    // A hung daemon's virtual MAC is no longer taken.
    lab.heartbeat_stale();
    let frame = to_mac(&tcp, VMAC);
    let outcome = lab.run(&frame);
    assert_eq!(outcome.action, XDP_PASS);
    assert_eq!(outcome.frame, frame, "stale: untouched");
    assert_counters("stale", &outcome, &[(Counter::OwnershipStale, 1)]);
    lab.heartbeat_fresh();
    assert_eq!(lab.run(&frame).frame[..6], OUR_MAC, "fresh again");

    // Disowned: untouched.
    lab.dataplane
        .disown_vmac(vrrp_common::maps::VmacKey {
            ifindex: TEST_IFINDEX,
            mac: VMAC,
            _pad: [0; 2],
        })
        .unwrap();
    let outcome = lab.run(&frame);
    assert_eq!(outcome.frame, frame, "disowned: untouched");
    assert_counters("disowned", &outcome, &[]);
}
