//! What a client pinging the VIP every 2 ms sees when the master fails: its link cut
//! (`failover`), or a graceful stop that sends priority 0 (`graceful`). The implementations run
//! one after the other, each in its own lab: run at once, on two cores, each one's outages
//! carried the other's load (graceful handovers at 1 s adverts measured 2 ms longer).
//!
//! A cut follows one of the master's adverts at once (a few µs: the helper that sees the advert
//! on the bridge takes the port down itself), so the outage is the Backup's
//! Master_Down_Interval plus the implementation's own reaction. At a random phase it would also
//! carry up to one advert interval of chance: a spread as wide as the interval, which 20 cuts
//! cannot take out of a median.
//!
//! Both routers of a lab have the same priority: whoever is master keeps the role until it
//! fails (an equal-priority Backup does not preempt), so each repeat fails the current master
//! and the next one fails the other router — no waiting for a preempting router to come back.
use std::{
    os::fd::AsRawFd,
    time::{Duration, Instant, SystemTime},
};

use socket2::{Domain, Protocol, Socket, Type};

use super::{
    Settings, check_stop, interval_name, master_down_interval, pause,
    peers::{self, Group, Implementation, VIP},
    pinger::Echoes,
    report::{Report, number},
    skew_time, wait_until,
};
use crate::lab::Lab;

/// (version, advert interval in ms) of each case.
const CASES: [(u8, u64); 4] = [(3, 10), (3, 100), (3, 1000), (2, 1000)];
/// The client's ping interval.
const PING_INTERVAL: Duration = Duration::from_millis(2);
/// Pings before the failure: the client has a steady stream of replies (and the VIP's MAC).
const LEAD: Duration = Duration::from_millis(200);
/// Failover: the typical default priority, so Master_Down_Interval is 3.61 intervals.
const CUT_PRIORITY: u8 = 100;
/// Graceful stop: the Backup waits Skew_Time after priority 0; 254 keeps it under 8 ms even
/// at 1 s, so what remains is the implementations' own handover time.
const STOP_PRIORITY: u8 = 254;

#[derive(Clone, Copy, PartialEq)]
enum Failure {
    Cut,
    Stop,
}

/// Outages in ms, and how many failures saw no reply again within the ping window.
struct Outages {
    ms: Vec<f64>,
    unrecovered: usize,
}

pub fn failover(settings: Settings, report: &mut Report) {
    run(settings, report, Failure::Cut);
}

pub fn graceful(settings: Settings, report: &mut Report) {
    run(settings, report, Failure::Stop);
}

