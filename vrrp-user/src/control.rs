//! The control socket: a unix stream socket (mode 0600) answering one JSON request per
//! connection with one JSON line. `xvrrpd status` and `xvrrpd reload` are its clients.
use std::{
    fs,
    io::{self, BufRead, BufReader, Write},
    os::unix::{
        fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt},
        net::UnixStream,
    },
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt},
    net::UnixListener,
    sync::{mpsc, oneshot},
};

/// A request on the control socket.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// Re-read the configuration file; the reply says what changed, or why nothing did.
    Reload,
}

/// How a reload request reaches the daemon: it answers with a summary of the changes, or
/// the reason the running configuration was kept.
pub type ReloadReply = oneshot::Sender<Result<String, String>>;

/// How long a reload may take before it is taken for hung: the client stops waiting, and the
/// daemon stops pinging systemd's watchdog (a reload that restarts instances waits for their
/// notify scripts, each within its own bound).
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What `status` reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub router_id: String,
    pub instances: Vec<InstanceStatus>,
    /// The check scripts and whether each currently passes.
    #[serde(default)]
    pub scripts: Vec<ScriptStatus>,
    pub dataplane: DataplaneStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScriptStatus {
    pub name: String,
    pub passing: bool,
    /// `pending` (no result yet), `passing` or `failing`.
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// `ipv4` or `ipv6`.
    pub family: String,
    pub version: u8,
    /// `init`, `backup`, `master` or `fault`.
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    /// The current master's address, if known (ours when we are master).
    pub master_address: Option<String>,
    pub virtual_ips: Vec<String>,
    /// Seconds since the last state change.
    pub since_secs: f64,
    /// When the state last changed: `since_secs` is worked out from it when the status is read.
    #[serde(skip)]
    pub state_since: Option<std::time::Instant>,
    /// Our configured advertisement interval in milliseconds.
    pub advert_interval_ms: u64,
    pub counters: InstanceCounters,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceCounters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub adverts_dropped: u64,
    pub gratuitous_sent: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataplaneStatus {
    /// `native`, `skb` or `socket`.
    pub mode: String,
    /// Data-plane counters by name (adverts received and dropped by reason, ARP and NA replies).
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// Whatever can answer a status request: the daemon.
pub trait StatusSource: Send + Sync + 'static {
    fn status(&self) -> Status;
}

/// Serves the `bound` control socket until the task is dropped. Reload requests are passed
/// on through `reloads`.
pub async fn serve(
    bound: Bound,
    source: Arc<dyn StatusSource>,
    reloads: mpsc::Sender<ReloadReply>,
) {
    loop {
        let (stream, _) = match bound.listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(
                    "control socket {}: accept failed: {err}",
                    bound.path.display()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let source = Arc::clone(&source);
        let reloads = reloads.clone();
        tokio::spawn(async move {
            if let Err(err) = answer(stream, source.as_ref(), &reloads).await {
                tracing::debug!("control request failed: {err:#}");
            }
        });
    }
}

/// The control socket; its file goes with it when this is dropped (serving ended or was
/// aborted, or start-up failed), unless the file is no longer the one bound here.
pub struct Bound {
    listener: UnixListener,
    path: PathBuf,
    /// The file's device and inode once bound.
    file: Option<(u64, u64)>,
    /// Held while the daemon lives (see [`lock_path`]).
    _lock: fs::File,
}

impl Drop for Bound {
    fn drop(&mut self) {
        // Unknown (not read after binding): taken for ours.
        let ours = self.file.is_none_or(|file| {
            fs::symlink_metadata(&self.path).is_ok_and(|meta| (meta.dev(), meta.ino()) == file)
        });
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The lock file beside the control socket at `path`: the daemon that holds its lock owns
/// the socket. Probing the socket alone lets two daemons started at the same instant both find
/// it stale; the lock lets one. The file stays when the daemon ends (removing it would let a
/// third daemon lock a new file while a second still holds the old one).
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Binds the control socket at `path`, holding the lock on [`lock_path`] first. A stale socket
/// file (nothing listens on it) is replaced; a live one (another daemon answers on it), a lock
/// another process holds, or a socket we cannot tell about, is an error.
pub fn bind(path: &Path) -> anyhow::Result<Bound> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let lock_path = lock_path(path);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .with_context(|| format!("opening the lock file {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => bail!(
            "control socket {} is in use: is another xvrrpd running? (it holds {})",
            path.display(),
            lock_path.display()
        ),
        Err(fs::TryLockError::Error(err)) => {
            return Err(err).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    match UnixStream::connect(path) {
        Ok(_) => bail!(
            "control socket {} is in use: is another xvrrpd running?",
            path.display()
        ),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
            // Connecting to a file that is no socket is refused too: never remove one.
            let is_socket =
                fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket());
            if !is_socket {
                bail!(
                    "control socket {}: the file there is not a socket",
                    path.display()
                );
            }
            fs::remove_file(path)
                .with_context(|| format!("removing the stale control socket {}", path.display()))?;
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "control socket {}: cannot tell whether another xvrrpd uses it",
                    path.display()
                )
            });
        }
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("binding the control socket {}", path.display()))?;
    let bound = Bound {
        listener,
        path: path.to_owned(),
        file: fs::symlink_metadata(path)
            .ok()
            .map(|meta| (meta.dev(), meta.ino())),
        _lock: lock,
    };
    // Status reveals the topology and later commands change it: root only.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting mode 0600 on {}", path.display()))?;
    Ok(bound)
}

