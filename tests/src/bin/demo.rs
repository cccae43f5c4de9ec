//! `cargo xtask demo`: two xvrrpd routers and a client on a bridge, in network namespaces.
//! Shows who is master, has the client ping the VIP every 2 ms, cuts the master's link, prints
//! the outage the client saw and the new master, restores the link, and cleans everything up —
//! also on Ctrl-C.
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tests::lab::Lab;

const VIP: &str = "192.0.2.100";

fn main() {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // The daemons get Ctrl-C too (same process group) and resign; the lab's guards then
        // remove every namespace when main returns.
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).expect("Ctrl-C handler");
    }
    let result = demo(&stop);
    match result {
        Ok(()) => println!("\ncleaned up: namespaces, daemons and files are gone"),
        Err(message) => {
            eprintln!("\ndemo stopped: {message}");
            std::process::exit(1);
        }
    }
}

fn pause(stop: &AtomicBool, duration: Duration) -> Result<(), String> {
    let deadline = std::time::Instant::now() + duration;
    while std::time::Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn show(lab: &Lab) {
    for index in 0..2 {
        match lab.try_status(index) {
            Some(status) => {
                let instance = &status["instances"][0];
                println!(
                    "  r{} ({}): {:<7} priority {}  master {}  data plane {}",
                    index + 1,
                    lab.routers[index].address,
                    instance["state"].as_str().unwrap_or("?"),
                    instance["effective_priority"],
                    instance["master_address"].as_str().unwrap_or("-"),
                    status["dataplane"]["mode"].as_str().unwrap_or("?"),
                );
            }
            None => println!("  r{}: not answering", index + 1),
        }
    }
}

fn demo(stop: &AtomicBool) -> Result<(), String> {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../vrrp-user/conf");
    let read = |name: &str| {
        std::fs::read_to_string(format!("{conf}/{name}")).map_err(|err| format!("{name}: {err}"))
    };
    println!("lab: routers r1 (192.0.2.11) and r2 (192.0.2.12), client 192.0.2.50, VIP {VIP}");
    let mut lab = Lab::new("demo", 2);
    lab.start(0, &read("demo-r1.toml")?);
    pause(stop, Duration::from_millis(300))?;
    lab.start(1, &read("demo-r2.toml")?);
    if !lab.wait_for_holder(0, VIP, Duration::from_secs(5)) {
        return Err(format!("no master after 5 s\n{}", lab.logs()));
    }
    pause(stop, Duration::from_millis(500))?;
    println!("\nelected (xvrrpd status):");
    show(&lab);

    println!("\nclient pings {VIP} every 2 ms; cutting r1's link after 1 s ...");
    let outage = std::thread::scope(|scope| {
        let ping =
            scope.spawn(|| lab.ping_outage(VIP, Duration::from_millis(2), Duration::from_secs(3)));
        let cut = pause(stop, Duration::from_secs(1));
        lab.cut(0);
        let outage = ping.join().expect("ping thread");
        cut.map(|()| outage)
    })?;
    println!(
        "client lost the VIP for {:.1} ms ({} of {} replies received); Master_Down_Interval is \
         360.9 ms at 100 ms adverts",
        outage.longest.as_secs_f64() * 1000.0,
        outage.received,
        outage.sent
    );
    println!("\nafter the cut:");
    show(&lab);

    println!("\nrestoring r1's link: it preempts r2 again ...");
    lab.restore(0);
    if !lab.wait_for_holder(0, VIP, Duration::from_secs(5)) {
        return Err(format!("r1 did not take the VIP back\n{}", lab.logs()));
    }
    pause(stop, Duration::from_millis(300))?;
    show(&lab);
    Ok(())
}
