//! The XDP backend: the program embedded at build time, its attachment, and the task that
//! turns ring-buffer records into events.
use std::{
    collections::{HashMap, HashSet},
    fmt,
    time::Duration,
};

use anyhow::{Context as _, bail};
use aya::{
    Ebpf,
    maps::{HashMap as BpfHashMap, MapData, RingBuf},
    programs::{SchedClassifier, TcAttachType, Xdp, XdpMode, tc, xdp::XdpLinkId},
};
use tokio::{
    io::{Interest, unix::AsyncFd},
    sync::mpsc,
};
use vrrp_common::{
    HEARTBEAT_PROGRAM_NAME, VMAC_TC_PROGRAM_NAME, XDP_PROGRAM_NAME,
    maps::{
        AdvertEvent, InstanceConfig, InstanceKey, Observation, PeerKey, VipKey, VipOwner, VmacKey,
        VmacOwner,
    },
};

use super::{
    CounterTotals, Dataplane, Mode,
    maps::Slots,
    observations::ObservationView,
    parse_event,
    vmac::{self, ArpAnnounce},
};

/// The XDP object built from `vrrp-ebpf` by this crate's build script.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

/// The benchmarks' helper programs: one that only returns XDP_PASS (their baseline) and one
/// that redirects every frame to another interface.
pub static XDP_BASELINE_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp-baseline"));

/// How the XDP program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver, before any socket buffer exists: the fast path.
    Native,
    /// Generic XDP in the stack, for drivers without native support.
    Skb,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Native => "native",
            AttachMode::Skb => "skb",
        })
    }
}

/// What the configuration asks for (`xdp = "auto" | "native" | "skb"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachRequest {
    /// Native, falling back to generic.
    Auto,
    Only(AttachMode),
}

/// The loaded XDP program and its maps. Dropping it detaches the program from every interface:
/// links are not pinned, so a daemon that dies leaves nothing behind in the kernel.
pub struct XdpDataplane {
    ebpf: Ebpf,
    pub(super) observations: ObservationView,
    pub(super) slots: Slots,
    /// The program's attachment to each interface, by ifindex.
    links: HashMap<u32, XdpLinkId>,
    /// The master-down program loaded: Backups' Master_Down_Timers run in the kernel.
    pub(super) master_down: bool,
}

impl XdpDataplane {
    /// Loads the object and has the kernel verify the program (not attached anywhere yet).
    pub fn load() -> anyhow::Result<Self> {
        if XDP_OBJECT.is_empty() {
            bail!("this xvrrpd was built with AYA_BUILD_SKIP and carries no XDP program");
        }
        let mut ebpf = Ebpf::load(XDP_OBJECT).context("loading the XDP object")?;
        program(&mut ebpf)?
            .load()
            .context("the kernel refused the XDP program")?;
        vmac_tc_program(&mut ebpf)?
            .load()
            .context("the kernel refused the virtual-MAC TC program")?;
        heartbeat_program(&mut ebpf)?
            .load()
            .context("the kernel refused the heartbeat program")?;
        let master_down = super::master_down::load_master_down(&mut ebpf);
        Ok(XdpDataplane {
            observations: ObservationView::map(&ebpf)?,
            ebpf,
            slots: Slots::default(),
            links: HashMap::new(),
            master_down,
        })
    }

    /// The program, e.g. for BPF_PROG_TEST_RUN.
    pub fn program_mut(&mut self) -> anyhow::Result<&mut Xdp> {
        program(&mut self.ebpf)
    }

    /// Attaches to `ifindex` (named `interface` in errors, of netlink link kind `kind`) and
    /// returns the mode it runs in.
    pub fn attach(
        &mut self,
        interface: &str,
        ifindex: u32,
        kind: Option<&str>,
        request: AttachRequest,
    ) -> anyhow::Result<AttachMode> {
        let program = self.program_mut()?;
        let mut refusals = Vec::new();
        for &mode in attach_order(request, kind) {
            let flags = match mode {
                AttachMode::Native => XdpMode::Driver,
                AttachMode::Skb => XdpMode::Skb,
            };
            match program.attach_to_if_index(ifindex, flags) {
                Ok(link) => {
                    self.links.insert(ifindex, link);
                    return Ok(mode);
                }
                Err(err) => refusals.push(format!("{mode}: {err}")),
            }
        }
        bail!("cannot attach XDP to {interface}: {}", refusals.join("; "))
    }

