//! SIGINT and SIGTERM while a [`Trainer`](super::Trainer) runs: the first signal is
//! remembered, the trainer finishes the step it is in, saves a checkpoint (when it has a
//! folder) and returns [`Error::Interrupted`](crate::Error::Interrupted); a second signal
//! exits at once (status 128 + signal).
//!
//! The handlers are installed only while some `fit_steps` call runs (counted, so that
//! trainers in several threads share them) and the previous ones are put back after the
//! last, so Ctrl-C stops everything else (simulation, evaluation) as usual. The handler
//! only stores into an atomic (async-signal-safe).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pending signal (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Active guards and the handlers they replaced.
static INSTALLED: Mutex<(usize, Vec<(i32, usize)>)> = Mutex::new((0, Vec::new()));

#[cfg(unix)]
const SIGNALS: [i32; 2] = [libc::SIGINT, libc::SIGTERM];
#[cfg(not(unix))]
const SIGNALS: [i32; 0] = [];

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    if PENDING.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Keeps the handlers installed while alive.
#[derive(Debug)]
pub(super) struct InterruptGuard(());

impl InterruptGuard {
    /// Installs the handlers (the first guard) or counts one more user.
    pub(super) fn install() -> Self {
        let mut state = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 == 0 {
            PENDING.store(0, Ordering::SeqCst);
            #[cfg(unix)]
            for sig in SIGNALS {
                let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                // SAFETY: installing a handler that only touches an atomic.
                let previous = unsafe { libc::signal(sig, handler) };
                state.1.push((sig, previous));
            }
        }
        state.0 += 1;
        InterruptGuard(())
    }

    /// The signal received since the handlers were installed, if any.
    pub(super) fn pending(&self) -> Option<i32> {
        match PENDING.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        let mut state = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= 1;
        if state.0 == 0 {
            #[cfg(unix)]
            for (sig, previous) in state.1.drain(..) {
                // SAFETY: restoring the handler that was there before.
                unsafe { libc::signal(sig, previous) };
            }
            PENDING.store(0, Ordering::SeqCst);
        }
    }
}

/// The signal's name.
pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        #[cfg(unix)]
        libc::SIGINT => "SIGINT",
        #[cfg(unix)]
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A raised SIGTERM is held as pending (the process does not die) while a guard lives,
    /// and the default disposition is back after the last guard.
    #[test]
    fn a_signal_is_held_while_guarded() {
        let a = InterruptGuard::install();
        let b = InterruptGuard::install();
        assert_eq!(a.pending(), None);
        // SAFETY: raising a signal whose handler is ours.
        unsafe { libc::raise(libc::SIGTERM) };
        assert_eq!(a.pending(), Some(libc::SIGTERM));
        assert_eq!(b.pending(), Some(libc::SIGTERM));
        drop(a);
        assert_eq!(b.pending(), Some(libc::SIGTERM), "still pending for b");
        drop(b);
        let state = INSTALLED.lock().unwrap();
        assert_eq!(state.0, 0);
        assert!(state.1.is_empty());
        assert_eq!(PENDING.load(Ordering::SeqCst), 0);
    }
}
