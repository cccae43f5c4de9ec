//! `cargo xtask fuzz [TARGET] [--seconds N]`: runs the cargo-fuzz targets in `fuzz/`, each for
//! N seconds, and fails if any of them finds a crash.
//!
//! - cargo-fuzz (pinned in `setup`) builds the targets with nightly, AddressSanitizer and debug
//!   assertions (overflow checks on). `AYA_BUILD_SKIP=1` is set for that build: the targets
//!   never load the XDP program, and vrrp-user's build script would otherwise build it (with
//!   the BPF toolchain) for nothing.
//! - Each target starts from its checked-in seeds, `fuzz/corpus/TARGET/`, copied into
//!   `TARGET_DIR/fuzz/corpus/TARGET/`: what the fuzzer adds stays out of the source tree, and a
//!   later run on the same machine goes on from the grown copy.
//! - A target with a libFuzzer dictionary, `fuzz/dict/TARGET.dict`, gets it.
//! - A crash (or a timeout, or running out of memory) leaves its input in
//!   `fuzz/artifacts/TARGET/`; the summary names each file with the command that replays it.
use std::{
    collections::BTreeSet,
    env, fs,
    io::{BufRead, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Instant, SystemTime},
};

use anyhow::{Context as _, anyhow, bail};

use crate::{
    setup,
    shell::{command, output, run},
};

/// How long each target runs when `--seconds` is not given.
pub const DEFAULT_SECONDS: u64 = 60;
/// libFuzzer's limit for one input: a decoder that takes this long on a frame is a bug.
const INPUT_TIMEOUT_SECONDS: u32 = 10;

/// What one target's run gave.
struct Outcome {
    target: String,
    /// Inputs executed, from libFuzzer's final statistics.
    runs: Option<u64>,
    seconds: f64,
    /// Files in the scratch corpus afterwards (seeds and what the fuzzer added).
    corpus: usize,
    /// Code edges covered, from libFuzzer's last status line.
    coverage: Option<u64>,
    /// Inputs that crashed, hung or ran out of memory.
    failures: Vec<PathBuf>,
    /// The fuzzer failed without leaving an input (e.g. the target did not start).
    exit_failure: Option<String>,
}

pub fn run_fuzz(only: Option<&str>, seconds: u64) -> anyhow::Result<()> {
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    setup::ensure_cargo_fuzz()?;
    let targets = list_targets()?;
    let selected: Vec<String> = match only {
        None => targets,
        Some(name) if targets.iter().any(|t| t == name) => vec![name.to_owned()],
        Some(name) => bail!(
            "no fuzz target named {name:?}; known: {}",
            targets.join(", ")
        ),
    };
    let build_dir = target_dir().join("fuzz");

    // The fuzz crate is outside the workspace, so `cargo xtask test`'s clippy does not see it.
    run(cargo_fuzz_env(command("cargo").args([
        "+nightly",
        "clippy",
        "--manifest-path",
        "fuzz/Cargo.toml",
        "--all-targets",
        "--target-dir",
    ]))
    .arg(build_dir.join("clippy"))
    .args(["--", "-D", "warnings"]))?;
    // One build for all, so that no target's time goes to compiling.
    let mut build = cargo_fuzz("build");
    build.arg("--target-dir").arg(&build_dir);
    if let Some(name) = only {
        build.arg(name);
    }
    run(&mut build)?;

    let outcomes = selected
        .iter()
        .map(|target| fuzz_one(target, seconds, &build_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    print_summary(&outcomes, seconds, &build_dir);
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.failures.is_empty() || o.exit_failure.is_some())
        .map(|o| o.target.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "fuzzing failed in {}: see the inputs and commands above",
            failed.join(", ")
        );
    }
    Ok(())
}

/// `cargo +nightly fuzz SUBCOMMAND` with the environment the fuzz build needs.
fn cargo_fuzz(subcommand: &str) -> Command {
    let mut cmd = command("cargo");
    cmd.args(["+nightly", "fuzz", subcommand]);
    cargo_fuzz_env(&mut cmd);
    cmd
}

fn cargo_fuzz_env(cmd: &mut Command) -> &mut Command {
    cmd.env("AYA_BUILD_SKIP", "1")
}

/// The targets cargo-fuzz knows (the `[[bin]]` entries of `fuzz/Cargo.toml`).
fn list_targets() -> anyhow::Result<Vec<String>> {
    let listed = output(&mut cargo_fuzz("list"))
        .ok_or_else(|| anyhow!("`cargo +nightly fuzz list` failed"))?;
    let targets: Vec<String> = listed.lines().map(str::trim).map(str::to_owned).collect();
    if targets.is_empty() {
        bail!("`cargo fuzz list` found no fuzz targets in fuzz/Cargo.toml");
    }
    Ok(targets)
}

/// The workspace root without `xtask/..` in it, for paths worth printing.
fn root() -> PathBuf {
    let root = crate::shell::workspace_root();
    fs::canonicalize(&root).unwrap_or_else(|_| PathBuf::from(root))
}

