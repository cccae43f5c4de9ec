//! Malformed VRRP adverts for flood tests, built with the `wire` module: one of each way an
//! advert can be invalid (each wrong in exactly one respect, so it must land in one known
//! counter slot), valid-looking adverts that would move the state machine if accepted
//! (priority 0 from the master's address, with a bad checksum or a wrong password), and seeded
//! random garbage with IP protocol 112.
use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_common::Counter;
use vrrp_user::{
    units::{Centiseconds, Seconds},
    wire::{
        self, AuthType, ChecksumMode, FrameInfo, IpInfo, IpPair, Ipv4Packet, MacAddr, V2Advert,
        V3Advert, VipList, VrrpPacket, VrrpRepr, vrrp::simple_auth_data,
    },
};

/// Where the IPv4 header and the VRRP message start in an untagged frame.
const L3: usize = 14;
const VRRP: usize = L3 + 20;

/// The instances under attack and the addresses around them.
#[derive(Clone, Debug)]
pub struct Target {
    /// Source MAC of the flood: the sending namespace's own, so the bridge learns nothing
    /// that could misdirect the routers' traffic.
    pub src_mac: [u8; 6],
    /// The attacked router's MAC: frames go to it alone.
    pub dst_mac: [u8; 6],
    /// The master: the source a spoofed advert claims.
    pub master: Ipv4Addr,
    /// The attacked router's address (unicast adverts are sent to it).
    pub victim: Ipv4Addr,
    /// An on-link address outside the unicast allow-list.
    pub stranger: Ipv4Addr,
    /// A VRRPv3 multicast instance.
    pub v3_vrid: u8,
    /// A VRRPv2 instance with PASS authentication.
    pub v2_vrid: u8,
    pub v2_password: [u8; 8],
    /// A VRRPv3 unicast instance whose allow-list holds only `master`.
    pub unicast_vrid: u8,
    pub vip: Ipv4Addr,
}

/// One frame of the flood and what the data plane must make of it.
#[derive(Clone, Debug)]
pub struct Malformed {
    pub name: String,
    pub frame: Vec<u8>,
    /// The counter slot it must land in; `None` for random garbage, which may land in any
    /// drop slot or be passed as an advert for a VRID we do not run.
    pub expect: Option<Counter>,
    /// Judged by the kernel's IP layer before any raw socket sees it (bad IP header, IP
    /// length beyond the frame, fragments): only XDP judges these itself.
    pub ip_level: bool,
}

/// The counters a flood frame can land in: every drop reason, and unknown VRIDs (passed on).
pub const FLOOD_COUNTERS: [Counter; 10] = [
    Counter::AdvertUnknownVrid,
    Counter::DropTruncated,
    Counter::DropIpHeader,
    Counter::DropTtl,
    Counter::DropVersion,
    Counter::DropType,
    Counter::DropAddressCount,
    Counter::DropChecksum,
    Counter::DropAuth,
    Counter::DropPeer,
];

impl Target {
    fn v3(&self, vrid: u8, priority: u8) -> VrrpRepr {
        VrrpRepr::V3(V3Advert {
            vrid,
            priority,
            max_adver_int: Centiseconds(10),
            addresses: VipList::V4(vec![self.vip]),
        })
    }

    fn v2(&self, priority: u8, auth_type: AuthType, password: [u8; 8]) -> VrrpRepr {
        VrrpRepr::V2(V2Advert {
            vrid: self.v2_vrid,
            priority,
            adver_int: Seconds(1),
            auth_type,
            auth_data: password,
            addresses: vec![self.vip],
        })
    }

    /// A well-formed frame of `advert` from `src` to `dst`.
    fn frame(&self, src: Ipv4Addr, dst: Ipv4Addr, advert: &VrrpRepr) -> Vec<u8> {
        let info = FrameInfo {
            src_mac: MacAddr(self.src_mac),
            dst_mac: MacAddr(self.dst_mac),
            vlan: None,
            ip: IpInfo::advert_v4(src, dst, 1),
        };
        wire::emit_advert_frame(&info, advert, ChecksumMode::PseudoHeader).expect("emit advert")
    }

