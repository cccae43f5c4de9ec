//! keepalived's `notify_fifo`: one line per transition, `INSTANCE "VI_1" MASTER 100` or
//! `GROUP "G1" BACKUP 0`, for a reader such as a monitoring agent.
//!
//! As keepalived does, the FIFO is created (mode 0644) if it does not exist, removed at the end
//! if we created it, opened read-write and non-blocking (so opening never waits for a reader
//! and writing never blocks or raises SIGPIPE), and refused unless it is a FIFO owned by the
//! daemon's user. While no one reads, lines collect in the pipe buffer (64 KiB on Linux); once
//! it is full, further lines are dropped and counted, never waited for.
use std::{
    ffi::CString,
    fs::{File, OpenOptions},
    io::{self, Write},
    os::unix::{
        ffi::OsStrExt,
        fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use super::{NotifyState, Subject};

/// The global notify FIFO, shared by every notifier.
#[derive(Clone, Debug)]
pub struct NotifyFifo {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    path: PathBuf,
    created: bool,
    dropped: AtomicU64,
    /// Whether the current run of dropped lines has been logged.
    warned: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl NotifyFifo {
    /// Creates the FIFO if needed and opens it.
    pub fn open(path: &Path) -> io::Result<NotifyFifo> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in the FIFO path"))?;
        // SAFETY: c_path is a valid NUL-terminated string for the duration of the call.
        let created = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) } == 0;
        if !created {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::AlreadyExists {
                return Err(err);
            }
        }
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)
            .and_then(|file| {
                let meta = file.metadata()?;
                // SAFETY: geteuid has no preconditions and cannot fail.
                let own = unsafe { libc::geteuid() };
                if !meta.file_type().is_fifo() || meta.uid() != own {
                    return Err(io::Error::other("not a FIFO owned by the daemon's user"));
                }
                Ok(file)
            });
        match opened {
            Ok(file) => Ok(NotifyFifo {
                inner: Arc::new(Inner {
                    file,
                    path: path.to_owned(),
                    created,
                    dropped: AtomicU64::new(0),
                    warned: AtomicBool::new(false),
                }),
            }),
            Err(err) => {
                if created {
                    let _ = std::fs::remove_file(path);
                }
                Err(err)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Lines dropped because the FIFO was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Writes one line at once (never blocks); returns whether it was written.
    pub fn write_line(
        &self,
        subject: Subject,
        name: &str,
        state: NotifyState,
        priority: u8,
    ) -> bool {
        let line = fifo_line(subject, name, state, priority);
        // One write of a line shorter than PIPE_BUF is all or nothing.
        match (&self.inner.file).write(line.as_bytes()) {
            Ok(written) if written == line.len() => {
                self.inner.warned.store(false, Ordering::Relaxed);
                true
            }
            result => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.inner.warned.swap(true, Ordering::Relaxed) {
                    let why = match result {
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            "it is full (no reader?)".to_owned()
                        }
                        Err(err) => err.to_string(),
                        Ok(_) => "the write was cut short".to_owned(),
                    };
                    tracing::warn!(
                        fifo = %self.inner.path.display(),
                        "notify FIFO line dropped, and the next ones until a write succeeds: {why}"
                    );
                }
                false
            }
        }
    }
}

/// The line keepalived writes: `TYPE "NAME" STATE PRIORITY\n`.
pub fn fifo_line(subject: Subject, name: &str, state: NotifyState, priority: u8) -> String {
    format!(
        "{} \"{name}\" {} {priority}\n",
        subject.as_str(),
        state.as_str()
    )
}
