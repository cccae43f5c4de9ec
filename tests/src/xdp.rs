//! A harness for the XDP program under BPF_PROG_TEST_RUN: a freshly loaded program per fixture,
//! map contents in, frames through, action, output frame, counters and events out.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use aya::programs::{TestRun, TestRunOptions};
use vrrp_common::{
    Counter, FAMILY_V4, FAMILY_V6,
    maps::{
        AdvertEvent, InstanceConfig, InstanceKey, InstanceState, PeerKey, VipKey, VipOwner,
        VmacKey, VmacOwner, vip_flags,
    },
};
use vrrp_user::dataplane::{CounterTotals, XdpDataplane, address16, heartbeat_ticks, parse_event};

pub const XDP_ABORTED: u32 = 0;
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// BPF_PROG_TEST_RUN without a context runs on the loopback device's queue: ifindex 1.
pub const TEST_IFINDEX: u32 = 1;
/// How long the fixtures' ownership outlives a heartbeat.
pub const OWNERSHIP_BOUND: Duration = Duration::from_secs(1);
/// The MAC we answer ARP / NS with in the fixtures.
pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

/// What one run of the program did.
pub struct Outcome {
    pub action: u32,
    pub frame: Vec<u8>,
    /// Counter deltas caused by this run.
    pub counters: CounterTotals,
}

pub struct XdpLab {
    pub dataplane: XdpDataplane,
    events: aya::maps::RingBuf<aya::maps::MapData>,
}

impl XdpLab {
    /// A freshly loaded program: empty maps, zero counters, fresh heartbeat.
    pub fn new() -> XdpLab {
        crate::require_root();
        let mut dataplane = XdpDataplane::load().expect("load the XDP program");
        let events = dataplane.take_events().expect("event ring buffer");
        let mut lab = XdpLab { dataplane, events };
        lab.heartbeat_fresh();
        lab
    }

    pub fn heartbeat_fresh(&mut self) {
        self.dataplane.heartbeat().expect("heartbeat");
    }

    /// A heartbeat from before boot: older than any fixture's ownership bound.
    pub fn heartbeat_stale(&mut self) {
        self.dataplane.set_heartbeat_ticks(0).expect("heartbeat");
    }

    pub fn instance(&mut self, key: InstanceKey, config: InstanceConfig) {
        self.dataplane.set_instance(key, config).expect("instance");
    }

    pub fn own(&mut self, vlan: u16, vip: IpAddr) {
        self.own_with_mac(vlan, vip, OUR_MAC);
    }

    /// Claims `vip`, answered with `mac` (the virtual MAC under `use_vmac`).
    pub fn own_with_mac(&mut self, vlan: u16, vip: IpAddr, mac: [u8; 6]) {
        self.own_for(vlan, vip, mac, OWNERSHIP_BOUND);
    }

    /// Claims `vip` for an interface that forwards IPv6: its advertisements are a router's.
    pub fn own_as_router(&mut self, vlan: u16, vip: IpAddr) {
        self.own_owner(vlan, vip, OUR_MAC, OWNERSHIP_BOUND, vip_flags::ROUTER);
    }

    /// Claims `vip`, answered with `mac` while the heartbeat is at most `bound` old.
    pub fn own_for(&mut self, vlan: u16, vip: IpAddr, mac: [u8; 6], bound: Duration) {
        self.own_owner(vlan, vip, mac, bound, 0);
    }

    fn own_owner(&mut self, vlan: u16, vip: IpAddr, mac: [u8; 6], bound: Duration, flags: u8) {
        let key = vip_key(vlan, vip);
        let owner = VipOwner {
            mac,
            vrid: 51,
            flags,
            heartbeat_max_age_ticks: heartbeat_ticks(bound),
        };
        self.dataplane.own_vip(key, owner).expect("own VIP");
    }

    /// Takes the frames sent to the virtual MAC `vmac` on interface `ifindex`, for the
    /// interface whose MAC is [`OUR_MAC`].
    pub fn own_vmac(&mut self, ifindex: u32, vmac: [u8; 6]) {
        let key = VmacKey {
            ifindex,
            mac: vmac,
            _pad: [0; 2],
        };
        let owner = VmacOwner {
            interface_mac: OUR_MAC,
            _pad: [0; 2],
            heartbeat_max_age_ticks: heartbeat_ticks(OWNERSHIP_BOUND),
        };
        self.dataplane
            .own_vmac(key, owner)
            .expect("own virtual MAC");
    }

    pub fn allow_peer(&mut self, instance: InstanceKey, peer: IpAddr) {
        let key = PeerKey {
            instance,
            address: address16(peer),
        };
        self.dataplane.allow_peer(key).expect("peer");
    }

