//! Sleeping to a deadline to the microsecond, for the one wait where tokio's timer wheel shows:
//! the Skew_Time a Backup waits after the Master resigned (a priority-0 advert) before taking
//! over. The wheel counts whole milliseconds and parks the runtime for whole milliseconds, both
//! rounded up, so its sleeps end 1–2 ms late; at a 1 s interval Skew_Time is under 8 ms and that
//! lateness is a large part of the handover. A timerfd (CLOCK_MONOTONIC, as `Instant`) fires on
//! time. It costs a few system calls, paid only on this rare path; every other timer stays on
//! the wheel, which costs none.
use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use tokio::io::{Interest, unix::AsyncFd};

/// Waits until `deadline`; falls back to tokio's timer if a timerfd cannot be had.
pub async fn sleep_until(deadline: Instant) {
    let wait = deadline.saturating_duration_since(Instant::now());
    if wait.is_zero() {
        return;
    }
    if let Err(err) = timerfd_sleep(wait).await {
        tracing::debug!("precise timer unavailable ({err}); using tokio's");
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
    }
}

async fn timerfd_sleep(wait: Duration) -> io::Result<()> {
    // SAFETY: timerfd_create takes no pointers; a valid descriptor is owned from here on.
    let raw = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor we just created and nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            // At least 1 ns: an all-zero it_value would disarm the timer.
            tv_nsec: libc::c_long::from(wait.subsec_nanos().max(1)),
        },
    };
    // SAFETY: `spec` is a live itimerspec; the old value is not asked for (null).
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is an open timerfd that the AsyncFd owns (and closes) from here on.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
        .map_err(|err| err.into_parts().1)?;
    loop {
        let mut guard = fd.readable().await?;
        let mut expirations = 0u64;
        // SAFETY: reads 8 bytes into a live u64, the size a timerfd read needs.
        let read = unsafe {
            libc::read(
                guard.get_inner().as_raw_fd(),
                (&mut expirations as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        if read == std::mem::size_of::<u64>() as isize {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::WouldBlock {
            return Err(err);
        }
        guard.clear_ready();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_at_the_deadline_not_before() {
        let deadline = Instant::now() + Duration::from_millis(3);
        sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
        // A deadline already past returns at once.
        sleep_until(Instant::now()).await;
    }
}
