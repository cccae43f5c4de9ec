//! BPF map names and the layouts of their keys and values.
//!
//! Addresses are stored in 16 bytes: an IPv6 address as is, an IPv4 address in the first four
//! bytes (network order) with the rest zero, so one key type serves both families.

/// Userspace → XDP: per-instance configuration, keyed by [`InstanceKey`].
pub const INSTANCES: &str = "INSTANCES";
/// XDP → userspace: what the program saw of each instance's master: an array indexed by
/// [`InstanceConfig::slot`], so the advert path costs one hash lookup, not two.
pub const OBSERVATIONS: &str = "OBSERVATIONS";
/// Userspace → XDP: VIPs this host answers ARP / NS for, keyed by [`VipKey`].
pub const VIPS: &str = "VIPS";
/// Userspace → XDP: allow-listed advert sources, keyed by [`PeerKey`] (value: 1).
pub const PEERS: &str = "PEERS";
/// Daemon → XDP: one `u64`, the kernel tick count (jiffies) at the daemon's last heartbeat,
/// written by the heartbeat program the daemon runs ([`crate::HEARTBEAT_PROGRAM_NAME`]).
pub const HEARTBEAT: &str = "HEARTBEAT";
/// Userspace → XDP: VRRP virtual MACs this host answers to (keepalived's `use_vmac`), keyed
/// by [`VmacKey`]: frames sent to one get the interface's MAC as destination before they are
/// passed, since the stack drops unicast frames for a MAC that is not the interface's.
pub const VMACS: &str = "VMACS";
/// Userspace → TC: per ifindex, the interface's own MAC ([`VmacOwner::interface_mac`]) once a
/// virtual MAC is owned there, for the ingress fix-up the XDP rewrite needs on veth.
pub const VMAC_INTERFACES: &str = "VMAC_INTERFACES";
/// XDP → userspace: per-CPU `u64` counters indexed by [`crate::Counter`].
pub const COUNTERS: &str = "COUNTERS";
/// XDP → userspace: ring buffer of [`AdvertEvent`].
pub const EVENTS: &str = "EVENTS";
/// Kernel only: each observation slot's Master_Down_Timer (a `bpf_timer` beside the
/// [`MasterDownWatch`] it serves), written by the watch program the daemon runs
/// ([`crate::MASTER_DOWN_PROGRAM_NAME`]) and by the timer's own callback.
pub const MASTER_DOWN_TIMERS: &str = "MASTER_DOWN_TIMERS";

pub const MAX_INSTANCES: u32 = 1024;
pub const MAX_VIPS: u32 = 4096;
pub const MAX_PEERS: u32 = 1024;
/// One virtual MAC per family and VRID on an interface at most, so as many as instances.
pub const MAX_VMACS: u32 = MAX_INSTANCES;
pub const MAX_VMAC_INTERFACES: u32 = 256;
/// Room for 4096 events: a burst of changes on every instance at once.
pub const EVENTS_BYTES: u32 = 4096 * 64;

/// The instance an advert belongs to: where it arrived and what it claims to be.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    /// Interface the XDP program is attached to (the frame's ingress ifindex).
    pub ifindex: u32,
    /// 802.1Q VLAN id of the frame, 0 when untagged.
    pub vlan: u16,
    pub vrid: u8,
    /// [`crate::FAMILY_V4`] or [`crate::FAMILY_V6`].
    pub family: u8,
}

/// Our role in an instance, as the XDP program needs it.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceState {
    Init = 0,
    Backup = 1,
    Master = 2,
    Fault = 3,
}

/// Flags of [`InstanceConfig::flags`].
pub mod instance_flags {
    /// Only adverts from a source in the PEERS map are accepted (unicast mode). The TTL /
    /// hop-limit 255 check is then skipped, as keepalived does for unicast peers.
    pub const REQUIRE_PEER: u8 = 1 << 0;
    /// Valid adverts are passed on to the stack after being recorded (debugging, tcpdump).
    pub const PASS_ADVERTS: u8 = 1 << 1;
    /// VRRPv3 over IPv4 checksum without the pseudo-header (RFC 9568 peers). keepalived and
    /// FRR include it, as RFC 5798 §5.2.8 says, so that is the default.
    pub const V3_CHECKSUM_NO_PSEUDO_HEADER: u8 = 1 << 2;
    /// VRRPv2 simple-text authentication (auth type 1) with [`super::InstanceConfig::auth_data`].
    pub const AUTH_PASS: u8 = 1 << 3;
}