    /// Runs the program once on `frame` (repeat 1: rewriting paths change the input buffer).
    pub fn run(&mut self, frame: &[u8]) -> Outcome {
        let before = self.dataplane.counters().expect("counters");
        // Room for the program to grow the frame (an NS without options becomes a longer NA).
        let mut out = vec![0u8; frame.len() + 256];
        let result = self
            .dataplane
            .program_mut()
            .expect("program")
            .test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .expect("BPF_PROG_TEST_RUN");
        out.truncate(result.data_size_out as usize);
        let after = self.dataplane.counters().expect("counters");
        let mut counters = CounterTotals::default();
        for counter in Counter::ALL {
            counters.0[counter.index() as usize] = after.get(counter) - before.get(counter);
        }
        Outcome {
            action: result.return_value,
            frame: out,
            counters,
        }
    }

    /// Events pushed since the last call.
    pub fn events(&mut self) -> Vec<AdvertEvent> {
        let mut events = Vec::new();
        while let Some(item) = self.events.next() {
            events.push(parse_event(&item).expect("an AdvertEvent record"));
        }
        events
    }
}

impl Default for XdpLab {
    fn default() -> Self {
        XdpLab::new()
    }
}

pub fn instance_key(vlan: u16, vrid: u8, family: u8) -> InstanceKey {
    InstanceKey {
        ifindex: TEST_IFINDEX,
        vlan,
        vrid,
        family,
    }
}

pub fn vip_key(vlan: u16, vip: IpAddr) -> VipKey {
    VipKey {
        ifindex: TEST_IFINDEX,
        vlan,
        family: match vip {
            IpAddr::V4(_) => FAMILY_V4,
            IpAddr::V6(_) => FAMILY_V6,
        },
        _pad: 0,
        address: address16(vip),
    }
}

/// A backup instance of `version` with no auth, no allow-list, a long silence bound.
pub fn backup_config(version: u8) -> InstanceConfig {
    InstanceConfig {
        state: InstanceState::Backup as u8,
        priority: 100,
        version,
        flags: 0,
        slot: 0,
        generation: 0,
        auth_data: [0; 8],
        silence_ns: 60_000_000_000,
    }
}

pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);
pub const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50);
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x50];
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];

/// Attaches, in the calling thread's namespace, a program that sends every frame `from`
/// receives out of `to` as an XDP frame (`bpf_redirect_map`): `to`'s veth peer then gets it the
/// way a NIC's driver does, with no socket buffer built. Detached when the handle drops.
pub fn attach_redirect_program(from: u32, to: u32) -> aya::Ebpf {
    let mut ebpf =
        aya::Ebpf::load(vrrp_user::dataplane::XDP_BASELINE_OBJECT).expect("load redirect");
    let mut devices: aya::maps::DevMap<_> = ebpf
        .map_mut("REDIRECT_TO")
        .expect("REDIRECT_TO map")
        .try_into()
        .expect("a device map");
    devices.set(0, to, None, 0).expect("REDIRECT_TO[0]");
    let program: &mut aya::programs::Xdp = ebpf
        .program_mut("xvrrpd_redirect")
        .expect("redirect program")
        .try_into()
        .expect("an XDP program");
    program.load().expect("verify redirect");
    program
        .attach_to_if_index(from, aya::programs::XdpMode::Driver)
        .expect("attach redirect");
    ebpf
}

/// The do-nothing XDP_PASS program, loaded into the kernel (not attached): the benchmarks'
/// baseline.
pub fn load_pass_program() -> aya::Ebpf {
    let mut ebpf =
        aya::Ebpf::load(vrrp_user::dataplane::XDP_BASELINE_OBJECT).expect("load baseline");
    pass_program(&mut ebpf).load().expect("verify baseline");
    ebpf
}

/// The program of an object loaded by [`load_pass_program`].
pub fn pass_program(ebpf: &mut aya::Ebpf) -> &mut aya::programs::Xdp {
    ebpf.program_mut(vrrp_common::XDP_PROGRAM_NAME)
        .expect("baseline program")
        .try_into()
        .expect("an XDP program")
}

/// Attaches the do-nothing XDP_PASS program to `ifindex` in the calling thread's namespace.
/// A veth delivers frames that its peer sends with XDP_TX only when it runs XDP itself (its
/// receive path then uses NAPI); real NICs have no such need. Detached when the handle drops.
pub fn attach_pass_program(ifindex: u32) -> aya::Ebpf {
    let mut ebpf = load_pass_program();
    pass_program(&mut ebpf)
        .attach_to_if_index(ifindex, aya::programs::XdpMode::Driver)
        .expect("attach baseline");
    ebpf
}
