//! The XDP program a daemon attached to an interface, seen from outside the daemon: its per-CPU
//! counters read straight from the kernel, so they can be watched while the daemon is stopped
//! (SIGSTOP) and cannot answer `status`. Maps are found through the program attached to the
//! interface, not by name alone: other labs may run their own copies of the program.
use aya::maps::{Map, MapData, MapInfo, PerCpuArray};
use vrrp_common::{Counter, maps::COUNTERS};
use vrrp_user::dataplane::CounterTotals;

use crate::netns::Netns;

/// The id of the XDP program attached to `interface` in `netns`, if any.
pub fn xdp_program_id(netns: &Netns, interface: &str) -> Option<u32> {
    let out = netns.ip(&["-j", "-d", "link", "show", "dev", interface]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j link JSON");
    json[0]["xdp"]["prog"]["id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
}

/// The counters map of one loaded XDP program, held open: it stays readable while the program
/// lives, whatever its loader does.
pub struct AttachedCounters {
    map: PerCpuArray<MapData, u64>,
    pub program_id: u32,
}

impl AttachedCounters {
    /// The counters of the program attached to `interface` in `netns`.
    pub fn of(netns: &Netns, interface: &str) -> AttachedCounters {
        let program_id = xdp_program_id(netns, interface)
            .unwrap_or_else(|| panic!("no XDP program on {interface} in {}", netns.name()));
        let program = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .find(|program| program.id() == program_id)
            .unwrap_or_else(|| panic!("program {program_id} is not loaded"));
        let map_ids = program
            .map_ids()
            .expect("the program's map ids")
            .expect("the kernel reports map ids");
        let map = map_ids
            .into_iter()
            .find(|&id| MapInfo::from_id(id).is_ok_and(|info| info.name_as_str() == Some(COUNTERS)))
            .unwrap_or_else(|| panic!("program {program_id} has no {COUNTERS} map"));
        let data = MapData::from_id(map).expect("open the counters map");
        let map = PerCpuArray::try_from(Map::PerCpuArray(data)).expect("a per-CPU array");
        AttachedCounters { map, program_id }
    }

    /// Every counter, summed over the CPUs.
    pub fn read(&self) -> CounterTotals {
        let mut totals = CounterTotals::default();
        for counter in Counter::ALL {
            let per_cpu = self
                .map
                .get(&counter.index(), 0)
                .unwrap_or_else(|err| panic!("reading {}: {err}", counter.name()));
            totals.0[counter.index() as usize] = per_cpu.iter().sum();
        }
        totals
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.read().get(counter)
    }
}
