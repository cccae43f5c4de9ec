//! rtnetlink on tokio: interface look-ups, the primary address, VIP add/remove, link watch.
//!
//! [`Netlink`] owns one rtnetlink connection (a task on the current tokio runtime) and is
//! cheap to clone. Every call is one request; retrying a failed one is the daemon's job, so
//! errors are typed ([`NetlinkError`]) and carry the errno when the kernel refused.
//!
//! Kernel behaviour worth knowing (checked by the namespace tests):
//! - adding an address that is there already fails with `EEXIST` and removing one that is not
//!   there with `EADDRNOTAVAIL`: both count as success here, so add/remove are idempotent. The
//!   kernel matches an address *and its prefix length*: removing 192.0.2.100/25 leaves
//!   192.0.2.100/24 in place and reports success, so remove with the prefix you added.
//! - IPv6 VIPs are added with `IFA_F_NODAD`: usable at once, never "tentative" on a link that
//!   is up (on a link without carrier the kernel keeps every new address tentative until it
//!   comes up). `IFA_F_NOPREFIXROUTE` is not set, so the kernel adds the prefix route, as it
//!   does for keepalived.
//! - Deleting the *primary* IPv4 address of a subnet deletes its secondaries too unless
//!   `net.ipv4.conf.<if>.promote_secondaries` is 1 (keepalived has the same caveat).
//! - Link notifications also come with family `AF_BRIDGE` for bridge ports (an `RTM_DELLINK`
//!   of that family only means "left the bridge"); [`LinkWatch`] ignores everything but
//!   `AF_UNSPEC`.
use std::{
    io,
    net::IpAddr,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{Stream, StreamExt, TryStreamExt};
use rtnetlink::{
    Handle,
    packet_route::{
        AddressFamily,
        address::{
            AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
        },
        link::LinkMessage,
    },
};
use tokio::{sync::mpsc, task::JoinHandle};

mod link;
#[cfg(test)]
mod tests;

use link::LinkTracker;
pub use link::{Interface, LinkEvent, Vlan};

/// An address family, for [`Netlink::primary_address`] and [`Netlink::addresses`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub fn of(addr: &IpAddr) -> IpFamily {
        match addr {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    fn netlink(self) -> AddressFamily {
        match self {
            IpFamily::V4 => AddressFamily::Inet,
            IpFamily::V6 => AddressFamily::Inet6,
        }
    }

    const fn max_prefix(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }
}

/// One address of an interface, as the kernel lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `IFA_F_*` flags (`IFA_FLAGS` when present, else the header's 8 bits).
    pub flags: u32,
}

impl Address {
    /// DAD is running (`IFA_F_TENTATIVE`) or failed (`IFA_F_DADFAILED`): not usable as a source.
    pub fn is_tentative(&self) -> bool {
        self.flags & (AddressFlags::Tentative | AddressFlags::Dadfailed).bits() != 0
    }

    /// An IPv4 secondary address (`IFA_F_SECONDARY`).
    pub fn is_secondary(&self) -> bool {
        self.flags & AddressFlags::Secondary.bits() != 0
    }

    fn from_message(msg: &AddressMessage) -> Option<Address> {
        let mut address = None;
        let mut local = None;
        let mut flags = u32::from(msg.header.flags.bits());
        for attr in &msg.attributes {
            match attr {
                AddressAttribute::Address(a) => address = Some(*a),
                // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a
                // point-to-point link and the same as IFA_LOCAL elsewhere.
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Flags(f) => flags = f.bits(),
                _ => {}
            }
        }
        Some(Address {
            addr: local.or(address)?,
            prefix_len: msg.header.prefix_len,
            flags,
        })
    }
}

/// The address the daemon sends adverts from: for IPv4 the first address of the interface
/// that is not in `exclude` (the VIPs), in the kernel's order (primaries before secondaries);
/// for IPv6 the first usable link-local one (RFC 5798 §5.1.2.1), skipping tentative ones.
pub fn select_primary(
    addresses: &[Address],
    family: IpFamily,
    exclude: &[IpAddr],
) -> Option<IpAddr> {
    addresses
        .iter()
        .filter(|a| IpFamily::of(&a.addr) == family && !exclude.contains(&a.addr))
        .find(|a| match a.addr {
            IpAddr::V4(_) => true,
            IpAddr::V6(v6) => v6.is_unicast_link_local() && !a.is_tentative(),
        })
        .map(|a| a.addr)
}

