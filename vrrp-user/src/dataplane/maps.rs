//! Typed access to the XDP program's maps. Userspace writes configuration, ownership and peers,
//! and runs the heartbeat program; it only reads observations and counters, which the program
//! writes.
use std::{collections::HashMap, net::IpAddr, sync::OnceLock, time::Duration};

use anyhow::{Context as _, bail};
use aya::{
    maps::{Array, HashMap as BpfHashMap, MapData, MapError, PerCpuArray, RingBuf},
    programs::{TestRun, TestRunOptions},
};
use vrrp_common::{
    Counter,
    maps::{
        self, AdvertEvent, InstanceConfig, InstanceKey, Observation, PeerKey, VipKey, VipOwner,
        VmacKey, VmacOwner,
    },
};

use super::XdpDataplane;

/// Every counter summed over CPUs, indexed by [`Counter::index`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterTotals(pub [u64; Counter::COUNT as usize]);

impl CounterTotals {
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter.index() as usize]
    }
}

impl XdpDataplane {
    /// Publishes an instance's configuration. The instance keeps its observation slot across
    /// updates (a state change must not forget the master); `config.slot` and
    /// `config.generation` are filled in here.
    pub fn set_instance(
        &mut self,
        key: InstanceKey,
        mut config: InstanceConfig,
    ) -> anyhow::Result<()> {
        let (slot, generation) = self.slots.assign(key)?;
        config.slot = slot;
        config.generation = generation;
        self.hash_map::<InstanceKey, InstanceConfig>(maps::INSTANCES)?
            .insert(key, config, 0)
            .with_context(|| format!("writing instance {key:?}"))?;
        self.slots.published.insert(key, config);
        Ok(())
    }

    /// Forgets what the program saw of the instance's master: a new generation is published,
    /// under which the old observation reads as nothing seen, and the next advert is reported.
    pub fn forget_observation(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        let Some(config) = self.slots.published.get(&key).copied() else {
            return Ok(());
        };
        self.slots.renew(key);
        self.set_instance(key, config)
    }

    pub fn remove_instance(&mut self, key: InstanceKey) -> anyhow::Result<()> {
        // Its slot may go to another instance: no event of this one from it.
        if let Err(err) = self.unwatch_master_down(key) {
            tracing::warn!("{err:#}");
        }
        ignore_missing(
            self.hash_map::<InstanceKey, InstanceConfig>(maps::INSTANCES)?
                .remove(&key),
        )
        .with_context(|| format!("removing instance {key:?}"))?;
        self.slots.release(key);
        self.slots.published.remove(&key);
        Ok(())
    }

    /// What the program last saw of the instance's master, if it saw any advert.
    pub fn observation(&self, key: InstanceKey) -> anyhow::Result<Option<Observation>> {
        let Some((slot, generation)) = self.slots.get(key) else {
            return Ok(None);
        };
        let observation = self
            .observations
            .get(slot)
            .context("an observation slot beyond the array")?;
        Ok((observation.generation == generation).then_some(observation))
    }

    /// Claims a VIP: the program answers ARP / NS for it while the heartbeat is fresh.
    pub fn own_vip(&mut self, key: VipKey, owner: VipOwner) -> anyhow::Result<()> {
        self.hash_map::<VipKey, VipOwner>(maps::VIPS)?
            .insert(key, owner, 0)
            .with_context(|| format!("claiming VIP {key:?}"))
    }

    pub fn disown_vip(&mut self, key: VipKey) -> anyhow::Result<()> {
        ignore_missing(self.hash_map::<VipKey, VipOwner>(maps::VIPS)?.remove(&key))
            .with_context(|| format!("releasing VIP {key:?}"))
    }

    /// Takes the frames sent to a virtual MAC: the program gives them the interface's MAC as
    /// destination, so that the stack accepts them, while the heartbeat is fresh. Only the map:
    /// the interface's own filter is the backend's business.
    pub fn own_vmac(&mut self, key: VmacKey, owner: VmacOwner) -> anyhow::Result<()> {
        self.hash_map::<VmacKey, VmacOwner>(maps::VMACS)?
            .insert(key, owner, 0)
            .with_context(|| format!("claiming virtual MAC {key:?}"))
    }