    /// A multicast advert "from the master".
    fn multicast(&self, advert: &VrrpRepr) -> Vec<u8> {
        self.frame(self.master, wire::vrrp::MULTICAST_V4, advert)
    }

    /// Every invalid kind the data plane checks, each wrong in one respect only.
    pub fn catalogue(&self) -> Vec<Malformed> {
        let mut all = Vec::new();
        let mut add = |name: &str, frame: Vec<u8>, expect: Counter, ip_level: bool| {
            all.push(Malformed {
                name: name.to_owned(),
                frame,
                expect: Some(expect),
                ip_level,
            });
        };
        let resign = self.v3(self.v3_vrid, 0);

        // §7.1 TTL; priority 0 so that an accepted one would start a takeover.
        for ttl in [0, 1, 64, 254] {
            let mut frame = self.multicast(&resign);
            ipv4(&mut frame).set_ttl(ttl);
            ipv4(&mut frame).fill_checksum();
            add(&format!("ttl {ttl}"), frame, Counter::DropTtl, false);
        }
        let mut frame = self.multicast(&self.v2(0, AuthType::SimpleText, self.v2_password));
        ipv4(&mut frame).set_ttl(64);
        ipv4(&mut frame).fill_checksum();
        add("v2 ttl 64", frame, Counter::DropTtl, false);

        // Version: v2 to the v3 instance, v3 to the v2 instance, versions that do not exist.
        for version in [0, 1, 2, 4, 15] {
            let mut frame = self.multicast(&resign);
            refill(&mut frame, |vrrp| vrrp.set_version_type(version, 1));
            add(
                &format!("version {version}"),
                frame,
                Counter::DropVersion,
                false,
            );
        }
        let frame = self.multicast(&self.v3(self.v2_vrid, 0));
        add("v3 to the v2 instance", frame, Counter::DropVersion, false);

        for message_type in [0, 2, 3, 15] {
            let mut frame = self.multicast(&resign);
            refill(&mut frame, |vrrp| vrrp.set_version_type(3, message_type));
            add(
                &format!("type {message_type}"),
                frame,
                Counter::DropType,
                false,
            );
        }

        // Address count against length.
        for count in [0, 2, 255] {
            let mut frame = self.multicast(&resign);
            refill(&mut frame, |vrrp| vrrp.set_addr_count(count));
            add(
                &format!("count {count} for one address"),
                frame,
                Counter::DropAddressCount,
                false,
            );
        }
        let mut frame = self.multicast(&resign);
        frame.extend_from_slice(&[0; 4]);
        grow_ip(&mut frame, 4);
        refill(&mut frame, |_| {});
        add(
            "four bytes after the addresses",
            frame,
            Counter::DropAddressCount,
            false,
        );
        let mut frame = self.multicast(&self.v2(0, AuthType::SimpleText, self.v2_password));
        frame.truncate(frame.len() - 8);
        grow_ip(&mut frame, -8);
        refill(&mut frame, |_| {});
        add(
            "v2 without its authentication data",
            frame,
            Counter::DropAddressCount,
            false,
        );

        // Checksums: valid-looking adverts that would start a takeover if accepted.
        for priority in [0, 255] {
            let mut frame = self.multicast(&self.v3(self.v3_vrid, priority));
            frame[VRRP + 6] ^= 0x01;
            add(
                &format!("priority {priority}, checksum off by one bit"),
                frame,
                Counter::DropChecksum,
                false,
            );
        }
        let mut frame = self.multicast(&resign);
        let pair = pair(&frame);
        refill(&mut frame, |_| {});
        vrrp(&mut frame).fill_checksum(&pair, ChecksumMode::VrrpOnly);
        add(
            "checksum without the pseudo-header",
            frame,
            Counter::DropChecksum,
            false,
        );
        let mut frame = self.multicast(&self.v2(0, AuthType::SimpleText, self.v2_password));
        frame[VRRP + 7] ^= 0x80;
        add(
            "v2 priority 0, bad checksum",
            frame,
            Counter::DropChecksum,
            false,
        );
        let mut frame = self.frame(self.master, self.victim, &self.v3(self.unicast_vrid, 0));
        frame[VRRP + 6] ^= 0x10;
        add(
            "unicast from the peer, bad checksum",
            frame,
            Counter::DropChecksum,
            false,
        );

        // VRRPv2 authentication: wrong password, wrong type.
        let mut wrong = self.v2_password;
        wrong[0] ^= 0x20;
        let frame = self.multicast(&self.v2(0, AuthType::SimpleText, wrong));
        add(
            "v2 priority 0, wrong password",
            frame,
            Counter::DropAuth,
            false,
        );
        let frame = self.multicast(&self.v2(255, AuthType::SimpleText, simple_auth_data(b"")));
        add(
            "v2 priority 255, empty password",
            frame,
            Counter::DropAuth,
            false,
        );
        for auth_type in [AuthType::None, AuthType::Ah] {
            let frame = self.multicast(&self.v2(0, auth_type, self.v2_password));
            add(
                &format!("v2 auth type {auth_type:?}"),
                frame,
                Counter::DropAuth,
                false,
            );
        }

        // The unicast allow-list: valid adverts from addresses not on it.
        for source in [self.stranger, Ipv4Addr::new(192, 0, 2, 13)] {
            let frame = self.frame(source, self.victim, &self.v3(self.unicast_vrid, 0));
            add(
                &format!("unicast from {source}"),
                frame,
                Counter::DropPeer,
                false,
            );
        }

        // Cut short: in the IP header, in the VRRP header, or shorter than the IP length says.
        let whole = self.multicast(&resign);
        add(
            "cut inside the IP header",
            whole[..L3 + 16].to_vec(),
            Counter::DropTruncated,
            true,
        );
        let mut frame = whole[..VRRP + 4].to_vec();
        grow_ip(&mut frame, -(whole.len() as isize - (VRRP + 4) as isize));
        add(
            "four bytes of VRRP header",
            frame,
            Counter::DropTruncated,
            false,
        );
        add(
            "IP length beyond the frame",
            whole[..whole.len() - 2].to_vec(),
            Counter::DropTruncated,
            true,
        );

        // IPv4 headers the program refuses to look behind.
        let mut frame = whole.clone();
        ipv4(&mut frame).set_version_ihl(4, 4);
        ipv4(&mut frame).fill_checksum();
        add("IHL 4", frame, Counter::DropIpHeader, true);
        for (name, flags_offset) in [("more fragments", 0x2000u16), ("fragment offset", 0x0001)] {
            let mut frame = whole.clone();
            frame[L3 + 6..L3 + 8].copy_from_slice(&flags_offset.to_be_bytes());
            ipv4(&mut frame).fill_checksum();
            add(name, frame, Counter::DropIpHeader, true);
        }
        let mut frame = whole.clone();
        frame[L3 + 15] ^= 0x01;
        add("IPv4 header checksum", frame, Counter::DropIpHeader, true);
        let mut frame = whole;
        ipv4(&mut frame).set_total_len(16);
        ipv4(&mut frame).fill_checksum();
        add(
            "IP length below its header",
            frame,
            Counter::DropIpHeader,
            true,
        );

        all
    }

