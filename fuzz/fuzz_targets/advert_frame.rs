//! Whole advert frames (Ethernet, 802.1Q, IPv4 or IPv6, VRRPv2 or v3), as the daemon's socket
//! backend parses them: no panic, and what parses re-encodes to a frame that parses to the
//! same values (byte equality does not hold in general: IPv4 options and Ethernet padding are
//! dropped, the VRRPv3 reserved bits are written as zero).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{ChecksumMode, emit_advert_frame, parse_advert_frame};
use xvrrpd_fuzz::{CHECKSUM_MODES, with_checksums_repaired};

fn check(frame: &[u8], mode: ChecksumMode) {
    let Ok((info, advert)) = parse_advert_frame(frame, mode) else {
        return;
    };
    let again = emit_advert_frame(&info, &advert, mode).expect("a parsed advert re-encodes");
    assert!(again.len() <= frame.len(), "the re-encoded frame is longer");
    let reparsed = parse_advert_frame(&again, mode).expect("a re-encoded advert parses");
    assert_eq!(
        reparsed,
        (info, advert),
        "the re-encoded frame parses differently"
    );
}

fuzz_target!(|data: &[u8]| {
    for mode in CHECKSUM_MODES {
        check(data, mode);
        check(&with_checksums_repaired(data, mode), mode);
    }
});
