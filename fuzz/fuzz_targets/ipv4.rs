//! The IPv4 header: any bytes either fail with an error or parse, every getter of a
//! length-checked packet stays in bounds, and the parsed header re-encodes (as a 20-byte
//! header) to one that parses to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{ChecksumMode, Ipv4Packet, Ipv4Repr, ipv4};
use xvrrpd_fuzz::repair_ipv4;

fn check(data: &[u8]) {
    let packet = Ipv4Packet::new_unchecked(data);
    let Ok(repr) = Ipv4Repr::parse(&packet) else {
        return;
    };
    assert_eq!(
        packet.options().len(),
        packet.header_len() - ipv4::MIN_HEADER_LEN
    );
    let payload = packet.payload();
    assert_eq!(repr.payload_len, payload.len());

    let mut again = vec![0u8; repr.buffer_len() + repr.payload_len];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut again[..]))
        .expect("emit into buffer_len + payload bytes");
    again[repr.buffer_len()..].copy_from_slice(payload);
    let reparsed = Ipv4Packet::new_checked(&again[..]).expect("the re-encoded packet fits");
    assert_eq!(Ipv4Repr::parse(&reparsed), Ok(repr));
    assert_eq!(reparsed.payload(), payload);
}

fuzz_target!(|data: &[u8]| {
    // Whatever passes the length check must not make a getter panic.
    if let Ok(packet) = Ipv4Packet::new_checked(data) {
        let _ = (packet.payload(), packet.options(), packet.verify_checksum());
    }
    check(data);
    let mut repaired = data.to_vec();
    repair_ipv4(&mut repaired, ChecksumMode::PseudoHeader);
    check(&repaired);
});
