//! Per-step timeouts, also while the guest waits in a WASI call.
//!
//! One watchdog thread enforces the current step's deadline in three layers, each for what the
//! one before cannot reach:
//! 1. wasmer's host interrupt (`Store::interrupter`: a SIGUSR1 to the thread running wasm, which
//!    traps with `HostInterrupt`). It is sticky: the store stays marked interrupted, so a guest
//!    inside a host function when it lands traps as that function returns to wasm (wasmer checks
//!    the mark there), and a new call into the store fails. So the watchdog sends it once at the
//!    deadline and repeats it only for a guest that was not waiting in a WASI timer then, and
//!    only every [`INTERRUPT_RETRY`]: wasmer's signal handler takes a backtrace, and so does the
//!    `HostInterrupt` trap raised after a host function returns; a second signal landing inside
//!    that first backtrace deadlocks the thread on libgcc's unwinder lock (seen under load with
//!    a retry every 5 ms).
//! 2. Every timed wait of wasmer-wasix (poll_oneoff's clock subscriptions, which is how Go's
//!    `time.Sleep` waits, and the timeouts of blocking fd calls) is a timer from the runtime's
//!    `VirtualTaskManager::sleep_now`. [`StepTasks`] wraps the task manager so that these timers
//!    end as soon as the deadline has passed and the interrupt is pending: the syscall returns to
//!    wasm, where the interrupt traps. The guest saw its wait end early, so the step is a
//!    timeout whatever the call returned ([`StepEnd::cut`]).
//! 3. A wait with no timer at all (wasmer-wasix waits forever on a poll_oneoff whose only
//!    subscription is a zero clock or an fd that never becomes ready) is ended a grace period
//!    later with a WASI SIGKILL to the guest thread, which makes the blocked syscall return an
//!    exit. That ends the guest's WASI process, so the instance is dead ([`StepEnd::killed`]).
//!    The interrupts stop then: the exit leaves through a host-function trap, which takes a
//!    backtrace too.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use wasmer::{Interrupter, Memory, Module, StoreMut};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::runtime::task_manager::{SpawnType, TaskWasm};
use wasmer_wasix::wasmer_wasix_types::wasi::Signal;
use wasmer_wasix::{VirtualTaskManager, WasiThread, WasiThreadError};

/// How often the watchdog repeats an interrupt that has not stopped a guest that was running
/// (not waiting in a WASI timer) at the deadline: a signal that landed while wasmer was in a
/// libcall (`memory.grow`, ...) is lost, and the guest goes on in wasm.
const INTERRUPT_RETRY: Duration = Duration::from_millis(100);

/// The current step's deadline, shared by the watchdog thread, the step and the WASI timers.
#[derive(Clone, Default)]
pub struct Watchdog {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cvar: Condvar,
}

#[derive(Default)]
struct State {
    step: Option<Step>,
    /// The deadline has passed and the interrupt is pending: WASI timers end at once.
    expired: bool,
    /// A WASI timer was ended by the deadline rather than by its own duration.
    cut: bool,
    /// WASI timers waiting to be ended by the deadline.
    wakers: Vec<Waker>,
}

struct Step {
    deadline: Instant,
    /// When a guest still blocked in a WASI call gets a SIGKILL (layer 3).
    kill_at: Instant,
    interrupter: Interrupter,
    thread: WasiThread,
    killed: bool,
    /// When to repeat the interrupt; None once no repeat is needed (the guest was waiting in a
    /// WASI timer at the deadline: the woken timer returns to wasm, where it traps).
    retry_at: Option<Instant>,
}

/// How the deadline touched a finished step.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepEnd {
    /// A WASI wait of the guest was ended early by the deadline.
    pub cut: bool,
    /// The guest's WASI thread was killed: the instance cannot run more steps.
    pub killed: bool,
}

/// The grace between the deadline and the SIGKILL: long enough for the interrupt and the timers
/// to end a step by themselves under load, short enough to stay well within 1.5 × the timeout.
fn grace(timeout: Duration) -> Duration {
    (timeout / 5).clamp(Duration::from_millis(20), Duration::from_secs(2))
}

impl Watchdog {
    pub fn start() -> Self {
        let dog = Watchdog::default();
        let shared = dog.shared.clone();
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watch(&shared))
            .expect("cannot start the watchdog thread");
        dog
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enforce `timeout` on the store's call from now until the returned guard is finished.
    pub fn arm(&self, interrupter: Interrupter, thread: WasiThread, timeout: Duration) -> Armed<'_> {
        let now = Instant::now();
        let deadline = now + timeout;
        let mut state = self.lock();
        *state = State {
            step: Some(Step {
                deadline,
                kill_at: deadline + grace(timeout),
                interrupter,
                thread,
                killed: false,
                retry_at: None,
            }),
            ..State::default()
        };
        drop(state);
        self.shared.cvar.notify_one();
        Armed(self)
    }

    /// The runtime's task manager, with WASI timers that end at the step's deadline.
    pub fn task_manager(&self, inner: TokioTaskManager) -> StepTasks {
        StepTasks { inner, dog: self.clone() }
    }
}