/// The longest request line accepted: a request is a few dozen bytes.
const MAX_REQUEST: usize = 4096;

async fn answer(
    stream: tokio::net::UnixStream,
    source: &dyn StatusSource,
    reloads: &mpsc::Sender<ReloadReply>,
) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = tokio::io::BufReader::new(read).take(MAX_REQUEST as u64);
    tokio::time::timeout(Duration::from_secs(5), reader.read_until(b'\n', &mut line))
        .await
        .context("request timed out")??;
    // Bytes first: a request that is not UTF-8 (or cut inside a character) still gets its
    // answer, as any other bad request does.
    let request = std::str::from_utf8(&line)
        .map_err(|err| format!("not UTF-8 ({err})"))
        .and_then(|line| serde_json::from_str::<Request>(line.trim()).map_err(|e| e.to_string()));
    let reply = match request {
        Ok(Request::Status) => serde_json::to_string(&source.status())?,
        Ok(Request::Reload) => {
            let outcome = reload(reloads).await;
            match outcome {
                Ok(summary) => serde_json::json!({ "reloaded": summary }).to_string(),
                Err(error) => serde_json::json!({ "error": error }).to_string(),
            }
        }
        Err(err) => serde_json::json!({ "error": format!("bad request: {err}") }).to_string(),
    };
    write.write_all(reply.as_bytes()).await?;
    write.write_all(b"\n").await?;
    Ok(())
}

async fn reload(reloads: &mpsc::Sender<ReloadReply>) -> Result<String, String> {
    let (reply, outcome) = oneshot::channel();
    reloads
        .send(reply)
        .await
        .map_err(|_| "the daemon is stopping".to_owned())?;
    match tokio::time::timeout(RELOAD_TIMEOUT, outcome).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err("the daemon dropped the reload".to_owned()),
        Err(_) => Err(format!(
            "no answer within {RELOAD_TIMEOUT:?}; the reload may still be running (see the \
             daemon's log)"
        )),
    }
}

