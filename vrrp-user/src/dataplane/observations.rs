//! The program's OBSERVATIONS array mapped into the daemon's memory (the map is created
//! `BPF_F_MMAPABLE`). A Backup reads its Master's last advert time on every Master_Down check;
//! as a `bpf()` lookup that read was most of an idle Backup's CPU, as a load it is nothing.
use std::{
    num::NonZeroUsize,
    os::fd::AsFd,
    ptr::{self, NonNull},
};

use anyhow::{Context as _, bail};
use aya::{Ebpf, maps::Map};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use vrrp_common::maps::{self, MAX_INSTANCES, Observation};

/// Read-only view of every observation slot, shared with the XDP program that writes them.
pub struct ObservationView {
    base: NonNull<Observation>,
    bytes: NonZeroUsize,
}

// SAFETY: the mapping is read-only and lives until drop; reads are volatile copies.
unsafe impl Send for ObservationView {}
// SAFETY: as above: shared readers only copy values out.
unsafe impl Sync for ObservationView {}

impl ObservationView {
    pub fn map(ebpf: &Ebpf) -> anyhow::Result<Self> {
        let Some(Map::Array(map)) = ebpf.map(maps::OBSERVATIONS) else {
            bail!("the XDP object has no OBSERVATIONS array");
        };
        // An array's elements are laid out back to back, each rounded up to 8 bytes; the
        // kernel rounds the mapping up to whole pages.
        const _: () = assert!(size_of::<Observation>().is_multiple_of(8));
        let bytes = NonZeroUsize::new(size_of::<Observation>() * MAX_INSTANCES as usize)
            .context("an empty OBSERVATIONS array")?;
        // SAFETY: a fresh shared read-only mapping of a map fd: aliases no Rust object.
        let base = unsafe {
            mmap(
                None,
                bytes,
                ProtFlags::PROT_READ,
                MapFlags::MAP_SHARED,
                map.fd().as_fd(),
                0,
            )
        }
        .context("mapping the OBSERVATIONS array (a kernel without BPF_F_MMAPABLE?)")?;
        Ok(ObservationView {
            base: base.cast(),
            bytes,
        })
    }

    /// The observation in `slot` as it is now. The program may be writing it on another CPU:
    /// fields can come from two adverts, as with a `bpf()` lookup, which copies unlocked too.
    pub fn get(&self, slot: u16) -> Option<Observation> {
        if u32::from(slot) >= MAX_INSTANCES {
            return None;
        }
        // SAFETY: inside the mapping (checked above); every bit pattern is a valid
        // `Observation` (integers only); volatile, as the program writes it behind our back.
        Some(unsafe { ptr::read_volatile(self.base.as_ptr().add(usize::from(slot))) })
    }
}

impl Drop for ObservationView {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of this length, no longer read.
        if let Err(err) = unsafe { munmap(self.base.cast(), self.bytes.get()) } {
            tracing::warn!("unmapping the OBSERVATIONS array: {err}");
        }
    }
}
