//! The XDP backend on a real interface: attached natively to a veth in a test namespace, it
//! turns adverts into events through the ring buffer, answers ARP for an owned VIP, and leaves
//! nothing behind when the data plane is dropped. Root only.
use std::{process::Command, time::Duration};

use tests::{
    netns::{Netns, veth},
    packet::send_frames,
    xdp::attach_pass_program,
};
use vrrp_common::{
    Counter, FAMILY_V4,
    maps::{
        InstanceConfig, InstanceKey, InstanceState, VipKey, VipOwner, VmacKey, VmacOwner,
        event_reasons,
    },
};
use vrrp_user::{
    dataplane::{self, Mode, Request, address16, heartbeat_ticks},
    units::Centiseconds,
    wire::{self, ChecksumMode, FrameInfo, MacAddr, V3Advert, VipList, VrrpRepr},
};

fn has_xdp(netns: &Netns, interface: &str) -> bool {
    let out = netns.ip(&["link", "show", interface]);
    String::from_utf8_lossy(&out.stdout).contains("xdp")
}

#[test]
fn attached_program_reports_adverts_answers_arp_and_detaches_on_drop() {
    let router = Netns::new("attach-r");
    let peer = Netns::new("attach-p");
    veth(&router, "xr", &peer, "xp");
    router.ip(&["addr", "add", "192.0.2.1/24", "dev", "xr"]);
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "xp"]);
    let router_if = router.ifindex("xr");
    let peer_if = peer.ifindex("xp");
    let router_mac = router.mac("xr");
    let peer_mac = peer.mac("xp");
    // XDP_TX frames on a veth reach the peer only when the peer runs XDP too.
    let _peer_xdp = peer.enter(|| attach_pass_program(peer_if));

    let advert = VrrpRepr::V3(V3Advert {
        vrid: 51,
        priority: 200,
        max_adver_int: Centiseconds(100),
        addresses: VipList::V4(vec!["192.0.2.100".parse().unwrap()]),
    });
    let frame = wire::emit_advert_frame(
        &FrameInfo::multicast_v4(MacAddr(peer_mac), "192.0.2.2".parse().unwrap(), 1),
        &advert,
        ChecksumMode::PseudoHeader,
    )
    .unwrap();

    router.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut plane, mut events) = dataplane::open(Request::Auto).expect("open XDP");
            let mode = plane.add_interface("xr", router_if, None).expect("attach");
            // Of unknown kind, native first; veth supports it.
            assert_eq!(mode, Mode::Native, "veth supports native XDP");
            assert!(has_xdp(&router, "xr"), "program attached");

            let key = InstanceKey {
                ifindex: router_if,
                vlan: 0,
                vrid: 51,
                family: FAMILY_V4,
            };
            plane
                .set_instance(
                    key,
                    InstanceConfig {
                        state: InstanceState::Backup as u8,
                        priority: 100,
                        version: 3,
                        silence_ns: 60_000_000_000,
                        ..InstanceConfig::default()
                    },
                )
                .unwrap();
            plane
                .own_vip(
                    VipKey {
                        ifindex: router_if,
                        vlan: 0,
                        family: FAMILY_V4,
                        _pad: 0,
                        address: address16("192.0.2.100".parse().unwrap()),
                    },
                    VipOwner {
                        mac: router_mac,
                        vrid: 51,
                        flags: 0,
                        heartbeat_max_age_ticks: heartbeat_ticks(Duration::from_secs(5)),
                    },
                )
                .unwrap();
            plane.heartbeat().unwrap();

            // Three adverts from the peer: one event (new master), two silent repeats.
            peer.enter(|| send_frames(peer_if, &[frame.clone(), frame.clone(), frame.clone()]));
            let event = tokio::time::timeout(Duration::from_secs(2), events.recv())
                .await
                .expect("an event within 2 s")
                .expect("channel open");
            assert_eq!(event.instance, key);
            assert_eq!(event.reasons, event_reasons::NEW_MASTER);
            assert_eq!(event.priority, 200);
            assert_eq!(event.source, address16("192.0.2.2".parse().unwrap()));
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(events.try_recv().is_err(), "repeats make no event");
            let counters = plane.counters().unwrap();
            assert_eq!(counters.get(Counter::AdvertAccepted), 3);
            assert_eq!(plane.observation(key).unwrap().unwrap().adverts, 3);

            // The peer resolves the VIP: the answer comes from XDP, with the MAC we gave it.
            let arping = peer
                .command("arping")
                .args(["-c", "1", "-w", "2", "-I", "xp", "192.0.2.100"])
                .output()
                .expect("run arping");
            let text = String::from_utf8_lossy(&arping.stdout);
            assert!(
                arping.status.success(),
                "no ARP answer: {text} (counters {:?})",
                plane.counters().unwrap()
            );
            let mac = MacAddr(router_mac).to_string();
            assert!(
                text.to_lowercase().contains(&mac),
                "answered by {mac}: {text}"
            );
            assert_eq!(plane.counters().unwrap().get(Counter::ArpReply), 1);

            drop(plane);
        });
    });
    assert!(
        !has_xdp(&router, "xr"),
        "program detached when the data plane dropped"
    );
    // Nothing pinned: no bpffs entry was made for it.
    let pinned = Command::new("sh")
        .args(["-c", "ls /sys/fs/bpf 2>/dev/null | grep -c xvrrpd || true"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pinned.stdout).trim(), "0");
}

#[test]
fn detach_before_resigning_frees_interfaces_but_keeps_those_with_a_virtual_mac() {
    let router = Netns::new("detach-r");
    let peer = Netns::new("detach-p");
    veth(&router, "dplain", &peer, "dplainp");
    veth(&router, "dvmac", &peer, "dvmacp");
    let plain = router.ifindex("dplain");
    let with_vmac = router.ifindex("dvmac");
    let interface_mac = router.mac("dvmac");
    router.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut plane, _events) = dataplane::open(Request::Auto).expect("open XDP");
            plane.add_interface("dplain", plain, None).expect("attach");
            plane
                .add_interface("dvmac", with_vmac, None)
                .expect("attach");
            plane
                .own_vmac(
                    VmacKey {
                        ifindex: with_vmac,
                        mac: [0, 0, 0x5e, 0, 1, 51],
                        _pad: [0; 2],
                    },
                    VmacOwner {
                        interface_mac,
                        _pad: [0; 2],
                        heartbeat_max_age_ticks: heartbeat_ticks(Duration::from_secs(1)),
                    },
                )
                .expect("own a virtual MAC");
            assert!(has_xdp(&router, "dplain") && has_xdp(&router, "dvmac"));

            plane.detach_before_resigning();
            assert!(
                !has_xdp(&router, "dplain"),
                "detached where no vMAC is owned"
            );
            assert!(
                has_xdp(&router, "dvmac"),
                "kept where a vMAC needs the rewrite"
            );
            // The maps stay usable for the resignations that follow.
            plane.heartbeat().expect("heartbeat after the detach");
            drop(plane);
        });
    });
    assert!(
        !has_xdp(&router, "dvmac"),
        "the rest goes with the data plane"
    );
}
