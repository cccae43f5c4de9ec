//! Track files (keepalived's `vrrp_track_file`): reading the value as keepalived does, and
//! watching it by polling.
//!
//! keepalived reads at most 127 bytes and takes `strtol(buf, NULL, 0)`: leading white space, an
//! optional sign, then hex after `0x`, octal after `0`, else decimal; anything after the number
//! is ignored, and no number at all is 0. A missing, unreadable or empty file is 0, and so is a
//! deleted one. The value is clamped to -254..=254.
//!
//! keepalived is told of changes by inotify; we poll (every [`POLL_INTERVAL`] by default),
//! which needs no extra dependency, sees every kind of change (including an edit in place or a
//! bind mount) and costs one small read per file per second. The read runs on the blocking
//! pool, so a file on a hung network file system cannot stall the daemon.
use std::{
    fs::OpenOptions,
    io::Read,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};

/// How often a track file is read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The most of a file keepalived looks at.
const READ_LIMIT: u64 = 127;
/// The largest value magnitude keepalived keeps.
const VALUE_LIMIT: i64 = 254;

/// The value of a track file now (blocking: a small read of a local file).
pub fn read_value(path: &Path) -> i64 {
    let mut buf = Vec::new();
    // O_NONBLOCK: a FIFO put in place of the file must not hang the read.
    let read = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|file| file.take(READ_LIMIT).read_to_end(&mut buf));
    match read {
        Ok(_) => parse_value(&buf),
        Err(_) => 0,
    }
}

/// keepalived's reading of a track file's contents.
pub fn parse_value(bytes: &[u8]) -> i64 {
    strtol_base0(bytes).clamp(-VALUE_LIMIT, VALUE_LIMIT)
}

/// C's `strtol(s, NULL, 0)`, saturating at the i64 range.
fn strtol_base0(bytes: &[u8]) -> i64 {
    let mut rest = bytes;
    while let [b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let radix = match rest {
        [b'0', b'x' | b'X', digit, ..] if digit.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let mut magnitude: i64 = 0;
    for &byte in rest {
        let Some(digit) = char::from(byte).to_digit(radix) else {
            break;
        };
        magnitude = magnitude
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(digit));
    }
    if negative { -magnitude } else { magnitude }
}

/// A polled track file: its latest value, shared by every instance tracking it.
#[derive(Debug)]
pub struct FileWatch {
    name: String,
    value: watch::Receiver<i64>,
    task: JoinHandle<()>,
}

impl FileWatch {
    /// Reads the file once now (so instances start from its real value, as keepalived does at
    /// start-up), then polls it every `poll` on the current tokio runtime.
    pub fn start(name: String, path: PathBuf, poll: Duration) -> FileWatch {
        let initial = read_value(&path);
        let (tx, value) = watch::channel(initial);
        let task = tokio::spawn(poll_file(name.clone(), path, poll, tx));
        FileWatch { name, value, task }
    }

    /// The `vrrp_track_file` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value now and its changes.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.value.clone()
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn poll_file(name: String, path: PathBuf, poll: Duration, tx: watch::Sender<i64>) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let reading = path.clone();
        // A panic or cancellation of the blocking read is "unreadable": 0, as keepalived.
        let value = tokio::task::spawn_blocking(move || read_value(&reading))
            .await
            .unwrap_or(0);
        let changed = tx.send_if_modified(|current| {
            let changed = *current != value;
            *current = value;
            changed
        });
        if changed {
            tracing::info!(file = %name, path = %path.display(), value, "track file changed");
        }
        if tx.is_closed() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strtol_base_0() {
        let cases: &[(&str, i64)] = &[
            ("", 0),
            ("0", 0),
            ("5", 5),
            ("5\n", 5),
            ("  \t\n-7 trailing", -7),
            ("+12", 12),
            ("0x1f", 31),
            ("0X1F", 31),
            ("-0x10", -16),
            ("010", 8),
            ("08", 0),
            ("0x", 0),
            ("0xg", 0),
            ("abc", 0),
            ("- 5", 0),
            ("12abc", 12),
            ("3.9", 3),
            ("255", 254),
            ("-255", -254),
            ("99999999999999999999999", 254),
            ("-99999999999999999999999", -254),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_value(text.as_bytes()), *expected, "{text:?}");
        }
    }

    #[test]
    fn only_the_first_127_bytes_count() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-trackfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("long");
        // 126 spaces then "12": keepalived sees " …1" (the 2 is byte 128).
        std::fs::write(&path, format!("{}12", " ".repeat(126))).unwrap();
        assert_eq!(read_value(&path), 1);
        std::fs::write(&path, "42\n").unwrap();
        assert_eq!(read_value(&path), 42);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_value(&path), 0, "missing file");
        std::fs::create_dir(&path).unwrap();
        assert_eq!(read_value(&path), 0, "a directory is unreadable");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn changed(rx: &mut watch::Receiver<i64>) -> i64 {
        tokio::time::timeout(Duration::from_secs(10), rx.changed())
            .await
            .expect("a change within 10 s")
            .unwrap();
        *rx.borrow_and_update()
    }

    #[tokio::test]
    async fn watch_reports_changes_and_deletion() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-trackwatch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("value");
        std::fs::write(&path, "3").unwrap();
        let watch = FileWatch::start("f".into(), path.clone(), Duration::from_millis(20));
        let mut rx = watch.subscribe();
        assert_eq!(*rx.borrow_and_update(), 3, "read at start");
        std::fs::write(&path, "-2\n").unwrap();
        assert_eq!(changed(&mut rx).await, -2);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(changed(&mut rx).await, 0);
        drop(watch);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
