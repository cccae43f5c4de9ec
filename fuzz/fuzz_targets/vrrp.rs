//! A VRRP message alone, with the IP addresses and checksum mode the input's first bytes give
//! (layout: [`xvrrpd_fuzz::VrrpInput`]): no panic, and what parses re-encodes to the same
//! bytes except the checksum field (0x0000 and 0xffff both verify when the sum is zero) and
//! the VRRPv3 reserved bits (ignored on receipt, sent as zero).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{VrrpPacket, VrrpRepr};
use xvrrpd_fuzz::VrrpInput;

/// Byte 4's top nibble: VRRPv3's reserved bits.
const V3_RESERVED: u8 = 0xf0;

fuzz_target!(|data: &[u8]| {
    let Some(input) = VrrpInput::split(data) else {
        return;
    };
    let packet = VrrpPacket::new_unchecked(&input.message[..]);
    let Ok(repr) = VrrpRepr::parse(&packet, &input.ip, input.mode) else {
        return;
    };
    assert_eq!(repr.buffer_len(), input.message.len());

    let mut again = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut VrrpPacket::new_unchecked(&mut again[..]),
        &input.ip,
        input.mode,
    )
    .expect("a parsed message re-encodes");
    let reparsed = VrrpRepr::parse(
        &VrrpPacket::new_unchecked(&again[..]),
        &input.ip,
        input.mode,
    );
    assert_eq!(
        reparsed.as_ref(),
        Ok(&repr),
        "the re-encoded message parses differently"
    );

    let mut expected = input.message.clone();
    if repr.version() == 3 {
        expected[4] &= !V3_RESERVED;
    }
    expected[6..8].copy_from_slice(&again[6..8]);
    assert_eq!(again, expected, "the message re-encodes to other bytes");
});
