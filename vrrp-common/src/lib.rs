//! Types shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-user`).
//!
//! Everything here is `#[repr(C)]` or a plain integer so both sides agree on the layout
//! without serialisation. The crate is `no_std`; the `user` feature adds `aya::Pod` impls.
#![no_std]

/// Protocol numbers and addresses the data plane matches on.
pub mod proto {
    pub const ETH_P_IPV4: u16 = 0x0800;
    pub const ETH_P_IPV6: u16 = 0x86dd;
    pub const ETH_P_ARP: u16 = 0x0806;
    pub const ETH_P_8021Q: u16 = 0x8100;
    /// IANA protocol number of VRRP (RFC 5798 §5.1.1.4).
    pub const IPPROTO_VRRP: u8 = 112;
}

/// Name of the XDP program inside the object file.
pub const XDP_PROGRAM_NAME: &str = "xvrrpd_xdp";
/// Name of the per-CPU counter array.
pub const COUNTERS_MAP_NAME: &str = "COUNTERS";

/// Indices into the per-CPU `COUNTERS` array: one slot per reason a frame took a path.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Frames the program looked at.
    Frames = 0,
    /// Frames too short for the header they claim to carry.
    Truncated = 1,
    /// IPv4 frames carrying IP protocol 112.
    VrrpV4 = 2,
    /// IPv6 frames carrying next header 112.
    VrrpV6 = 3,
    /// ARP frames.
    Arp = 4,
    /// Everything else, passed untouched.
    Passed = 5,
}

impl Counter {
    /// Number of slots the counter array must have.
    pub const COUNT: u32 = 6;
    pub const ALL: [Counter; Self::COUNT as usize] = [
        Counter::Frames,
        Counter::Truncated,
        Counter::VrrpV4,
        Counter::VrrpV6,
        Counter::Arp,
        Counter::Passed,
    ];

    pub const fn index(self) -> u32 {
        self as u32
    }
}
