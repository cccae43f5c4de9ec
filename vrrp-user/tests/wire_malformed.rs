//! Every malformed packet yields its own typed error; the starting points are the captured
//! keepalived frames with one thing broken (and the other checksums repaired, so that the
//! check under test is the one that fires).
mod common;

use std::net::Ipv6Addr;

use common::{PEER_MAC, vector};
use vrrp_user::units::{Centiseconds, Seconds};
use vrrp_user::wire::{
    AuthType, ChecksumMode, Error, Ipv4Packet, Ipv6Packet, Layer, NdpPacket, V2Advert, V3Advert,
    VipList, VlanTag, VrrpPacket, VrrpRepr, arp, emit_advert_frame, ndp, parse_advert_frame,
};

const PH: ChecksumMode = ChecksumMode::PseudoHeader;
const ONLY: ChecksumMode = ChecksumMode::VrrpOnly;

fn ihl_bytes(frame: &[u8]) -> usize {
    usize::from(frame[14] & 0x0f) * 4
}

/// Recomputes the IPv4 header checksum of an untagged frame.
fn fix_ip4(frame: &mut [u8]) {
    Ipv4Packet::new_unchecked(&mut frame[14..]).fill_checksum();
}

/// Recomputes the VRRP checksum of an untagged IPv4 frame.
fn fix_vrrp4(frame: &mut [u8], mode: ChecksumMode) {
    let ip = Ipv4Packet::new_unchecked(&frame[14..]);
    let pair = vrrp_user::wire::IpPair::V4 {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    };
    let (start, end) = (14 + ihl_bytes(frame), 14 + usize::from(ip.total_len()));
    VrrpPacket::new_unchecked(&mut frame[start..end]).fill_checksum(&pair, mode);
}

fn v6_addrs(frame: &[u8]) -> (Ipv6Addr, Ipv6Addr) {
    let ip = Ipv6Packet::new_unchecked(&frame[14..]);
    (ip.src_addr(), ip.dst_addr())
}

/// Sets the IPv6 payload length and recomputes the ICMPv6 checksum of an untagged frame.
fn fix_icmp6(frame: &mut [u8]) {
    let plen = frame.len() - 54;
    frame[18..20].copy_from_slice(&(plen as u16).to_be_bytes());
    let (src, dst) = v6_addrs(frame);
    NdpPacket::new_unchecked(&mut frame[54..]).fill_checksum(&src, &dst);
}

fn truncated(layer: Layer, need: usize, have: usize) -> Error {
    Error::Truncated { layer, need, have }
}

#[test]
fn truncated_at_every_layer() {
    let a = vector("a-v2-mcast.advert"); // 14 + 20 + 20 bytes
    let p = |b: &[u8]| parse_advert_frame(b, PH).unwrap_err();
    assert_eq!(p(&a[..13]), truncated(Layer::Ethernet, 14, 13));
    assert_eq!(p(&a[..14]), truncated(Layer::Ipv4, 1, 0));
    assert_eq!(p(&a[..33]), truncated(Layer::Ipv4, 20, 19));
    assert_eq!(p(&a[..53]), truncated(Layer::Ipv4, 40, 39));

    // An IP packet that carries only 7 bytes of VRRP.
    let mut short = a[..41].to_vec();
    short[16..18].copy_from_slice(&27u16.to_be_bytes());
    fix_ip4(&mut short);
    assert_eq!(p(&short), truncated(Layer::Vrrp, 8, 7));

    // Behind an 802.1Q tag.
    let (mut info, advert) = parse_advert_frame(&a, PH).unwrap();
    info.vlan = Some(VlanTag {
        pcp: 6,
        dei: false,
        vid: 100,
    });
    let tagged = emit_advert_frame(&info, &advert, PH).unwrap();
    assert_eq!(parse_advert_frame(&tagged, PH).unwrap(), (info, advert));
    assert_eq!(p(&tagged[..16]), truncated(Layer::Vlan, 18, 16));
    assert_eq!(p(&tagged[..37]), truncated(Layer::Ipv4, 20, 19));

    let d = vector("d-v3-v6.advert"); // 14 + 40 + 24 bytes
    assert_eq!(p(&d[..53]), truncated(Layer::Ipv6, 40, 39));
    assert_eq!(p(&d[..77]), truncated(Layer::Ipv6, 64, 63));

    let garp = vector("a-v2-mcast.garp");
    assert_eq!(
        arp::parse_frame(&garp[..41]).unwrap_err(),
        truncated(Layer::Arp, 28, 27)
    );

    let ns = vector("g-v3-v6-unicast.ns"); // 14 + 40 + 24 + 8 bytes
    let mut short_ns = ns[..77].to_vec();
    fix_icmp6(&mut short_ns);
    assert_eq!(
        ndp::parse_frame(&short_ns).unwrap_err(),
        truncated(Layer::Icmpv6, 24, 23)
    );
    // An option that claims 16 bytes where 8 are left.
    let mut long_opt = ns.clone();
    long_opt[79] = 2;
    fix_icmp6(&mut long_opt);
    assert_eq!(
        ndp::parse_frame(&long_opt).unwrap_err(),
        truncated(Layer::NdpOption, 16, 8)
    );
    // A lone option byte.
    let mut lone = ns[..79].to_vec();
    fix_icmp6(&mut lone);
    assert_eq!(
        ndp::parse_frame(&lone).unwrap_err(),
        truncated(Layer::NdpOption, 2, 1)
    );
}

