//! Links: what an `RTM_NEWLINK` says about an interface, and the up/down tracking behind the
//! link watch.
use std::collections::{BTreeMap, BTreeSet};

use rtnetlink::{
    packet_core::NetlinkPayload,
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::{
            InfoData, InfoKind, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State,
        },
    },
};

use crate::wire::{MacAddr, VlanTag};

/// An interface as the kernel describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub ifindex: u32,
    pub name: String,
    /// The hardware address, when it is a 6-byte (Ethernet) one.
    pub mac: Option<MacAddr>,
    /// `IFF_UP`: administratively up.
    pub admin_up: bool,
    /// Operationally up: `IFF_UP` and `IFF_RUNNING` (carrier, operstate UP or UNKNOWN).
    pub oper_up: bool,
    pub mtu: u32,
    /// `IFLA_INFO_KIND` ("veth", "vlan", "bridge", …), absent for plain NICs and loopback.
    pub kind: Option<String>,
    /// For a VLAN device: its parent and VLAN id.
    pub vlan: Option<Vlan>,
}

/// The 802.1Q side of a VLAN device (`IFLA_LINK`, `IFLA_VLAN_ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vlan {
    /// The ifindex of the device the VLAN sits on.
    pub parent: u32,
    pub id: u16,
}

impl Vlan {
    /// The tag frames sent on the parent for this VLAN carry (priority 0).
    pub const fn tag(&self) -> VlanTag {
        VlanTag {
            pcp: 0,
            dei: false,
            vid: self.id,
        }
    }
}

impl Interface {
    pub fn from_message(msg: &LinkMessage) -> Interface {
        let mut interface = Interface {
            ifindex: msg.header.index,
            name: String::new(),
            mac: None,
            admin_up: msg.header.flags.contains(LinkFlags::Up),
            oper_up: oper_up(msg),
            mtu: 0,
            kind: None,
            vlan: None,
        };
        let mut parent = None;
        let mut vlan_id = None;
        let mut is_vlan = false;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(name) => interface.name.clone_from(name),
                LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                    interface.mac = MacAddr::from_slice(bytes);
                }
                LinkAttribute::Mtu(mtu) => interface.mtu = *mtu,
                LinkAttribute::Link(index) => parent = Some(*index),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(kind) => {
                                is_vlan = *kind == InfoKind::Vlan;
                                interface.kind = Some(kind.to_string());
                            }
                            LinkInfo::Data(InfoData::Vlan(data)) => {
                                vlan_id = data.iter().find_map(|d| match d {
                                    InfoVlan::Id(id) => Some(*id),
                                    _ => None,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let (true, Some(parent), Some(id)) = (is_vlan, parent, vlan_id) {
            interface.vlan = Some(Vlan { parent, id });
        }
        interface
    }
}

/// `IFF_UP` and `IFF_RUNNING` (the kernel sets RUNNING for operstate UP or UNKNOWN), and no
/// `IFLA_OPERSTATE` saying otherwise.
pub(super) fn oper_up(msg: &LinkMessage) -> bool {
    let flags = msg.header.flags;
    let running = flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running);
    let state_ok = msg.attributes.iter().all(|attr| match attr {
        LinkAttribute::OperState(state) => matches!(state, State::Up | State::Unknown),
        _ => true,
    });
    running && state_ok
}

fn name_of(msg: &LinkMessage) -> Option<&str> {
    msg.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// A change the link watch reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkEvent {
    /// The link exists and is (now) operationally up or down (see [`Interface::oper_up`]).
    Changed {
        ifindex: u32,
        name: String,
        up: bool,
    },
    /// The link is gone (`RTM_DELLINK`: deleted, or moved to another namespace).
    Removed { ifindex: u32, name: String },
}

impl LinkEvent {
    pub fn ifindex(&self) -> u32 {
        match self {
            LinkEvent::Changed { ifindex, .. } | LinkEvent::Removed { ifindex, .. } => *ifindex,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            LinkEvent::Changed { name, .. } | LinkEvent::Removed { name, .. } => name,
        }
    }
}

/// The last reported state of every link, so that only changes are reported: the kernel sends
/// an `RTM_NEWLINK` for many things besides up/down (MTU, addresses of a bridge port, stats).
#[derive(Debug, Default)]
pub(super) struct LinkTracker {
    known: BTreeMap<u32, (String, bool)>,
}

impl LinkTracker {
    /// The events one notification causes; `None` for an overrun (the caller lists the links
    /// and calls [`resync`](Self::resync)).
    pub(super) fn handle(
        &mut self,
        payload: &NetlinkPayload<RouteNetlinkMessage>,
    ) -> Option<Vec<LinkEvent>> {
        let event = match payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(msg)) => self.update(msg),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(msg)) => self.remove(msg),
            NetlinkPayload::Overrun(_) => return None,
            _ => None,
        };
        Some(event.into_iter().collect())
    }

    /// An `RTM_NEWLINK`: an event if the link is new or its state or name changed.
    pub(super) fn update(&mut self, msg: &LinkMessage) -> Option<LinkEvent> {
        // AF_BRIDGE (and other families) describe a bridge port, not the link itself.
        if msg.header.interface_family != AddressFamily::Unspec {
            return None;
        }
        let ifindex = msg.header.index;
        let up = oper_up(msg);
        let name = match name_of(msg) {
            Some(name) => name.to_owned(),
            None => self
                .known
                .get(&ifindex)
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
        };
        let state = (name.clone(), up);
        if self.known.get(&ifindex) == Some(&state) {
            return None;
        }
        self.known.insert(ifindex, state);
        Some(LinkEvent::Changed { ifindex, name, up })
    }

    /// An `RTM_DELLINK`.
    pub(super) fn remove(&mut self, msg: &LinkMessage) -> Option<LinkEvent> {
        if msg.header.interface_family != AddressFamily::Unspec {
            return None;
        }
        let ifindex = msg.header.index;
        let known = self.known.remove(&ifindex);
        let name = name_of(msg)
            .map(str::to_owned)
            .or(known.map(|(n, _)| n))
            .unwrap_or_default();
        Some(LinkEvent::Removed { ifindex, name })
    }

    /// A full list of the links: events for every difference from what was known, removals
    /// included.
    pub(super) fn resync(&mut self, links: &[LinkMessage]) -> Vec<LinkEvent> {
        let present: BTreeSet<u32> = links.iter().map(|l| l.header.index).collect();
        let gone: Vec<u32> = self
            .known
            .keys()
            .filter(|i| !present.contains(i))
            .copied()
            .collect();
        let mut events: Vec<LinkEvent> = gone
            .into_iter()
            .filter_map(|ifindex| {
                let (name, _) = self.known.remove(&ifindex)?;
                Some(LinkEvent::Removed { ifindex, name })
            })
            .collect();
        events.extend(links.iter().filter_map(|l| self.update(l)));
        events
    }
}