/// Written by userspace for each instance it runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceConfig {
    /// An [`InstanceState`] value.
    pub state: u8,
    /// Our effective priority (after tracking), compared with incoming adverts while master.
    pub priority: u8,
    /// 2 or 3: adverts of another version are dropped.
    pub version: u8,
    /// [`instance_flags`].
    pub flags: u8,
    /// Index of the instance's entry in the OBSERVATIONS array (assigned by userspace).
    pub slot: u16,
    /// Changes whenever a slot is given to a new instance; an observation written under
    /// another generation is stale and reads as "nothing seen yet". Never 0 for a live slot.
    pub generation: u16,
    /// VRRPv2 PASS authentication data, zero-padded to 8 bytes as on the wire.
    pub auth_data: [u8; 8],
    /// An advert after this much silence is pushed to userspace even if nothing changed.
    pub silence_ns: u64,
}

/// Written by the XDP program for each valid advert.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the last valid advert arrived.
    pub last_advert_ns: u64,
    /// Valid adverts seen (not an exact count under concurrent receive queues).
    pub adverts: u64,
    /// Source address of the last advert.
    pub source: [u8; 16],
    pub priority: u8,
    pub _pad: u8,
    /// Advertised interval in centiseconds (VRRPv2's seconds × 100).
    pub interval_cs: u16,
    /// The [`InstanceConfig::generation`] this was written under.
    pub generation: u16,
    pub _pad2: [u8; 2],
}

/// A VIP on an interface (and VLAN).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VipKey {
    pub ifindex: u32,
    pub vlan: u16,
    pub family: u8,
    pub _pad: u8,
    pub address: [u8; 16],
}

/// How to answer for a VIP we own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipOwner {
    /// The MAC to answer with: the interface's, or the VRRP virtual MAC.
    pub mac: [u8; 6],
    pub vrid: u8,
    /// [`vip_flags`].
    pub flags: u8,
    /// Ownership lapses when the daemon's heartbeat is older than this many kernel ticks
    /// (jiffies): a hung daemon stops claiming the VIP by itself. Derived from the shortest
    /// advert interval on the interface. Ticks, not nanoseconds: the tick count is a plain
    /// memory load for the program, while a clock helper call costs it ~45 ns per frame.
    pub heartbeat_max_age_ticks: u64,
}

/// Bits of [`VipOwner::flags`].
pub mod vip_flags {
    /// Neighbour advertisements for the VIP set the Router flag (RFC 4861 §7.2.4: the
    /// interface forwards IPv6, as the kernel and keepalived decide it).
    pub const ROUTER: u8 = 1;
}

/// The first four bytes of every VRRP virtual MAC (RFC 5798 §7.3: 00-00-5E-00-01-{VRID} for
/// IPv4, 00-00-5E-00-02-{VRID} for IPv6): the XDP program looks no further into other frames.
pub const VIRTUAL_MAC_PREFIX: [u8; 4] = [0x00, 0x00, 0x5e, 0x00];

/// The VRRP virtual MAC of `vrid` for `family` ([`crate::FAMILY_V4`] or [`crate::FAMILY_V6`]).
pub const fn virtual_mac(family: u8, vrid: u8) -> [u8; 6] {
    let kind = if family == crate::FAMILY_V6 {
        0x02
    } else {
        0x01
    };
    [0x00, 0x00, 0x5e, 0x00, kind, vrid]
}

/// A virtual MAC on an interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VmacKey {
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
}

/// What to do with a frame sent to a virtual MAC we own.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmacOwner {
    /// The interface's own MAC, written as the frame's destination.
    pub interface_mac: [u8; 6],
    pub _pad: [u8; 2],
    /// As [`VipOwner::heartbeat_max_age_ticks`]: a hung daemon stops taking the MAC's frames.
    pub heartbeat_max_age_ticks: u64,
}

/// An allow-listed advert source for an instance.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PeerKey {
    pub instance: InstanceKey,
    pub address: [u8; 16],
}

