//! The Ethernet header (with one optional 802.1Q tag): any bytes either fail the length check
//! or parse, and the parsed header re-encodes to exactly the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{EthernetFrame, EthernetRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let repr = EthernetRepr::parse(&frame).expect("a length-checked frame parses");
    let header_len = frame.header_len();
    assert_eq!(header_len, repr.buffer_len());
    assert_eq!(frame.payload().len(), data.len() - header_len);

    let mut again = vec![0u8; repr.buffer_len()];
    repr.emit(&mut EthernetFrame::new_unchecked(&mut again[..]))
        .expect("emit into buffer_len bytes");
    assert_eq!(
        again,
        data[..header_len],
        "the header re-encodes to other bytes"
    );
});
