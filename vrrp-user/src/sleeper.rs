//! The shape of the daemon's own threads (the advert pacer, the Master_Down watch): state
//! behind a mutex, a thread that sleeps until its next deadline or until woken because an
//! earlier one arrived, and a handle that stops and joins it when dropped.
use std::{
    ops::{Deref, DerefMut},
    sync::{Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::Instant,
};

/// A sleeping thread's state `T`, and the means to wake it.
#[derive(Debug, Default)]
pub struct Sleeper<T> {
    state: Mutex<Guarded<T>>,
    changed: Condvar,
}

/// `T`, with what the sleeping thread must notice.
#[derive(Debug, Default)]
pub struct Guarded<T> {
    inner: T,
    /// Something the thread must see arrived since it last woke.
    woken: bool,
    stopping: bool,
}

impl<T> Guarded<T> {
    /// Whether the thread is to end its loop.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Whether the thread was woken since it last slept, which this forgets.
    #[cfg(test)]
    pub fn take_woken(&mut self) -> bool {
        std::mem::take(&mut self.woken)
    }
}

impl<T> Deref for Guarded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for Guarded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> Sleeper<T> {
    /// The state. Every change to it is one step that a panic cannot leave half-done, so a
    /// poisoned lock is still used.
    pub fn lock(&self) -> MutexGuard<'_, Guarded<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the thread to look again at `state`, this sleeper's, locked and changed.
    pub fn wake(&self, state: &mut Guarded<T>) {
        state.woken = true;
        self.changed.notify_one();
    }

    /// Ends the thread's loop at its next wake-up, which is now.
    pub fn stop(&self) {
        let mut state = self.lock();
        state.stopping = true;
        self.wake(&mut state);
    }

    /// Sleeps until `until` (for ever if `None`), or until woken or stopped.
    pub fn sleep<'a>(
        &self,
        state: MutexGuard<'a, Guarded<T>>,
        until: Option<Instant>,
    ) -> MutexGuard<'a, Guarded<T>> {
        let mut state = match until {
            Some(at) => {
                let timeout = at.saturating_duration_since(Instant::now());
                let wait = self
                    .changed
                    .wait_timeout_while(state, timeout, |s| !s.woken);
                wait.unwrap_or_else(|poisoned| poisoned.into_inner()).0
            }
            None => {
                let wait = self.changed.wait_while(state, |s| !s.woken);
                wait.unwrap_or_else(|poisoned| poisoned.into_inner())
            }
        };
        state.woken = false;
        state
    }
}

/// A thread, stopped and joined when this is dropped.
pub struct Joined {
    stop: Option<Box<dyn FnOnce() + Send>>,
    thread: Option<JoinHandle<()>>,
}

impl Joined {
    /// `thread`, which `stop` ends.
    pub fn new(thread: JoinHandle<()>, stop: impl FnOnce() + Send + 'static) -> Joined {
        Joined {
            stop: Some(Box::new(stop)),
            thread: Some(thread),
        }
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;

    #[test]
    fn a_wake_before_the_sleep_is_not_lost_and_is_forgotten_after() {
        let sleeper = Sleeper::<u32>::default();
        let mut state = sleeper.lock();
        **state = 7;
        sleeper.wake(&mut state);
        let far = Instant::now() + Duration::from_secs(3600);
        let mut state = sleeper.sleep(state, Some(far));
        assert_eq!(**state, 7);
        assert!(!state.take_woken(), "forgotten once slept");
    }

    #[test]
    fn the_thread_ends_when_its_handle_drops() {
        let sleeper = Arc::new(Sleeper::<u32>::default());
        let thread = std::thread::spawn({
            let sleeper = Arc::clone(&sleeper);
            move || {
                let mut state = sleeper.lock();
                while !state.stopping() {
                    **state += 1;
                    state = sleeper.sleep(state, None);
                }
            }
        });
        drop(Joined::new(thread, {
            let sleeper = Arc::clone(&sleeper);
            move || sleeper.stop()
        }));
        // Dropping the handle returned: the thread was stopped and joined.
        assert!(sleeper.lock().stopping());
    }
}