/// Why an advert was pushed to userspace; a bit set, as several can hold at once.
pub mod event_reasons {
    /// First advert ever seen for the instance, or from a different source than the last one.
    pub const NEW_MASTER: u8 = 1 << 0;
    pub const PRIORITY_CHANGED: u8 = 1 << 1;
    pub const INTERVAL_CHANGED: u8 = 1 << 2;
    /// The master is resigning (RFC 5798 §6.4.2: the backup waits only Skew_Time).
    pub const PRIORITY_ZERO: u8 = 1 << 3;
    /// An advert while we are master: the state machine decides whether it preempts us or
    /// must be answered with our own advert.
    pub const WHILE_MASTER: u8 = 1 << 4;
    /// The first advert after the instance's configured silence.
    pub const AFTER_SILENCE: u8 = 1 << 5;
    /// Not an advert: the instance's Master_Down_Timer, watched in the kernel, has passed
    /// ([`super::MasterDownWatch`]). Only `ktime_ns` and `instance` are set.
    pub const MASTER_DOWN_DUE: u8 = 1 << 6;
}

/// A Backup's Master_Down_Timer as the kernel watches it, so that the daemon is not woken
/// while the Master it hears is alive: at `deadline_ns` the timer reads the slot's
/// observation, and if an advert (of the same generation) came since, moves the deadline to
/// `last_advert_ns + postpone_ns` and sleeps again; otherwise it pushes a
/// [`event_reasons::MASTER_DOWN_DUE`] event and stops.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterDownWatch {
    /// CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).
    pub deadline_ns: u64,
    /// Master_Down_Interval when adverts seen postpone the deadline; 0 when they do not (a
    /// resigned Master, one we preempt: the state machine's rule).
    pub postpone_ns: u64,
    pub instance: InstanceKey,
    /// The observation slot's [`InstanceConfig::generation`]: older observations do not count.
    pub generation: u16,
    /// 1: watch; 0: stop watching.
    pub armed: u8,
    pub _pad: [u8; 5],
}

/// What the daemon hands the watch program, as the frame it runs on (BPF_PROG_TEST_RUN).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterDownRequest {
    /// The instance's observation slot ([`InstanceConfig::slot`]), which indexes the timers.
    pub slot: u32,
    pub _pad: u32,
    pub watch: MasterDownWatch,
}

/// A valid advert the state machine needs to see.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvertEvent {
    pub ktime_ns: u64,
    /// When the advert before this one arrived (reported or not); 0 if none since the
    /// observation was last reset. A steady Master's repeats are not reported: this is how
    /// long they kept the Master_Down_Timer running.
    pub previous_ns: u64,
    pub instance: InstanceKey,
    /// [`event_reasons`].
    pub reasons: u8,
    pub priority: u8,
    /// Advertised interval in centiseconds (VRRPv2's seconds × 100).
    pub interval_cs: u16,
    pub source: [u8; 16],
    pub _pad: [u8; 4],
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are repr(C), Copy, made only of integers and byte arrays, with every
    // padding byte an explicit field, so any bit pattern is valid and none is uninitialised.
    unsafe impl aya::Pod for InstanceKey {}
    unsafe impl aya::Pod for InstanceConfig {}
    unsafe impl aya::Pod for Observation {}
    unsafe impl aya::Pod for VipKey {}
    unsafe impl aya::Pod for VipOwner {}
    unsafe impl aya::Pod for PeerKey {}
    unsafe impl aya::Pod for VmacKey {}
    unsafe impl aya::Pod for VmacOwner {}
    unsafe impl aya::Pod for AdvertEvent {}
    unsafe impl aya::Pod for MasterDownWatch {}
    unsafe impl aya::Pod for MasterDownRequest {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn layouts_have_no_implicit_padding() {
        assert_eq!(size_of::<InstanceKey>(), 8);
        assert_eq!(size_of::<InstanceConfig>(), 24);
        assert_eq!(size_of::<Observation>(), 40);
        assert_eq!(size_of::<VipKey>(), 24);
        assert_eq!(size_of::<VipOwner>(), 16);
        assert_eq!(size_of::<PeerKey>(), 24);
        assert_eq!(size_of::<AdvertEvent>(), 48);
        assert_eq!(size_of::<VmacKey>(), 12);
        assert_eq!(size_of::<VmacOwner>(), 16);
        assert_eq!(size_of::<MasterDownWatch>(), 32);
        assert_eq!(size_of::<MasterDownRequest>(), 40);
    }

    #[test]
    fn virtual_macs_follow_rfc_5798() {
        assert_eq!(virtual_mac(crate::FAMILY_V4, 51), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(crate::FAMILY_V6, 255), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(virtual_mac(crate::FAMILY_V4, 1)[..4], VIRTUAL_MAC_PREFIX);
    }
}
