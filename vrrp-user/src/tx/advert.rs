//! VRRP adverts through a raw IP socket of protocol 112: the kernel builds the IP header
//! (TTL / hop limit 255, TOS / traffic class 0xc0, as keepalived sends them), we build the
//! VRRP message and its checksum with [`crate::wire`].
//!
//! Multicast adverts may leave instead as whole Ethernet frames through AF_PACKET
//! ([`AdvertSender::open_from_mac`]), built by [`crate::wire::emit_advert_frame`] with the
//! headers the kernel would have written, from the virtual MAC (`use_vmac`, which the kernel
//! would not use as source) or the interface's. The daemon sends them so: it skips the kernel's
//! IP output path, which is most of a sender's cost per advert.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6},
    num::NonZeroU32,
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    sync::atomic::{AtomicU16, Ordering},
};

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};

use super::{
    TxError,
    garp::link_addr,
    mmsg,
    pacer::{Datagram, Outlet},
    set_option, setup,
};
use crate::wire::{
    self, ADVERT_TOS, ChecksumMode, FrameInfo, IpInfo, IpPair, MacAddr, VrrpPacket, VrrpRepr,
    ethernet::ethertype,
    vrrp::{MULTICAST_V4, MULTICAST_V6, PROTOCOL, TTL},
};

/// Where and how an [`AdvertSender`] sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// The interface name: for `SO_BINDTODEVICE` on kernels without `SO_BINDTOIFINDEX`, and
    /// for error messages.
    pub interface: String,
    pub ifindex: u32,
    /// The source address, an address of the interface: the primary IPv4 address, or the
    /// IPv6 link-local address (required for multicast, RFC 5798 §5.1.2.1).
    pub source: IpAddr,
    /// Unicast peers (keepalived's `unicast_peer`), of the source's family. Empty: multicast
    /// to 224.0.0.18 / ff02::12.
    pub peers: Vec<IpAddr>,
}

impl SenderConfig {
    /// Checks the configuration and returns the destinations adverts go to.
    pub fn destinations(&self) -> Result<Vec<IpAddr>, TxError> {
        let fail = |reason: String| {
            Err(TxError::Config {
                interface: self.interface.clone(),
                reason,
            })
        };
        let source = self.source;
        if self.ifindex == 0 {
            return fail("interface index 0".to_owned());
        }
        if source.is_unspecified() || source.is_multicast() {
            return fail(format!("advert source {source} is not a unicast address"));
        }
        for peer in &self.peers {
            if peer.is_ipv4() != source.is_ipv4() {
                return fail(format!(
                    "peer {peer} is not of the family of the source {source}"
                ));
            }
            if peer.is_unspecified() || peer.is_multicast() {
                return fail(format!("peer {peer} is not a unicast address"));
            }
        }
        if !self.peers.is_empty() {
            return Ok(self.peers.clone());
        }
        match source {
            IpAddr::V4(_) => Ok(vec![MULTICAST_V4.into()]),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Ok(vec![MULTICAST_V6.into()]),
            IpAddr::V6(_) => fail(format!(
                "IPv6 adverts to ff02::12 must come from the link-local address \
                 (RFC 5798 §5.1.2.1), not {source}"
            )),
        }
    }
}

/// The VRRP message of `advert` sent from `src` to `dst`, checksum included: the
/// pseudo-header (IPv6, or IPv4 in [`ChecksumMode::PseudoHeader`]) uses the actual
/// destination, a unicast peer's address included, as keepalived does.
pub fn build_advert(
    advert: &VrrpRepr,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<Vec<u8>, wire::Error> {
    let ip = match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => IpPair::V4 { src, dst },
        (IpAddr::V6(src), IpAddr::V6(dst)) => IpPair::V6 { src, dst },
        _ => return Err(wire::Error::AddressFamilyMismatch),
    };
    let mut buf = vec![0u8; advert.buffer_len()];
    advert.emit(&mut VrrpPacket::new_unchecked(&mut buf[..]), &ip, mode)?;
    Ok(buf)
}

/// What a batch did: datagrams sent, and one error per datagram that was not.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub sent: usize,
    pub errors: Vec<TxError>,
}

impl BatchReport {
    /// The count sent, or the first error.
    pub fn into_result(self) -> Result<usize, TxError> {
        match self.errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(self.sent),
        }
    }
}

