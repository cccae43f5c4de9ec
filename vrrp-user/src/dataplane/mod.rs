//! The XDP data plane: the program object embedded at build time, and its loader.
use anyhow::{Context as _, bail};
use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray},
    programs::Xdp,
};
use vrrp_common::{COUNTERS_MAP_NAME, Counter, XDP_PROGRAM_NAME};

/// The XDP object built from `vrrp-ebpf` by this crate's build script.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

/// Loads the object and verifies the XDP program into the kernel (not attached anywhere).
pub fn load() -> anyhow::Result<Ebpf> {
    if XDP_OBJECT.is_empty() {
        bail!("this xvrrpd was built with AYA_BUILD_SKIP and carries no XDP program");
    }
    let mut ebpf = Ebpf::load(XDP_OBJECT).context("loading the XDP object")?;
    let program: &mut Xdp = ebpf
        .program_mut(XDP_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {XDP_PROGRAM_NAME}"))?
        .try_into()
        .context("the program is not an XDP program")?;
    program
        .load()
        .context("the kernel refused the XDP program")?;
    Ok(ebpf)
}

/// The counter array of a loaded object.
pub fn counters(ebpf: &Ebpf) -> anyhow::Result<PerCpuArray<&MapData, u64>> {
    let map = ebpf
        .map(COUNTERS_MAP_NAME)
        .with_context(|| format!("the XDP object has no map {COUNTERS_MAP_NAME}"))?;
    PerCpuArray::try_from(map).context("COUNTERS is not a per-CPU array of u64")
}

/// One counter summed over all CPUs.
pub fn counter_total(
    counters: &PerCpuArray<&MapData, u64>,
    counter: Counter,
) -> anyhow::Result<u64> {
    let per_cpu = counters
        .get(&counter.index(), 0)
        .with_context(|| format!("reading counter {counter:?}"))?;
    Ok(per_cpu.iter().sum())
}
