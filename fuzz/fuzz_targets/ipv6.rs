//! The fixed IPv6 header: any bytes either fail with an error or parse, and the parsed header
//! re-encodes to exactly the 40 bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{Ipv6Packet, Ipv6Repr, ipv6};

fuzz_target!(|data: &[u8]| {
    let packet = Ipv6Packet::new_unchecked(data);
    let Ok(repr) = Ipv6Repr::parse(&packet) else {
        return;
    };
    assert_eq!(packet.payload().len(), repr.payload_len);

    let mut again = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut again[..]))
        .expect("emit into buffer_len bytes");
    assert_eq!(
        again,
        data[..ipv6::HEADER_LEN],
        "the header re-encodes to other bytes"
    );
});
