//! The data plane: the XDP program embedded at build time, its maps, and its attachment.
mod maps;

use std::fmt;

use anyhow::{Context as _, bail};
use aya::{
    Ebpf,
    programs::{Xdp, XdpMode},
};
use vrrp_common::XDP_PROGRAM_NAME;

pub use maps::{CounterTotals, address16, monotonic_now_ns, parse_event};

/// The XDP object built from `vrrp-ebpf` by this crate's build script.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

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
        Ok(XdpDataplane { ebpf })
    }

    /// The program, e.g. for BPF_PROG_TEST_RUN.
    pub fn program_mut(&mut self) -> anyhow::Result<&mut Xdp> {
        program(&mut self.ebpf)
    }

    /// Attaches to `ifindex` (named `interface` in errors) and returns the mode it runs in.
    pub fn attach(
        &mut self,
        interface: &str,
        ifindex: u32,
        request: AttachRequest,
    ) -> anyhow::Result<AttachMode> {
        let modes: &[AttachMode] = match request {
            AttachRequest::Auto => &[AttachMode::Native, AttachMode::Skb],
            AttachRequest::Only(AttachMode::Native) => &[AttachMode::Native],
            AttachRequest::Only(AttachMode::Skb) => &[AttachMode::Skb],
        };
        let program = self.program_mut()?;
        let mut refusals = Vec::new();
        for &mode in modes {
            let flags = match mode {
                AttachMode::Native => XdpMode::Driver,
                AttachMode::Skb => XdpMode::Skb,
            };
            match program.attach_to_if_index(ifindex, flags) {
                Ok(_link) => return Ok(mode),
                Err(err) => refusals.push(format!("{mode}: {err}")),
            }
        }
        bail!("cannot attach XDP to {interface}: {}", refusals.join("; "))
    }

    pub(crate) fn ebpf(&self) -> &Ebpf {
        &self.ebpf
    }

    pub(crate) fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }
}

fn program(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    ebpf.program_mut(XDP_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {XDP_PROGRAM_NAME}"))?
        .try_into()
        .context("the program is not an XDP program")
}
