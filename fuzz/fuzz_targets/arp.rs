//! ARP frames, as the daemon's socket backend reads them and answers requests for a VIP: no
//! panic, a parsed frame re-encodes to exactly its bytes (padding aside), and every reply
//! built for a request parses as a reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_user::wire::{ArpOperation, MacAddr, arp};

/// Our interface's MAC in the replies (a locally administered one).
const OUR_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0c, 0x01]);

fuzz_target!(|data: &[u8]| {
    let answer = arp::answer_request(data, OUR_MAC);
    let Ok((eth, request)) = arp::parse_frame(data) else {
        assert!(answer.is_err(), "answered a frame that does not parse");
        return;
    };
    let again = arp::emit_frame(eth.src, eth.dst, eth.vlan, &request).expect("re-encode");
    assert_eq!(
        again,
        data[..again.len()],
        "the frame re-encodes to other bytes"
    );

    match answer.expect("a parsed frame is answered or declined") {
        Some(reply) => {
            assert_eq!(request.operation, ArpOperation::Request);
            let (reply_eth, reply_arp) = arp::parse_frame(&reply).expect("our reply parses");
            assert_eq!(reply_arp.operation, ArpOperation::Reply);
            assert_eq!(
                (reply_eth.src, reply_eth.dst),
                (OUR_MAC, request.sender_mac)
            );
            assert_eq!(reply_eth.vlan, eth.vlan);
            assert_eq!(reply_arp.sender_ip, request.target_ip);
        }
        None => assert_eq!(request.operation, ArpOperation::Reply),
    }
});