/// A raw socket sending one interface's adverts, from one source address, to the VRRP
/// multicast group or to each unicast peer.
///
/// Socket set-up: `IP_TTL`/`IP_MULTICAST_TTL` 255, `IP_TOS` 0xc0, DF clear (as keepalived),
/// `IP_MULTICAST_LOOP` off (the daemon must not hear itself), `IP_MULTICAST_IF` by index;
/// IPv6: `IPV6_UNICAST_HOPS`/`IPV6_MULTICAST_HOPS` 255, `IPV6_TCLASS` 0xc0,
/// `IPV6_MULTICAST_LOOP` off, `IPV6_MULTICAST_IF`; `IPV6_CHECKSUM` stays off (the VRRP
/// checksum is ours). Both: bound to the device and to the source address, a BPF filter that
/// drops everything (a raw socket receives every VRRP packet otherwise), non-blocking.
#[derive(Debug)]
pub struct AdvertSender {
    socket: Socket,
    interface: String,
    source: IpAddr,
    destinations: Vec<(IpAddr, SockAddr)>,
    /// Set when adverts leave as whole frames, from the virtual MAC or the interface's.
    link: Option<LinkLayer>,
}

/// Which IPv4 ID a frame is built with.
#[derive(Clone, Copy, Debug)]
enum Ident {
    /// The sender's next: the frame leaves now.
    Next,
    /// None yet: [`Outlet::restamp`] gives it one before each sending, so that the IDs on the
    /// wire count up by one without gaps.
    Restamped,
}

/// What an AF_PACKET sender writes below the VRRP message.
#[derive(Debug)]
struct LinkLayer {
    src_mac: MacAddr,
    /// The IPv4 ID of the next advert: from 1, one more per advert, as keepalived's.
    ident: AtomicU16,
}

impl AdvertSender {
    pub fn open(config: &SenderConfig) -> Result<AdvertSender, TxError> {
        let destinations = config.destinations()?;
        let socket = match config.source {
            IpAddr::V4(src) => open_v4(config, src)?,
            IpAddr::V6(src) => open_v6(config, src)?,
        };
        Ok(AdvertSender {
            socket,
            interface: config.interface.clone(),
            source: config.source,
            destinations: destinations
                .into_iter()
                .map(|dst| (dst, sockaddr(dst, config.ifindex)))
                .collect(),
            link: None,
        })
    }

    /// A sender whose multicast adverts come from `src_mac` (the virtual MAC, RFC 5798 §7.3, or
    /// the interface's), sent through an AF_PACKET socket bound to the interface. Unicast adverts (`peers`) are
    /// left to [`AdvertSender::open`]'s raw socket, from the interface's MAC: the kernel
    /// resolves the peers' MACs, which a frame sender would have to do itself.
    pub fn open_from_mac(config: &SenderConfig, src_mac: MacAddr) -> Result<AdvertSender, TxError> {
        let destinations = config.destinations()?;
        if !config.peers.is_empty() {
            return AdvertSender::open(config);
        }
        let ifindex = i32::try_from(config.ifindex).unwrap_or(0);
        let name = config.interface.as_str();
        let socket = setup(
            name,
            "opening an AF_PACKET socket (needs CAP_NET_RAW)",
            Socket::new(Domain::PACKET, Type::RAW, None),
        )?;
        // Protocol 0: bound to the interface to send, it receives nothing.
        let bound = link_addr(ifindex, 0, MacAddr::ZERO).and_then(|addr| socket.bind(&addr));
        setup(name, "binding the AF_PACKET socket", bound)?;
        setup(name, "setting O_NONBLOCK", socket.set_nonblocking(true))?;
        let mut resolved = Vec::with_capacity(destinations.len());
        for dst in destinations {
            let (mac, ethertype) = match dst {
                IpAddr::V4(group) => (MacAddr::ipv4_multicast(group), ethertype::IPV4),
                IpAddr::V6(group) => (MacAddr::ipv6_multicast(group), ethertype::IPV6),
            };
            let addr = link_addr(ifindex, ethertype, mac);
            resolved.push((dst, setup(name, "addressing the VRRP group", addr)?));
        }
        Ok(AdvertSender {
            socket,
            interface: config.interface.clone(),
            source: config.source,
            destinations: resolved,
            link: Some(LinkLayer {
                src_mac,
                ident: AtomicU16::new(1),
            }),
        })
    }

    /// The source MAC of whole-frame adverts, if this sender writes them.
    pub fn source_mac(&self) -> Option<MacAddr> {
        self.link.as_ref().map(|link| link.src_mac)
    }