    /// `count` frames of seeded random garbage with IP protocol 112: IPv4 with a valid header
    /// and a random message (its VRID usually one we run, so the checks are reached), IPv4
    /// with a random header (XDP only: the kernel refuses those itself), and IPv6.
    pub fn garbage(&self, seed: u64, count: usize) -> Vec<Malformed> {
        let mut rng = Rng(seed | 1);
        let vrids = [self.v3_vrid, self.v2_vrid, self.unicast_vrid];
        let sources = [self.master, self.stranger, Ipv4Addr::new(192, 0, 2, 200)];
        (0..count)
            .map(|n| {
                let len = rng.below(121) as usize;
                let mut message = rng.bytes(len);
                if len >= 2 && rng.below(4) != 0 {
                    message[1] = vrids[rng.below(3) as usize];
                }
                let (frame, ip_level, family) = match n % 8 {
                    0 => (
                        self.random_v4_header(&mut rng, &message),
                        true,
                        "IPv4 header",
                    ),
                    1 => (self.garbage_v6(&message), false, "IPv6"),
                    _ => {
                        let source = sources[rng.below(3) as usize];
                        let dst = if rng.below(2) == 0 {
                            wire::vrrp::MULTICAST_V4
                        } else {
                            self.victim
                        };
                        (self.garbage_v4(source, dst, &message), false, "IPv4")
                    }
                };
                Malformed {
                    name: format!("garbage {n} ({family}, {len} bytes)"),
                    frame,
                    expect: None,
                    ip_level,
                }
            })
            .collect()
    }