fn run(settings: Settings, report: &mut Report, failure: Failure) {
    let (bench, priority) = match failure {
        Failure::Cut => ("failover", CUT_PRIORITY),
        Failure::Stop => ("graceful", STOP_PRIORITY),
    };
    let repeats = settings.repeats(20, 3);
    for (version, interval_ms) in CASES {
        let group = Group::single(version, Duration::from_millis(interval_ms));
        let case = format!("v{version} {}", interval_name(group.interval));
        let mdi = master_down_interval(version, group.interval, priority);
        let skew = skew_time(version, group.interval, priority);
        let results: Vec<(Implementation, Outages)> = Implementation::BOTH
            .into_iter()
            .map(|implementation| {
                let outages = measure(implementation, &group, priority, failure, repeats);
                (implementation, outages)
            })
            .collect();
        let note = |outages: &Outages| {
            let timer = match failure {
                Failure::Cut => format!("MDI {} ms (backup priority {priority})", number(ms(mdi))),
                Failure::Stop => format!("Skew_Time {} ms (priority {priority})", number(ms(skew))),
            };
            if outages.unrecovered > 0 {
                format!(
                    "{timer}; {} without recovery in the window",
                    outages.unrecovered
                )
            } else {
                timer
            }
        };
        for (implementation, outages) in &results {
            report.add(
                bench,
                &case,
                implementation.name(),
                "client outage",
                "ms",
                outages.ms.clone(),
                note(outages),
            );
        }
        let ours = report.median(bench, &case, "xvrrpd", "client outage");
        let theirs = report.median(bench, &case, "keepalived", "client outage");
        match failure {
            Failure::Cut => {
                if let (Some(ours), Some(theirs)) = (ours, theirs) {
                    report.verdict(
                        bench,
                        &format!("{case}: median no worse than keepalived's"),
                        ours <= theirs,
                        format!("{} ms vs {} ms", number(ours), number(theirs)),
                    );
                }
                if let Some(ours) = ours {
                    let bound = ms(mdi) + 5.0;
                    report.verdict(
                        bench,
                        &format!("{case}: median within MDI + 5 ms"),
                        ours <= bound,
                        format!("{} ms vs {} ms", number(ours), number(bound)),
                    );
                }
            }
            Failure::Stop => {
                if let Some(ours) = ours {
                    report.verdict(
                        bench,
                        &format!("{case}: handover under 10 ms"),
                        ours < 10.0,
                        format!(
                            "{} ms (Skew_Time {} ms; keepalived {} ms)",
                            number(ours),
                            number(ms(skew)),
                            theirs.map_or("-".into(), number)
                        ),
                    );
                }
            }
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One lab, `repeats` failures of whichever router is master.
fn measure(
    implementation: Implementation,
    group: &Group,
    priority: u8,
    failure: Failure,
    repeats: usize,
) -> Outages {
    let tag = format!(
        "{}{}{}{}",
        if failure == Failure::Cut { "fo" } else { "gs" },
        &implementation.name()[..1],
        group.version,
        group.interval.as_millis()
    );
    let mut lab = Lab::new(&tag, 2);
    let mdi = master_down_interval(group.version, group.interval, priority);
    // Generous: startup, then a full Master_Down_Interval on a loaded machine.
    let settle_limit = mdi * 3 + Duration::from_secs(10);
    peers::start(&mut lab, 0, implementation, group, priority);
    assert!(
        wait_until(settle_limit, || lab.holds(0, VIP)),
        "{tag}: r0 never became master\n{}",
        lab.logs()
    );
    peers::start(&mut lab, 1, implementation, group, priority);
    pause(mdi + group.interval);
    // A cut waits up to an interval for the master's next advert.
    let window = LEAD + group.interval + mdi + mdi / 2 + Duration::from_millis(500);
    let mut outages = Outages {
        ms: Vec::new(),
        unrecovered: 0,
    };
    for _ in 0..repeats {
        check_stop();
        let mut master = None;
        wait_until(settle_limit, || {
            master = lab.holder(VIP);
            master.is_some()
        });
        let master = master.unwrap_or_else(|| panic!("{tag}: no single master\n{}", lab.logs()));
        let outage = ping_across(&lab, window, || match failure {
            Failure::Cut => cut_after_advert(&lab, master, window - LEAD),
            Failure::Stop => lab.signal(master, "TERM"),
        });
        match outage {
            Some(outage) => outages.ms.push(outage),
            None => outages.unrecovered += 1,
        }
        match failure {
            Failure::Cut => lab.restore(master),
            Failure::Stop => {
                assert!(
                    lab.wait_exit(master, Duration::from_secs(10)).is_some(),
                    "{tag}: r{master} did not stop on SIGTERM\n{}",
                    lab.logs()
                );
                peers::start(&mut lab, master, implementation, group, priority);
            }
        }
        // The failed router comes back as Backup: give it a full Master_Down_Interval to
        // hear the new master before the next failure.
        pause(mdi + group.interval + Duration::from_millis(200));
    }
    outages
}

/// Pings the VIP from the client every 2 ms for `window`, runs `failure` after [`LEAD`]; the
/// time the client went without a reply once the failure began, in ms (the longest gap between
/// replies, less one ping interval), or `None` if it did not recover within the window.
fn ping_across(lab: &Lab, window: Duration, failure: impl FnOnce()) -> Option<f64> {
    let target = VIP.parse().expect("VIP");
    let (echoes, at) = std::thread::scope(|scope| {
        let pinger = scope.spawn(|| {
            lab.client
                .enter(|| super::pinger::ping(target, PING_INTERVAL, window))
        });
        pause(LEAD);
        let at = unix_seconds();
        failure();
        (pinger.join().expect("pinger"), at)
    });
    gap_across(&echoes, at).map(|gap| (gap - PING_INTERVAL.as_secs_f64()).max(0.0) * 1000.0)
}

/// Every frame: a bridge port's frames go to the bridge before per-protocol sockets see them.
const ETH_P_ALL: u16 = libc::ETH_P_ALL as u16;
const IPPROTO_VRRP: u8 = 112;

/// Waits (at most `limit`) for the next VRRP advert router `index` sends, then takes its
/// bridge port down from the same thread: the cut lands microseconds after the advert has
/// been forwarded to the Backup, at the same phase every time.
fn cut_after_advert(lab: &Lab, index: usize, limit: Duration) {
    let port = format!("p{index}");
    let ifindex = lab.bridge.ifindex(&port);
    let seen = lab.bridge.enter(|| {
        let protocol = Protocol::from(i32::from(ETH_P_ALL.to_be()));
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(protocol)).expect("AF_PACKET");
        // Only frames that arrive on the port: not the client's pings the bridge sends to it.
        crate::packet::enable_option(&socket, libc::PACKET_IGNORE_OUTGOING);
        socket
            .bind(&crate::packet::link_address(ifindex, ETH_P_ALL))
            .expect("bind to the router's port");
        let deadline = Instant::now() + limit;
        let seen = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            socket.set_read_timeout(Some(left)).expect("read timeout");
            if crate::packet::recv_frame(&socket).is_some_and(|frame| is_ipv4_vrrp(&frame)) {
                break true;
            }
        };
        set_link_down(&port);
        seen
    });
    assert!(seen, "r{index} sent no advert in {limit:?} before the cut");
}

fn is_ipv4_vrrp(frame: &[u8]) -> bool {
    // EtherType at 12, the IPv4 protocol field at 14 + 9.
    frame.len() > 23 && frame[12..14] == [0x08, 0x00] && frame[23] == IPPROTO_VRRP
}

/// `ip link set NAME down` without a process: clears IFF_UP by ioctl. Call it from a thread in
/// the interface's namespace.
fn set_link_down(name: &str) {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).expect("ioctl socket");
    // SAFETY: ifreq is plain data; all-zero is a valid starting value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    assert!(name.len() < request.ifr_name.len(), "interface name {name}");
    for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the flags of the named interface in
    // `request`, which outlives both calls.
    unsafe {
        let rc = libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request);
        assert_eq!(
            rc,
            0,
            "SIOCGIFFLAGS {name}: {}",
            std::io::Error::last_os_error()
        );
        request.ifr_ifru.ifru_flags &= !(libc::IFF_UP as libc::c_short);
        let rc = libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request);
        assert_eq!(
            rc,
            0,
            "SIOCSIFFLAGS {name}: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Silence at the end of the window longer than this means the client had not got its
/// service back: 25 probes, more than this machine's scheduling hiccups (up to ~15 ms seen).
const END_SILENCE: f64 = 0.050;

/// The longest time between consecutive replies once the failure began at `at` (the command
/// that fails the master takes a few ms to act, so replies go on for a moment), provided
/// replies came before it and had come back by the end of the window. A handover that lost no
/// probe at all measures as the stream's longest jitter gap.
fn gap_across(echoes: &Echoes, at: f64) -> Option<f64> {
    let stamps = &echoes.replies;
    if !stamps.first().is_some_and(|&first| first <= at) {
        return None;
    }
    if stamps
        .last()
        .is_none_or(|&last| echoes.ended - last > END_SILENCE)
    {
        return None;
    }
    stamps
        .windows(2)
        .filter(|pair| pair[1] > at)
        .map(|pair| pair[1] - pair[0])
        .max_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_across_the_failure_is_measured_between_replies() {
        let echoes = |seqs: &mut dyn Iterator<Item = u32>, ended: f64| Echoes {
            replies: seqs.map(|seq| 100.0 + 0.002 * f64::from(seq)).collect(),
            ended,
        };
        // Replies every 2 ms, a 40 ms hole from 100.010, then 30 more replies to the end.
        let holed = echoes(&mut (0..=5).chain(25..55), 100.109);
        // The failure began before the last replies ahead of the hole.
        let gap = gap_across(&holed, 100.003).unwrap();
        assert!((gap - 0.040).abs() < 1e-6, "{gap}");
        assert_eq!(
            gap_across(&holed, 99.0),
            None,
            "no reply before the failure"
        );
        // Back just before the end of the window: recovered, the hole measured.
        let late = echoes(&mut (0..=5).chain(25..28), 100.055);
        assert!((gap_across(&late, 100.003).unwrap() - 0.040).abs() < 1e-6);
        // Silent at the end of the window: not recovered, whatever came before.
        let silent = echoes(&mut (0..=50), 100.5);
        assert_eq!(gap_across(&silent, 100.003), None);
    }

    #[test]
    fn a_handover_that_loses_no_probe_measures_as_jitter() {
        // A steady stream whose longest gap (4 ms) is near the end of the window.
        let mut replies: Vec<f64> = (0..100).map(|seq| 100.0 + 0.002 * f64::from(seq)).collect();
        replies.remove(95);
        let ended = replies[replies.len() - 1] + 0.001;
        let gap = gap_across(&Echoes { replies, ended }, 100.05).unwrap();
        assert!((gap - 0.004).abs() < 1e-6, "{gap}");
    }
}
