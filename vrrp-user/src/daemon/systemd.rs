//! The systemd notification protocol (`Type=notify`): ready once every instance has started,
//! reloading / ready around a reload, stopping, and watchdog pings from the event loop. Without
//! `NOTIFY_SOCKET` every call does nothing.
use std::time::Duration;

use sd_notify::NotifyState;

pub struct Systemd {
    /// `WatchdogSec=`, when the service manager asks for pings.
    watchdog: Option<Duration>,
}

impl Systemd {
    pub fn new() -> Self {
        Systemd {
            watchdog: sd_notify::watchdog_enabled(),
        }
    }

    /// How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    pub fn ping_every(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    pub fn ready(&self, status: &str) {
        send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }

    pub fn watchdog(&self) {
        send(&[NotifyState::Watchdog]);
    }
}

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::debug!("systemd notification: {err}");
    }
}