    /// The bytes handed to the kernel for `advert` to `dst`: the VRRP message, or with a
    /// virtual MAC the whole frame. An IPv4 frame takes the sender's next IP ID if `ident` says
    /// so ([`Ident::Next`]); one built to be restamped before each sending leaves it.
    fn datagram(
        &self,
        advert: &VrrpRepr,
        dst: IpAddr,
        checksum: ChecksumMode,
        ident: Ident,
    ) -> Result<Vec<u8>, wire::Error> {
        let Some(link) = &self.link else {
            return build_advert(advert, self.source, dst, checksum);
        };
        let (dst_mac, ip) = match (self.source, dst) {
            (IpAddr::V4(src), IpAddr::V4(group)) => {
                let ident = match ident {
                    Ident::Next => link.ident.fetch_add(1, Ordering::Relaxed),
                    Ident::Restamped => 0,
                };
                let ip = IpInfo::advert_v4(src, group, ident);
                (MacAddr::ipv4_multicast(group), ip)
            }
            (IpAddr::V6(src), IpAddr::V6(group)) => (
                MacAddr::ipv6_multicast(group),
                IpInfo::advert_v6(src, group, 0),
            ),
            _ => return Err(wire::Error::AddressFamilyMismatch),
        };
        let info = FrameInfo {
            src_mac: link.src_mac,
            dst_mac,
            vlan: None,
            ip,
        };
        wire::emit_advert_frame(&info, advert, checksum)
    }

    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The multicast group, or the unicast peers.
    pub fn destinations(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.destinations.iter().map(|(dst, _)| *dst)
    }

    /// Sends `advert` to every destination. One failed destination does not stop the
    /// others; the first error is returned.
    pub fn send(&self, advert: &VrrpRepr, checksum: ChecksumMode) -> Result<(), TxError> {
        self.send_batch(std::slice::from_ref(advert), checksum)
            .into_result()
            .map(drop)
    }

    /// `advert`'s datagrams to every destination, built once to be sent again and again
    /// ([`Outlet::restamp`] before each sending).
    pub fn datagrams(
        &self,
        advert: &VrrpRepr,
        checksum: ChecksumMode,
    ) -> Result<Vec<Datagram>, TxError> {
        let mut datagrams = Vec::with_capacity(self.destinations.len());
        for (dst, to) in &self.destinations {
            let built = self.datagram(advert, *dst, checksum, Ident::Restamped);
            let bytes = built.map_err(|source| TxError::Encode {
                interface: self.interface.clone(),
                what: "the advert to",
                addr: *dst,
                source,
            })?;
            datagrams.push(Datagram {
                dst: *dst,
                to: to.clone(),
                bytes,
            });
        }
        Ok(datagrams)
    }

    /// Sends every advert (several VRIDs on this interface, say) to every destination, in
    /// as few `sendmmsg` calls as possible (one up to 1024 datagrams).
    pub fn send_batch(&self, adverts: &[VrrpRepr], checksum: ChecksumMode) -> BatchReport {
        let mut report = BatchReport::default();
        let mut datagrams = Vec::with_capacity(adverts.len() * self.destinations.len());
        for advert in adverts {
            for (dst, addr) in &self.destinations {
                match self.datagram(advert, *dst, checksum, Ident::Next) {
                    Ok(payload) => datagrams.push((*dst, addr, payload)),
                    Err(source) => report.errors.push(TxError::Encode {
                        interface: self.interface.clone(),
                        what: "the advert to",
                        addr: *dst,
                        source,
                    }),
                }
            }
        }
        let messages: Vec<(&SockAddr, &[u8])> = datagrams
            .iter()
            .map(|(_, addr, payload)| (*addr, &payload[..]))
            .collect();
        let failures = mmsg::send_all(&self.socket, &messages);
        report.sent = messages.len() - failures.len();
        report
            .errors
            .extend(failures.into_iter().map(|(i, source)| TxError::Send {
                interface: self.interface.clone(),
                what: "the advert to",
                addr: datagrams[i].0,
                source,
            }));
        report
    }
}

/// A Master's periodic adverts, sent by the pacer: whole frames through its socket, IP
/// datagrams through this sender's.
impl Outlet for AdvertSender {
    fn own_socket(&self) -> Option<&Socket> {
        self.link.is_none().then_some(&self.socket)
    }

    fn restamp(&self, datagram: &mut [u8]) {
        let Some(link) = self.link.as_ref().filter(|_| self.source.is_ipv4()) else {
            return;
        };
        let ident = link.ident.fetch_add(1, Ordering::Relaxed);
        // Fails only on a frame this sender did not build.
        let _ = wire::restamp_ipv4_ident(datagram, ident);
    }

    fn interface(&self) -> &str {
        &self.interface
    }
}