    /// Takes the program off `ifindex` (if it is attached there).
    pub fn detach(&mut self, ifindex: u32) -> anyhow::Result<()> {
        if let Some(link) = self.links.remove(&ifindex) {
            self.program_mut()?
                .detach(link)
                .context("detaching the XDP program")?;
        }
        Ok(())
    }

    /// Has `interface`'s TC ingress mark the frames the XDP program addressed to the interface
    /// (`interface_mac`) as the host's, which veth needs (see `vrrp-ebpf`'s `vmac::to_host`).
    /// Attached as a TCX link where the kernel has them (6.6), so it goes with the daemon.
    pub fn attach_vmac_fixup(
        &mut self,
        interface: &str,
        ifindex: u32,
        interface_mac: [u8; 6],
    ) -> anyhow::Result<()> {
        let entry = VmacOwner {
            interface_mac,
            ..VmacOwner::default()
        };
        let map = self
            .ebpf_mut()
            .map_mut(vrrp_common::maps::VMAC_INTERFACES)
            .context("no VMAC_INTERFACES map")?;
        BpfHashMap::<_, u32, VmacOwner>::try_from(map)?
            .insert(ifindex, entry, 0)
            .with_context(|| format!("{interface}: recording its MAC for the TC program"))?;
        let program = vmac_tc_program(&mut self.ebpf)?;
        if program.attach(interface, TcAttachType::Ingress).is_ok() {
            return Ok(());
        }
        // Older kernels attach through a clsact qdisc, which may have to be made first.
        let _ = tc::qdisc_add_clsact(interface);
        program
            .attach(interface, TcAttachType::Ingress)
            .with_context(|| format!("{interface}: attaching the virtual-MAC TC program"))?;
        Ok(())
    }

    pub(crate) fn ebpf(&self) -> &Ebpf {
        &self.ebpf
    }

    pub(crate) fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }
}

impl XdpBackend {
    fn interface_name(&self, ifindex: u32) -> String {
        self.interfaces
            .get(&ifindex)
            .cloned()
            .unwrap_or_else(|| format!("interface {ifindex}"))
    }
}

impl Drop for XdpBackend {
    /// A daemon that stops takes its virtual MACs off the interfaces' filters.
    fn drop(&mut self) {
        for key in std::mem::take(&mut self.vmacs) {
            if let Err(err) = vmac::remove_unicast_address(key.ifindex, key.mac) {
                tracing::warn!("removing virtual MAC {}: {err}", mac_text(key.mac));
            }
        }
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    crate::wire::MacAddr(mac).to_string()
}

/// The modes to try, best first. `auto` prefers native XDP, except on veth: there native XDP
/// moves the device's receive path from the per-CPU backlog (1000 frames) to a NAPI ring of 256,
/// which overflows under a flood — adverts dropped there made the backup take over (24 times
/// in a minute of a 165 kpps UDP flood, against none in generic mode). veth hands the program a
/// socket buffer either way, so native mode saves little there.
fn attach_order(request: AttachRequest, kind: Option<&str>) -> &'static [AttachMode] {
    match request {
        AttachRequest::Auto if kind == Some("veth") => &[AttachMode::Skb, AttachMode::Native],
        AttachRequest::Auto => &[AttachMode::Native, AttachMode::Skb],
        AttachRequest::Only(AttachMode::Native) => &[AttachMode::Native],
        AttachRequest::Only(AttachMode::Skb) => &[AttachMode::Skb],
    }
}

