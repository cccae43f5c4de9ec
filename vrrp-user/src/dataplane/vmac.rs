//! What a host must do, besides the XDP map, to receive a VRRP virtual MAC on an interface it
//! did not give that MAC to (keepalived's `use_vmac`, without a macvlan).
//!
//! - The NIC's hardware filter must let the MAC's frames in: the MAC goes on the interface's
//!   unicast address list (`dev_uc_add`), through the kernel's default `ndo_fdb_add` — what
//!   `bridge fdb add MAC dev IF self permanent` does — and comes off it when disowned. Devices
//!   without a unicast filter (veth) go promiscuous instead, which the kernel arranges.
//! - The kernel's own ARP requests must not name the VIP: were they sent from a VIP (the source
//!   of a reply to a client it has no neighbour entry for, as XDP answered the client's ARP),
//!   they would carry the interface's MAC, and every neighbour would re-learn the VIP at that
//!   MAC. `arp_announce = 2` makes the kernel name the interface's primary address instead;
//!   the old value comes back when the last virtual MAC of the interface is disowned.
//!
//! Both are synchronous: one netlink request and one sysctl write per change of mastership.
use std::{collections::HashMap, fs, io, path::PathBuf};

use rtnetlink::{
    packet_core::{
        NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
        NetlinkPayload,
    },
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        neighbour::{NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState},
    },
    sys::{SocketAddr, protocols::NETLINK_ROUTE},
};

/// Adds `mac` to the unicast address list of `ifindex`. Already there is not an error.
pub fn add_unicast_address(ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    let message = RouteNetlinkMessage::NewNeighbour(fdb_entry(ifindex, mac));
    match request(
        message,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Err(err) if err.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        result => result,
    }
}

/// Removes `mac` from the unicast address list of `ifindex`. Not there is not an error.
pub fn remove_unicast_address(ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    let message = RouteNetlinkMessage::DelNeighbour(fdb_entry(ifindex, mac));
    match request(message, NLM_F_REQUEST | NLM_F_ACK) {
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        result => result,
    }
}

/// A permanent forwarding-database entry of the device itself (`NTF_SELF`): for a device that
/// is not a bridge port, the kernel's default handler puts the MAC on the unicast list.
fn fdb_entry(ifindex: u32, mac: [u8; 6]) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = ifindex;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLocalAddress(mac.to_vec()));
    message
}

/// Sends one rtnetlink request and waits for its acknowledgement.
fn request(message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = 1;
    let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    message.finalize();
    let mut bytes = vec![0u8; message.buffer_len()];
    message.serialize(&mut bytes);

    let mut socket = rtnetlink::sys::Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    socket.send(&bytes, 0)?;
    let mut reply = Vec::with_capacity(8192);
    socket.recv(&mut reply, 0)?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))?;
    match reply.payload {
        NetlinkPayload::Error(error) if error.code.is_some() => Err(error.to_io()),
        NetlinkPayload::Error(_) => Ok(()),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected rtnetlink reply {other:?}"),
        )),
    }
}

/// `arp_announce = 2` on interfaces while they carry a virtual MAC, with the value each had
/// before, restored when its last virtual MAC goes (and when this is dropped).
#[derive(Debug, Default)]
pub struct ArpAnnounce {
    /// Per interface name: the value found, and how many virtual MACs need the setting.
    saved: HashMap<String, (String, usize)>,
}

/// Use the interface's best (primary) address for the target's subnet as ARP sender.
const ANNOUNCE_BEST_LOCAL: &str = "2";

impl ArpAnnounce {
    pub fn hold(&mut self, interface: &str) -> io::Result<()> {
        if let Some((_, users)) = self.saved.get_mut(interface) {
            *users += 1;
            return Ok(());
        }
        let path = sysctl(interface);
        let old = fs::read_to_string(&path)?.trim().to_owned();
        if old != ANNOUNCE_BEST_LOCAL {
            fs::write(&path, ANNOUNCE_BEST_LOCAL)?;
        }
        self.saved.insert(interface.to_owned(), (old, 1));
        Ok(())
    }

    pub fn release(&mut self, interface: &str) -> io::Result<()> {
        let Some((_, users)) = self.saved.get_mut(interface) else {
            return Ok(());
        };
        *users -= 1;
        if *users > 0 {
            return Ok(());
        }
        let (old, _) = self.saved.remove(interface).unwrap_or_default();
        restore(interface, &old)
    }
}

impl Drop for ArpAnnounce {
    fn drop(&mut self) {
        for (interface, (old, _)) in self.saved.drain() {
            if let Err(err) = restore(&interface, &old) {
                tracing::warn!("{interface}: restoring arp_announce {old}: {err}");
            }
        }
    }
}

fn restore(interface: &str, old: &str) -> io::Result<()> {
    if old == ANNOUNCE_BEST_LOCAL || old.is_empty() {
        return Ok(());
    }
    fs::write(sysctl(interface), old)
}

fn sysctl(interface: &str) -> PathBuf {
    PathBuf::from("/proc/sys/net/ipv4/conf")
        .join(interface)
        .join("arp_announce")
}