    fn ethernet(&self, ethertype: u16) -> Vec<u8> {
        let mut frame = Vec::with_capacity(200);
        frame.extend_from_slice(&self.dst_mac);
        frame.extend_from_slice(&self.src_mac);
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame
    }

    fn garbage_v4(&self, src: Ipv4Addr, dst: Ipv4Addr, message: &[u8]) -> Vec<u8> {
        let mut frame = self.ethernet(0x0800);
        let total = (20 + message.len()) as u16;
        let mut header = [0u8; 20];
        header[0] = 0x45;
        header[2..4].copy_from_slice(&total.to_be_bytes());
        header[8] = 255;
        header[9] = wire::vrrp::PROTOCOL;
        header[12..16].copy_from_slice(&src.octets());
        header[16..20].copy_from_slice(&dst.octets());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(message);
        ipv4(&mut frame).fill_checksum();
        frame
    }

    fn random_v4_header(&self, rng: &mut Rng, message: &[u8]) -> Vec<u8> {
        let mut frame = self.ethernet(0x0800);
        let mut header = rng.bytes(20);
        header[9] = wire::vrrp::PROTOCOL;
        frame.extend_from_slice(&header);
        frame.extend_from_slice(message);
        frame
    }

    fn garbage_v6(&self, message: &[u8]) -> Vec<u8> {
        let mut frame = self.ethernet(0x86dd);
        let mut header = [0u8; 40];
        header[0] = 0x60;
        header[4..6].copy_from_slice(&(message.len() as u16).to_be_bytes());
        header[6] = wire::vrrp::PROTOCOL;
        header[7] = 255;
        let source = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x50);
        header[8..24].copy_from_slice(&source.octets());
        header[24..40].copy_from_slice(&wire::vrrp::MULTICAST_V6.octets());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(message);
        frame
    }
}

fn ipv4(frame: &mut [u8]) -> Ipv4Packet<&mut [u8]> {
    Ipv4Packet::new_unchecked(&mut frame[L3..])
}

fn vrrp(frame: &mut [u8]) -> VrrpPacket<&mut [u8]> {
    VrrpPacket::new_unchecked(&mut frame[VRRP..])
}

fn pair(frame: &[u8]) -> IpPair {
    let octets = |at: usize| Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]);
    IpPair::V4 {
        src: octets(L3 + 12),
        dst: octets(L3 + 16),
    }
}

/// Changes the VRRP message with `change`, then gives it the checksum it should have (with the
/// pseudo-header for v3): the change is the only thing wrong with it.
fn refill(frame: &mut [u8], change: impl FnOnce(&mut VrrpPacket<&mut [u8]>)) {
    let pair = pair(frame);
    let mut message = vrrp(frame);
    change(&mut message);
    message.fill_checksum(&pair, ChecksumMode::PseudoHeader);
}

/// Adds `by` (may be negative) to the IPv4 total length and fixes the header checksum.
fn grow_ip(frame: &mut [u8], by: isize) {
    let mut ip = ipv4(frame);
    let total = ip.total_len() as isize + by;
    ip.set_total_len(total as u16);
    ip.fill_checksum();
}

/// xorshift64*: deterministic, so a failure names a reproducible frame.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
