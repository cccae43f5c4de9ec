//! `cargo xtask bench xdp` measures through the `bench` binary; this one prints the XDP figures
//! alone and writes `target/bench/xdp.json` (root: BPF_PROG_TEST_RUN).
use tests::bench::xdp;

fn main() {
    let figures = xdp::measure();
    println!("{}", xdp::table(&figures));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .join("target/bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let path = dir.join("xdp.json");
    let json = serde_json::to_string_pretty(&xdp::json(&figures)).expect("JSON");
    std::fs::write(&path, json + "\n").expect("write JSON");
    println!("written: {}", path.display());
}