/// The watchdog thread: interrupt at the deadline (again now and then for a guest that was not
/// waiting in a WASI timer), end the WASI timers, and kill the guest's WASI thread after the
/// grace.
fn watch(shared: &Shared) {
    let mut guard = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let state = &mut *guard;
        let mut wake = Vec::new();
        let mut kill = None;
        let wait = match state.step.as_mut() {
            None => None,
            Some(step) if now < step.deadline => Some(step.deadline - now),
            Some(step) => {
                if !step.killed && now >= step.kill_at {
                    step.killed = true;
                    kill = Some(step.thread.clone());
                }
                if !state.expired {
                    state.expired = true;
                    let _ = step.interrupter.interrupt();
                    step.retry_at = state.wakers.is_empty().then(|| now + INTERRUPT_RETRY);
                    wake = std::mem::take(&mut state.wakers);
                } else if let Some(at) = step.retry_at.filter(|at| !step.killed && now >= *at) {
                    let _ = step.interrupter.interrupt();
                    step.retry_at = Some(at.max(now) + INTERRUPT_RETRY);
                }
                // once killed, wait for the call to end (the guard's drop notifies)
                let next = [Some(step.kill_at), step.retry_at].into_iter().flatten().min();
                next.filter(|_| !step.killed).map(|t| t.saturating_duration_since(now))
            }
        };
        if !wake.is_empty() || kill.is_some() {
            // wake outside the lock: a woken timer takes it when it is polled again
            drop(guard);
            wake.into_iter().for_each(Waker::wake);
            if let Some(thread) = kill {
                thread.signal(Signal::Sigkill);
            }
            guard = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        guard = match wait {
            None => shared.cvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
            Some(d) => shared.cvar.wait_timeout(guard, d).unwrap_or_else(|e| e.into_inner()).0,
        };
    }
}

/// Disarms the watchdog when the call is over, however it ended.
pub struct Armed<'a>(&'a Watchdog);

impl Armed<'_> {
    /// Disarm, saying how the deadline touched the step.
    pub fn finish(self) -> StepEnd {
        let state = self.0.lock();
        let end = StepEnd { cut: state.cut, killed: state.step.as_ref().is_some_and(|s| s.killed) };
        drop(state);
        end // dropping `self` disarms
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        *self.0.lock() = State::default();
        self.0.shared.cvar.notify_one();
    }
}

/// A WASI timer that also ends once the step's deadline has passed (layer 2).
struct UntilDeadline {
    sleep: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    dog: Watchdog,
}

impl Future for UntilDeadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let mut state = self.dog.lock();
        if state.expired {
            state.cut = true;
            return Poll::Ready(());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// wasmer-wasix's tokio task manager with [`UntilDeadline`] timers; everything else delegated.
pub struct StepTasks {
    inner: TokioTaskManager,
    dog: Watchdog,
}

impl fmt::Debug for StepTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepTasks").field("inner", &self.inner).finish_non_exhaustive()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl VirtualTaskManager for StepTasks {
    fn build_memory(
        &self,
        store: &mut StoreMut,
        spawn_type: SpawnType,
    ) -> Result<Option<Memory>, WasiThreadError> {
        self.inner.build_memory(store, spawn_type)
    }

    fn sleep_now(&self, time: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + 'static>> {
        Box::pin(UntilDeadline { sleep: self.inner.sleep_now(time), dog: self.dog.clone() })
    }

    fn task_shared(
        &self,
        task: Box<dyn FnOnce() -> BoxFuture + Send + 'static>,
    ) -> Result<(), WasiThreadError> {
        self.inner.task_shared(task)
    }

    fn task_wasm(&self, task: TaskWasm) -> Result<(), WasiThreadError> {
        self.inner.task_wasm(task)
    }

    fn task_dedicated(&self, task: Box<dyn FnOnce() + Send + 'static>) -> Result<(), WasiThreadError> {
        self.inner.task_dedicated(task)
    }

    fn thread_parallelism(&self) -> Result<usize, WasiThreadError> {
        self.inner.thread_parallelism()
    }

    fn spawn_with_module(
        &self,
        module: Module,
        task: Box<dyn FnOnce(Module) + Send + 'static>,
    ) -> Result<(), WasiThreadError> {
        self.inner.spawn_with_module(module, task)
    }
}
