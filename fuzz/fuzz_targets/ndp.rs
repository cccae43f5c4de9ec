//! Neighbour solicitations and advertisements in Ethernet frames, as the daemon reads them and
//! answers solicitations for a VIP: no panic, a parsed message re-encodes to one that parses
//! to the same values, and every answer parses as a solicited (or DAD) advertisement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{ChecksumMode, MacAddr, NdpRepr, ndp};
use xvrrpd_fuzz::with_checksums_repaired;

/// Our interface's MAC in the answers (a locally administered one).
const OUR_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0c, 0x01]);

fn check(frame: &[u8]) {
    let answer = ndp::answer_solicitation(frame, OUR_MAC, false);
    let Ok((eth, ip, message)) = ndp::parse_frame(frame) else {
        assert!(answer.is_err(), "answered a frame that does not parse");
        return;
    };
    let again = ndp::emit_frame(&eth, ip.src, ip.dst, &message).expect("re-encode");
    let (eth2, ip2, message2) = ndp::parse_frame(&again).expect("a re-encoded message parses");
    assert_eq!(
        (eth2, ip2.src, ip2.dst, message2),
        (eth, ip.src, ip.dst, message)
    );

    match answer.expect("a parsed frame is answered or declined") {
        Some(reply) => {
            let NdpRepr::NeighborSolicit { target, .. } = message else {
                panic!("answered an advertisement");
            };
            let (reply_eth, reply_ip, advert) = ndp::parse_frame(&reply).expect("our NA parses");
            let NdpRepr::NeighborAdvert {
                flags,
                target: t,
                target_lladdr,
            } = advert
            else {
                panic!("the answer is not an advertisement");
            };
            assert_eq!(
                (t, target_lladdr, reply_eth.src),
                (target, Some(OUR_MAC), OUR_MAC)
            );
            assert_eq!(reply_ip.src, target);
            assert_eq!(flags.solicited, !ip.src.is_unspecified());
            assert_eq!(reply_ip.hop_limit, ndp::HOP_LIMIT);
        }
        None => assert!(matches!(message, NdpRepr::NeighborAdvert { .. })),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    check(&with_checksums_repaired(data, ChecksumMode::PseudoHeader));
});