    pub fn disown_vmac(&mut self, key: VmacKey) -> anyhow::Result<()> {
        ignore_missing(
            self.hash_map::<VmacKey, VmacOwner>(maps::VMACS)?
                .remove(&key),
        )
        .with_context(|| format!("releasing virtual MAC {key:?}"))
    }

    pub fn allow_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        self.hash_map::<PeerKey, u8>(maps::PEERS)?
            .insert(key, 1, 0)
            .with_context(|| format!("allowing peer {key:?}"))
    }

    pub fn forbid_peer(&mut self, key: PeerKey) -> anyhow::Result<()> {
        ignore_missing(self.hash_map::<PeerKey, u8>(maps::PEERS)?.remove(&key))
            .with_context(|| format!("removing peer {key:?}"))
    }

    /// Records that the daemon is alive now: runs the heartbeat program, which stamps the map
    /// with the kernel's tick count (the clock the XDP program checks ownership against).
    pub fn heartbeat(&mut self) -> anyhow::Result<()> {
        let result = super::xdp::heartbeat_program(self.ebpf_mut())?
            .test_run(TestRunOptions {
                data_in: Some(&[0; HEARTBEAT_FRAME_LEN]),
                ..Default::default()
            })
            .context("running the heartbeat program")?;
        if result.return_value != XDP_PASS {
            bail!(
                "the heartbeat program returned {} instead of XDP_PASS",
                result.return_value
            );
        }
        Ok(())
    }

    /// Writes `ticks` as the heartbeat, bypassing the program: lets tests make ownership
    /// stale (0 is long before boot: the tick count starts five minutes short of 2^32).
    pub fn set_heartbeat_ticks(&mut self, ticks: u64) -> anyhow::Result<()> {
        let map = self
            .ebpf_mut()
            .map_mut(maps::HEARTBEAT)
            .context("no HEARTBEAT map")?;
        Array::<_, u64>::try_from(map)?
            .set(0, ticks, 0)
            .context("writing the heartbeat")
    }

    pub fn counters(&self) -> anyhow::Result<CounterTotals> {
        let map = self.ebpf().map(maps::COUNTERS).context("no COUNTERS map")?;
        let map = PerCpuArray::<_, u64>::try_from(map)?;
        let mut totals = CounterTotals::default();
        for counter in Counter::ALL {
            let per_cpu = map
                .get(&counter.index(), 0)
                .with_context(|| format!("reading counter {}", counter.name()))?;
            totals.0[counter.index() as usize] = per_cpu.iter().sum();
        }
        Ok(totals)
    }

    /// The event ring buffer; it can be taken once (the reader owns it).
    pub fn take_events(&mut self) -> anyhow::Result<RingBuf<MapData>> {
        let map = self
            .ebpf_mut()
            .take_map(maps::EVENTS)
            .context("the EVENTS ring buffer was already taken")?;
        Ok(RingBuf::try_from(map)?)
    }

    fn hash_map<K: aya::Pod, V: aya::Pod>(
        &mut self,
        name: &str,
    ) -> anyhow::Result<BpfHashMap<&mut MapData, K, V>> {
        let map = self
            .ebpf_mut()
            .map_mut(name)
            .with_context(|| format!("no {name} map"))?;
        Ok(BpfHashMap::try_from(map)?)
    }
}

/// Observation slots of the instances: userspace hands them out, XDP writes the entries.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    assigned: HashMap<InstanceKey, (u16, u16)>,
    /// The config last written for each instance, to republish it under a new generation.
    published: HashMap<InstanceKey, InstanceConfig>,
    free: Vec<u16>,
    next: u16,
    generation: u16,
}

