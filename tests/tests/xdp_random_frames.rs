//! 100,000 random frames through the XDP program: never XDP_ABORTED, and never a modified frame
//! unless it was an ARP request or neighbour solicitation for an owned VIP, answered correctly.
//! Frames are random but biased towards the headers the program parses, so that deep paths
//! (adverts, ARP, NS) are reached, not just the first ethertype check.
use tests::xdp::*;
use vrrp_common::{FAMILY_V4, FAMILY_V6};
use vrrp_user::wire::{ArpOperation, MacAddr, NdpRepr, arp, ndp};

const FRAMES: usize = 100_000;
const SEED: u64 = 0x5eed_0fc0_ffee;

/// xorshift64*: deterministic, so a failure names a reproducible frame.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let len = 14 + rng.below(200) as usize;
    let mut frame = rng.bytes(len);
    let ethertypes: [u16; 6] = [0x0800, 0x86dd, 0x0806, 0x8100, 0x88cc, rng.next() as u16];
    let ethertype = ethertypes[rng.below(6) as usize];
    frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
    let mut l3 = 14;
    if ethertype == 0x8100 && frame.len() >= 18 {
        let inner = [0x0800u16, 0x86dd, 0x0806][rng.below(3) as usize];
        frame[16..18].copy_from_slice(&inner.to_be_bytes());
        l3 = 18;
    }
    let ethertype = u16::from_be_bytes([frame[l3 - 2], frame[l3 - 1]]);
    let biased = rng.below(4) != 0;
    if !biased {
        return frame;
    }
    match ethertype {
        0x0800 if frame.len() > l3 + 20 => {
            frame[l3] = 0x45;
            frame[l3 + 6] = 0;
            frame[l3 + 8] = 255;
            frame[l3 + 9] = 112;
            frame[l3 + 20] = [0x21, 0x31, rng.next() as u8][rng.below(3) as usize];
            if frame.len() > l3 + 21 && rng.below(2) == 0 {
                frame[l3 + 21] = 51;
            }
        }
        0x86dd if frame.len() > l3 + 41 => {
            frame[l3] = 0x60;
            frame[l3 + 6] = [112, 58][rng.below(2) as usize];
            frame[l3 + 7] = 255;
            frame[l3 + 40] = [0x31, 135, 136][rng.below(3) as usize];
            if rng.below(2) == 0 && frame.len() >= l3 + 40 + 24 {
                // Target the owned VIP now and then.
                frame[l3 + 48..l3 + 64].copy_from_slice(&VIP_V6.octets());
            }
        }
        0x0806 if frame.len() >= l3 + 28 => {
            frame[l3..l3 + 8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            if rng.below(2) == 0 {
                frame[l3 + 24..l3 + 28].copy_from_slice(&VIP_V4.octets());
            }
        }
        _ => {}
    }
    frame
}

#[test]
fn random_frames_never_abort_and_are_only_rewritten_into_valid_answers() {
    let mut lab = XdpLab::new();
    lab.instance(instance_key(0, 51, FAMILY_V4), backup_config(3));
    lab.instance(instance_key(0, 51, FAMILY_V6), backup_config(3));
    lab.instance(instance_key(0, 52, FAMILY_V4), backup_config(2));
    lab.own(0, VIP_V4.into());
    lab.own(0, VIP_V6.into());
    let mut rng = Rng(SEED);
    let mut answered = 0;
    for index in 0..FRAMES {
        if index % 10_000 == 0 {
            // Keep ownership alive across the run, as the daemon would.
            lab.heartbeat_fresh();
        }
        let frame = random_frame(&mut rng);
        let outcome = lab.run(&frame);
        let what = format!("frame {index} (seed {SEED:#x}): {frame:02x?}");
        assert!(
            matches!(outcome.action, XDP_PASS | XDP_DROP | XDP_TX),
            "action {} for {what}",
            outcome.action
        );
        if outcome.action != XDP_TX {
            assert_eq!(outcome.frame, frame, "modified without XDP_TX: {what}");
            continue;
        }
        answered += 1;
        if let Ok((_, reply)) = arp::parse_frame(&outcome.frame) {
            assert_eq!(reply.operation, ArpOperation::Reply, "{what}");
            assert_eq!(reply.sender_ip, VIP_V4, "{what}");
            assert_eq!(reply.sender_mac, MacAddr(OUR_MAC), "{what}");
        } else {
            let (_, ip, na) = ndp::parse_frame(&outcome.frame).unwrap_or_else(|err| {
                panic!("XDP_TX of neither ARP nor a valid NA ({err}): {what}")
            });
            assert_eq!(ip.src, VIP_V6, "{what}");
            assert!(matches!(na, NdpRepr::NeighborAdvert { .. }), "{what}");
        }
    }
    // The generator reaches the answering paths; random NS checksums almost never verify.
    assert!(answered > 0, "no random frame reached an answering path");
}
