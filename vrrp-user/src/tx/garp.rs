//! Gratuitous ARP (IPv4 VIPs) and unsolicited neighbour advertisements (IPv6 VIPs), sent as
//! whole Ethernet frames through an AF_PACKET socket, as keepalived sends them on becoming
//! Master (RFC 5798 §6.4.1, §6.4.2).
use std::{
    io, mem,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    ptr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{TxError, setup};
use crate::wire::{self, MacAddr, VlanTag, ethernet::ethertype};

/// The frame announcing `vip` at `mac`, and the EtherType to give the kernel for it:
/// a broadcast gratuitous ARP request (keepalived's), or an unsolicited NA to all nodes from
/// the VIP with Override set and the Router flag as `router` says (keepalived sets it when the
/// interface forwards IPv6). `vlan`: only when sending on the parent of a VLAN device; on the
/// VLAN device itself pass `None` and the kernel adds the tag.
pub fn announcement(
    mac: MacAddr,
    vlan: Option<VlanTag>,
    vip: IpAddr,
    router: bool,
) -> Result<(u16, Vec<u8>), wire::Error> {
    let (inner, frame) = match vip {
        IpAddr::V4(ip) => (ethertype::ARP, wire::arp::gratuitous_frame(mac, ip, vlan)?),
        IpAddr::V6(ip) => (
            ethertype::IPV6,
            wire::ndp::unsolicited_na_frame(mac, ip, router, vlan)?,
        ),
    };
    Ok((
        if vlan.is_some() {
            ethertype::VLAN
        } else {
            inner
        },
        frame,
    ))
}

/// What a burst did.
#[derive(Debug, Default)]
pub struct BurstReport {
    /// Frames sent.
    pub sent: usize,
    /// One per frame not built or not sent.
    pub errors: Vec<TxError>,
}

impl BurstReport {
    /// The count sent, or the first error.
    pub fn into_result(self) -> Result<usize, TxError> {
        match self.errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(self.sent),
        }
    }
}

/// Sends VIP announcements out of one interface. The AF_PACKET socket is bound to the
/// interface with protocol 0, so it receives nothing.
#[derive(Debug)]
pub struct Garp {
    socket: Socket,
    interface: String,
    ifindex: i32,
    mac: MacAddr,
    vlan: Option<VlanTag>,
}

impl Garp {
    /// `interface` names it in errors; `mac` is the source: the interface's MAC, or with
    /// `use_vmac` the virtual MAC (RFC 5798 §7.3), which switches then learn at this port;
    /// `vlan` as for [`announcement`].
    pub fn open(
        interface: &str,
        ifindex: u32,
        mac: MacAddr,
        vlan: Option<VlanTag>,
    ) -> Result<Garp, TxError> {
        let ifindex = match i32::try_from(ifindex) {
            Ok(index) if index > 0 => index,
            _ => {
                return Err(TxError::Config {
                    interface: interface.to_owned(),
                    reason: format!("interface index {ifindex}"),
                });
            }
        };
        let what = "opening an AF_PACKET socket (needs CAP_NET_RAW)";
        let socket = setup(
            interface,
            what,
            Socket::new(Domain::PACKET, Type::RAW, None),
        )?;
        let bound = link_addr(ifindex, 0, MacAddr::ZERO).and_then(|addr| socket.bind(&addr));
        setup(interface, "binding the AF_PACKET socket", bound)?;
        setup(
            interface,
            "setting O_NONBLOCK",
            socket.set_nonblocking(true),
        )?;
        Ok(Garp {
            socket,
            interface: interface.to_owned(),
            ifindex,
            mac,
            vlan,
        })
    }

    /// Sends one gratuitous ARP (IPv4 `vip`) or unsolicited NA (IPv6 `vip`).
    pub fn announce(&self, vip: IpAddr) -> Result<(), TxError> {
        let (ethertype, frame) = self.frame(vip)?;
        self.send_frame(vip, ethertype, &frame)
    }

