//! Gratuitous ARP as the client's wire sees it: a burst on becoming Master and a second one
//! `garp_delay` later, which names only the VIPs still configured when it leaves; a burst for a
//! VIP a reload adds; `garp_refresh_repeat` messages every `garp_refresh` while Master, counted
//! from the reload that turns it on, until one turns it off, or until the router is no
//! longer Master. The daemon's `gratuitous_sent` counts exactly what the wire carried. Root only.
use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};
use tests::lab::Lab;

const KEPT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const REMOVED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
const ADDED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 102);
const ETH_P_ARP: u16 = 0x0806;

/// Router r0's instance with `vips` (/24) and the `garp_*` settings in `garp`.
fn config(vips: &[Ipv4Addr], garp: &str) -> String {
    router_config("r0", 150, vips, garp)
}

fn router_config(router: &str, priority: u8, vips: &[Ipv4Addr], garp: &str) -> String {
    let vips: Vec<String> = vips.iter().map(|vip| format!("\"{vip}/24\"")).collect();
    format!(
        "[global]\nrouter_id = \"{router}\"\ncontrol_socket = \"@SOCKET@\"\n\n\
         [[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 51\n\
         priority = {priority}\nadvert_interval = \"100ms\"\nvirtual_ips = [{}]\n\
         garp_repeat = 1\n{garp}\n",
        vips.join(", ")
    )
}

/// A gratuitous ARP the client received: when, for which address, from which MAC.
#[derive(Clone, Copy, Debug)]
struct Seen {
    at: Instant,
    address: Ipv4Addr,
    from: [u8; 6],
}

/// An ARP socket on the client's eth0, bound before the daemon starts.
fn arp_socket(lab: &Lab) -> Socket {
    let ifindex = lab.client.ifindex("eth0");
    lab.client.enter(|| {
        let protocol = Protocol::from(i32::from(ETH_P_ARP.to_be()));
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(protocol)).expect("socket");
        socket
            .bind(&tests::packet::link_address(ifindex, ETH_P_ARP))
            .expect("bind to eth0");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("read timeout");
        socket
    })
}

/// Every gratuitous ARP (sender address = target address) `socket` receives until `stop` is
/// set.
fn capture(socket: Socket, stop: &AtomicBool) -> Vec<Seen> {
    let mut seen = Vec::new();
    // Bounded: the test ends within a minute.
    let limit = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
        let Some(frame) = tests::packet::recv_frame(&socket) else {
            continue;
        };
        let Some(body) = frame.get(14..42) else {
            continue;
        };
        let sender = Ipv4Addr::new(body[14], body[15], body[16], body[17]);
        let target = Ipv4Addr::new(body[24], body[25], body[26], body[27]);
        if sender == target {
            seen.push(Seen {
                at: Instant::now(),
                address: sender,
                from: body[8..14].try_into().expect("six bytes"),
            });
        }
    }
    seen
}

/// Runs `scenario` on `lab` while the client's wire is captured; what it saw, and what the
/// scenario returned.
fn captured<T>(lab: &mut Lab, scenario: impl FnOnce(&mut Lab) -> T) -> (Vec<Seen>, T) {
    let stop = AtomicBool::new(false);
    let socket = arp_socket(lab);
    std::thread::scope(|scope| {
        let capturing = scope.spawn(|| capture(socket, &stop));
        let result = scenario(lab);
        stop.store(true, Ordering::Relaxed);
        (capturing.join().expect("capture thread"), result)
    })
}

/// Starts router `index` with `config` and waits until it holds [`KEPT`].
fn start_master(lab: &mut Lab, index: usize, config: &str) {
    lab.start(index, config);
    assert!(
        lab.wait_for_holder(index, &KEPT.to_string(), Duration::from_secs(5)),
        "{}",
        lab.logs()
    );
}

fn count(seen: &[Seen], address: Ipv4Addr, after: Instant) -> usize {
    seen.iter()
        .filter(|s| s.address == address && s.at > after)
        .count()
}

/// The messages for `address` between `from` and `to`, grouped into bursts (messages less
/// than 100 ms apart): each burst's first time and size.
fn bursts(seen: &[Seen], address: Ipv4Addr, from: Instant, to: Instant) -> Vec<(Instant, usize)> {
    let mut bursts: Vec<(Instant, usize)> = Vec::new();
    let mut last = None;
    for s in seen
        .iter()
        .filter(|s| s.address == address && s.at > from && s.at < to)
    {
        match (bursts.last_mut(), last) {
            (Some((_, size)), Some(previous)) if s.at - previous < Duration::from_millis(100) => {
                *size += 1
            }
            _ => bursts.push((s.at, 1)),
        }
        last = Some(s.at);
    }
    bursts
}

