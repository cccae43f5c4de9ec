//! `cargo xtask setup`: install what the build and the tests need, only what is missing.
//!
//! - rust-src for nightly (`-Z build-std=core` for the BPF target);
//! - bpf-linker linked against nightly's own libLLVM (no system LLVM matches nightly's major);
//! - the Debian packages the tests use (real peers and packet tools).
use std::{
    env, fs,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow, bail};

use crate::shell::{command, output, run};

/// bpf-linker release known to build with our stable toolchain and nightly's LLVM.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// cargo-fuzz release known to install with our stable toolchain (`cargo xtask fuzz` only).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Debian packages the tests use: network namespaces, real VRRP peers, captures.
const DEBIAN_PACKAGES: &[&str] = &[
    "iproute2",
    "iputils-ping",
    "arping",
    "keepalived",
    "frr",
    "tcpdump",
    "tshark",
    "systemd",
    "stress-ng",
    "netsniff-ng",
    // The ARP flood bench gives a router's veth NAPI (GRO on) to account its receive apart.
    "ethtool",
    // tests/haproxy_lab.rs: the load balancer, and `killall` (psmisc) for its check script.
    "haproxy",
    "psmisc",
];

pub fn run_setup() -> anyhow::Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()?;
    ensure_debian_packages()
}

fn ensure_rust_src() -> anyhow::Result<()> {
    let installed = output(command("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))
    .ok_or_else(|| anyhow!("no nightly toolchain: `rustup toolchain install nightly`"))?;
    if installed.lines().any(|line| line.starts_with("rust-src")) {
        return Ok(());
    }
    run(command("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
}

/// Nightly's libLLVM and its major version, e.g. (`…/libLLVM.so.22.1-rust-1.97.0-nightly`, 22).
fn nightly_llvm() -> anyhow::Result<(PathBuf, u32)> {
    let sysroot = output(command("rustc").args(["+nightly", "--print", "sysroot"]))
        .ok_or_else(|| anyhow!("`rustc +nightly --print sysroot` failed"))?;
    let lib_dir = Path::new(sysroot.trim()).join("lib");
    let lib = fs::read_dir(&lib_dir)
        .with_context(|| format!("reading {}", lib_dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("libLLVM.so."))
        })
        .ok_or_else(|| anyhow!("no libLLVM.so.* in {}", lib_dir.display()))?;
    let version = output(command("rustc").args(["+nightly", "-vV"]))
        .ok_or_else(|| anyhow!("`rustc +nightly -vV` failed"))?;
    let major = version
        .lines()
        .find_map(|line| line.strip_prefix("LLVM version: "))
        .and_then(|llvm| llvm.split('.').next())
        .and_then(|major| major.parse().ok())
        .ok_or_else(|| anyhow!("no LLVM version in `rustc +nightly -vV`"))?;
    Ok((lib, major))
}

fn ensure_bpf_linker() -> anyhow::Result<()> {
    let (llvm, major) = nightly_llvm()?;
    if bpf_linker_uses(&llvm) {
        return Ok(());
    }
    // bpf-linker finds libLLVM through LLVM_PREFIX/lib at build time and keeps that directory
    // as its RUNPATH, so the prefix lives in a cache directory that outlives the build.
    let prefix = cache_dir()?.join("llvm");
    let lib_dir = prefix.join("lib");
    fs::create_dir_all(&lib_dir).with_context(|| format!("creating {}", lib_dir.display()))?;
    let file_name = llvm
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", llvm.display()))?;
    for link in [lib_dir.join("libLLVM.so"), lib_dir.join(file_name)] {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&llvm, &link)
            .with_context(|| format!("linking {} to {}", link.display(), llvm.display()))?;
    }
    run(command("cargo")
        .args([
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--locked",
            "--force",
            "--no-default-features",
            "--features",
        ])
        .arg(format!("llvm-{major}"))
        .env("LLVM_PREFIX", &prefix))?;
    if !bpf_linker_uses(&llvm) {
        bail!(
            "bpf-linker was installed but does not load {}; is ~/.cargo/bin first in PATH?",
            llvm.display()
        );
    }
    Ok(())
}

/// Whether the `bpf-linker` on PATH runs and loads exactly nightly's libLLVM.
fn bpf_linker_uses(llvm: &Path) -> bool {
    let Some(path) = output(command("sh").args(["-c", "command -v bpf-linker"])) else {
        return false;
    };
    let Some(ldd) = output(command("ldd").arg(path.trim())) else {
        return false;
    };
    let Ok(wanted) = fs::canonicalize(llvm) else {
        return false;
    };
    ldd.lines()
        .filter(|line| line.contains("libLLVM"))
        .filter_map(|line| line.split("=>").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .any(|loaded| fs::canonicalize(loaded).is_ok_and(|loaded| loaded == wanted))
}

/// What `cargo xtask fuzz` needs besides nightly: cargo-fuzz, and the C++ compiler that
/// libfuzzer-sys builds libFuzzer with. Only the fuzz task runs this, so the other tasks' setup
/// stays quick; like the rest, it installs only what is missing.
pub fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    if output(command("sh").args(["-c", "command -v c++"])).is_none() {
        if !is_root() {
            bail!("no C++ compiler (c++) for libFuzzer: install g++, or run as root");
        }
        run(command("apt-get").args(["update", "-qq"]))?;
        run(command("apt-get")
            .args(["install", "-y", "-qq", "g++"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let has_version = || {
        // `cargo fuzz --version` prints `cargo-fuzz 0.13.2`.
        output(command("cargo").args(["fuzz", "--version"]))
            .is_some_and(|v| v.split_whitespace().nth(1) == Some(CARGO_FUZZ_VERSION))
    };
    if has_version() {
        return Ok(());
    }
    run(command("cargo").args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
        "--force",
    ]))?;
    if !has_version() {
        bail!(
            "cargo-fuzz {CARGO_FUZZ_VERSION} was installed but `cargo fuzz` does not run it; is ~/.cargo/bin first in PATH?"
        );
    }
    Ok(())
}

fn cache_dir() -> anyhow::Result<PathBuf> {
    let base = match env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?)
            .join(".cache"),
    };
    Ok(base.join("xvrrpd"))
}

fn ensure_debian_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        eprintln!(
            "xtask: not root, so not installing {}; the root-only tests need them",
            missing.join(" ")
        );
        return Ok(());
    }
    run(command("apt-get").args(["update", "-qq"]))?;
    run(command("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn debian_package_installed(package: &str) -> bool {
    output(command("dpkg-query").args(["-W", "-f=${db:Status-Abbrev}", package]))
        .is_some_and(|status| status.starts_with("ii"))
}

pub fn is_root() -> bool {
    output(command("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}