/// The build's target directory: `CARGO_TARGET_DIR`, else the workspace's `target/`.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn fuzz_one(target: &str, seconds: u64, build_dir: &Path) -> anyhow::Result<Outcome> {
    let corpus = build_dir.join("corpus").join(target);
    let seeds = copy_seeds(target, &corpus)?;
    eprintln!(
        "xtask: fuzzing {target} for {seconds} s from {} ({seeds} seeds)",
        corpus.display()
    );
    let artifacts = root().join("fuzz/artifacts").join(target);
    let started_at = SystemTime::now();
    let started = Instant::now();

    let mut cmd = cargo_fuzz("run");
    cmd.arg("--target-dir")
        .arg(build_dir)
        .arg(target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        .stderr(Stdio::piped());
    let dictionary = root().join("fuzz/dict").join(format!("{target}.dict"));
    if dictionary.is_file() {
        cmd.arg(format!("-dict={}", dictionary.display()));
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting cargo fuzz run {target}"))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stats = relay_fuzzer_output(BufReader::new(stderr));
    let status = child
        .wait()
        .with_context(|| format!("waiting for cargo fuzz run {target}"))?;

    let failures = files_modified_since(&artifacts, started_at);
    let exit_failure = (!status.success() && failures.is_empty())
        .then(|| format!("cargo fuzz run {target} failed ({status}) and left no input"));
    Ok(Outcome {
        target: target.to_owned(),
        runs: stats.runs,
        seconds: started.elapsed().as_secs_f64(),
        corpus: count_files(&corpus),
        coverage: stats.coverage,
        failures,
        exit_failure,
    })
}

/// Copies `fuzz/corpus/TARGET/*` into `scratch` (a target without seeds starts empty);
/// returns how many seeds there are.
fn copy_seeds(target: &str, scratch: &Path) -> anyhow::Result<usize> {
    fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let seeds = root().join("fuzz/corpus").join(target);
    let Ok(entries) = fs::read_dir(&seeds) else {
        return Ok(0);
    };
    let mut count = 0;
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", seeds.display()))?
            .path();
        if let Some(name) = path.file_name().filter(|_| path.is_file()) {
            fs::copy(&path, scratch.join(name))
                .with_context(|| format!("copying {}", path.display()))?;
            count += 1;
        }
    }
    Ok(count)
}

/// What the run's output says about it.
#[derive(Default)]
struct Stats {
    runs: Option<u64>,
    coverage: Option<u64>,
}

/// Passes libFuzzer's output on, except the line it prints for every new or reduced input
/// (thousands a minute), and picks the statistics out of it.
fn relay_fuzzer_output(mut reader: impl BufRead) -> Stats {
    let mut stats = Stats::default();
    let mut stderr = std::io::stderr().lock();
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        let text = String::from_utf8_lossy(&line);
        if let Some(runs) = text.strip_prefix("stat::number_of_executed_units:") {
            stats.runs = runs.trim().parse().ok();
        }
        if let Some(status) = progress_status(&text) {
            if let Some(cov) = field_after(&text, "cov:") {
                stats.coverage = Some(cov);
            }
            if status == "NEW" || status == "REDUCE" {
                line.clear();
                continue;
            }
        }
        let _ = stderr.write_all(&line);
        line.clear();
    }
    stats
}

/// The status word of a libFuzzer progress line (`#1234\tNEW    cov: …`), if it is one.
fn progress_status(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    let (count, rest) = rest.split_once(char::is_whitespace)?;
    count.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
    rest.split_whitespace().next()
}

/// The number after `key` in `line`, e.g. `cov: 123`.
fn field_after(line: &str, key: &str) -> Option<u64> {
    let (_, rest) = line.split_once(key)?;
    rest.split_whitespace().next()?.parse().ok()
}

fn files_modified_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let files: BTreeSet<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since)
        })
        .map(|e| e.path())
        .collect();
    files.into_iter().collect()
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .count()
    })
}

fn print_summary(outcomes: &[Outcome], seconds: u64, build_dir: &Path) {
    let show = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |v| v.to_string());
    eprintln!("\nxtask: fuzzing summary ({seconds} s per target)");
    eprintln!(
        "{:<14} {:>12} {:>8} {:>8} {:>9} {:>8}",
        "target", "runs", "seconds", "corpus", "coverage", "crashes"
    );
    for o in outcomes {
        eprintln!(
            "{:<14} {:>12} {:>8.0} {:>8} {:>9} {:>8}",
            o.target,
            show(o.runs),
            o.seconds,
            o.corpus,
            show(o.coverage),
            o.failures.len()
        );
    }
    for o in outcomes {
        for input in &o.failures {
            eprintln!(
                "\nxtask: FUZZ FAILURE in {}: {}\n  replay: AYA_BUILD_SKIP=1 cargo +nightly fuzz run --target-dir {} {} {}",
                o.target,
                input.display(),
                build_dir.display(),
                o.target,
                input.display()
            );
        }
        if let Some(message) = &o.exit_failure {
            eprintln!("\nxtask: FUZZ FAILURE in {}: {message}", o.target);
        }
    }
}
