//! The advert decisions of the XDP program (`vrrp-ebpf/src/advert.rs`), over what a raw socket
//! delivers instead of a frame: same checks, same order, same [`Counter`] slots, same event
//! reasons. Pure: no sockets, no clock (time is an argument), so every path is unit-tested.
//!
//! Where the kernel has already done part of the work the difference is spelled out beside the
//! check (IPv4 reassembly, IPv6 extension headers): the aim is that the daemon cannot tell
//! which data plane it runs on.
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{
        AdvertEvent, InstanceConfig, InstanceKey, MAX_INSTANCES, MAX_PEERS, Observation, PeerKey,
        instance_flags,
    },
    proto::IPPROTO_VRRP,
};

use vrrp_common::advert::{self, HEADER_LEN as VRRP_HEADER_LEN, V2_AUTH_LEN};

use crate::wire::checksum;

const AUTH_NONE: u8 = 0;
const AUTH_PASS: u8 = 1;
const IPV4_MIN_HEADER_LEN: usize = 20;

/// One datagram as a raw IPPROTO 112 socket returned it.
#[derive(Clone, Copy, Debug)]
pub enum Datagram<'a> {
    /// IPv4 raw sockets deliver the IP header with the payload.
    V4 {
        packet: &'a [u8],
        /// IP_RECVFRAGSIZE said the kernel reassembled it from fragments.
        reassembled: bool,
        /// The receive buffer was too small (MSG_TRUNC).
        truncated: bool,
    },
    /// IPv6 raw sockets deliver only the payload; the rest comes from ancillary data.
    V6 {
        message: &'a [u8],
        source: Ipv6Addr,
        /// IPV6_PKTINFO's address; `None` if the kernel gave none.
        destination: Option<Ipv6Addr>,
        /// IPV6_HOPLIMIT; `None` if the kernel gave none.
        hop_limit: Option<u8>,
        /// The packet carried extension headers (hop-by-hop, routing, destination options, or a
        /// fragment header the kernel reassembled).
        extension_headers: bool,
        truncated: bool,
    },
}

/// Where the VRRP message is and what the IP header said about it (XDP's `Located`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located<'a> {
    pub family: u8,
    pub ttl: u8,
    pub source: [u8; 16],
    pub destination: [u8; 16],
    /// The VRRP message, exactly as long as the IP header says.
    pub message: &'a [u8],
}

/// What became of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not something the XDP program would have judged: it arrived on an interface we do not
    /// receive on, or (IPv6) carried extension headers, which XDP passes uncounted.
    Ignored,
    /// Counted under this slot and dropped: a `Drop*` reason, or
    /// [`Counter::AdvertUnknownVrid`] for a VRID we do not run on that interface.
    Rejected(Counter),
    /// A valid advert ([`Counter::AdvertAccepted`]), with the event the state machine must see,
    /// if any.
    Accepted(Option<AdvertEvent>),
}

/// The socket backend's version of the XDP maps: what userspace configured (interfaces,
/// instances, peers) and what was observed of each configured instance (XDP's OBSERVATIONS
/// slots). Sizes are bounded like the maps'.
///
/// Observations are keyed by instance, so an [`InstanceConfig`]'s `slot` is not used; its
/// `generation` is handed out as XDP's userspace does (per new instance, never 0) and stamped
/// on observations, so that an observation reads the same from either data plane.
#[derive(Debug, Default)]
pub struct Tables {
    interfaces: HashSet<u32>,
    instances: HashMap<InstanceKey, InstanceConfig>,
    observations: HashMap<InstanceKey, Observation>,
    peers: HashSet<PeerKey>,
    generation: u16,
}