#[test]
fn ethernet_padding_is_not_a_length_mismatch() {
    // A real NIC pads this 46-byte frame to 60; the IP length tells what is VRRP.
    let f = vector("f-v3-v4-unicast.advert");
    let mut padded = f.clone();
    padded.resize(60, 0);
    assert_eq!(
        parse_advert_frame(&padded, PH).unwrap(),
        parse_advert_frame(&f, PH).unwrap()
    );
}

#[test]
fn bad_vrrp_version_and_type() {
    let a = vector("a-v2-mcast.advert");
    for version in [0u8, 1, 4, 15] {
        let mut b = a.clone();
        b[34] = (version << 4) | 1;
        assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadVersion(version)));
    }
    for ty in [0u8, 2, 15] {
        let mut b = a.clone();
        b[34] = 0x20 | ty;
        assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadType(ty)));
    }
}

#[test]
fn count_and_length_must_agree() {
    let a = vector("a-v2-mcast.advert");
    for (count, expected) in [(2u8, 24usize), (0, 16), (255, 8 + 255 * 4 + 8)] {
        let mut b = a.clone();
        b[37] = count;
        assert_eq!(
            parse_advert_frame(&b, PH),
            Err(Error::AddressCountMismatch {
                count,
                length: 20,
                expected
            })
        );
    }
    let mut d = vector("d-v3-v6.advert");
    d[57] = 2;
    assert_eq!(
        parse_advert_frame(&d, PH),
        Err(Error::AddressCountMismatch {
            count: 2,
            length: 24,
            expected: 40
        })
    );
    // Four bytes more inside the IP length than two IPv4 addresses take.
    let mut c = vector("c-v3-v4-fast.advert");
    c.extend_from_slice(&[0, 0, 0, 0]);
    c[16..18].copy_from_slice(&40u16.to_be_bytes());
    fix_ip4(&mut c);
    assert_eq!(
        parse_advert_frame(&c, PH),
        Err(Error::AddressCountMismatch {
            count: 2,
            length: 20,
            expected: 16
        })
    );
}

#[test]
fn bad_vrrp_checksum() {
    let a = vector("a-v2-mcast.advert");
    let mut b = a.clone();
    b[36] = 151; // priority, checksum left as it was
    let mut fixed = b.clone();
    fix_vrrp4(&mut fixed, PH);
    let expected = u16::from_be_bytes([fixed[40], fixed[41]]);
    for mode in [PH, ONLY] {
        assert_eq!(
            parse_advert_frame(&b, mode),
            Err(Error::BadChecksum {
                layer: Layer::Vrrp,
                expected,
                found: 0x8665
            })
        );
        assert_eq!(parse_advert_frame(&fixed, mode).unwrap().1.priority(), 151);
    }
    // IPv6: corrupt, fails in both modes.
    let mut d = vector("d-v3-v6.advert");
    d[56] ^= 0x80;
    for mode in [PH, ONLY] {
        assert!(matches!(
            parse_advert_frame(&d, mode),
            Err(Error::BadChecksum {
                layer: Layer::Vrrp,
                found: 0x2a8c,
                ..
            })
        ));
    }
}

