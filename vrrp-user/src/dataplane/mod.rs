//! The data plane: where adverts are received and validated, and who answers ARP / NS for the
//! VIPs. Two backends behind one trait:
//!
//! - [`xdp`]: the XDP program (native mode, or generic skb mode when the driver lacks it);
//! - [`socket`]: a raw IPPROTO 112 socket and the kernel's own ARP, for hosts without BPF.
//!
//! Both report the same [`AdvertEvent`]s, only when the state machine needs to know, on a
//! channel the daemon reads; both keep per-instance [`Observation`]s the master-down timer
//! consults before taking over.
mod maps;
mod master_down;
mod observations;
pub mod socket;
mod vmac;
pub mod xdp;

use std::{fmt, time::Duration};

use tokio::sync::mpsc;
use vrrp_common::maps::{
    AdvertEvent, InstanceConfig, InstanceKey, Observation, PeerKey, VipKey, VipOwner, VmacKey,
    VmacOwner,
};

pub use maps::{CounterTotals, address16, heartbeat_ticks, monotonic_now_ns, parse_event};
pub use xdp::{AttachMode, AttachRequest, XDP_BASELINE_OBJECT, XDP_OBJECT, XdpDataplane};

/// How adverts are received on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// XDP in the driver.
    Native,
    /// Generic XDP in the stack.
    Skb,
    /// No BPF: a raw socket, and the kernel answers ARP.
    Socket,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Native => "native",
            Mode::Skb => "skb",
            Mode::Socket => "socket",
        })
    }
}

/// The configuration's `xdp = "auto" | "native" | "skb" | "off"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Request {
    /// XDP native, then generic (on veth generic first); socket-only (with a warning) if BPF
    /// is unavailable.
    #[default]
    Auto,
    Xdp(AttachRequest),
    Off,
}

/// Events are delivered on a bounded channel; when the daemon falls behind, the backend drops
/// the newest and counts it (`EventLost`): the receive path never blocks.
pub const EVENT_QUEUE: usize = 4096;

/// What the daemon needs of a data plane. Map-like calls are synchronous and cheap.
pub trait Dataplane: Send {
    /// How adverts are received, for status and logs. With XDP, the mode of the last attach.
    fn mode(&self) -> Mode;
    /// Starts receiving on an interface; `kind` is its netlink link kind (`veth`, `vlan`…),
    /// `None` for a device without one (a NIC).
    fn add_interface(
        &mut self,
        name: &str,
        ifindex: u32,
        kind: Option<&str>,
    ) -> anyhow::Result<Mode>;
    fn set_instance(&mut self, key: InstanceKey, config: InstanceConfig) -> anyhow::Result<()>;
    /// Stops the data plane on the interfaces before the instances resign at shutdown.
    /// Detaching XDP holds the kernel's RTNL lock through an RCU grace period (about 10 ms on
    /// veth): done while this router is still Master (the kernel answers ARP / NS for the VIPs
    /// meanwhile), it no longer holds up the new Master's address changes a Skew_Time after
    /// our priority 0. Interfaces with a virtual MAC keep the program: their traffic needs its
    /// rewrite until the VIPs have moved. Nothing to do for the socket backend.
    fn detach_before_resigning(&mut self) {}
    fn remove_instance(&mut self, key: InstanceKey) -> anyhow::Result<()>;
    /// Claims a VIP (XDP answers ARP / NS for it). The socket backend leaves this to the kernel.
    fn own_vip(&mut self, key: VipKey, owner: VipOwner) -> anyhow::Result<()>;
    fn disown_vip(&mut self, key: VipKey) -> anyhow::Result<()>;
    /// Receives the frames sent to a VRRP virtual MAC on an interface (`use_vmac`): XDP hands
    /// them to the stack under the interface's own MAC while the heartbeat is fresh, and the MAC
    /// is added to the interface's unicast filter. The socket backend refuses: without XDP the
    /// stack drops such frames, and only a macvlan (not made here) could take them.
    fn own_vmac(&mut self, key: VmacKey, owner: VmacOwner) -> anyhow::Result<()>;
    fn disown_vmac(&mut self, key: VmacKey) -> anyhow::Result<()>;
    fn allow_peer(&mut self, key: PeerKey) -> anyhow::Result<()>;
    fn forbid_peer(&mut self, key: PeerKey) -> anyhow::Result<()>;
    /// Tells the data plane the daemon is alive; VIP ownership lapses without it.
    fn heartbeat(&mut self) -> anyhow::Result<()>;
    /// What was last seen of the instance's master.
    fn observation(&self, key: InstanceKey) -> anyhow::Result<Option<Observation>>;
    /// Forgets what was seen of the instance's master, so that its next advert is reported as
    /// a new master (the state machine needs one report after entering Backup).
    fn forget_observation(&mut self, key: InstanceKey) -> anyhow::Result<()>;
    /// Watches a Backup's Master_Down_Timer in the kernel until `deadline_ns`
    /// (CLOCK_MONOTONIC), moved on by `postpone` past each advert seen if given, and reports
    /// it passed with a [`MASTER_DOWN_DUE`](vrrp_common::maps::event_reasons::MASTER_DOWN_DUE)
    /// event. `Ok(false)`: this data plane cannot, and the daemon watches the timer itself.
    fn watch_master_down(
        &mut self,
        _key: InstanceKey,
        _deadline_ns: u64,
        _postpone: Option<Duration>,
    ) -> anyhow::Result<bool> {
        Ok(false)
    }
    fn unwatch_master_down(&mut self, _key: InstanceKey) -> anyhow::Result<()> {
        Ok(())
    }
    fn counters(&self) -> anyhow::Result<CounterTotals>;
}

/// Opens the data plane the configuration asks for. Must run inside a tokio runtime: the
/// event reader is a task. Events arrive on the returned receiver.
pub fn open(request: Request) -> anyhow::Result<(Box<dyn Dataplane>, mpsc::Receiver<AdvertEvent>)> {
    let (sender, receiver) = mpsc::channel(EVENT_QUEUE);
    let attach = match request {
        Request::Off => {
            tracing::warn!(
                "xdp = \"off\": adverts are received on a raw socket and the kernel answers ARP"
            );
            return Ok((Box::new(socket::SocketDataplane::open(sender)?), receiver));
        }
        Request::Auto => AttachRequest::Auto,
        Request::Xdp(attach) => attach,
    };
    match xdp::XdpBackend::open(attach, sender.clone()) {
        Ok(backend) => Ok((Box::new(backend), receiver)),
        Err(err) if request == Request::Auto => {
            tracing::warn!(
                "XDP is unavailable ({err:#}); falling back to socket mode: adverts reach the \
                 daemon through the stack and the kernel answers ARP"
            );
            Ok((Box::new(socket::SocketDataplane::open(sender)?), receiver))
        }
        Err(err) => Err(err),
    }
}
