//! Types shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-user`).
//!
//! Everything here is `#[repr(C)]` with explicit padding (hash-map keys are compared byte by
//! byte, so no byte may be left undefined) so both sides agree on the layout without
//! serialisation. The crate is `no_std`; the `user` feature adds `aya::Pod` impls.
//!
//! One writer per map: userspace writes [`maps::INSTANCES`], [`maps::VIPS`], [`maps::PEERS`],
//! [`maps::VMACS`] and [`maps::VMAC_INTERFACES`]; the daemon's heartbeat program
//! ([`HEARTBEAT_PROGRAM_NAME`], run on demand, never attached) writes [`maps::HEARTBEAT`]; the
//! XDP program writes [`maps::OBSERVATIONS`], [`maps::COUNTERS`] and [`maps::EVENTS`]; the
//! master-down program ([`MASTER_DOWN_PROGRAM_NAME`]) and its timers' callback write
//! [`maps::MASTER_DOWN_TIMERS`] (and count and push events as the XDP program does).
#![no_std]

pub mod advert;
pub mod counters;
pub mod maps;

pub use counters::Counter;

/// Protocol numbers and addresses the data plane matches on.
pub mod proto {
    pub const ETH_P_IPV4: u16 = 0x0800;
    pub const ETH_P_IPV6: u16 = 0x86dd;
    pub const ETH_P_ARP: u16 = 0x0806;
    pub const ETH_P_8021Q: u16 = 0x8100;
    /// IANA protocol number of VRRP (RFC 5798 §5.1.1.4).
    pub const IPPROTO_VRRP: u8 = 112;
    pub const IPPROTO_ICMPV6: u8 = 58;
    /// RFC 5798 §5.1.1.3 / §5.1.2.3: adverts are sent with TTL / hop limit 255 and a receiver
    /// discards anything else, so an advert cannot come from off-link.
    pub const VRRP_TTL: u8 = 255;
}

/// Name of the XDP program inside the object file.
pub const XDP_PROGRAM_NAME: &str = "xvrrpd_xdp";
/// Name of the TC ingress program that completes the XDP program's virtual-MAC rewrite.
pub const VMAC_TC_PROGRAM_NAME: &str = "xvrrpd_vmac_tc";
/// Name of the program the daemon runs (BPF_PROG_TEST_RUN) to stamp [`maps::HEARTBEAT`] with
/// the kernel's tick count: userspace cannot read that clock itself.
pub const HEARTBEAT_PROGRAM_NAME: &str = "xvrrpd_heartbeat";
/// Name of the program the daemon runs (BPF_PROG_TEST_RUN) with a
/// [`maps::MasterDownRequest`] as its frame, to arm or stop a Backup's Master_Down_Timer in
/// the kernel ([`maps::MASTER_DOWN_TIMERS`]): only a BPF program may start a `bpf_timer`.
pub const MASTER_DOWN_PROGRAM_NAME: &str = "xvrrpd_master_down";

/// Address family tags used in map keys (not the kernel's AF_* values, which differ by OS).
pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;
