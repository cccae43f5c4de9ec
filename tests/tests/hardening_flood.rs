//! Floods of malformed adverts at a backup xvrrpd while its master advertises every 100 ms:
//! every invalid kind the data plane checks, valid-looking adverts that would start a takeover
//! if accepted (priority 0 with a bad checksum or a wrong password), and random garbage with IP
//! protocol 112. Nothing may change state, the daemons must keep answering `status`, and the
//! data plane's counters must account for every frame sent. Root only.
//!
//! The routers run three instances each: VRRPv3 multicast (VRID 51), VRRPv2 with PASS
//! authentication (VRID 52) and VRRPv3 unicast with an allow-list (VRID 53). Frames come from
//! the client's namespace, addressed to the backup's MAC (pinned in the bridge's forwarding
//! table, so the master and the client never see them).
use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use tests::{
    flood::{FloodLimits, FloodReport, LinkDrops, flood, link_drops},
    lab::Lab,
    malformed::{FLOOD_COUNTERS, Malformed, Target},
    packet::send_frames,
};
use vrrp_common::Counter;
use vrrp_user::wire::vrrp::simple_auth_data;

const VIPS: [&str; 3] = ["192.0.2.100", "192.0.2.101", "192.0.2.102"];
const MASTER: usize = 0;
const BACKUP: usize = 1;
const PASSWORD: &str = "hunter2";
const SETTLE: Duration = Duration::from_secs(8);
/// How long a `status` request may take during a flood: generous, the machine is saturated.
const STATUS_BOUND: Duration = Duration::from_secs(3);
const SEED: u64 = 0x0f10_0d5e_ed00;
/// Adverts of the master's three instances that may fall between the two daemons' status
/// reads at either end of a flood.
const EDGE: u64 = 6;
/// The floods share the machine's cores: two at once would measure each other.
static ONE_FLOOD_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Three instances on eth0; `peer` is the other router (the unicast instance's allow-list).
fn router_config(router_id: &str, priority: u8, peer: &str, xdp: &str) -> String {
    format!(
        "[global]\nrouter_id = \"{router_id}\"\ncontrol_socket = \"@SOCKET@\"\nxdp = \"{xdp}\"\n\n\
         [[instance]]\nname = \"V3\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         advert_interval = \"100ms\"\nvirtual_ips = [\"{}/24\"]\n\n\
         [[instance]]\nname = \"V2\"\ninterface = \"eth0\"\nvrid = 52\npriority = {priority}\n\
         version = 2\nadvert_interval = \"1s\"\nauth_pass = \"{PASSWORD}\"\n\
         virtual_ips = [\"{}/24\"]\n\n\
         [[instance]]\nname = \"UNICAST\"\ninterface = \"eth0\"\nvrid = 53\n\
         priority = {priority}\nadvert_interval = \"100ms\"\nunicast_peers = [\"{peer}\"]\n\
         virtual_ips = [\"{}/24\"]\n",
        VIPS[0], VIPS[1], VIPS[2]
    )
}

/// The master (r0, priority 150) holding every VIP and the backup (r1) settled. The lab's
/// bridge runs no netfilter ([`Lab::new`]): broken IPv4 headers reach the backup.
fn lab(tag: &str, xdp: &str) -> Lab {
    let mut lab = Lab::new(tag, 2);
    lab.start(MASTER, &router_config("r0", 150, "192.0.2.12", xdp));
    for vip in VIPS {
        assert!(
            lab.wait_for_holder(MASTER, vip, SETTLE),
            "r0 should hold {vip}\n{}",
            lab.logs()
        );
    }
    lab.start(BACKUP, &router_config("r1", 100, "192.0.2.11", xdp));
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if lab.try_status(BACKUP).is_some_and(|status| {
            instances(&status)
                .iter()
                .all(|i| i["state"] == "backup" && i["master_address"] == "192.0.2.11")
        }) {
            return lab;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("r1 never settled as backup of r0\n{}", lab.logs());
}

fn instances(status: &Value) -> Vec<Value> {
    status["instances"].as_array().cloned().unwrap_or_default()
}

fn counters(status: &Value) -> BTreeMap<String, u64> {
    status["dataplane"]["counters"]
        .as_object()
        .expect("data-plane counters in status")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_u64().expect("a count")))
        .collect()
}