/// A table is at its map's size limit (the XDP map would answer E2BIG).
#[derive(Debug, thiserror::Error)]
#[error("the {0} table is full ({1} entries)")]
pub struct Full(pub &'static str, pub u32);

impl Tables {
    /// Starts accepting datagrams from `ifindex`; false if it already was.
    pub fn add_interface(&mut self, ifindex: u32) -> bool {
        self.interfaces.insert(ifindex)
    }

    pub fn has_interface(&self, ifindex: u32) -> bool {
        self.interfaces.contains(&ifindex)
    }

    /// Adds or updates an instance; an update keeps its generation and its observation.
    pub fn set_instance(
        &mut self,
        key: InstanceKey,
        mut config: InstanceConfig,
    ) -> Result<(), Full> {
        config.generation = match self.instances.get(&key) {
            Some(existing) => existing.generation,
            None => self.generation.wrapping_add(1).max(1),
        };
        insert_bounded(&mut self.instances, key, config, MAX_INSTANCES, "instance")?;
        self.generation = config.generation;
        Ok(())
    }

    /// Forgets the instance and what was seen of its master: under XDP its observation slot
    /// is released and a re-added instance starts a new generation, whose first advert is a
    /// NEW_MASTER. Updating an instance with [`set_instance`](Self::set_instance) keeps it.
    pub fn remove_instance(&mut self, key: &InstanceKey) {
        self.instances.remove(key);
        self.observations.remove(key);
    }

    pub fn allow_peer(&mut self, key: PeerKey) -> Result<(), Full> {
        if self.peers.len() >= MAX_PEERS as usize && !self.peers.contains(&key) {
            return Err(Full("peer", MAX_PEERS));
        }
        self.peers.insert(key);
        Ok(())
    }

    pub fn forbid_peer(&mut self, key: &PeerKey) {
        self.peers.remove(key);
    }

    pub fn observation(&self, key: &InstanceKey) -> Option<Observation> {
        self.observations.get(key).copied()
    }

    /// Forgets what was seen of the instance's master: its next advert is a NEW_MASTER.
    pub fn forget_observation(&mut self, key: &InstanceKey) {
        self.observations.remove(key);
    }

    /// Judges one datagram that arrived on `ifindex` at `now_ns` (CLOCK_MONOTONIC), and
    /// records it when valid: the XDP program's `try_xvrrpd_xdp` → `locate_*` → `handle`.
    pub fn receive(&mut self, ifindex: u32, datagram: &Datagram<'_>, now_ns: u64) -> Verdict {
        // XDP only runs on the interfaces it is attached to.
        if !self.has_interface(ifindex) {
            return Verdict::Ignored;
        }
        let located = match locate(datagram) {
            Ok(Some(located)) => located,
            Ok(None) => return Verdict::Ignored,
            Err(counter) => return Verdict::Rejected(counter),
        };
        match self.handle(ifindex, &located, now_ns) {
            Ok(event) => Verdict::Accepted(event),
            Err(counter) => Verdict::Rejected(counter),
        }
    }

    /// XDP's `handle`: instance look-up, validation, allow-list, record.
    fn handle(
        &mut self,
        ifindex: u32,
        at: &Located<'_>,
        now_ns: u64,
    ) -> Result<Option<AdvertEvent>, Counter> {
        let header = vrrp_header(at.message)?;
        // In socket mode a VLAN is its own device with its own ifindex: the tag is never seen.
        let key = InstanceKey {
            ifindex,
            vlan: 0,
            vrid: header[1],
            family: at.family,
        };
        let Some(config) = self.instances.get(&key).copied() else {
            // Another VRRP speaker on this host may run this VRID: not ours to judge.
            return Err(Counter::AdvertUnknownVrid);
        };
        let advert = validate(at, &header, &config)?;
        if config.flags & instance_flags::REQUIRE_PEER != 0 {
            let peer = PeerKey {
                instance: key,
                address: at.source,
            };
            if !self.peers.contains(&peer) {
                return Err(Counter::DropPeer);
            }
        }
        Ok(self.record(key, &config, at.source, advert, now_ns))
    }

    /// XDP's `record`: updates the observation and returns the event, if the state machine
    /// needs one.
    fn record(
        &mut self,
        key: InstanceKey,
        config: &InstanceConfig,
        source: [u8; 16],
        advert: Advert,
        now_ns: u64,
    ) -> Option<AdvertEvent> {
        let previous = self.observations.get(&key).copied();
        let reasons = advert::reasons(
            previous.as_ref(),
            config,
            &source,
            advert.priority,
            advert.interval_cs,
            now_ns,
        );
        let observation = Observation {
            last_advert_ns: now_ns,
            adverts: previous.map_or(1, |p| p.adverts.wrapping_add(1)),
            source,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            generation: config.generation,
            ..previous.unwrap_or_default()
        };
        // Bounded by the instances table: only configured instances get here.
        self.observations.insert(key, observation);
        (reasons != 0).then_some(AdvertEvent {
            ktime_ns: now_ns,
            previous_ns: previous.map_or(0, |previous| previous.last_advert_ns),
            instance: key,
            reasons,
            priority: advert.priority,
            interval_cs: advert.interval_cs,
            source,
            _pad: [0; 4],
        })
    }
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    max: u32,
    what: &'static str,
) -> Result<(), Full> {
    if map.len() >= max as usize && !map.contains_key(&key) {
        return Err(Full(what, max));
    }
    map.insert(key, value);
    Ok(())
}

/// The IP layer's part: `Ok(None)` for what XDP never looks at, `Err` for what it drops.
pub fn locate<'a>(datagram: &Datagram<'a>) -> Result<Option<Located<'a>>, Counter> {
    match *datagram {
        Datagram::V4 {
            packet,
            reassembled,
            truncated,
        } => {
            if truncated {
                return Err(Counter::DropTruncated);
            }
            locate_v4(packet, reassembled).map(Some)
        }
        Datagram::V6 {
            message,
            source,
            destination,
            hop_limit,
            extension_headers,
            truncated,
        } => {
            // XDP handles next header 112 right after the fixed header only; anything else
            // goes to the stack unjudged and uncounted, so the daemon never hears of it.
            if extension_headers {
                return Ok(None);
            }
            if truncated {
                return Err(Counter::DropTruncated);
            }
            // The kernel always gives both when asked: their absence means a header we
            // cannot judge.
            let (Some(destination), Some(ttl)) = (destination, hop_limit) else {
                return Err(Counter::DropIpHeader);
            };
            Ok(Some(Located {
                family: FAMILY_V6,
                ttl,
                source: source.octets(),
                destination: destination.octets(),
                message,
            }))
        }
    }
}