impl Slots {
    fn assign(&mut self, key: InstanceKey) -> anyhow::Result<(u16, u16)> {
        if let Some(&assigned) = self.assigned.get(&key) {
            return Ok(assigned);
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if u32::from(self.next) < maps::MAX_INSTANCES => {
                self.next += 1;
                self.next - 1
            }
            None => anyhow::bail!("more than {} instances", maps::MAX_INSTANCES),
        };
        // Generation 0 is what an untouched array entry holds: never hand it out.
        self.generation = self.generation.wrapping_add(1).max(1);
        self.assigned.insert(key, (slot, self.generation));
        Ok((slot, self.generation))
    }

    /// Gives the instance a new generation on the slot it has.
    fn renew(&mut self, key: InstanceKey) {
        if let Some(assigned) = self.assigned.get_mut(&key) {
            self.generation = self.generation.wrapping_add(1).max(1);
            assigned.1 = self.generation;
        }
    }

    fn release(&mut self, key: InstanceKey) {
        if let Some((slot, _)) = self.assigned.remove(&key) {
            self.free.push(slot);
        }
    }

    pub(super) fn get(&self, key: InstanceKey) -> Option<(u16, u16)> {
        self.assigned.get(&key).copied()
    }
}

/// Removing what is not there is not an error: the caller's intent holds.
fn ignore_missing(result: Result<(), MapError>) -> Result<(), MapError> {
    match result {
        Err(MapError::KeyNotFound) => Ok(()),
        other => other,
    }
}

/// An event record from the ring buffer, or `None` if it is not one (wrong size).
pub fn parse_event(bytes: &[u8]) -> Option<AdvertEvent> {
    if bytes.len() != std::mem::size_of::<AdvertEvent>() {
        return None;
    }
    // SAFETY: the length matches and AdvertEvent is plain old data valid for any bytes.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<AdvertEvent>()) })
}

/// An address in the maps' 16-byte form: IPv4 in the first four bytes, the rest zero.
pub fn address16(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            bytes
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// `bound` in kernel ticks, rounded up: the unit of [`VipOwner::heartbeat_max_age_ticks`].
/// Ownership then holds for up to one tick past `bound` (the heartbeat's tick may have begun
/// just before it was taken).
pub fn heartbeat_ticks(bound: Duration) -> u64 {
    let tick = tick_length().as_nanos().max(1);
    bound.as_nanos().div_ceil(tick) as u64
}

/// The kernel's tick (jiffy): the resolution of CLOCK_MONOTONIC_COARSE, which the kernel
/// reports as exactly one tick (1 s / CONFIG_HZ). Asked once: it cannot change while running.
fn tick_length() -> Duration {
    static TICK: OnceLock<Duration> = OnceLock::new();
    *TICK.get_or_init(|| {
        let mut resolution = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `resolution` is a valid timespec to write.
        let status = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut resolution) };
        if status != 0 || (resolution.tv_sec == 0 && resolution.tv_nsec == 0) {
            // Not expected on Linux; the longest tick in use (HZ=100) errs towards keeping
            // ownership a little longer rather than dropping it while the daemon is fine.
            return FALLBACK_TICK;
        }
        Duration::new(resolution.tv_sec as u64, resolution.tv_nsec as u32)
    })
}

const FALLBACK_TICK: Duration = Duration::from_millis(10);

/// The kernel's `XDP_PASS`, the heartbeat program's only answer.
const XDP_PASS: u32 = 2;

/// An empty Ethernet header: BPF_PROG_TEST_RUN of an XDP program wants at least that much.
const HEARTBEAT_FRAME_LEN: usize = 14;

/// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns() reads.
pub fn monotonic_now_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_is_one_of_the_kernels_tick_lengths() {
        // CONFIG_HZ is 100, 250, 300 or 1000.
        let tick = tick_length();
        assert!(
            (Duration::from_millis(1)..=Duration::from_millis(10)).contains(&tick),
            "{tick:?}"
        );
    }

    #[test]
    fn bounds_become_ticks_rounded_up() {
        let tick = tick_length();
        assert_eq!(heartbeat_ticks(Duration::ZERO), 0);
        assert_eq!(heartbeat_ticks(tick), 1);
        assert_eq!(heartbeat_ticks(tick * 100), 100);
        assert_eq!(heartbeat_ticks(tick * 100 + Duration::from_nanos(1)), 101);
    }
}