#[test]
fn v3_ipv4_checksum_modes_do_not_mix() {
    let c = vector("c-v3-v4-fast.advert");
    let (info, advert) = parse_advert_frame(&c, PH).unwrap();
    // keepalived's (pseudo-header) advert fails in VrrpOnly mode...
    assert!(matches!(
        parse_advert_frame(&c, ONLY),
        Err(Error::BadChecksum {
            layer: Layer::Vrrp,
            found: 0x2f4b,
            ..
        })
    ));
    // ...and one checksummed over the message alone fails in PseudoHeader mode.
    let only = emit_advert_frame(&info, &advert, ONLY).unwrap();
    assert_ne!(only, c);
    assert_eq!(only[..40], c[..40]);
    assert_eq!(only[42..], c[42..]);
    assert_eq!(parse_advert_frame(&only, ONLY).unwrap(), (info, advert));
    assert!(matches!(
        parse_advert_frame(&only, PH),
        Err(Error::BadChecksum {
            layer: Layer::Vrrp,
            ..
        })
    ));
    // The same v2 bytes whatever the mode: v2 never has a pseudo-header.
    let a = vector("a-v2-mcast.advert");
    let (info, advert) = parse_advert_frame(&a, PH).unwrap();
    assert_eq!(emit_advert_frame(&info, &advert, ONLY).unwrap(), a);
}

#[test]
fn bad_ipv4_header() {
    let a = vector("a-v2-mcast.advert");
    let mut b = a.clone();
    b[22] = 64; // TTL, header checksum left as it was
    assert_eq!(
        parse_advert_frame(&b, PH),
        Err(Error::BadChecksum {
            layer: Layer::Ipv4,
            expected: 0x1891 + 0xbf00,
            found: 0x1891
        })
    );
    let mut b = a.clone();
    b[14] = 0x65;
    assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadIpVersion(6)));
    for (flags, offset, more) in [([0x20, 0x00], 0, true), ([0x00, 0x10], 0x10, false)] {
        let mut b = a.clone();
        b[20..22].copy_from_slice(&flags);
        fix_ip4(&mut b);
        assert_eq!(
            parse_advert_frame(&b, PH),
            Err(Error::Fragmented { offset, more })
        );
    }
    let mut b = a.clone();
    b[23] = 17;
    fix_ip4(&mut b);
    assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadProtocol(17)));
    let mut b = a.clone();
    b[16..18].copy_from_slice(&19u16.to_be_bytes());
    fix_ip4(&mut b);
    assert_eq!(
        parse_advert_frame(&b, PH),
        Err(Error::BadTotalLength {
            total: 19,
            header: 20
        })
    );
    // TTL is exposed, not judged.
    let mut b = a.clone();
    b[22] = 1;
    fix_ip4(&mut b);
    assert_eq!(parse_advert_frame(&b, PH).unwrap().0.ttl(), 1);
}

#[test]
fn ihl_below_five_is_rejected() {
    let a = vector("a-v2-mcast.advert");
    for ihl in [0u8, 1, 4] {
        let mut b = a.clone();
        b[14] = 0x40 | ihl;
        fix_ip4(&mut b);
        assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadIhl(ihl)));
    }
}

/// Inserts `options` (a multiple of 4 bytes) after the 20-byte IPv4 header.
fn with_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    let mut b = frame[..34].to_vec();
    b.extend_from_slice(options);
    b.extend_from_slice(&frame[34..]);
    b[14] = 0x40 | (5 + options.len() / 4) as u8;
    let total = u16::from_be_bytes([b[16], b[17]]) + options.len() as u16;
    b[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ip4(&mut b);
    b
}

