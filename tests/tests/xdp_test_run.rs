//! The XDP program under BPF_PROG_TEST_RUN: frame in → action out, counters moved.
//! Root only (loading BPF programs); fails loudly otherwise.
use aya::programs::{TestRun, TestRunOptions, Xdp};
use tests::require_root;
use vrrp_common::{Counter, XDP_PROGRAM_NAME};
use vrrp_user::dataplane;

const XDP_PASS: u32 = 2;

/// A fixture: a frame, and the counter the program must bump for it.
struct Case {
    name: &'static str,
    frame: Vec<u8>,
    counter: Counter,
}

fn ethernet(ethertype: u16) -> Vec<u8> {
    let mut frame = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

fn ipv4(protocol: u8) -> Vec<u8> {
    let mut frame = ethernet(0x0800);
    // Version/IHL, TOS, total length, id, flags/fragment, TTL, protocol, checksum,
    // 192.0.2.1 → 224.0.0.18.
    frame.extend_from_slice(&[0x45, 0xc0, 0, 40, 0, 1, 0, 0, 255, protocol, 0, 0]);
    frame.extend_from_slice(&[192, 0, 2, 1, 224, 0, 0, 18]);
    frame.extend_from_slice(&[0u8; 20]);
    frame
}

fn ipv6(next_header: u8) -> Vec<u8> {
    let mut frame = ethernet(0x86dd);
    frame.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, next_header, 255]);
    frame.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    frame.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
    frame.extend_from_slice(&[0u8; 20]);
    frame
}

fn vlan_tagged(mut inner: Vec<u8>) -> Vec<u8> {
    // Move the inner ethertype behind an 802.1Q tag (VLAN 42).
    let ethertype = inner.split_off(12);
    inner.extend_from_slice(&[0x81, 0x00, 0x00, 42]);
    inner.extend_from_slice(&ethertype);
    inner
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "vrrp over ipv4",
            frame: ipv4(112),
            counter: Counter::VrrpV4,
        },
        Case {
            name: "vrrp over ipv6",
            frame: ipv6(112),
            counter: Counter::VrrpV6,
        },
        Case {
            name: "vlan-tagged vrrp",
            frame: vlan_tagged(ipv4(112)),
            counter: Counter::VrrpV4,
        },
        Case {
            name: "tcp over ipv4",
            frame: ipv4(6),
            counter: Counter::Passed,
        },
        Case {
            name: "udp over ipv6",
            frame: ipv6(17),
            counter: Counter::Passed,
        },
        Case {
            name: "arp",
            frame: ethernet(0x0806),
            counter: Counter::Arp,
        },
        // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, as NICs drop them.
        Case {
            name: "802.1q tag cut short",
            frame: ethernet(0x8100),
            counter: Counter::Truncated,
        },
        Case {
            name: "ipv4 header cut short",
            frame: ipv4(112)[..20].to_vec(),
            counter: Counter::Truncated,
        },
    ]
}

#[test]
fn every_frame_is_passed_untouched_and_counted_by_kind() {
    require_root();
    let mut ebpf = dataplane::load().expect("load the XDP object");
    for case in cases() {
        let before = totals(&ebpf);
        let mut out = vec![0u8; case.frame.len() + 256];
        let program: &mut Xdp = ebpf
            .program_mut(XDP_PROGRAM_NAME)
            .unwrap()
            .try_into()
            .unwrap();
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(&case.frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .unwrap_or_else(|err| panic!("{}: BPF_PROG_TEST_RUN failed: {err}", case.name));

        assert_eq!(result.return_value, XDP_PASS, "{}: action", case.name);
        let out_len = result.data_size_out as usize;
        assert_eq!(
            &out[..out_len],
            &case.frame[..],
            "{}: frame changed",
            case.name
        );

        let after = totals(&ebpf);
        for counter in Counter::ALL {
            let expected = u64::from(counter == Counter::Frames || counter == case.counter);
            let moved = after[counter.index() as usize] - before[counter.index() as usize];
            assert_eq!(moved, expected, "{}: counter {counter:?}", case.name);
        }
    }
}

fn totals(ebpf: &aya::Ebpf) -> Vec<u64> {
    let counters = dataplane::counters(ebpf).expect("counter map");
    Counter::ALL
        .iter()
        .map(|&counter| dataplane::counter_total(&counters, counter).expect("read counter"))
        .collect()
}
