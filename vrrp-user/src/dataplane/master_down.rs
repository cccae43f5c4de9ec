//! Backups' Master_Down_Timers watched in the kernel (`vrrp-ebpf`'s `master_down`): the
//! daemon arms a slot's `bpf_timer` by running the watch program on a request, and is told by
//! a [`MASTER_DOWN_DUE`](vrrp_common::maps::event_reasons::MASTER_DOWN_DUE) event once the
//! Master has been silent past the deadline. Until then the daemon sleeps.
use std::time::Duration;

use anyhow::{Context as _, bail};
use aya::{
    Ebpf,
    programs::{TestRun, TestRunOptions, Xdp},
};
use vrrp_common::{
    MASTER_DOWN_PROGRAM_NAME,
    maps::{InstanceKey, MasterDownRequest, MasterDownWatch},
};

use super::XdpDataplane;

/// The watch program's answers.
const XDP_ABORTED: u32 = 0;
const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

impl XdpDataplane {
    /// Watches the instance's Master_Down_Timer in the kernel until `deadline_ns`
    /// (CLOCK_MONOTONIC), moved on by `postpone` past each advert seen if given. Returns
    /// `false` when this kernel cannot (the program did not load): the caller watches itself.
    pub fn watch_master_down(
        &mut self,
        key: InstanceKey,
        deadline_ns: u64,
        postpone: Option<Duration>,
    ) -> anyhow::Result<bool> {
        if !self.master_down {
            return Ok(false);
        }
        let Some((slot, generation)) = self.slots.get(key) else {
            bail!("instance {key:?} has no observation slot to watch");
        };
        let watch = MasterDownWatch {
            deadline_ns,
            postpone_ns: postpone.map_or(0, |postpone| postpone.as_nanos() as u64),
            instance: key,
            generation,
            armed: 1,
            ..MasterDownWatch::default()
        };
        self.run_master_down(u32::from(slot), watch)?;
        Ok(true)
    }

    /// Stops watching the instance's Master_Down_Timer in the kernel.
    pub fn unwatch_master_down(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        let Some((slot, _)) = self.slots.get(key).filter(|_| self.master_down) else {
            return Ok(());
        };
        self.run_master_down(u32::from(slot), MasterDownWatch::default())
    }

    /// The watch program, e.g. to run it on a malformed request in tests.
    pub fn master_down_program_mut(&mut self) -> anyhow::Result<&mut Xdp> {
        master_down_program(self.ebpf_mut())
    }

    fn run_master_down(&mut self, slot: u32, watch: MasterDownWatch) -> anyhow::Result<()> {
        let request = MasterDownRequest {
            slot,
            watch,
            ..MasterDownRequest::default()
        };
        // SAFETY: a repr(C) value of integers with explicit padding: every byte is initialised.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&request as *const MasterDownRequest).cast::<u8>(),
                size_of::<MasterDownRequest>(),
            )
        };
        let result = master_down_program(self.ebpf_mut())?
            .test_run(TestRunOptions {
                data_in: Some(bytes),
                ..Default::default()
            })
            .context("running the master-down program")?;
        match result.return_value {
            XDP_PASS => Ok(()),
            XDP_DROP => bail!("the master-down program refused the request for slot {slot}"),
            XDP_ABORTED => bail!("the kernel refused the Master_Down_Timer of slot {slot}"),
            other => bail!("the master-down program answered {other}"),
        }
    }
}

/// Loads the watch program; a kernel without `bpf_timer` (before 5.15) refuses it, and the
/// daemon then watches the timers itself.
pub(super) fn load_master_down(ebpf: &mut Ebpf) -> bool {
    let loaded = master_down_program(ebpf).and_then(|program| {
        program
            .load()
            .context("the kernel refused the master-down program")
    });
    match loaded {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(
                "{err:#}: Backups' Master_Down_Timers are watched by the daemon, which then \
                 wakes about 30 times a second at 10 ms adverts"
            );
            false
        }
    }
}

fn master_down_program(ebpf: &mut Ebpf) -> anyhow::Result<&mut Xdp> {
    ebpf.program_mut(MASTER_DOWN_PROGRAM_NAME)
        .with_context(|| format!("the XDP object has no program {MASTER_DOWN_PROGRAM_NAME}"))?
        .try_into()
        .context("the master-down program is not an XDP program")
}
