//! Bounded floods with netsniff-ng's trafgen, sent from a lab namespace: a packet count, an
//! optional rate, and a wall-clock limit after which the flood is stopped whatever it reached.
use std::{
    os::unix::process::CommandExt as _,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::netns::Netns;

pub fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|byte| format!("{byte:02x}")).join(":")
}

/// ARP requests for `target` broadcast from `sender_mac`, each from a random sender address
/// in 198.51.100.0/24 (documentation range).
pub fn arp_requests(sender_mac: [u8; 6], target: &str) -> String {
    let mac = mac_text(sender_mac);
    format!(
        "{{ eth(da=ff:ff:ff:ff:ff:ff, sa={mac}), \
         arp(op=request, smac={mac}, sip=198.51.100.1, sip[3]=drnd(), \
         tmac=00:00:00:00:00:00, tip={target}) }}"
    )
}

/// Small UDP datagrams from `source` to `destination` (discard port, random source port).
pub fn udp_datagrams(
    source_mac: [u8; 6],
    destination_mac: [u8; 6],
    source: &str,
    destination: &str,
) -> String {
    format!(
        "{{ eth(da={}, sa={}), ipv4(sa={source}, da={destination}, ttl=64), \
         udp(sp=drnd(), dp=9), fill(0x00, 18) }}",
        mac_text(destination_mac),
        mac_text(source_mac)
    )
}

/// A flood in progress; stopped (and reaped) when dropped.
pub struct Flood {
    child: Child,
    reaped: bool,
    started: Instant,
    limit: Duration,
}

/// What a finished flood took.
pub struct Finished {
    pub elapsed: Duration,
    /// trafgen's CPU time (user + system, from its rusage): with softirqs run in the context
    /// of the task that raised them, this includes carrying each packet through the veths and
    /// the bridge to its receiver, and the receiver's answer back.
    pub cpu: Duration,
}

/// Sends `count` copies of `packet` (trafgen syntax) out of `interface` in `netns`, at
/// `rate_pps` if given (otherwise as fast as one CPU can), for at most `limit`.
pub fn start(
    netns: &Netns,
    interface: &str,
    packet: &str,
    count: u64,
    rate_pps: Option<u64>,
    limit: Duration,
) -> Flood {
    // `ip netns exec` execs trafgen itself: the child is trafgen, whose rusage we collect.
    let mut command = netns.command("trafgen");
    command.args([
        "--dev",
        interface,
        "--conf",
        "-",
        "--cpus",
        "1",
        "--num",
        &count.to_string(),
    ]);
    if let Some(rate) = rate_pps {
        command.args(["--rate", &format!("{rate}pps")]);
    }
    // Its own process group: trafgen forks a worker, and a stop must reach both.
    let mut child = command
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trafgen (cargo xtask setup installs netsniff-ng)");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("trafgen stdin");
        stdin.write_all(packet.as_bytes()).expect("trafgen config");
    }
    Flood {
        child,
        reaped: false,
        started: Instant::now(),
        limit,
    }
}

impl Flood {
    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Reaps trafgen (`block`ing or not); its exit status and rusage once it has exited.
    fn reap(&mut self, block: bool) -> Option<(i32, libc::rusage)> {
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: wait4 on our own unreaped child with valid out-pointers.
        let pid = unsafe { libc::wait4(self.pid(), &mut status, flags, &mut usage) };
        (pid == self.pid()).then(|| {
            self.reaped = true;
            (status, usage)
        })
    }

    /// Waits for the flood to end: its count sent, or stopped at its limit (a bounded flood
    /// too). Panics if trafgen failed, with what it said.
    pub fn finish(self) -> Finished {
        self.try_finish()
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// [`Flood::finish`], with trafgen's failure as an error.
    pub fn try_finish(mut self) -> Result<Finished, String> {
        let (status, usage) = loop {
            if super::STOP.load(std::sync::atomic::Ordering::SeqCst)
                || self.started.elapsed() > self.limit
            {
                // SAFETY: signalling our own unreaped child's process group.
                unsafe { libc::kill(-self.pid(), libc::SIGINT) };
                break self.reap(true).expect("trafgen reaped");
            }
            if let Some(done) = self.reap(false) {
                break done;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        super::check_stop();
        let elapsed = self.started.elapsed();
        let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        let stopped = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGINT;
        if !exited_ok && !stopped {
            let mut text = String::new();
            if let Some(mut stderr) = self.child.stderr.take() {
                use std::io::Read as _;
                let _ = stderr.read_to_string(&mut text);
            }
            return Err(format!("trafgen failed (wait status {status}): {text}"));
        }
        let seconds =
            |time: libc::timeval| Duration::new(time.tv_sec as u64, time.tv_usec as u32 * 1000);
        Ok(Finished {
            elapsed,
            cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        })
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: killing our own child's process group and reaping the child.
            unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
            self.reap(true);
        }
    }
}