fn counter(status: &Value, counter: Counter) -> u64 {
    status["dataplane"]["counters"][counter.name()]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {} in {status}", counter.name()))
}

/// What must not move during a flood, per instance.
#[derive(Debug, PartialEq)]
struct Election {
    name: String,
    state: String,
    master: Value,
    became_master: u64,
    released_master: u64,
}

fn election(status: &Value) -> Vec<Election> {
    instances(status)
        .iter()
        .map(|i| Election {
            name: i["name"].as_str().unwrap_or_default().to_owned(),
            state: i["state"].as_str().unwrap_or_default().to_owned(),
            master: i["master_address"].clone(),
            became_master: i["counters"]["became_master"].as_u64().unwrap_or(0),
            released_master: i["counters"]["released_master"].as_u64().unwrap_or(0),
        })
        .collect()
}

fn adverts_sent(status: &Value) -> u64 {
    instances(status)
        .iter()
        .map(|i| i["counters"]["adverts_sent"].as_u64().unwrap_or(0))
        .sum()
}

fn flood_sum(before: &Value, after: &Value) -> u64 {
    FLOOD_COUNTERS
        .iter()
        .map(|&c| counter(after, c) - counter(before, c))
        .sum()
}

/// The attack on the backup of `lab`: source and destination MACs and the instances' facts.
fn target(lab: &Lab) -> Target {
    let backup_mac = lab.routers[BACKUP].netns.mac("eth0");
    // Pinned: the bridge must neither flood the attack to every port before it learns the
    // backup's MAC nor ever forget it.
    let mac = backup_mac.map(|b| format!("{b:02x}")).join(":");
    let out = lab
        .bridge
        .command("bridge")
        .args(["fdb", "replace", &mac, "dev", "p1", "master", "static"])
        .output()
        .expect("bridge fdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Target {
        src_mac: lab.client.mac("eth0"),
        dst_mac: backup_mac,
        master: Ipv4Addr::new(192, 0, 2, 11),
        victim: Ipv4Addr::new(192, 0, 2, 12),
        stranger: Ipv4Addr::new(192, 0, 2, 50),
        v3_vrid: 51,
        v2_vrid: 52,
        v2_password: simple_auth_data(PASSWORD.as_bytes()),
        unicast_vrid: 53,
        vip: Ipv4Addr::new(192, 0, 2, 100),
    }
}