    /// `repeat` rounds of one announcement per VIP, every message `interval` after the one
    /// before (no pause when zero).
    /// A VIP that fails does not stop the others. Each frame sent is also added to `tally` as
    /// it leaves, so a burst dropped halfway is counted for what it sent.
    pub async fn send_burst(
        &self,
        vips: &[IpAddr],
        repeat: u32,
        interval: Duration,
        tally: &AtomicU64,
    ) -> BurstReport {
        let mut report = BurstReport::default();
        let mut frames = Vec::with_capacity(vips.len());
        for &vip in vips {
            match self.frame(vip) {
                Ok((ethertype, frame)) => frames.push((vip, ethertype, frame)),
                Err(err) => report.errors.push(err),
            }
        }
        let mut first = true;
        for _ in 0..repeat {
            for (vip, ethertype, frame) in &frames {
                // keepalived's vrrp_garp_interval: between any two messages on the interface.
                if !first && !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
                first = false;
                match self.send_frame(*vip, *ethertype, frame) {
                    Ok(()) => {
                        report.sent += 1;
                        tally.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => report.errors.push(err),
                }
            }
        }
        report
    }

    fn frame(&self, vip: IpAddr) -> Result<(u16, Vec<u8>), TxError> {
        let router = vip.is_ipv6() && crate::netlink::ipv6_forwarding(&self.interface);
        announcement(self.mac, self.vlan, vip, router).map_err(|source| TxError::Encode {
            interface: self.interface.clone(),
            what: what(vip),
            addr: vip,
            source,
        })
    }

    fn send_frame(&self, vip: IpAddr, ethertype: u16, frame: &[u8]) -> Result<(), TxError> {
        let dst = MacAddr::from_slice(frame).unwrap_or(MacAddr::BROADCAST);
        let sent = link_addr(self.ifindex, ethertype, dst).and_then(|addr| {
            loop {
                match self.socket.send_to(frame, &addr) {
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    result => break result,
                }
            }
        });
        sent.map(drop).map_err(|source| TxError::Send {
            interface: self.interface.clone(),
            what: what(vip),
            addr: vip,
            source,
        })
    }
}

fn what(vip: IpAddr) -> &'static str {
    match vip {
        IpAddr::V4(_) => "the gratuitous ARP for",
        IpAddr::V6(_) => "the unsolicited NA for",
    }
}

/// A `sockaddr_ll` for `ifindex`: protocol `ethertype` (host order), destination `dst`.
pub(super) fn link_addr(ifindex: i32, ethertype: u16, dst: MacAddr) -> io::Result<SockAddr> {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
    let mut ll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ethertype.to_be();
    ll.sll_ifindex = ifindex;
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&dst.0);
    let len = mem::size_of::<libc::sockaddr_ll>();
    // SAFETY: the storage is a sockaddr_storage, larger than a sockaddr_ll; we write exactly
    // `len` bytes and report that length.
    let (_, addr) = unsafe {
        SockAddr::try_init(|storage, length| {
            ptr::copy_nonoverlapping((&raw const ll).cast::<u8>(), storage.cast::<u8>(), len);
            *length = len as libc::socklen_t;
            Ok(())
        })
    }?;
    Ok(addr)
}

/// One gratuitous ARP for `vip` out of `ifindex` (a one-off socket; use [`Garp`] for bursts).
pub fn announce_v4(
    ifindex: u32,
    mac: MacAddr,
    vip: Ipv4Addr,
    vlan: Option<VlanTag>,
) -> Result<(), TxError> {
    let name = format!("interface index {ifindex}");
    Garp::open(&name, ifindex, mac, vlan)?.announce(vip.into())
}

/// One unsolicited NA for `vip` out of `ifindex` (a one-off socket; use [`Garp`] for bursts).
pub fn announce_v6(
    ifindex: u32,
    mac: MacAddr,
    vip: Ipv6Addr,
    vlan: Option<VlanTag>,
) -> Result<(), TxError> {
    let name = format!("interface index {ifindex}");
    Garp::open(&name, ifindex, mac, vlan)?.announce(vip.into())
}