/// Asks the daemon at `path` (blocking; for the CLI). A refusal is an error with the daemon's
/// own words.
pub fn request(path: &Path, request: &Request) -> anyhow::Result<serde_json::Value> {
    let mut stream = UnixStream::connect(path).with_context(|| {
        format!(
            "cannot reach xvrrpd at {}: is it running (and are you root)?",
            path.display()
        )
    })?;
    let timeout = match request {
        Request::Status => Duration::from_secs(5),
        Request::Reload => RELOAD_TIMEOUT + Duration::from_secs(5),
    };
    stream.set_read_timeout(Some(timeout))?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    let value: serde_json::Value =
        serde_json::from_str(&reply).context("the daemon's reply is not JSON")?;
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        bail!("{error}");
    }
    Ok(value)
}

/// `xvrrpd status` as a table.
pub fn render_table(status: &Status) -> String {
    let mut out = format!(
        "router {}  data plane: {}\n{:<12} {:<10} {:>4} {:<7} {:>8} {:<24} {:>9}  {}\n",
        status.router_id,
        status.dataplane.mode,
        "INSTANCE",
        "INTERFACE",
        "VRID",
        "STATE",
        "PRIO",
        "MASTER",
        "SINCE",
        "VIPS"
    );
    for instance in &status.instances {
        out.push_str(&format!(
            "{:<12} {:<10} {:>4} {:<7} {:>3}/{:<4} {:<24} {:>8.1}s  {}\n",
            instance.name,
            instance.interface,
            instance.vrid,
            instance.state,
            instance.priority,
            instance.effective_priority,
            instance.master_address.as_deref().unwrap_or("-"),
            instance.since_secs,
            instance.virtual_ips.join(" ")
        ));
    }
    if !status.scripts.is_empty() {
        out.push_str(&format!("\n{:<24} {}\n", "SCRIPT", "STATE"));
        for script in &status.scripts {
            out.push_str(&format!("{:<24} {}\n", script.name, script.state));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Status);

    impl StatusSource for Fixed {
        fn status(&self) -> Status {
            self.0.clone()
        }
    }

    fn sample() -> Status {
        Status {
            router_id: "lb1".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "ipv4".into(),
                version: 3,
                state: "master".into(),
                priority: 150,
                effective_priority: 150,
                master_address: Some("192.0.2.11".into()),
                virtual_ips: vec!["192.0.2.100/24".into()],
                since_secs: 12.5,
                state_since: None,
                advert_interval_ms: 100,
                counters: InstanceCounters::default(),
            }],
            scripts: vec![ScriptStatus {
                name: "chk_haproxy".into(),
                passing: false,
                state: "pending".into(),
            }],
            dataplane: DataplaneStatus {
                mode: "native".into(),
                counters: [("arp_reply".to_string(), 3)].into_iter().collect(),
            },
        }
    }

    #[tokio::test]
    async fn the_socket_file_goes_with_the_server_that_bound_it_and_no_other() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-bound-{}", std::process::id()));
        let path = dir.join("control.sock");
        let first = bind(&path).expect("bind");
        let err = bind(&path).err().expect("the socket is in use");
        assert!(
            err.to_string().contains("is another xvrrpd running?"),
            "{err:#}"
        );
        assert!(
            path.exists(),
            "the second daemon leaves the first one's socket"
        );
        drop(first);
        assert!(!path.exists());

        // A stale socket (its daemon died without removing it) is replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).expect("a socket left behind"));
        let second = bind(&path).expect("the stale socket is replaced");
        // One that something else put in its place is not ours to remove.
        fs::remove_file(&path).unwrap();
        let other = std::os::unix::net::UnixListener::bind(&path).expect("another socket");
        drop(second);
        assert!(path.exists(), "the other socket stays");
        drop(other);
        fs::remove_file(&path).unwrap();

        // Nor is a file that is no socket.
        fs::write(&path, "not a socket").unwrap();
        let err = bind(&path).err().expect("not a socket");
        assert!(err.to_string().contains("not a socket"), "{err:#}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a socket");
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_daemon_that_holds_the_lock_keeps_the_socket_even_before_binding_it() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-lock-{}", std::process::id()));
        let path = dir.join("control.sock");
        fs::create_dir_all(&dir).unwrap();
        // A stale socket, and a daemon that has taken the lock but not yet replaced it: the
        // moment at which probing the socket alone let a second daemon in.
        drop(std::os::unix::net::UnixListener::bind(&path).expect("a socket left behind"));
        let first = fs::File::create(lock_path(&path)).unwrap();
        first.try_lock().expect("the first daemon's lock");
        let err = bind(&path).err().expect("the lock is held");
        assert!(
            err.to_string().contains("is another xvrrpd running?"),
            "{err:#}"
        );
        assert!(path.exists(), "the second daemon removes nothing");

        drop(first);
        let bound = bind(&path).expect("the lock is free: the stale socket is replaced");
        drop(bound);
        assert!(!path.exists());
        assert!(lock_path(&path).exists(), "the lock file stays");
        let again = bind(&path).expect("a daemon's lock goes with it");
        drop(again);
        let _ = fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn answers_status_and_refuses_what_it_does_not_understand() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-control-{}", std::process::id()));
        let path = dir.join("control.sock");
        let (reloads, mut reload_requests) = mpsc::channel::<ReloadReply>(1);
        let server = tokio::spawn(serve(
            bind(&path).expect("bind"),
            Arc::new(Fixed(sample())),
            reloads,
        ));
        let daemon = tokio::spawn(async move {
            let mut answers = [
                Ok("1 instance changed".to_owned()),
                Err("r.conf:3: bad".to_owned()),
            ]
            .into_iter();
            while let Some(reply) = reload_requests.recv().await {
                let _ = reply.send(answers.next().unwrap_or(Err("no more".into())));
            }
        });
        for _ in 0..100 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let client_path = path.clone();
        let value = tokio::task::spawn_blocking(move || request(&client_path, &Request::Status))
            .await
            .unwrap()
            .unwrap();
        let status: Status = serde_json::from_value(value).unwrap();
        assert_eq!(status, sample());

        // Unknown commands, bytes that are not UTF-8, and a character cut at the length
        // limit are all answered.
        let mut cut = vec![b'x'; MAX_REQUEST - 1];
        cut.extend_from_slice("é\n".as_bytes());
        for bad in [
            b"{\"command\":\"reboot\"}\n".to_vec(),
            b"{\"command\":\"st\xffatus\"}\n".to_vec(),
            cut,
        ] {
            let raw_path = path.clone();
            let reply = tokio::task::spawn_blocking(move || {
                let mut stream = UnixStream::connect(&raw_path).unwrap();
                // The server may answer (and close) before reading all of a long request.
                let _ = stream.write_all(&bad);
                let mut reply = String::new();
                BufReader::new(stream).read_line(&mut reply).unwrap();
                reply
            })
            .await
            .unwrap();
            assert!(reply.contains("\"error\":\"bad request"), "{reply}");
        }
        // The server survived the bad request.
        let again = path.clone();
        tokio::task::spawn_blocking(move || request(&again, &Request::Status))
            .await
            .unwrap()
            .unwrap();

        // Reloads are passed to the daemon and its answer, or refusal, comes back.
        let reload_path = path.clone();
        let (first, second) = tokio::task::spawn_blocking(move || {
            (
                request(&reload_path, &Request::Reload),
                request(&reload_path, &Request::Reload),
            )
        })
        .await
        .unwrap();
        assert_eq!(first.unwrap()["reloaded"], "1 instance changed");
        assert_eq!(second.unwrap_err().to_string(), "r.conf:3: bad");
        server.abort();
        daemon.abort();
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn table_shows_every_column() {
        let table = render_table(&sample());
        for needle in [
            "VI_1",
            "eth0",
            "51",
            "master",
            "150/150",
            "192.0.2.11",
            "12.5s",
            "192.0.2.100/24",
            "chk_haproxy              pending",
        ] {
            assert!(table.contains(needle), "{needle} missing from\n{table}");
        }
    }
}