fn vmac_tc_program(ebpf: &mut Ebpf) -> anyhow::Result<&mut SchedClassifier> {
    ebpf.program_mut(VMAC_TC_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {VMAC_TC_PROGRAM_NAME}"))?
        .try_into()
        .context("the program is not a TC classifier")
}

pub(super) fn heartbeat_program(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    ebpf.program_mut(HEARTBEAT_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {HEARTBEAT_PROGRAM_NAME}"))?
        .try_into()
        .context("the heartbeat program is not an XDP program")
}

fn program(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    ebpf.program_mut(XDP_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {XDP_PROGRAM_NAME}"))?
        .try_into()
        .context("the program is not an XDP program")
}

/// [`XdpDataplane`] as the daemon's [`Dataplane`], with its ring buffer drained by a task.
pub struct XdpBackend {
    dataplane: XdpDataplane,
    attach: AttachRequest,
    mode: Mode,
    /// Names of the interfaces added, for their sysctls.
    interfaces: HashMap<u32, String>,
    /// Virtual MACs owned, whose host-side set-up ([`vmac`]) is done.
    vmacs: HashSet<VmacKey>,
    /// Interfaces whose TC ingress runs the virtual-MAC fix-up (kept until the daemon exits).
    fixups: HashSet<u32>,
    arp_announce: ArpAnnounce,
}

impl XdpBackend {
    /// Loads the program and starts the event reader (inside a tokio runtime).
    pub fn open(attach: AttachRequest, events: mpsc::Sender<AdvertEvent>) -> anyhow::Result<Self> {
        let mut dataplane = XdpDataplane::load()?;
        let ring = dataplane.take_events()?;
        // SAFETY: the RingBuf owns its map's file descriptor for its whole lifetime and always
        // returns that same descriptor; it moves into the AsyncFd and is dropped with it.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(std::io::Error::from)
            .context("registering the event ring buffer with tokio")?;
        tokio::spawn(forward_events(ring, events));
        let mode = match attach {
            AttachRequest::Only(AttachMode::Skb) => Mode::Skb,
            _ => Mode::Native,
        };
        Ok(XdpBackend {
            dataplane,
            attach,
            mode,
            interfaces: HashMap::new(),
            vmacs: HashSet::new(),
            fixups: HashSet::new(),
            arp_announce: ArpAnnounce::default(),
        })
    }
}

/// Moves records from the ring buffer to the daemon's channel until the daemon goes away.
async fn forward_events(mut ring: AsyncFd<RingBuf<MapData>>, events: mpsc::Sender<AdvertEvent>) {
    loop {
        let mut ready = match ring.readable_mut().await {
            Ok(ready) => ready,
            Err(err) => {
                tracing::error!("event ring buffer failed: {err}; no more XDP events");
                return;
            }
        };
        let ring = ready.get_inner_mut();
        while let Some(record) = ring.next() {
            let Some(event) = parse_event(&record) else {
                tracing::warn!("ignoring a {}-byte ring-buffer record", record.len());
                continue;
            };
            if events.try_send(event).is_err() && events.is_closed() {
                return;
            }
        }
        ready.clear_ready();
    }
}

impl Dataplane for XdpBackend {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn add_interface(
        &mut self,
        name: &str,
        ifindex: u32,
        kind: Option<&str>,
    ) -> anyhow::Result<Mode> {
        let mode = match self.dataplane.attach(name, ifindex, kind, self.attach)? {
            AttachMode::Native => Mode::Native,
            AttachMode::Skb if attach_order(self.attach, kind)[0] == AttachMode::Skb => {
                tracing::info!("{name}: generic (skb) XDP, the better mode on veth");
                Mode::Skb
            }
            AttachMode::Skb => {
                tracing::warn!("{name}: native XDP refused, running generic (skb) XDP");
                Mode::Skb
            }
        };
        self.mode = mode;
        self.interfaces.insert(ifindex, name.to_owned());
        Ok(mode)
    }

    fn set_instance(&mut self, key: InstanceKey, config: InstanceConfig) -> anyhow::Result<()> {
        self.dataplane.set_instance(key, config)
    }

    fn detach_before_resigning(&mut self) {
        let keep: HashSet<u32> = self.vmacs.iter().map(|key| key.ifindex).collect();
        for (&ifindex, name) in &self.interfaces {
            if keep.contains(&ifindex) {
                continue;
            }
            if let Err(err) = self.dataplane.detach(ifindex) {
                tracing::warn!("{name}: {err:#}");
            }
        }
    }

    fn remove_instance(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        self.dataplane.remove_instance(key)
    }

    fn own_vip(&mut self, key: VipKey, owner: VipOwner) -> anyhow::Result<()> {
        self.dataplane.own_vip(key, owner)
    }

    fn disown_vip(&mut self, key: VipKey) -> anyhow::Result<()> {
        self.dataplane.disown_vip(key)
    }

    /// The map entry first (frames flow on a device without a unicast filter from then on),
    /// then, once per owned MAC, the TC fix-up (once per interface), the interface's filter and
    /// `arp_announce`.
    fn own_vmac(&mut self, key: VmacKey, owner: VmacOwner) -> anyhow::Result<()> {
        self.dataplane.own_vmac(key, owner)?;
        if self.vmacs.contains(&key) {
            return Ok(());
        }
        let name = self.interface_name(key.ifindex);
        if !self.fixups.contains(&key.ifindex) {
            self.dataplane
                .attach_vmac_fixup(&name, key.ifindex, owner.interface_mac)?;
            self.fixups.insert(key.ifindex);
        }
        vmac::add_unicast_address(key.ifindex, key.mac).with_context(|| {
            format!(
                "{name}: adding virtual MAC {} to its unicast filter",
                mac_text(key.mac)
            )
        })?;
        self.vmacs.insert(key);
        self.arp_announce
            .hold(&name)
            .with_context(|| format!("{name}: setting net.ipv4.conf.{name}.arp_announce = 2"))
    }

    fn disown_vmac(&mut self, key: VmacKey) -> anyhow::Result<()> {
        self.dataplane.disown_vmac(key)?;
        if !self.vmacs.remove(&key) {
            return Ok(());
        }
        let name = self.interface_name(key.ifindex);
        let filter = vmac::remove_unicast_address(key.ifindex, key.mac).with_context(|| {
            format!(
                "{name}: removing virtual MAC {} from its unicast filter",
                mac_text(key.mac)
            )
        });
        let announce = self
            .arp_announce
            .release(&name)
            .with_context(|| format!("{name}: restoring arp_announce"));
        filter.and(announce)
    }

    fn allow_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        self.dataplane.allow_peer(key)
    }

    fn forbid_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        self.dataplane.forbid_peer(key)
    }

    fn heartbeat(&mut self) -> anyhow::Result<()> {
        self.dataplane.heartbeat()
    }

    fn observation(&self, key: InstanceKey) -> anyhow::Result<Option<Observation>> {
        self.dataplane.observation(key)
    }

    fn forget_observation(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        self.dataplane.forget_observation(key)
    }

    fn watch_master_down(
        &mut self,
        key: InstanceKey,
        deadline_ns: u64,
        postpone: Option<Duration>,
    ) -> anyhow::Result<bool> {
        (self.dataplane).watch_master_down(key, deadline_ns, postpone)
    }

    fn unwatch_master_down(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        self.dataplane.unwatch_master_down(key)
    }

    fn counters(&self) -> anyhow::Result<CounterTotals> {
        self.dataplane.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_native_xdp_except_on_veth() {
        use AttachMode::{Native, Skb};
        assert_eq!(attach_order(AttachRequest::Auto, None), [Native, Skb]);
        assert_eq!(
            attach_order(AttachRequest::Auto, Some("vlan")),
            [Native, Skb]
        );
        assert_eq!(
            attach_order(AttachRequest::Auto, Some("veth")),
            [Skb, Native]
        );
        for kind in [None, Some("veth")] {
            assert_eq!(attach_order(AttachRequest::Only(Native), kind), [Native]);
            assert_eq!(attach_order(AttachRequest::Only(Skb), kind), [Skb]);
        }
    }
}
