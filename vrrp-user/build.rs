//! Builds the XDP program (vrrp-ebpf) for the BPF target and leaves the object in OUT_DIR, where
//! `dataplane` embeds it: `cargo build` alone yields an `xvrrpd` that carries its XDP program.
//! Needs the nightly toolchain with rust-src and bpf-linker (`cargo xtask setup` installs both).
use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};

const EBPF_PACKAGE: &str = "vrrp-ebpf";
/// The binaries of the eBPF crate, embedded by `dataplane::xdp`.
const EBPF_BINARIES: [&str; 2] = ["vrrp-xdp", "vrrp-xdp-baseline"];

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("vrrp-user has no parent directory"))?;
    let ebpf_dir = workspace.join(EBPF_PACKAGE);
    // The eBPF crate and the shared types it compiles in: watched explicitly, as a merge that
    // changed the program was seen to leave a stale object embedded. Relative to this package
    // (as Cargo reads them), not absolute: two checkouts sharing one target directory share
    // this build script's fingerprint, and absolute paths would watch the other checkout.
    for watched in [EBPF_PACKAGE, "vrrp-common"] {
        println!("cargo:rerun-if-changed=../{watched}");
    }

    // For quick host-only work (editing pure modules), AYA_BUILD_SKIP=1 embeds an empty object;
    // loading it then fails with a clear error instead of the build needing the BPF toolchain.
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        let out_dir = PathBuf::from(env::var("OUT_DIR")?);
        for binary in EBPF_BINARIES {
            fs::write(out_dir.join(binary), []).context("writing a placeholder XDP object")?;
        }
    }

    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: EBPF_PACKAGE,
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context("building the XDP program; run `cargo xtask setup` to install its toolchain")
}
