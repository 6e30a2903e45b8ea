//! The step deadline, and WASI's blocking calls ended by it.
//!
//! wasi-common blocks a guest in its scheduler (`WasiSched`): `poll_oneoff`'s clock
//! subscriptions, which is how Go's `time.Sleep` and an idle scheduler wait, and its
//! single-relative-clock fast path (`sleep`). Its own sync scheduler sleeps the whole requested
//! time (`thread::sleep`, or `poll(2)` with the earliest clock as its timeout), which nothing can
//! interrupt, so [`StepSched`] replaces it: a wait ends at its clock or at the step's deadline,
//! whichever comes first, and one ended by the deadline fails the WASI call with a trap (the step
//! is then a timeout: [`Deadline::cut`]).
//!
//! Every file a plan's guest can poll is in memory (stdin a read pipe, stdout and stderr
//! captures, no directories or sockets), so read and write subscriptions are ready at once (the
//! sync scheduler, which polls host descriptors, refuses them: "file is not pollable").

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmi_wasi::wasi_common::Error;
use wasmi_wasi::wasi_common::sched::subscription::{RwEventFlags, Subscription};
use wasmi_wasi::wasi_common::sched::{Poll, WasiSched};

/// The current step's deadline, shared by the WASI scheduler and the fuel meter.
#[derive(Default)]
pub struct Deadline {
    at: Mutex<Option<Instant>>,
    /// A WASI wait was ended by the deadline rather than by its own clock.
    cut: AtomicBool,
}

impl Deadline {
    /// Start a step that must end by `at`.
    pub fn arm(&self, at: Instant) {
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
        self.cut.store(false, Ordering::SeqCst);
    }

    pub fn at(&self) -> Option<Instant> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        self.at().is_some_and(|at| Instant::now() >= at)
    }

    /// Whether a WASI wait of this step was ended by the deadline.
    pub fn cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Block for `wait`, or until the deadline, which fails the WASI call.
    fn sleep(&self, wait: Duration) -> Result<(), Error> {
        let now = Instant::now();
        let until = now.checked_add(wait);
        match self.at() {
            Some(at) if until.is_none_or(|u| u > at) => {
                std::thread::sleep(at.saturating_duration_since(now));
                self.cut.store(true, Ordering::SeqCst);
                Err(Error::trap(wiggle::anyhow::anyhow!("the step's deadline passed while the guest waited")))
            }
            _ => {
                std::thread::sleep(wait);
                Ok(())
            }
        }
    }
}

/// wasi-common's scheduler for one plan: waits end at the step's deadline.
pub struct StepSched(pub std::sync::Arc<Deadline>);

#[wiggle::async_trait]
impl WasiSched for StepSched {
    async fn poll_oneoff<'a>(&self, poll: &mut Poll<'a>) -> Result<(), Error> {
        let mut ready = false;
        for sub in poll.rw_subscriptions() {
            match sub {
                Subscription::Read(r) => {
                    let n = r.file.num_ready_bytes()?;
                    r.complete(n.max(1), RwEventFlags::empty());
                }
                Subscription::Write(w) => w.complete(0, RwEventFlags::empty()),
                Subscription::MonotonicClock(_) => continue,
            }
            ready = true;
        }
        if ready {
            return Ok(());
        }
        // wait until the earliest clock has expired (its event is then reported)
        while let Some(left) = poll.earliest_clock_deadline().and_then(|c| c.duration_until()) {
            if left.is_zero() {
                break;
            }
            self.0.sleep(left)?;
        }
        Ok(())
    }

    async fn sched_yield(&self) -> Result<(), Error> {
        std::thread::yield_now();
        Ok(())
    }

    async fn sleep(&self, duration: Duration) -> Result<(), Error> {
        if duration.is_zero() {
            return Ok(());
        }
        self.0.sleep(duration)
    }
}