impl AsFd for AdvertSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for AdvertSender {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// The kernel's address for `dst`; link-scoped IPv6 destinations need the interface.
pub(super) fn sockaddr(dst: IpAddr, ifindex: u32) -> SockAddr {
    match dst {
        IpAddr::V4(a) => SocketAddrV4::new(a, 0).into(),
        IpAddr::V6(a) => {
            SocketAddrV6::new(a, 0, 0, if link_scoped(&a) { ifindex } else { 0 }).into()
        }
    }
}

/// fe80::/10, or a multicast group of interface- or link-local scope (ff01::/16, ff02::/16).
pub(super) fn link_scoped(a: &Ipv6Addr) -> bool {
    a.is_unicast_link_local() || (a.is_multicast() && a.segments()[0] & 0x000f <= 2)
}

fn raw_socket(config: &SenderConfig, domain: Domain) -> Result<Socket, TxError> {
    let what = "opening a raw socket for IP protocol 112 (needs CAP_NET_RAW)";
    let protocol = Protocol::from(i32::from(PROTOCOL));
    setup(
        &config.interface,
        what,
        Socket::new(domain, Type::RAW, Some(protocol)),
    )
}

fn open_v4(config: &SenderConfig, src: Ipv4Addr) -> Result<Socket, TxError> {
    let name = config.interface.as_str();
    let socket = raw_socket(config, Domain::IPV4)?;
    setup(name, "setting IP_TTL", socket.set_ttl_v4(TTL.into()))?;
    setup(
        name,
        "setting IP_MULTICAST_TTL",
        socket.set_multicast_ttl_v4(TTL.into()),
    )?;
    setup(name, "setting IP_TOS", socket.set_tos_v4(ADVERT_TOS.into()))?;
    setup(
        name,
        "setting IP_MULTICAST_LOOP",
        socket.set_multicast_loop_v4(false),
    )?;
    let ifindex = i32::try_from(config.ifindex).unwrap_or(i32::MAX);
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr {
            s_addr: u32::from_ne_bytes(src.octets()),
        },
        imr_ifindex: ifindex,
    };
    let multicast_if = set_option(&socket, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreqn);
    setup(name, "setting IP_MULTICAST_IF", multicast_if)?;
    // A raw socket would set DF (path MTU discovery); keepalived's adverts have it clear.
    let pmtu = set_option(
        &socket,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        &libc::IP_PMTUDISC_DONT,
    );
    setup(name, "setting IP_MTU_DISCOVER", pmtu)?;
    bind_device(&socket, config, false)?;
    let bound = socket.bind(&SocketAddrV4::new(src, 0).into());
    setup(name, &format!("binding to {src}"), bound)?;
    finish(socket, name)
}

fn open_v6(config: &SenderConfig, src: Ipv6Addr) -> Result<Socket, TxError> {
    let name = config.interface.as_str();
    let socket = raw_socket(config, Domain::IPV6)?;
    setup(
        name,
        "setting IPV6_UNICAST_HOPS",
        socket.set_unicast_hops_v6(TTL.into()),
    )?;
    setup(
        name,
        "setting IPV6_MULTICAST_HOPS",
        socket.set_multicast_hops_v6(TTL.into()),
    )?;
    setup(
        name,
        "setting IPV6_TCLASS",
        socket.set_tclass_v6(ADVERT_TOS.into()),
    )?;
    setup(
        name,
        "setting IPV6_MULTICAST_LOOP",
        socket.set_multicast_loop_v6(false),
    )?;
    setup(
        name,
        "setting IPV6_MULTICAST_IF",
        socket.set_multicast_if_v6(config.ifindex),
    )?;
    bind_device(&socket, config, true)?;
    let scope = if link_scoped(&src) { config.ifindex } else { 0 };
    let bound = socket.bind(&SocketAddrV6::new(src, 0, 0, scope).into());
    setup(name, &format!("binding to {src}"), bound)?;
    finish(socket, name)
}

/// `SO_BINDTOIFINDEX` (Linux 5.0), or `SO_BINDTODEVICE` by name on older kernels.
fn bind_device(socket: &Socket, config: &SenderConfig, v6: bool) -> Result<(), TxError> {
    let index = NonZeroU32::new(config.ifindex);
    let by_index = if v6 {
        socket.bind_device_by_index_v6(index)
    } else {
        socket.bind_device_by_index_v4(index)
    };
    match by_index {
        Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => setup(
            &config.interface,
            "setting SO_BINDTODEVICE",
            socket.bind_device(Some(config.interface.as_bytes())),
        ),
        result => setup(&config.interface, "setting SO_BINDTOIFINDEX", result),
    }
}

/// Drop-everything filter (`ret #0`) and non-blocking mode.
fn finish(socket: Socket, name: &str) -> Result<Socket, TxError> {
    const BPF_RET_K: u16 = 0x06;
    let filter = [SockFilter::new(BPF_RET_K, 0, 0, 0)];
    setup(
        name,
        "attaching the drop-all filter",
        socket.attach_filter(&filter),
    )?;
    setup(name, "setting O_NONBLOCK", socket.set_nonblocking(true))?;
    Ok(socket)
}
