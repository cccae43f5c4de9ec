//! The Internet checksum (RFC 1071) and the pseudo-header sums of IPv4 (RFC 768 / RFC 793
//! §3.1 layout) and IPv6 (RFC 8200 §8.1).
//!
//! The functions return *folded sums* (not yet inverted) so parts can be combined: a message's
//! checksum field holds `!combine(&[pseudo_header, data(message_with_zero_checksum)])`, and a
//! received message verifies when `combine(&[pseudo_header, data(message)]) == 0xffff`.
use std::net::{Ipv4Addr, Ipv6Addr};

/// Folds a 32-bit accumulator of 16-bit words into 16 bits (RFC 1071 §4.1, end-around carry).
pub const fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The one's-complement sum of `data` taken as big-endian 16-bit words; an odd trailing byte
/// is padded with a zero byte (RFC 1071 §1). Only the last part of a message may be odd.
pub fn data(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        // Folding as we go keeps the accumulator from overflowing on any length.
        if sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    fold(sum)
}

/// One's-complement sum of several folded sums.
pub fn combine(parts: &[u16]) -> u16 {
    fold(parts.iter().map(|&p| u32::from(p)).sum())
}

/// The sum of the IPv4 pseudo-header: source, destination, zero, protocol, length.
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut buf = [0u8; 12];
    buf[0..4].copy_from_slice(&src.octets());
    buf[4..8].copy_from_slice(&dst.octets());
    buf[9] = protocol;
    buf[10..12].copy_from_slice(&length.to_be_bytes());
    data(&buf)
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit
/// upper-layer length, three zero bytes, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut buf = [0u8; 40];
    buf[0..16].copy_from_slice(&src.octets());
    buf[16..32].copy_from_slice(&dst.octets());
    buf[32..36].copy_from_slice(&length.to_be_bytes());
    buf[39] = next_header;
    data(&buf)
}

/// The value to write into a checksum field, given the folded sums of everything covered
/// (with the field itself zero).
pub fn finish(parts: &[u16]) -> u16 {
    !combine(parts)
}

/// Whether a message whose sums (checksum field included) are `parts` verifies.
pub fn verifies(parts: &[u16]) -> bool {
    combine(parts) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (after the end-around carry).
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
        assert_eq!(finish(&[0xddf2]), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn long_inputs_do_not_overflow() {
        let all_ones = vec![0xffu8; 1 << 20];
        assert_eq!(data(&all_ones), 0xffff);
    }

    #[test]
    fn ipv4_header_from_rfc_example_verifies() {
        // A textbook IPv4 header (checksum b861) verifies and recomputes.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(verifies(&[data(&h)]));
        h[10] = 0;
        h[11] = 0;
        assert_eq!(finish(&[data(&h)]), 0xb861);
    }

    #[test]
    fn pseudo_headers_sum_their_fields() {
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(224, 0, 0, 18);
        let expect = fold(0xc000 + 0x0201 + 0xe000 + 0x0012 + 112 + 12);
        assert_eq!(pseudo_header_v4(&a, &b, 112, 12), expect);
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "ff02::12".parse().unwrap();
        let expect = fold(0xfe80 + 0x0001 + 0xff02 + 0x0012 + 24 + 112);
        assert_eq!(pseudo_header_v6(&s, &d, 112, 24), expect);
    }
}