/// XDP's `locate_v4` over the packet an IPv4 raw socket returns (header included, lengths in
/// network order as on the wire: Linux does not rewrite them).
///
/// The kernel reassembles fragments before raw delivery; XDP sees (and drops) each fragment
/// as [`Counter::DropIpHeader`], so a reassembled advert is dropped under that slot here (once).
pub fn locate_v4(packet: &[u8], reassembled: bool) -> Result<Located<'_>, Counter> {
    let Some(header) = packet.get(..IPV4_MIN_HEADER_LEN) else {
        return Err(Counter::DropTruncated);
    };
    let header_len = usize::from(header[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let fragment = u16::from_be_bytes([header[6], header[7]]) & 0x3fff;
    if header[0] >> 4 != 4
        || header_len < IPV4_MIN_HEADER_LEN
        || fragment != 0
        || reassembled
        || total_len < header_len
    {
        return Err(Counter::DropIpHeader);
    }
    let Some(message) = packet.get(header_len..total_len) else {
        return Err(Counter::DropTruncated);
    };
    Ok(Located {
        family: FAMILY_V4,
        ttl: header[8],
        source: address16_v4(&header[12..16]),
        destination: address16_v4(&header[16..20]),
        message,
    })
}

/// An IPv4 address in the maps' 16-byte form.
fn address16_v4(octets: &[u8]) -> [u8; 16] {
    let mut address = [0u8; 16];
    address[..4].copy_from_slice(octets);
    address
}

/// The fixed VRRP header, or [`Counter::DropTruncated`] if the message is shorter (XDP's
/// first read of the message).
fn vrrp_header(message: &[u8]) -> Result<[u8; VRRP_HEADER_LEN], Counter> {
    message
        .get(..VRRP_HEADER_LEN)
        .and_then(|header| header.try_into().ok())
        .ok_or(Counter::DropTruncated)
}

/// What a valid advert says that the observation keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    pub priority: u8,
    /// Centiseconds; VRRPv2's whole seconds × 100.
    pub interval_cs: u16,
}

/// RFC 5798 §7.1 / RFC 3768 §7.1 receive checks, in the RFC's order: the header checks are
/// the XDP program's own ([`advert::check_header`]), so both modes count the same drops.
pub fn validate(
    at: &Located<'_>,
    header: &[u8; VRRP_HEADER_LEN],
    config: &InstanceConfig,
) -> Result<Advert, Counter> {
    let checked = advert::check_header(at.ttl, at.family, at.message.len(), header, config)?;
    let (version, priority, expected) = (checked.version, checked.priority, checked.len);
    // §7.1: "MUST verify the VRRP checksum".
    verify_checksum(at, version, config)?;
    let interval_cs = if version == 2 {
        // RFC 3768 §7.1: the authentication type and data must match ours.
        let auth_data = &at.message[expected - V2_AUTH_LEN..];
        check_auth(header[4], auth_data, config)?;
        // VRRPv2 advertises whole seconds; the maps speak centiseconds.
        u16::from(header[5]) * 100
    } else {
        u16::from_be_bytes([header[4], header[5]]) & 0x0fff
    };
    Ok(Advert {
        priority,
        interval_cs,
    })
}

/// v2: over the VRRP message (RFC 3768 §5.3.8). v3: with the IP pseudo-header (RFC 5798
/// §5.2.8), which IPv4 peers following RFC 9568's erratum may leave out when so configured.
fn verify_checksum(at: &Located<'_>, version: u8, config: &InstanceConfig) -> Result<(), Counter> {
    let no_pseudo = version == 2
        || (at.family == FAMILY_V4
            && config.flags & instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER != 0);
    // check_header() bounds the length by advert::MAX_LEN: it fits both length fields.
    let len = at.message.len();
    let pseudo = if no_pseudo {
        0
    } else if at.family == FAMILY_V4 {
        let ipv4 = |a: &[u8; 16]| Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        checksum::pseudo_header_v4(
            &ipv4(&at.source),
            &ipv4(&at.destination),
            IPPROTO_VRRP,
            len as u16,
        )
    } else {
        checksum::pseudo_header_v6(
            &Ipv6Addr::from(at.source),
            &Ipv6Addr::from(at.destination),
            IPPROTO_VRRP,
            len as u32,
        )
    };
    if checksum::verifies(&[pseudo, checksum::data(at.message)]) {
        Ok(())
    } else {
        Err(Counter::DropChecksum)
    }
}

/// RFC 3768 §7.1: the auth type must match ours, and with simple text the 8 bytes too.
fn check_auth(auth_type: u8, auth_data: &[u8], config: &InstanceConfig) -> Result<(), Counter> {
    let expected = if config.flags & instance_flags::AUTH_PASS == 0 {
        auth_type == AUTH_NONE
    } else {
        auth_type == AUTH_PASS && auth_data == config.auth_data.as_slice()
    };
    if expected {
        Ok(())
    } else {
        Err(Counter::DropAuth)
    }
}
