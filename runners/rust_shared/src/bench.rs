//! `--bench PLANS.jsonl [--repeat N]`: the bare in-process loop over a file of plans, to compare
//! the suite's per-plan cost against. Every plan runs once to warm up (compile, fill the caches),
//! then the whole list N times through the same function the protocol loop uses, with no JSON
//! round trip and no observation written; one JSON line of per-plan wall times is printed.
//!
//! A plan that overruns the harness's deadline for it (60 s plus 1.5 × its step timeouts) ends
//! the bench with an error naming it, as the harness would end the runner, instead of a hang.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// The plan being run and when it must be done, for the guard thread.
type Current = Arc<Mutex<Option<(String, Instant)>>>;

fn deadline(plan: &Json) -> Duration {
    let steps = plan["steps"].as_array().into_iter().flatten();
    let ms: u64 = steps.map(|s| s["timeout_ms"].as_u64().unwrap_or(10_000)).sum();
    Duration::from_secs(60) + Duration::from_millis(ms * 3 / 2)
}

fn guard(current: Current) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            if let Some((id, end)) = current.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                && Instant::now() > *end
            {
                eprintln!("--bench: plan {id} missed its deadline");
                std::process::exit(3);
            }
        }
    });
}

/// Run the plans of the file `path` through `observe`, once to warm up and then `repeat` times,
/// and describe the timed passes as the bench's JSON line for `engine`.
pub fn run(
    engine: &str,
    path: &str,
    repeat: usize,
    mut observe: impl FnMut(&Json) -> Json,
) -> Result<Json, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let plans = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str::<Json>(l).map_err(|e| format!("{path}:{}: {e}", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let current = Current::default();
    guard(current.clone());
    let mut timed = |plan: &Json| {
        let started = Instant::now();
        *current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((plan["id"].to_string(), started + deadline(plan)));
        std::hint::black_box(observe(plan));
        started.elapsed().as_secs_f64() * 1000.0
    };
    plans.iter().for_each(|p| _ = timed(p));
    let mut times = Vec::with_capacity(plans.len() * repeat);
    let started = Instant::now();
    for _ in 0..repeat {
        times.extend(plans.iter().map(&mut timed));
    }
    let total_s = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times.get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied();
    let mean = (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64);
    let median = match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[n / 2]),
        n => Some((times[n / 2 - 1] + times[n / 2]) / 2.0),
    };
    Ok(json!({"engine": engine, "plans": plans.len(), "repeat": repeat,
              "per_plan_ms": {"median": median, "mean": mean, "p90": at(0.9)},
              "total_s": total_s}))
}
