//! Calls into the guest, in fuel slices: how a step's timeout and the plan's fuel are enforced.
//!
//! wasmi cannot be interrupted from another thread; its only way to stop running wasm is fuel.
//! The runner's engines all meter fuel, and each call (a step's, or a host function's nested one) is a
//! resumable call (`Func::call_resumable`) given [`SLICE`] units at a time: when a slice is
//! spent, wasmi hands back a `ResumableCallOutOfFuel`, the deadline is checked, and the call is
//! resumed with the next slice or ends as a timeout. `limits.fuel`, where a plan sets it, is one
//! budget for the whole plan (the store) that the slices are drawn from; once it cannot pay for
//! the next instruction the call traps with wasmi's own out-of-fuel trap. Translating a function
//! (wasmi translates lazily, on first call) costs no fuel here, so a plan's consumption does not
//! depend on what earlier plans on the same module translated.

use std::sync::Arc;

use serde_json::Value as Json;
use wasmi::errors::HostError;
use wasmi::{AsContextMut, Error, Func, Instance, ResumableCall, StoreLimits, TrapCode, Val};
use wasmi_wasi::WasiCtx;

use crate::sched::Deadline;
use crate::values::{Bindings, result_slots};

/// Fuel units between two deadline checks: 1 to 6 ms of wasm (measured on a loaded machine,
/// the slowest for a loop of nothing but a branch).
pub const SLICE: u64 = 1_000_000;

/// The fuel a module's start function may use at instantiation, where no step deadline applies
/// (Go modules have none: `_initialize` and `_start` are exports the steps call).
pub const INSTANTIATE_FUEL: u64 = 10_000_000_000;

/// Everything a plan's store holds: WASI, the memory limit, host-function state, the meter.
pub struct State {
    pub wasi: WasiCtx,
    pub limits: StoreLimits,
    /// The instance host functions re-enter (set once instantiated).
    pub instance: Option<Instance>,
    /// The current step's host-call trace.
    pub trace: Vec<Json>,
    /// The values steps bound so far.
    pub bound: Bindings,
    pub deadline: Arc<Deadline>,
    /// What is left of `limits.fuel` (None: no budget), and the fuel last put into the store.
    pub budget: Option<u64>,
    pub granted: u64,
    /// How many host functions are re-entering the guest right now.
    pub depth: u32,
}

/// Why the runner stopped a call itself.
#[derive(Debug)]
pub enum Stop {
    /// The step's deadline passed while wasm ran.
    Timeout,
    /// A host function failed on purpose (the `trap` op) or on a bad memory access.
    Host(String),
    /// Host functions re-entered the guest deeper than the runner's own stack allows.
    TooDeep(u32),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Timeout => f.write_str("the step's timeout passed while wasm ran"),
            Stop::Host(msg) => f.write_str(msg),
            Stop::TooDeep(n) => write!(f, "host functions re-entered the guest more than {n} levels deep"),
        }
    }
}

impl HostError for Stop {}

pub fn stop(why: Stop) -> Error {
    Error::host(why)
}

/// How a failed call ended.
pub enum Failure {
    Exit(i32),
    Trap(&'static str),
}

/// Classify a call's error. A WASI wait ended by the deadline fails its call with a trap of
/// wasi-common's (sched.rs): that one is a timeout too.
pub fn failure(err: &Error, deadline: &Deadline) -> Failure {
    if let Some(code) = err.i32_exit_status() {
        return Failure::Exit(code);
    }
    if let Some(why) = err.downcast_ref::<Stop>() {
        return Failure::Trap(match why {
            Stop::Timeout => "timeout",
            Stop::Host(_) => "host_error",
            Stop::TooDeep(_) => "stack_overflow",
        });
    }
    if deadline.cut() {
        return Failure::Trap("timeout");
    }
    Failure::Trap(match err.as_trap_code() {
        Some(TrapCode::UnreachableCodeReached) => "unreachable",
        Some(TrapCode::MemoryOutOfBounds) => "memory_out_of_bounds",
        Some(TrapCode::IntegerDivisionByZero) => "integer_divide_by_zero",
        Some(TrapCode::IntegerOverflow) => "integer_overflow",
        Some(TrapCode::BadConversionToInteger) => "invalid_conversion",
        Some(TrapCode::StackOverflow) => "stack_overflow",
        Some(TrapCode::IndirectCallToNull | TrapCode::BadSignature) => "indirect_call",
        Some(TrapCode::OutOfFuel) => "out_of_fuel",
        _ => "other",
    })
}

/// Account for the fuel the store used since it was last granted some.
fn settle(ctx: &mut impl AsContextMut<Data = State>) {
    let left = ctx.as_context().get_fuel().unwrap_or(0);
    let mut store = ctx.as_context_mut();
    let state = store.data_mut();
    if let Some(budget) = &mut state.budget {
        *budget = budget.saturating_sub(state.granted.saturating_sub(left));
    }
    state.granted = left;
}

/// Put the next `want` units (at least `need`) into the store, drawn from the budget; an error
/// when the budget cannot pay for `need`.
pub fn grant(ctx: &mut impl AsContextMut<Data = State>, want: u64, need: u64) -> Result<(), Error> {
    settle(ctx);
    let mut store = ctx.as_context_mut();
    let state = store.data_mut();
    let mut fuel = want.max(need);
    if let Some(budget) = state.budget {
        if budget < need {
            return Err(Error::from(TrapCode::OutOfFuel));
        }
        fuel = fuel.min(budget);
    }
    state.granted = fuel;
    store.set_fuel(fuel)
}

/// Call `func` with `args` in fuel slices until it returns, fails, or the step's deadline passes.
pub fn call(ctx: &mut impl AsContextMut<Data = State>, func: &Func, args: &[Val]) -> Result<Vec<Val>, Error> {
    let mut out = result_slots(&func.ty(&*ctx));
    grant(ctx, SLICE, 0)?;
    let mut resumable = func.call_resumable(&mut *ctx, args, &mut out);
    let result = loop {
        match resumable {
            Err(e) => break Err(e),
            Ok(ResumableCall::Finished) => break Ok(()),
            // a host function failed: wasmi could resume past it, the protocol propagates it
            Ok(ResumableCall::HostTrap(trap)) => break Err(trap.into_host_error()),
            Ok(ResumableCall::OutOfFuel(paused)) => {
                if ctx.as_context().data().deadline.passed() {
                    break Err(stop(Stop::Timeout));
                }
                if let Err(e) = grant(ctx, SLICE, paused.required_fuel()) {
                    break Err(e);
                }
                resumable = paused.resume(&mut *ctx, &mut out);
            }
        }
    };
    settle(ctx);
    result.map(|()| out)
}
