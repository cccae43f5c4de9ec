//! VRRP adverts: validate (RFC 5798 §7.1, RFC 3768 §7.1), record, and wake userspace only when
//! the state machine needs to know.
//!
//! ```text
//!  VRRPv3 (RFC 5798 §5.1)                  VRRPv2 (RFC 3768 §5.1)
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |  v3
//! |   Auth Type   |   Adver Int   |          Checksum             |  v2
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX Address(es) (4 or 16 bytes each)         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Authentication Data (8 bytes, v2 only)            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use aya_ebpf::{bindings::xdp_action, helpers::bpf_ktime_get_ns, programs::XdpContext};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{AdvertEvent, InstanceConfig, InstanceKey, PeerKey, instance_flags},
    proto::IPPROTO_VRRP,
};

use crate::{
    EVENTS, INSTANCES, OBSERVATIONS, PEERS, count,
    packet::{
        Short, address_bytes, fold, len, load16, load32, load64, ptr_at, sum_address_words,
        sum_be32, sum_fixed, sum_words, sum_words_upto,
    },
};

use vrrp_common::advert::{self, HEADER_LEN as VRRP_HEADER_LEN, V2_AUTH_LEN};

const AUTH_NONE: u8 = 0;
/// IHL is four bits of 32-bit words.
const MAX_IPV4_HEADER_LEN: usize = 60;
const AUTH_PASS: u8 = 1;

/// Where the VRRP message sits in the frame, and what the IP header said about it.
pub struct Located {
    pub family: u8,
    pub vlan: u16,
    pub ttl: u8,
    /// Offset of the VRRP header.
    pub offset: usize,
    /// VRRP message length according to the IP header.
    pub len: usize,
    /// Addresses as two words each, as `load64` reads them (IPv4: the first four bytes).
    pub source: [u64; 2],
    pub destination: [u64; 2],
}