/// What an added address carries besides its prefix: keepalived's `label`, `scope` and `brd`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressOptions {
    /// `IFA_LABEL` (IPv4 only), e.g. `eth0:1`.
    pub label: Option<String>,
    /// `ifa_scope` as the kernel numbers it (global 0, site 200, link 253, host 254,
    /// nowhere 255); global when `None`.
    pub scope: Option<u8>,
    /// `IFA_BROADCAST` (IPv4 only); when `None` the one of the prefix (all host bits set),
    /// which is what the request builder sets.
    pub broadcast: Option<std::net::Ipv4Addr>,
}

impl AddressOptions {
    fn apply(&self, message: &mut AddressMessage) {
        if let Some(scope) = self.scope {
            message.header.scope = AddressScope::from(scope);
        }
        if let Some(broadcast) = self.broadcast {
            message
                .attributes
                .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
            message
                .attributes
                .push(AddressAttribute::Broadcast(broadcast));
        }
        if let Some(label) = &self.label {
            message
                .attributes
                .push(AddressAttribute::Label(label.clone()));
        }
    }
}

/// Why a netlink call failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open an rtnetlink socket: {0}")]
    Socket(#[source] io::Error),
    #[error("rtnetlink needs a tokio runtime to run its connection on")]
    NoRuntime,
    #[error("interface {0} does not exist")]
    NoSuchInterface(String),
    #[error("interface index {0} does not exist")]
    NoSuchIndex(u32),
    #[error("{addr}/{prefix_len}: prefix length out of range")]
    InvalidPrefix { addr: IpAddr, prefix_len: u8 },
    /// The kernel refused the request with an errno.
    #[error("{what}: {source}")]
    Kernel {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Anything else rtnetlink reported (unexpected message, request not sent).
    #[error("{what}: {source}")]
    Protocol {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
}

impl NetlinkError {
    /// The errno the kernel answered with, if that is what failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The positive errno of a netlink error message.
fn errno_of(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|code| code.get().abs()),
        _ => None,
    }
}

fn failed(what: String, err: rtnetlink::Error) -> NetlinkError {
    match errno_of(&err) {
        Some(errno) => NetlinkError::Kernel {
            what,
            source: io::Error::from_raw_os_error(errno),
        },
        None => NetlinkError::Protocol { what, source: err },
    }
}

/// Aborts a task when the last owner goes away.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The current tokio runtime: rtnetlink's sockets register with it when created (and panic
/// without one), and its connection runs on it.
fn runtime() -> Result<tokio::runtime::Handle, NetlinkError> {
    tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)
}

fn connect() -> Result<(RtConnection, Handle, RtMessages), NetlinkError> {
    runtime()?;
    rtnetlink::new_connection().map_err(NetlinkError::Socket)
}

type RtConnection = rtnetlink::proto::Connection<rtnetlink::packet_route::RouteNetlinkMessage>;
type RtMessages = futures::channel::mpsc::UnboundedReceiver<(
    rtnetlink::packet_core::NetlinkMessage<rtnetlink::packet_route::RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

fn spawn<F>(future: F) -> Result<AbortOnDrop, NetlinkError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Ok(AbortOnDrop(runtime()?.spawn(future)))
}

/// A handle on an rtnetlink connection. Clones share the connection, which ends when the
/// last clone (or [`LinkWatch`]) is dropped.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
    _connection: Arc<AbortOnDrop>,
}

impl Netlink {
    /// Opens the connection and spawns its task on the current tokio runtime. Sockets belong
    /// to the network namespace of the calling thread.
    pub fn new() -> Result<Netlink, NetlinkError> {
        let (connection, handle, _unsolicited) = connect()?;
        Ok(Netlink {
            handle,
            _connection: Arc::new(spawn(connection)?),
        })
    }

