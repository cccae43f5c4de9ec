//! Harness for xvrrpd's root-only tests.
pub mod arping;
pub mod attached;
pub mod bench;
pub mod flood;
pub mod frames;
pub mod frr;
pub mod lab;
pub mod malformed;
pub mod netns;
pub mod packet;
pub mod xdp;

/// Polls `done` every 20 ms for up to `limit`; whether it became true.
pub fn eventually(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    done()
}

/// Fails the calling test loudly unless it runs as root: these tests never skip themselves.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (BPF, network namespaces): run `sudo -E cargo xtask test`"
    );
}
