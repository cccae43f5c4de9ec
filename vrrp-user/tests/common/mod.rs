//! Shared by the wire test binaries: loading the captured vectors.
#![allow(dead_code)]
use std::fs;
use std::path::PathBuf;

use vrrp_user::wire::MacAddr;

/// The MAC of keepalived's interface (wa0 in wcap-a) in every capture.
pub const KA_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0a, 0x01]);
/// The MAC of the capturing peer (wb0 in wcap-b).
pub const PEER_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0b, 0x01]);

/// The frame in `tests/data/keepalived/{name}.hex`: `#` comment lines, then hex bytes.
pub fn vector(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keepalived")
        .join(format!("{name}.hex"));
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let bytes: Vec<u8> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .map(|h| u8::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{name}: {h:?}: {e}")))
        .collect();
    assert!(!bytes.is_empty(), "{name} holds no bytes");
    bytes
}

/// Names of every captured vector, so that a test can cover them all.
pub fn all_vectors() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keepalived");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".hex").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}