    /// Looks an interface up by name.
    pub async fn interface(&self, name: &str) -> Result<Interface, NetlinkError> {
        // A name the kernel cannot hold (IFNAMSIZ is 16 with the NUL) cannot exist; the
        // kernel would answer EINVAL rather than ENODEV.
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\0']) {
            return Err(NetlinkError::NoSuchInterface(name.to_owned()));
        }
        let request = self.handle.link().get().match_name(name.to_owned());
        match first(request.execute()).await {
            Ok(Some(msg)) => Ok(Interface::from_message(&msg)),
            Ok(None) => Err(NetlinkError::NoSuchInterface(name.to_owned())),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => {
                Err(NetlinkError::NoSuchInterface(name.to_owned()))
            }
            Err(e) => Err(failed(format!("looking up interface {name}"), e)),
        }
    }

    /// Looks an interface up by index.
    pub async fn interface_by_index(&self, ifindex: u32) -> Result<Interface, NetlinkError> {
        if ifindex == 0 {
            return Err(NetlinkError::NoSuchIndex(0));
        }
        let request = self.handle.link().get().match_index(ifindex);
        match first(request.execute()).await {
            Ok(Some(msg)) => Ok(Interface::from_message(&msg)),
            Ok(None) => Err(NetlinkError::NoSuchIndex(ifindex)),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Err(NetlinkError::NoSuchIndex(ifindex)),
            Err(e) => Err(failed(format!("looking up interface index {ifindex}"), e)),
        }
    }

    /// Every link of the namespace (a dump).
    pub async fn interfaces(&self) -> Result<Vec<Interface>, NetlinkError> {
        let links = self.link_messages().await?;
        Ok(links.iter().map(Interface::from_message).collect())
    }

    async fn link_messages(&self) -> Result<Vec<LinkMessage>, NetlinkError> {
        self.handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| failed("listing interfaces".to_owned(), e))
    }

    /// The addresses of `ifindex`, in the kernel's order, of one family or both.
    pub async fn addresses(
        &self,
        ifindex: u32,
        family: Option<IpFamily>,
    ) -> Result<Vec<Address>, NetlinkError> {
        let mut request = self.handle.address().get().set_link_index_filter(ifindex);
        if let Some(family) = family {
            request.message_mut().header.family = family.netlink();
        }
        let messages: Vec<AddressMessage> = request.execute().try_collect().await.map_err(|e| {
            failed(
                format!("listing the addresses of interface index {ifindex}"),
                e,
            )
        })?;
        Ok(messages
            .iter()
            .filter_map(Address::from_message)
            .filter(|a| family.is_none_or(|f| IpFamily::of(&a.addr) == f))
            .collect())
    }

    /// The address adverts go out from (see [`select_primary`]); `exclude` lists the VIPs
    /// this daemon added. `Ok(None)`: none yet (no IPv4 address, or the link-local address is
    /// still tentative: DAD takes a second or two after the link comes up).
    pub async fn primary_address(
        &self,
        ifindex: u32,
        family: IpFamily,
        exclude: &[IpAddr],
    ) -> Result<Option<IpAddr>, NetlinkError> {
        let addresses = self.addresses(ifindex, Some(family)).await?;
        Ok(select_primary(&addresses, family, exclude))
    }

    /// Adds `addr/prefix_len` to `ifindex`; success if it is there already. IPv6 addresses
    /// get `IFA_F_NODAD`.
    pub async fn add_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        self.add_address_with(ifindex, addr, prefix_len, &AddressOptions::default())
            .await
    }

    /// [`Netlink::add_address`] with a label, scope and broadcast address (keepalived's
    /// `virtual_ipaddress` options). The kernel refuses (EINVAL) an IPv4 address whose scope
    /// differs from that of the primary address of the same subnet on the interface; it takes
    /// any label (keepalived's rule that it starts with the interface name is the
    /// configuration's check). For IPv6 the kernel derives the scope from the address and
    /// ignores the one asked for.
    pub async fn add_address_with(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
        options: &AddressOptions,
    ) -> Result<(), NetlinkError> {
        check_prefix(addr, prefix_len)?;
        let mut request = self.handle.address().add(ifindex, addr, prefix_len);
        let message = request.message_mut();
        if addr.is_ipv6() {
            message.header.flags = AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        options.apply(message);
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) => match errno_of(&e) {
                Some(libc::EEXIST) => Ok(()),
                Some(libc::ENODEV) => Err(NetlinkError::NoSuchIndex(ifindex)),
                _ => Err(failed(
                    format!("adding {addr}/{prefix_len} to interface index {ifindex}"),
                    e,
                )),
            },
        }
    }

    /// Removes `addr/prefix_len` from `ifindex`; success if it is not there.
    pub async fn remove_address(
        &self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        check_prefix(addr, prefix_len)?;
        let mut message = AddressMessage::default();
        message.header.family = IpFamily::of(&addr).netlink();
        message.header.prefix_len = prefix_len;
        message.header.index = ifindex;
        message.attributes.push(AddressAttribute::Address(addr));
        if addr.is_ipv4() {
            message.attributes.push(AddressAttribute::Local(addr));
        }
        match self.handle.address().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(e) => match errno_of(&e) {
                Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ESRCH) => Ok(()),
                Some(libc::ENODEV) => Err(NetlinkError::NoSuchIndex(ifindex)),
                _ => Err(failed(
                    format!("removing {addr}/{prefix_len} from interface index {ifindex}"),
                    e,
                )),
            },
        }
    }

    /// Subscribes to link notifications (`RTMGRP_LINK`). The first events are the current
    /// state of every link (so nothing that changed before the subscription is missed); then
    /// one event per change of a link's up/down state or name, and one per removal. If the
    /// kernel drops notifications (socket buffer overrun), the watch lists the links again
    /// and reports the differences. The stream ends if the netlink socket fails: subscribe
    /// again.
    pub async fn watch_links(&self) -> Result<LinkWatch, NetlinkError> {
        use rtnetlink::sys::{AsyncSocket, SocketAddr};
        let (mut connection, handle, mut messages) = connect()?;
        let socket = connection.socket_mut().socket_mut();
        socket
            .bind(&SocketAddr::new(0, rtnetlink::constants::RTMGRP_LINK))
            .map_err(NetlinkError::Socket)?;
        // Best effort: a larger buffer makes overruns rarer; they are handled anyway.
        let _ = socket.set_rx_buf_sz(1 << 20);
        // No requests go over this socket: the dumps below use the main connection, so an
        // overrun can never be mistaken for the answer to a request.
        drop(handle);
        let listener = spawn(connection)?;

        let mut tracker = LinkTracker::default();
        let initial = tracker.resync(&self.link_messages().await?);
        let (tx, rx) = mpsc::channel(256);
        let netlink = self.clone();
        let forwarder = spawn(async move {
            for event in initial {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
            while let Some((message, _)) = messages.next().await {
                let events = match tracker.handle(&message.payload) {
                    Some(events) => events,
                    None => match netlink.link_messages().await {
                        Ok(links) => tracker.resync(&links),
                        Err(err) => {
                            tracing::warn!(
                                "link watch: netlink overrun, and listing links failed: {err}"
                            );
                            Vec::new()
                        }
                    },
                };
                for event in events {
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
            }
            tracing::warn!("link watch: the netlink socket closed");
        })?;
        Ok(LinkWatch {
            events: rx,
            _tasks: [listener, forwarder],
        })
    }
}

/// The first item of a request's answer.
async fn first<S>(stream: S) -> Result<Option<S::Ok>, S::Error>
where
    S: futures::TryStream,
{
    let mut stream = std::pin::pin!(stream.into_stream());
    stream.next().await.transpose()
}

fn check_prefix(addr: IpAddr, prefix_len: u8) -> Result<(), NetlinkError> {
    // rtnetlink computes the IPv4 broadcast with a shift that overflows past 32.
    if prefix_len > IpFamily::of(&addr).max_prefix() {
        return Err(NetlinkError::InvalidPrefix { addr, prefix_len });
    }
    Ok(())
}

/// Link events from [`Netlink::watch_links`]; a [`Stream`], or use [`LinkWatch::recv`].
/// Dropping it stops the watch.
#[derive(Debug)]
pub struct LinkWatch {
    events: mpsc::Receiver<LinkEvent>,
    _tasks: [AbortOnDrop; 2],
}

impl LinkWatch {
    /// The next event; `None` once the watch has ended.
    pub async fn recv(&mut self) -> Option<LinkEvent> {
        self.events.recv().await
    }
}

impl Stream for LinkWatch {
    type Item = LinkEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<LinkEvent>> {
        self.events.poll_recv(cx)
    }
}

/// Whether `interface` forwards IPv6 (its `forwarding` sysctl), read at each call as keepalived
/// reads it for each unsolicited NA: a router's neighbour advertisements set the Router flag
/// (RFC 4861 §7.2.4), and a host that saw it set treats a later clear one as the router gone.
/// `false` if it cannot be read (no IPv6 on the interface).
pub fn ipv6_forwarding(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|value| value.trim() != "0")
}
