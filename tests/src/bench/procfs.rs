//! What /proc says of the daemons in a lab's namespace: CPU time, resident memory, and the
//! machine's kernel CPU time.
use std::{
    fs,
    time::{Duration, Instant},
};

use crate::netns::Netns;

/// Daemon processes in `netns` (by command name: `xvrrpd`, `keepalived` — keepalived's VRRP
/// child included), found through `ip netns pids` so that helpers such as `ip -n` or stress-ng
/// running there are not counted.
pub fn daemon_pids(netns: &Netns) -> Vec<u32> {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", netns.name()])
        .output()
        .expect("ip netns pids");
    let pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| matches!(comm.trim(), "xvrrpd" | "keepalived"))
        })
        .collect();
    // A daemon not found would read as 0 % CPU and 0 bytes, a "met" target out of nothing.
    assert!(
        !pids.is_empty(),
        "no process named xvrrpd or keepalived in namespace {}",
        netns.name()
    );
    pids
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU time of process `pid` in seconds, summed over its threads' schedstat (nanoseconds the
/// scheduler ran each one); 0 if it is gone.
///
/// Not utime + stime from `stat`: those are sampled at the kernel's tick, and a daemon that
/// runs for microseconds hundreds of times a second is caught by a tick, or not, at random —
/// a 6 s window then reads in steps of 0.17 % with as much noise. A thread that ends inside a
/// window takes its time with it; neither daemon starts or ends threads while idle or steady.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(threads) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let nanoseconds: u64 = threads
        .flatten()
        .filter_map(|thread| fs::read_to_string(thread.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanoseconds as f64 / 1e9
}

/// CPU seconds the threads (or kernel threads) `pids` have run, summed.
pub fn threads_cpu_seconds(pids: &[i32]) -> f64 {
    pids.iter().map(|&pid| cpu_seconds(pid as u32)).sum()
}

/// VmRSS of process `pid` in KiB; 0 if it is gone.
pub fn rss_kib(pid: u32) -> f64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0.0)
}

/// A point in time with the CPU seconds the daemons of a namespace had used by then.
pub struct CpuMark {
    at: Instant,
    pids: Vec<u32>,
    seconds: f64,
}

impl CpuMark {
    pub fn now(netns: &Netns) -> CpuMark {
        let pids = daemon_pids(netns);
        let seconds = pids.iter().map(|&pid| cpu_seconds(pid)).sum();
        CpuMark {
            at: Instant::now(),
            pids,
            seconds,
        }
    }

    /// CPU used since this mark, in percent of one core per wall second.
    pub fn percent_since(&self) -> f64 {
        let seconds: f64 = self.pids.iter().map(|&pid| cpu_seconds(pid)).sum();
        let wall = self.at.elapsed().as_secs_f64();
        100.0 * (seconds - self.seconds) / wall
    }
}

/// The machine's kernel CPU time (system + irq + softirq of every core, /proc/stat), in
/// seconds: where packet processing is charged whichever process was running.
pub fn kernel_cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/stat").expect("/proc/stat");
    let line = stat.lines().next().expect("cpu line");
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq …
    let kernel = fields[2] + fields[5] + fields[6];
    kernel / clock_ticks_per_second()
}

/// Time the kernel's softirq threads (ksoftirqd/N) have run, from their schedstat (ns): the
/// packet work deferred out of the context of the task that raised it.
pub fn softirq_threads_runtime() -> Duration {
    let mut total = 0u64;
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let path = entry.path();
        let is_softirqd =
            fs::read_to_string(path.join("comm")).is_ok_and(|comm| comm.starts_with("ksoftirqd/"));
        if is_softirqd {
            total += fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|text| text.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut spin = 0u64;
        while Instant::now() < deadline {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        assert!(cpu_seconds(me) > 0.0);
        assert!(rss_kib(me) > 100.0);
        assert!(kernel_cpu_seconds() > 0.0);
        assert!(softirq_threads_runtime() > Duration::ZERO);
        assert_eq!(cpu_seconds(u32::MAX), 0.0);
    }
}