#[test]
fn ihl_above_five_parses_past_the_options() {
    for name in ["a-v2-mcast.advert", "c-v3-v4-fast.advert"] {
        let plain = vector(name);
        let want = parse_advert_frame(&plain, PH).unwrap();
        // Router Alert (RFC 2113), then the longest header: 40 bytes of NOPs.
        for options in [vec![0x94, 0x04, 0x00, 0x00], vec![0x01; 40]] {
            let b = with_options(&plain, &options);
            assert_eq!(ihl_bytes(&b), 20 + options.len());
            assert_eq!(parse_advert_frame(&b, PH).unwrap(), want, "{name}");
        }
    }
}

#[test]
fn v2_over_ipv6_is_rejected() {
    let mut d = vector("d-v3-v6.advert");
    d[54] = 0x21;
    assert_eq!(parse_advert_frame(&d, PH), Err(Error::V2OverIpv6));

    let (info, _) = parse_advert_frame(&vector("d-v3-v6.advert"), PH).unwrap();
    let v2 = VrrpRepr::V2(V2Advert {
        vrid: 1,
        priority: 100,
        adver_int: Seconds(1),
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses: vec![],
    });
    assert_eq!(emit_advert_frame(&info, &v2, PH), Err(Error::V2OverIpv6));
}

