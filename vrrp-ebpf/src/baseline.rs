//! The benchmarks' helper programs, built as their own object:
//! - `xvrrpd_xdp` passes every frame and does nothing else: the baseline the benchmarks
//!   measure the real program against, in the same run;
//! - `xvrrpd_redirect` sends every frame out of the interface in `REDIRECT_TO[0]`, as an XDP
//!   frame: a lab's veth then receives it the way a NIC's driver does, before any socket
//!   buffer exists.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::DevMap,
    programs::XdpContext,
};

#[map(name = "REDIRECT_TO")]
static REDIRECT_TO: DevMap = DevMap::with_max_entries(1, 0);

#[xdp]
pub fn xvrrpd_xdp(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn xvrrpd_redirect(_ctx: XdpContext) -> u32 {
    // An empty map drops: a lab that forgot to fill it sees no traffic rather than a
    // traffic that took another path.
    REDIRECT_TO.redirect(0, 0).unwrap_or(xdp_action::XDP_DROP)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
