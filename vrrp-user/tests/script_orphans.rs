//! The orphan reaper, in a test binary of its own: it reaps any exited child of the process
//! that is not a registered script, which in a binary of many tests could be another test's.
use std::time::{Duration, Instant};

use vrrp_user::track::{
    exec::{Outcome, RunAs, run},
    reaper::{adopts_orphans, reap_orphans},
};

/// This process's children that are zombies.
fn zombie_children() -> Vec<u32> {
    let mut zombies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state …: the state follows the last ')'.
            let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
            if state.starts_with('Z') {
                zombies.push(pid.parse().unwrap());
            }
        }
    }
    zombies
}

#[tokio::test]
async fn what_a_script_leaves_behind_is_reaped_and_the_script_is_not() {
    // As a container's PID 1 would: orphans come to this process.
    // SAFETY: prctl with an integer argument.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0);
    assert!(adopts_orphans());
    let sh = |script: &str| vec!["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let outcome = run(
        &sh("sleep 0.2 & exit 0"),
        &RunAs::daemon(),
        Duration::from_secs(5),
    )
    .await;
    assert!(matches!(outcome, Outcome::Exited(0)), "{outcome:?}");
    // The background sleep was re-parented here, and ends a zombie: nobody waits for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while zombie_children().is_empty() {
        assert!(Instant::now() < deadline, "no orphan became a zombie");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reap_orphans(), 1);
    assert_eq!(zombie_children(), Vec::<u32>::new());

    // A script is left to its waiter, which gets its exit status: the runtime (and its
    // reaping) is held while another thread reaps, well past the script's end.
    let command = sh("sleep 0.3; exit 3");
    let waiter =
        tokio::spawn(async move { run(&command, &RunAs::daemon(), Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reaper = std::thread::spawn(|| {
        let end = Instant::now() + Duration::from_millis(700);
        while Instant::now() < end {
            reap_orphans();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    reaper.join().unwrap();
    let outcome = waiter.await.unwrap();
    assert!(matches!(outcome, Outcome::Exited(3)), "{outcome:?}");
}