#[test]
fn v2_auth_types() {
    let a = vector("a-v2-mcast.advert");
    let mut b = a.clone();
    b[38] = 3;
    fix_vrrp4(&mut b, PH);
    assert_eq!(parse_advert_frame(&b, PH), Err(Error::BadAuthType(3)));
    b[38] = 2;
    fix_vrrp4(&mut b, PH);
    match parse_advert_frame(&b, PH).unwrap().1 {
        VrrpRepr::V2(v2) => assert_eq!(v2.auth_type, AuthType::Ah),
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_a_vrrp_frame() {
    let garp = vector("a-v2-mcast.garp");
    assert_eq!(
        parse_advert_frame(&garp, PH),
        Err(Error::BadEtherType(0x0806))
    );
    let na = vector("d-v3-v6.na");
    assert_eq!(parse_advert_frame(&na, PH), Err(Error::BadProtocol(58)));
    let mut qinq = vector("a-v2-mcast.advert");
    qinq[12..14].copy_from_slice(&[0x88, 0xa8]);
    assert_eq!(
        parse_advert_frame(&qinq, PH),
        Err(Error::BadEtherType(0x88a8))
    );
    let a = vector("a-v2-mcast.advert");
    assert_eq!(arp::parse_frame(&a), Err(Error::BadEtherType(0x0800)));
    assert_eq!(ndp::parse_frame(&a), Err(Error::BadEtherType(0x0800)));
    let advert6 = vector("d-v3-v6.advert");
    assert_eq!(ndp::parse_frame(&advert6), Err(Error::BadProtocol(112)));
}

#[test]
fn bad_arp() {
    let garp = vector("a-v2-mcast.garp");
    let mut b = garp.clone();
    b[18] = 8;
    assert_eq!(
        arp::parse_frame(&b),
        Err(Error::BadArpFormat {
            htype: 1,
            ptype: 0x0800,
            hlen: 8,
            plen: 4
        })
    );
    let mut b = garp.clone();
    b[21] = 3;
    assert_eq!(arp::parse_frame(&b), Err(Error::BadArpOperation(3)));
}

#[test]
fn bad_ndp() {
    let ns = vector("g-v3-v6-unicast.ns");
    let check = |edit: &dyn Fn(&mut Vec<u8>), want: Error| {
        let mut b = ns.clone();
        edit(&mut b);
        fix_icmp6(&mut b);
        assert_eq!(ndp::parse_frame(&b), Err(want));
    };
    check(&|b| b[54] = 134, Error::BadIcmpType(134));
    check(&|b| b[55] = 1, Error::BadIcmpCode(1));
    check(&|b| b[79] = 0, Error::BadNdpOption { kind: 1, len: 0 });
    check(
        &|b| {
            b[79] = 2;
            b.extend_from_slice(&[0; 8]);
        },
        Error::BadNdpOption { kind: 1, len: 2 },
    );
    check(&|b| b[62] = 0xff, Error::MulticastTarget);
    // Duplicate address detection (from `::`): to a solicited-node group, without a source
    // link-layer option (RFC 4861 §7.1.1).
    let (_, group) = v6_addrs(&ns);
    assert_eq!(
        group.octets()[..13],
        [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
    );
    let from_unspecified = |b: &mut Vec<u8>| b[22..38].fill(0);
    check(
        &from_unspecified,
        Error::BadDadSolicitation { destination: group },
    );
    let unicast: Ipv6Addr = "2001:db8::100".parse().unwrap();
    check(
        &|b| {
            from_unspecified(b);
            b.truncate(78);
            b[38..54].copy_from_slice(&unicast.octets());
        },
        Error::BadDadSolicitation {
            destination: unicast,
        },
    );
    let mut dad = ns.clone();
    from_unspecified(&mut dad);
    dad.truncate(78);
    fix_icmp6(&mut dad);
    assert!(
        ndp::parse_frame(&dad).is_ok(),
        "{:?}",
        ndp::parse_frame(&dad)
    );

    let mut b = ns.clone();
    b[60] = 1; // reserved byte, checksum left as it was
    assert!(matches!(
        ndp::parse_frame(&b),
        Err(Error::BadChecksum {
            layer: Layer::Icmpv6,
            found: 0x1227,
            ..
        })
    ));
    // Unknown options are skipped; the hop limit is exposed, not judged.
    let mut b = ns.clone();
    b.extend_from_slice(&[14, 1, 0, 0, 0, 0, 0, 0]); // a nonce option (RFC 3971)
    b[21] = 64;
    fix_icmp6(&mut b);
    let (_, ip, repr) = ndp::parse_frame(&b).unwrap();
    assert_eq!(ip.hop_limit, 64);
    assert_eq!(repr, ndp::parse_frame(&ns).unwrap().2);
    // Answering something that is not a solicitation (or is broken) is not possible.
    assert!(ndp::answer_solicitation(&ns[..60], PEER_MAC, false).is_err());
}

#[test]
fn unemittable_reprs() {
    let (info, _) = parse_advert_frame(&vector("c-v3-v4-fast.advert"), PH).unwrap();
    let (info6, _) = parse_advert_frame(&vector("d-v3-v6.advert"), PH).unwrap();
    let v3 = |cs: u16, addresses: VipList| {
        VrrpRepr::V3(V3Advert {
            vrid: 1,
            priority: 100,
            max_adver_int: Centiseconds(cs),
            addresses,
        })
    };
    let many = VipList::V4(vec!["192.0.2.1".parse().unwrap(); 256]);
    assert_eq!(
        emit_advert_frame(&info, &v3(100, many), PH),
        Err(Error::TooManyAddresses(256))
    );
    let one4 = VipList::V4(vec!["192.0.2.1".parse().unwrap()]);
    let one6 = VipList::V6(vec!["2001:db8::1".parse().unwrap()]);
    assert_eq!(
        emit_advert_frame(&info, &v3(4096, one4.clone()), PH),
        Err(Error::IntervalTooLarge(4096))
    );
    assert!(emit_advert_frame(&info, &v3(4095, one4.clone()), PH).is_ok());
    assert_eq!(
        emit_advert_frame(&info, &v3(100, one6.clone()), PH),
        Err(Error::AddressFamilyMismatch)
    );
    assert_eq!(
        emit_advert_frame(&info6, &v3(100, one4.clone()), PH),
        Err(Error::AddressFamilyMismatch)
    );
    let repr = v3(100, one6);
    let mut small = [0u8; 20];
    let pair = info6.ip.pair();
    assert_eq!(
        repr.emit(&mut VrrpPacket::new_unchecked(&mut small[..]), &pair, PH),
        Err(Error::BufferTooSmall {
            layer: Layer::Vrrp,
            need: 24,
            have: 20
        })
    );
}