/// IPv4 header at `l3` whose protocol is VRRP.
#[inline(always)]
pub fn locate_v4(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<Located, Counter> {
    // One bounds check for the fixed header, then a load per field group.
    let header = ptr_at::<[u8; 20]>(ctx, l3).map_err(truncated)? as *const u8;
    // SAFETY: all inside the 20 bytes `ptr_at` checked.
    let (first, fragment, ttl, source, destination) = unsafe {
        (
            load32::<0>(header),
            load16::<6>(header),
            load16::<8>(header),
            load32::<12>(header),
            load32::<16>(header),
        )
    };
    let header_len = (first as usize & 0x0f) * 4;
    let total_len = usize::from(u16::from_be((first >> 16) as u16));
    let fragment = u16::from_be(fragment as u16) & 0x3fff;
    if (first as u8) >> 4 != 4 || header_len < 20 || fragment != 0 || total_len < header_len {
        return Err(Counter::DropIpHeader);
    }
    // The VRRPv2 checksum leaves the addresses out, and the stack (which checks this one) is
    // not on this path: a bit flipped in the source would pass for another router.
    let header_sum = match header_len {
        20 => sum_fixed::<20>(ctx, l3, 0),
        _ => sum_words_upto::<MAX_IPV4_HEADER_LEN>(ctx, l3, header_len, 0),
    };
    if fold(header_sum.map_err(truncated)?) != 0xffff {
        return Err(Counter::DropIpHeader);
    }
    if l3 + total_len > len(ctx) {
        return Err(Counter::DropTruncated);
    }
    Ok(Located {
        family: FAMILY_V4,
        vlan,
        ttl: ttl as u8,
        offset: l3 + header_len,
        len: total_len - header_len,
        source: [source, 0],
        destination: [destination, 0],
    })
}

/// IPv6 header at `l3` whose next header is VRRP (no extension headers: VRRP sends none).
#[inline(always)]
pub fn locate_v6(ctx: &XdpContext, l3: usize, vlan: u16) -> Result<Located, Counter> {
    const IPV6_HEADER_LEN: usize = 40;
    let header = ptr_at::<[u8; IPV6_HEADER_LEN]>(ctx, l3).map_err(truncated)? as *const u8;
    // SAFETY: all inside the 40 bytes `ptr_at` checked.
    let (lengths, source, destination) = unsafe {
        (
            load32::<4>(header),
            [load64::<8>(header), load64::<16>(header)],
            [load64::<24>(header), load64::<32>(header)],
        )
    };
    let payload_len = usize::from(u16::from_be(lengths as u16));
    if l3 + IPV6_HEADER_LEN + payload_len > len(ctx) {
        return Err(Counter::DropTruncated);
    }
    Ok(Located {
        family: FAMILY_V6,
        vlan,
        ttl: (lengths >> 24) as u8,
        offset: l3 + IPV6_HEADER_LEN,
        len: payload_len,
        source,
        destination,
    })
}

fn truncated(_: Short) -> Counter {
    Counter::DropTruncated
}

/// Validates and records the advert located at `at`; returns the XDP action.
#[inline(always)]
pub fn handle(ctx: &XdpContext, at: &Located) -> Result<u32, Counter> {
    let header = ptr_at::<[u8; VRRP_HEADER_LEN]>(ctx, at.offset).map_err(truncated)? as *const u8;
    // SAFETY: the 8 bytes `ptr_at` checked.
    let header = unsafe { load64::<0>(header) }.to_ne_bytes();
    let key = InstanceKey {
        ifindex: ctx.ingress_ifindex() as u32,
        vlan: at.vlan,
        vrid: header[1],
        family: at.family,
    };
    // SAFETY: the value is only read; userspace replaces whole entries.
    let Some(config) = (unsafe { INSTANCES.get(key) }) else {
        // Another VRRP speaker on this host may run this VRID: not ours to judge.
        count(Counter::AdvertUnknownVrid);
        return Ok(xdp_action::XDP_PASS);
    };
    let advert = validate(ctx, at, &header, config)?;
    if config.flags & instance_flags::REQUIRE_PEER != 0 {
        let peer = PeerKey {
            instance: key,
            address: address_bytes(at.source),
        };
        // SAFETY: read-only presence check.
        if unsafe { PEERS.get(peer) }.is_none() {
            return Err(Counter::DropPeer);
        }
    }
    count(Counter::AdvertAccepted);
    record(&key, config, at, &advert);
    if config.flags & instance_flags::PASS_ADVERTS != 0 {
        Ok(xdp_action::XDP_PASS)
    } else {
        Ok(xdp_action::XDP_DROP)
    }
}

struct Advert {
    priority: u8,
    interval_cs: u16,
}

#[inline(always)]
fn validate(
    ctx: &XdpContext,
    at: &Located,
    header: &[u8; VRRP_HEADER_LEN],
    config: &InstanceConfig,
) -> Result<Advert, Counter> {
    let checked = advert::check_header(at.ttl, at.family, at.len, header, config)?;
    let (version, priority, expected) = (checked.version, checked.priority, checked.len);
    verify_checksum(ctx, at, version, config)?;
    let interval_cs = if version == 2 {
        check_auth(ctx, header[4], at.offset + expected - V2_AUTH_LEN, config)?;
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

/// v2: over the VRRP message (RFC 3768 §5.3.8). v3: with the IP pseudo-header (RFC 5798 §5.2.8),
/// which IPv4 peers following RFC 9568's erratum may leave out when so configured.
#[inline(always)]
fn verify_checksum(
    ctx: &XdpContext,
    at: &Located,
    version: u8,
    config: &InstanceConfig,
) -> Result<(), Counter> {
    let no_pseudo = version == 2
        || (at.family == FAMILY_V4
            && config.flags & instance_flags::V3_CHECKSUM_NO_PSEUDO_HEADER != 0);
    let seed = if no_pseudo {
        0
    } else if at.family == FAMILY_V4 {
        sum_address_words(at.source)
            + sum_address_words(at.destination)
            + sum_be32((u32::from(IPPROTO_VRRP) << 16) | at.len as u32)
    } else {
        sum_address_words(at.source)
            + sum_address_words(at.destination)
            + sum_be32(at.len as u32)
            + sum_be32(u32::from(IPPROTO_VRRP))
    };
    // One address: v3 over IPv4, v2 (with its authentication data), v3 over IPv6.
    let sum = match at.len {
        12 => sum_fixed::<12>(ctx, at.offset, seed),
        20 => sum_fixed::<20>(ctx, at.offset, seed),
        24 => sum_fixed::<24>(ctx, at.offset, seed),
        _ => sum_words(ctx, at.offset, at.len, seed),
    }
    .map_err(truncated)?;
    if fold(sum) != 0xffff {
        return Err(Counter::DropChecksum);
    }
    Ok(())
}

/// RFC 3768 §7.1: the auth type must match ours, and with simple text the 8 bytes too.
#[inline(always)]
fn check_auth(
    ctx: &XdpContext,
    auth_type: u8,
    auth_data: usize,
    config: &InstanceConfig,
) -> Result<(), Counter> {
    if config.flags & instance_flags::AUTH_PASS == 0 {
        return if auth_type == AUTH_NONE {
            Ok(())
        } else {
            Err(Counter::DropAuth)
        };
    }
    // Opaque to LLVM: otherwise it checks the message's end and reads 8 bytes *before* that
    // pointer, a negative offset the verifier refuses.
    let data =
        ptr_at::<u64>(ctx, core::hint::black_box(auth_data)).map_err(truncated)? as *const u8;
    // SAFETY: the 8 bytes `ptr_at` checked.
    let data = unsafe { load64::<0>(data) };
    if auth_type != AUTH_PASS || data != u64::from_ne_bytes(config.auth_data) {
        return Err(Counter::DropAuth);
    }
    Ok(())
}

/// Updates the observation and pushes an event when something the state machine acts on
/// changed. A steady master's repeats only move the timestamp: a backup is not woken per advert.
#[inline(always)]
fn record(key: &InstanceKey, config: &InstanceConfig, at: &Located, advert: &Advert) {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(observation) = OBSERVATIONS.get_ptr_mut(u32::from(config.slot)) else {
        // A slot beyond the array is a userspace bug; the advert is still valid.
        return;
    };
    // SAFETY: a live array element; concurrent receive queues may interleave field writes,
    // which at worst makes one extra or one missed "changed" event for a racing pair.
    let observation = unsafe { &mut *observation };
    // A copy to compare against: read through the element's own type, whose alignment lets
    // LLVM load the 16-byte source as two words; compared in place, through the `[u8; 16]`
    // field, it took a load per byte.
    let snapshot = *observation;
    // An observation of another generation predates this instance's slot: nothing seen yet.
    let previous = (snapshot.generation == config.generation).then_some(&snapshot);
    let source = address_bytes(at.source);
    let reasons = advert::reasons(
        previous,
        config,
        &source,
        advert.priority,
        advert.interval_cs,
        now,
    );
    if previous.is_none() {
        observation.generation = config.generation;
        observation.adverts = 0;
    }
    observation.last_advert_ns = now;
    observation.adverts += 1;
    observation.source = source;
    observation.priority = advert.priority;
    observation.interval_cs = advert.interval_cs;
    if reasons == 0 {
        return;
    }
    let event = AdvertEvent {
        ktime_ns: now,
        previous_ns: previous.map_or(0, |previous| previous.last_advert_ns),
        instance: *key,
        reasons,
        priority: advert.priority,
        interval_cs: advert.interval_cs,
        source,
        _pad: [0; 4],
    };
    match EVENTS.output::<AdvertEvent>(&event, 0) {
        Ok(()) => count(Counter::AdvertEvent),
        Err(_) => count(Counter::EventLost),
    }
}