/// Sends each crafted frame alone and checks the one counter it must land in moved by one,
/// and nothing else did: every kind is judged as intended before the flood counts in bulk.
fn each_kind_lands_in_its_slot(lab: &Lab, catalogue: &[Malformed]) {
    let ifindex = lab.client.ifindex("eth0");
    let mut wrong = Vec::new();
    for entry in catalogue {
        let before = lab.status(BACKUP);
        lab.client
            .enter(|| send_frames(ifindex, std::slice::from_ref(&entry.frame)));
        let expect = entry.expect.expect("a crafted frame");
        let deadline = Instant::now() + Duration::from_secs(2);
        let after = loop {
            let after = lab.status(BACKUP);
            if flood_sum(&before, &after) >= 1 || Instant::now() > deadline {
                break after;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let moved: Vec<&str> = FLOOD_COUNTERS
            .iter()
            .filter(|&&c| counter(&after, c) != counter(&before, c))
            .map(|c| c.name())
            .collect();
        if moved != [expect.name()] || flood_sum(&before, &after) != 1 {
            wrong.push(format!(
                "{}: expected {}, moved {moved:?}",
                entry.name,
                expect.name()
            ));
        }
    }
    eprintln!(
        "{} crafted kinds sent one by one, {} judged otherwise than intended",
        catalogue.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "frames judged otherwise than intended:\n{}",
        wrong.join("\n")
    );
}

/// What a monitor saw while the flood ran.
#[derive(Debug, Default)]
struct Watch {
    polls: u32,
    unanswered: Vec<String>,
    slowest: Duration,
    changes: Vec<String>,
}

/// Polls both daemons' status and the VIP holders until `done`, recording any change.
fn watch(lab: &Lab, done: &AtomicBool, expected: &[Vec<Election>]) -> Watch {
    let mut seen = Watch::default();
    while !done.load(Ordering::Relaxed) {
        for (index, expected) in expected.iter().enumerate() {
            let asked = Instant::now();
            let status = lab.try_status(index);
            let took = asked.elapsed();
            seen.slowest = seen.slowest.max(took);
            match status {
                Some(status) if took <= STATUS_BOUND => {
                    if &election(&status) != expected {
                        seen.changes
                            .push(format!("r{index}: {:?}", election(&status)));
                    }
                }
                Some(_) => seen
                    .unanswered
                    .push(format!("r{index} answered in {took:?}")),
                None => seen
                    .unanswered
                    .push(format!("r{index} did not answer ({took:?})")),
            }
        }
        for vip in VIPS {
            if lab.holder(vip) != Some(MASTER) {
                seen.changes
                    .push(format!("{vip} held by {:?}", lab.holder(vip)));
            }
        }
        seen.polls += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    seen
}

/// Drops on the way to the backup's XDP program: the client's veth into the bridge, the
/// bridge ports, and the backup's veth.
fn path_drops(lab: &Lab) -> Vec<(&'static str, LinkDrops)> {
    vec![
        ("client eth0", link_drops(&lab.client, "eth0")),
        ("bridge pc", link_drops(&lab.bridge, "pc")),
        ("bridge p1", link_drops(&lab.bridge, "p1")),
        ("r1 eth0", link_drops(&lab.routers[BACKUP].netns, "eth0")),
    ]
}

struct Outcome {
    report: FloodReport,
    deltas: BTreeMap<String, u64>,
    kernel_drops: u64,
    watch: Watch,
}

/// Floods the backup with `pool` within `limits`, watching both routers, and returns what
/// the flood did and how the backup's counters moved. `raw_drops` reads what the kernel lost
/// beyond the interfaces (the socket backend's receive queue).
fn run_flood(
    lab: &Lab,
    pool: &[Vec<u8>],
    limits: FloodLimits,
    raw_drops: impl Fn(&Lab) -> u64,
) -> Outcome {
    // A queue on the sending veth makes the path push back instead of dropping in the
    // bridge port's ring when the bridge falls behind.
    let out = lab
        .client
        .command("tc")
        .args([
            "qdisc", "replace", "dev", "eth0", "root", "pfifo", "limit", "1000",
        ])
        .output()
        .expect("tc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = [election(&lab.status(MASTER)), election(&lab.status(BACKUP))];
    let master_before = lab.status(MASTER);
    let before = lab.status(BACKUP);
    let drops_before = path_drops(lab);
    let raw_before = raw_drops(lab);
    let ifindex = lab.client.ifindex("eth0");
    let done = AtomicBool::new(false);
    let (report, watch) = std::thread::scope(|scope| {
        let monitor = scope.spawn(|| watch(lab, &done, &expected));
        let report = lab.client.enter(|| flood(ifindex, pool, limits));
        done.store(true, Ordering::Relaxed);
        (report, monitor.join().expect("monitor"))
    });
    // Let the receive side finish what is queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = lab.status(BACKUP);
    let mut last = flood_sum(&before, &after);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        after = lab.status(BACKUP);
        let now = flood_sum(&before, &after);
        if now == last && now > 0 {
            break;
        }
        last = now;
    }
    let master_after = lab.status(MASTER);
    let mut kernel_drops = raw_drops(lab) - raw_before;
    for ((name, now), (_, then)) in path_drops(lab).iter().zip(&drops_before) {
        let delta = now.since(then);
        if delta.total() > 0 {
            eprintln!("kernel drops on {name}: {delta:?}");
        }
        kernel_drops += delta.total();
    }
    let deltas: BTreeMap<String, u64> = counters(&after)
        .into_iter()
        .map(|(name, value)| {
            let then = counters(&before)[&name];
            (name, value - then)
        })
        .collect();
    let accepted = deltas[Counter::AdvertAccepted.name()];
    let sent_by_master = adverts_sent(&master_after) - adverts_sent(&master_before);
    eprintln!(
        "flood: {} frames in {:.2?} ({:.0} frames/s, {} push-backs), pool {}; backup counters \
         moved {deltas:?}; kernel drops {kernel_drops}; master sent {sent_by_master} adverts, \
         backup accepted {accepted}; {} status polls, slowest {:?}",
        report.sent,
        report.elapsed,
        report.rate(),
        report.pushed_back,
        report.pool,
        watch.polls,
        watch.slowest,
    );
    // Nothing of the flood was accepted (a few adverts may straddle the status reads)...
    assert!(
        accepted <= sent_by_master + EDGE,
        "the backup accepted {accepted} adverts while the master sent {sent_by_master}\n{}",
        lab.logs()
    );
    // ... and with nothing lost on the way, every advert of the master was. (A socket
    // backend's overflowing receive queue loses the master's adverts with the flood's.)
    if kernel_drops == 0 {
        assert!(
            accepted + EDGE >= sent_by_master,
            "the backup accepted {accepted} adverts while the master sent {sent_by_master}\n{}",
            lab.logs()
        );
    }
    assert_eq!(deltas[Counter::EventLost.name()], 0, "{deltas:?}");
    Outcome {
        report,
        deltas,
        kernel_drops,
        watch,
    }
}

/// The assertions both data planes share.
fn check(lab: &Lab, pool: &[Malformed], limits: FloodLimits, outcome: &Outcome) {
    let Outcome {
        report,
        deltas,
        kernel_drops,
        watch,
    } = outcome;
    assert_eq!(
        report.sent, limits.frames,
        "the flood was cut short by its time limit ({:?}): {report:?}",
        limits.time
    );
    assert!(
        watch.polls >= 2,
        "the flood ended before the monitor looked: {watch:?}"
    );
    assert!(
        watch.unanswered.is_empty(),
        "status did not answer within {STATUS_BOUND:?} during the flood: {:?}\n{}",
        watch.unanswered,
        lab.logs()
    );
    assert!(
        watch.changes.is_empty(),
        "state changed during the flood: {:?}\n{}",
        watch.changes,
        lab.logs()
    );
    // Every crafted frame in its own slot, garbage anywhere among the flood's slots: a slot
    // may fall short of its crafted frames only by what the kernel dropped before judging.
    let mut crafted: BTreeMap<&str, u64> = BTreeMap::new();
    for (index, entry) in pool.iter().enumerate() {
        if let Some(expect) = entry.expect {
            *crafted.entry(expect.name()).or_default() += report.copies_of(index);
        }
    }
    let short: u64 = crafted
        .iter()
        .map(|(name, copies)| copies.saturating_sub(deltas[*name]))
        .sum();
    assert!(
        short <= *kernel_drops,
        "slots hold {short} fewer frames than were crafted for them, {kernel_drops} were \
         dropped by the kernel: crafted {crafted:?}, counted {deltas:?}"
    );
    let counted: u64 = FLOOD_COUNTERS.iter().map(|c| deltas[c.name()]).sum();
    assert_eq!(
        counted + kernel_drops,
        report.sent,
        "{counted} frames counted by the data plane and {kernel_drops} dropped by the kernel on \
         the way, {} sent: {deltas:?}",
        report.sent
    );
    // Both daemons still answer, in the same states, and the master alone holds the VIPs.
    let master = election(&lab.status(MASTER));
    let backup = election(&lab.status(BACKUP));
    assert!(master.iter().all(|i| i.state == "master"), "{master:?}");
    assert!(backup.iter().all(|i| i.state == "backup"), "{backup:?}");
    for vip in VIPS {
        assert_eq!(lab.holder(vip), Some(MASTER), "{vip}\n{}", lab.logs());
    }
}

fn frames(pool: &[Malformed]) -> Vec<Vec<u8>> {
    pool.iter().map(|entry| entry.frame.clone()).collect()
}

/// The catalogue weighted up (several copies of each) next to `garbage` random frames.
fn weighted_pool(catalogue: &[Malformed], garbage: Vec<Malformed>) -> Vec<Malformed> {
    let mut pool: Vec<Malformed> = (0..12).flat_map(|_| catalogue.iter().cloned()).collect();
    pool.extend(garbage);
    pool
}

#[test]
fn a_million_malformed_adverts_move_nothing_and_are_all_counted_by_xdp() {
    let _alone = ONE_FLOOD_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let lab = lab("flood", "auto");
    let backup = lab.status(BACKUP);
    // `auto` on veth: generic XDP (see dataplane::xdp::attach_order).
    assert_eq!(backup["dataplane"]["mode"], "skb", "{backup}");
    let target = target(&lab);
    let catalogue = target.catalogue();
    each_kind_lands_in_its_slot(&lab, &catalogue);

    let pool = weighted_pool(&catalogue, target.garbage(SEED, 1024));
    let limits = FloodLimits {
        frames: 1_000_000,
        time: Duration::from_secs(75),
        rate: None,
    };
    let outcome = run_flood(&lab, &frames(&pool), limits, |_| 0);
    check(&lab, &pool, limits, &outcome);
}

/// The socket backend judges what the kernel's IP layer lets through; IP-level breakage is
/// the kernel's to drop, so those frames are left out. The raw socket's queue can overflow
/// under a flood: its drops are read from /proc/net/raw and accounted for.
#[test]
fn malformed_adverts_move_nothing_and_are_all_counted_by_the_socket_backend() {
    let _alone = ONE_FLOOD_AT_A_TIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let lab = lab("flood-sock", "off");
    let backup = lab.status(BACKUP);
    assert_eq!(backup["dataplane"]["mode"], "socket", "{backup}");
    let target = target(&lab);
    let catalogue: Vec<Malformed> = target
        .catalogue()
        .into_iter()
        .filter(|entry| !entry.ip_level)
        .collect();
    each_kind_lands_in_its_slot(&lab, &catalogue);

    let garbage = target.garbage(SEED, 512);
    let garbage = garbage
        .into_iter()
        .filter(|entry| !entry.ip_level)
        .collect();
    let pool = weighted_pool(&catalogue, garbage);
    let limits = FloodLimits {
        frames: 100_000,
        time: Duration::from_secs(60),
        rate: Some(20_000),
    };
    let outcome = run_flood(&lab, &frames(&pool), limits, raw_socket_drops);
    check(&lab, &pool, limits, &outcome);
}

/// Datagrams the backup's kernel dropped at its raw IPPROTO 112 sockets (full receive queue):
/// the `drops` column of /proc/net/raw and raw6 in its namespace.
fn raw_socket_drops(lab: &Lab) -> u64 {
    let mut drops = 0;
    for file in ["/proc/net/raw", "/proc/net/raw6"] {
        let out = lab.routers[BACKUP]
            .netns
            .command("cat")
            .arg(file)
            .output()
            .expect("cat");
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDRESS:PROTOCOL; 0070 is 112.
            let vrrp = fields.get(1).is_some_and(|local| local.ends_with(":0070"));
            if vrrp {
                drops += fields
                    .last()
                    .and_then(|d| d.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    drops
}