#[test]
fn announcements_name_only_configured_vips_and_repeat_every_garp_refresh() {
    tests::require_root();
    let mut lab = Lab::new("garp", 1);
    let (seen, (marks, sent)) = captured(&mut lab, |lab| {
        let delayed = "garp_delay = \"2s\"";
        start_master(lab, 0, &config(&[KEPT, REMOVED], delayed));
        // Within garp_delay of becoming Master: the second burst is still to come.
        lab.reload_with(0, "r0.toml", &config(&[KEPT], delayed));
        let removed = Instant::now();
        std::thread::sleep(Duration::from_millis(2500));

        let refreshing = "garp_delay = \"0s\"\ngarp_refresh = \"1s\"\ngarp_refresh_repeat = 2";
        // Marked before: the added VIP's own burst leaves during the reload.
        let refresh_on = Instant::now();
        lab.reload_with(0, "r0.toml", &config(&[KEPT, ADDED], refreshing));
        std::thread::sleep(Duration::from_millis(3500));
        lab.reload_with(0, "r0.toml", &config(&[KEPT, ADDED], "garp_delay = \"0s\""));
        let refresh_off = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        let sent = lab.status(0)["instances"][0]["counters"]["gratuitous_sent"].as_u64();
        ([removed, refresh_on, refresh_off], sent)
    });
    let [removed, refresh_on, refresh_off] = marks;
    let logs = lab.logs();
    let report = format!("{seen:?}\n{logs}");

    // Becoming Master: one message per VIP, then the second burst for the VIP still there.
    assert!(
        seen.iter().any(|s| s.address == REMOVED && s.at < removed),
        "{report}"
    );
    assert_eq!(count(&seen, REMOVED, removed), 0, "{report}");
    assert_eq!(
        bursts(&seen, KEPT, removed, refresh_on).len(),
        1,
        "the second burst for the kept VIP: {report}"
    );

    // The added VIP's own burst (garp_repeat 1), then refreshes of two messages for both VIPs,
    // a second apart, the first a second after the reload; none once it is off.
    let kept = bursts(&seen, KEPT, refresh_on, refresh_off);
    let added = bursts(&seen, ADDED, refresh_on, refresh_off);
    assert_eq!(added.first().map(|(_, size)| *size), Some(1), "{report}");
    assert_eq!(added.len(), kept.len() + 1, "{report}");
    assert!((3..=4).contains(&kept.len()), "{report}");
    for (at, size) in &kept {
        assert_eq!(*size, 2, "garp_refresh_repeat: {report}");
        assert!(
            added
                .iter()
                .any(|(other, n)| other.max(at).duration_since(*other.min(at))
                    < Duration::from_millis(50)
                    && *n == 2),
            "{report}"
        );
    }
    let first = kept[0].0 - added[0].0;
    assert!(
        first > Duration::from_millis(900) && first < Duration::from_millis(1300),
        "first refresh {first:?} after the reload: {report}"
    );
    for pair in kept.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap > Duration::from_millis(900) && gap < Duration::from_millis(1200),
            "refresh gap {gap:?}: {report}"
        );
    }
    let last = refresh_off + Duration::from_millis(100);
    assert_eq!(count(&seen, KEPT, last), 0, "refresh off: {report}");
    assert_eq!(count(&seen, ADDED, last), 0, "refresh off: {report}");
    // The counter matches the wire.
    assert_eq!(sent, Some(seen.len() as u64), "{report}");
}

#[test]
fn refresh_stops_when_the_router_is_master_no_more() {
    tests::require_root();
    let mut lab = Lab::new("garpstop", 2);
    let refreshing = "garp_delay = \"0s\"\ngarp_refresh = \"1s\"";
    let (seen, [started, preempted, end]) = captured(&mut lab, |lab| {
        let started = Instant::now();
        start_master(lab, 0, &config(&[KEPT], refreshing));
        std::thread::sleep(Duration::from_millis(2500));
        // A router of higher priority preempts r0, which goes back to Backup.
        start_master(lab, 1, &router_config("r1", 200, &[KEPT], refreshing));
        let preempted = Instant::now();
        // Three of r0's refreshes would have been due.
        std::thread::sleep(Duration::from_millis(3200));
        [started, preempted, Instant::now()]
    });
    let report = format!("{seen:?}\n{}", lab.logs());
    let r0 = lab.routers[0].netns.mac("eth0");
    let r1 = lab.routers[1].netns.mac("eth0");
    let from =
        |mac: [u8; 6]| -> Vec<Seen> { seen.iter().filter(|s| s.from == mac).copied().collect() };
    assert!(
        bursts(&from(r0), KEPT, started, preempted).len() >= 3,
        "r0's burst on becoming Master and its refreshes: {report}"
    );
    assert_eq!(
        count(&from(r0), KEPT, preempted),
        0,
        "r0 refreshes no more once Backup: {report}"
    );
    // The new Master's burst on taking over, then its own refreshes.
    assert!(
        bursts(&from(r1), KEPT, started, end).len() >= 3,
        "r1 refreshes: {report}"
    );
}

#[test]
fn the_second_burst_follows_garp_delay_after_the_first_began() {
    tests::require_root();
    let mut lab = Lab::new("garpdelay", 1);
    // The first burst takes 800 ms: three messages 400 ms apart.
    let spaced = "garp_repeat = 3\ngarp_interval = \"400ms\"\ngarp_delay = \"1s\"";
    let config = config(&[KEPT], "").replace("garp_repeat = 1\n", "") + spaced;
    let (seen, ()) = captured(&mut lab, |lab| {
        start_master(lab, 0, &config);
        std::thread::sleep(Duration::from_millis(3000));
    });
    let report = format!("{seen:?}\n{}", lab.logs());
    let times: Vec<Instant> = seen
        .iter()
        .filter(|s| s.address == KEPT)
        .map(|s| s.at)
        .collect();
    assert_eq!(times.len(), 6, "two bursts of three: {report}");
    let second = times[3] - times[0];
    assert!(
        second > Duration::from_millis(900) && second < Duration::from_millis(1300),
        "second burst {second:?} after the first began (keepalived: garp_master_delay from \
         the transition): {report}"
    );
}
