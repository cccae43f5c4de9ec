//! The checks of an advert's fixed header (RFC 5798 §7.1, RFC 3768 §7.1) that need nothing but
//! the IP facts and the 8-byte header, in the RFC's order. The XDP program and the socket-only
//! data plane both call this, so both modes accept and count exactly the same adverts.
use crate::{
    Counter, FAMILY_V4,
    maps::{InstanceConfig, InstanceState, Observation, event_reasons, instance_flags},
    proto::VRRP_TTL,
};

/// Version/type, VRID, priority, address count, and four bytes that depend on the version.
pub const HEADER_LEN: usize = 8;
/// VRRPv2's authentication data after the addresses.
pub const V2_AUTH_LEN: usize = 8;
/// RFC 5798 §5.2.2: the only type there is.
pub const ADVERTISEMENT: u8 = 1;
/// The longest advert accepted: the XDP checksum loop needs a bound the verifier can see. An
/// IPv4 packet of 1500 bytes (Ethernet's MTU) holds 1480: every advert of 255 IPv4 addresses
/// (1028 bytes in VRRPv3, 1036 in VRRPv2, which keepalived sends). An IPv6 packet of 1500
/// bytes holds 1460, 90 addresses.
pub const MAX_LEN: usize = 1480;

/// What the header says, once it passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub priority: u8,
    /// The whole message's length, which the caller has checked against.
    pub len: usize,
}

/// TTL, version, type and length of an advert whose VRRP message is `message_len` bytes long
/// (from the IP header), against the instance's configuration.
#[inline(always)]
pub fn check_header(
    ttl: u8,
    family: u8,
    message_len: usize,
    header: &[u8; HEADER_LEN],
    config: &InstanceConfig,
) -> Result<Header, Counter> {
    // §7.1 "MUST verify that the IP TTL is 255": nothing from off-link. In unicast mode the
    // allow-list stands in for it, as in keepalived, whose unicast IPv6 adverts leave with the
    // default hop limit (64).
    let unicast = config.flags & instance_flags::REQUIRE_PEER != 0;
    if ttl != VRRP_TTL && !unicast {
        return Err(Counter::DropTtl);
    }
    // §7.1 "MUST verify the VRRP version"; VRRPv2 is IPv4 only (RFC 3768 §5.1).
    let version = header[0] >> 4;
    if version != config.version || (version == 2 && family != FAMILY_V4) {
        return Err(Counter::DropVersion);
    }
    if header[0] & 0x0f != ADVERTISEMENT {
        return Err(Counter::DropType);
    }
    // §7.1: the message must hold exactly what its address count says (keepalived sends
    // exactly that).
    let address_len = if family == FAMILY_V4 { 4 } else { 16 };
    let auth_len = if version == 2 { V2_AUTH_LEN } else { 0 };
    let len = HEADER_LEN + usize::from(header[3]) * address_len + auth_len;
    if message_len != len || len > MAX_LEN {
        return Err(Counter::DropAddressCount);
    }
    Ok(Header {
        version,
        priority: header[2],
        len,
    })
}

/// Why a valid advert must wake the state machine ([`event_reasons`]); 0 for a steady
/// master's repeat, so a backup is not woken per advert. `previous` is what was recorded of the
/// last advert, if anything was.
#[inline(always)]
pub fn reasons(
    previous: Option<&Observation>,
    config: &InstanceConfig,
    source: &[u8; 16],
    priority: u8,
    interval_cs: u16,
    now_ns: u64,
) -> u8 {
    let mut reasons = 0u8;
    match previous {
        Some(observation) => {
            if !same_address(&observation.source, source) {
                reasons |= event_reasons::NEW_MASTER;
            }
            if observation.priority != priority {
                reasons |= event_reasons::PRIORITY_CHANGED;
            }
            if observation.interval_cs != interval_cs {
                reasons |= event_reasons::INTERVAL_CHANGED;
            }
            if now_ns.saturating_sub(observation.last_advert_ns) > config.silence_ns {
                reasons |= event_reasons::AFTER_SILENCE;
            }
        }
        None => reasons |= event_reasons::NEW_MASTER,
    }
    // RFC 5798 §6.4.2: the master is resigning; the backup waits only Skew_Time.
    if priority == 0 {
        reasons |= event_reasons::PRIORITY_ZERO;
    }
    // While we are master any advert matters: a higher priority (or an equal one from a higher
    // address) preempts us, a lower one must be answered with our own advert (RFC 5798 §6.4.3).
    if config.state == InstanceState::Master as u8 {
        reasons |= event_reasons::WHILE_MASTER;
    }
    reasons
}

/// Two 16-byte addresses compared as two words: a byte-wise comparison would be a memcmp call
/// in the XDP program.
#[inline(always)]
fn same_address(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let halves = |x: &[u8; 16]| {
        let mut high = [0u8; 8];
        let mut low = [0u8; 8];
        high.copy_from_slice(&x[..8]);
        low.copy_from_slice(&x[8..]);
        (u64::from_ne_bytes(high), u64::from_ne_bytes(low))
    };
    halves(a) == halves(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FAMILY_V6;

    fn config(version: u8, flags: u8) -> InstanceConfig {
        InstanceConfig {
            version,
            flags,
            ..InstanceConfig::default()
        }
    }

    #[test]
    fn each_check_in_the_rfc_order() {
        let v3 = [0x31, 51, 150, 1, 0, 100, 0, 0];
        let ok = check_header(255, FAMILY_V4, 12, &v3, &config(3, 0));
        assert_eq!(
            ok,
            Ok(Header {
                version: 3,
                priority: 150,
                len: 12
            })
        );
        assert_eq!(
            check_header(64, FAMILY_V4, 12, &v3, &config(3, 0)),
            Err(Counter::DropTtl)
        );
        let unicast = config(3, instance_flags::REQUIRE_PEER);
        assert!(check_header(64, FAMILY_V4, 12, &v3, &unicast).is_ok());
        // TTL is checked before the version.
        assert_eq!(
            check_header(1, FAMILY_V4, 12, &v3, &config(2, 0)),
            Err(Counter::DropTtl)
        );
        assert_eq!(
            check_header(255, FAMILY_V4, 12, &v3, &config(2, 0)),
            Err(Counter::DropVersion)
        );
        let v2 = [0x21, 51, 150, 1, 0, 1, 0, 0];
        assert_eq!(
            check_header(255, FAMILY_V6, 20, &v2, &config(2, 0)),
            Err(Counter::DropVersion)
        );
        assert_eq!(
            check_header(255, FAMILY_V4, 20, &v2, &config(2, 0)).map(|h| h.len),
            Ok(20)
        );
        let reply = [0x32, 51, 150, 1, 0, 100, 0, 0];
        assert_eq!(
            check_header(255, FAMILY_V4, 12, &reply, &config(3, 0)),
            Err(Counter::DropType)
        );
        assert_eq!(
            check_header(255, FAMILY_V4, 16, &v3, &config(3, 0)),
            Err(Counter::DropAddressCount)
        );
        let v6 = [0x31, 51, 150, 1, 0, 100, 0, 0];
        assert_eq!(
            check_header(255, FAMILY_V6, 24, &v6, &config(3, 0)).map(|h| h.len),
            Ok(24)
        );
        let too_many = [0x31, 51, 150, 255, 0, 100, 0, 0];
        assert_eq!(
            check_header(255, FAMILY_V6, 8 + 255 * 16, &too_many, &config(3, 0)),
            Err(Counter::DropAddressCount)
        );
    }
}
