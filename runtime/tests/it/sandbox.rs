//! The sandbox holds against a hostile component: a guest that loops is interrupted at
//! its deadline, one that hoards memory is stopped at the cap, a stack overflow or a panic
//! is a trap; the instance is then refused and a fresh one serves normally.

use std::time::{Duration, Instant};

use crate::common;

use wasml_runtime::bindings::types::{Feature, FeatureValue};
use wasml_runtime::host::MAX_EVENTS_PER_CALL;
use wasml_runtime::{CallError, ModelComponent, SandboxLimits, convert};

const LIMITS: SandboxLimits = SandboxLimits {
    deadline: Duration::from_millis(50),
    memory_bytes: 16 << 20,
};

fn hostile() -> ModelComponent {
    common::hostile().clone().with_limits(LIMITS)
}

fn row(mode: &str) -> Vec<Feature> {
    vec![Feature {
        name: "mode".into(),
        value: FeatureValue::Text(mode.into()),
    }]
}

/// Runs `mode` on a fresh instance and returns the sandbox's error; checks the instance is
/// refused afterwards and that a new one still answers.
fn misbehave(component: &ModelComponent, mode: &str) -> CallError {
    let mut instance = component.instantiate_blocking().unwrap();
    instance.predict_blocking(&row("ok")).unwrap().unwrap();
    let error = instance.predict_blocking(&row(mode)).expect_err(mode);
    assert!(instance.is_poisoned());
    assert!(matches!(
        instance.predict_blocking(&row("ok")),
        Err(CallError::Poisoned)
    ));
    let mut fresh = component.instantiate_blocking().unwrap();
    fresh.predict_blocking(&row("ok")).unwrap().unwrap();
    error
}

#[test]
fn an_endless_loop_is_interrupted_at_the_deadline() {
    let started = Instant::now();
    let error = misbehave(&hostile(), "loop");
    assert!(
        matches!(error, CallError::DeadlineExceeded(d) if d == LIMITS.deadline),
        "{error}"
    );
    // Without interruption the call would never return at all; this bound only catches a
    // deadline that is orders of magnitude off.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A client that goes away, or a gRPC deadline, drops a call's future while the guest
/// is still running: the instance must not go back to serving in that state.
#[tokio::test]
async fn a_call_abandoned_midway_leaves_the_instance_refused() {
    let mut instance = hostile().instantiate().await.unwrap();
    instance.predict(&row("ok")).await.unwrap().unwrap();
    let abandoned =
        tokio::time::timeout(Duration::from_millis(5), instance.predict(&row("loop"))).await;
    assert!(
        abandoned.is_err(),
        "the endless loop returned: {abandoned:?}"
    );
    assert!(instance.is_poisoned());
    assert!(matches!(
        instance.predict(&row("ok")).await,
        Err(CallError::Poisoned)
    ));
}

#[test]
fn unbounded_allocation_stops_at_the_memory_cap() {
    let error = misbehave(&hostile(), "alloc");
    assert!(
        matches!(error, CallError::MemoryExceeded(bytes) if bytes == LIMITS.memory_bytes),
        "{error}"
    );
}

#[test]
fn a_stack_overflow_is_a_trap() {
    let error = misbehave(&hostile(), "recurse");
    // Rust keeps its stack frames in linear memory below the data segment, so running off
    // its end is an out-of-bounds access; a deep native wasm stack would be "call stack
    // exhausted". Either way a trap, never the host's stack.
    assert!(
        matches!(&error, CallError::Trap(m) if m.contains("out of bounds") || m.contains("stack")),
        "{error}"
    );
}

#[test]
fn a_panic_is_a_trap() {
    let error = misbehave(&hostile(), "panic");
    assert!(matches!(&error, CallError::Trap(_)), "{error}");
}

#[test]
fn a_guest_flooding_events_is_capped_and_keeps_serving() {
    let mut instance = hostile().instantiate_blocking().unwrap();
    instance.predict_blocking(&row("flood")).unwrap().unwrap();
    let (events, dropped) = instance.take_events();
    assert_eq!(events.len(), MAX_EVENTS_PER_CALL);
    assert_eq!(dropped, 10_000 - MAX_EVENTS_PER_CALL as u64);
    // The queue starts empty again.
    instance.predict_blocking(&row("ok")).unwrap().unwrap();
    assert_eq!(instance.take_events(), (Vec::new(), 0));
}

#[test]
fn the_bundled_model_serves_a_64_row_batch_under_the_default_limits() {
    assert_eq!(
        SandboxLimits::default(),
        SandboxLimits {
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20
        },
        "the documented defaults"
    );
    let component = common::bank_marketing("v2");
    let dir = wasml_predictor::model_dir::bundled("bank-marketing", "v2");
    let set = wasml_predictor::ConformanceSet::from_json(&dir.conformance_json().unwrap()).unwrap();
    let rows: Vec<_> = set.rows().unwrap()[..64]
        .iter()
        .map(|r| convert::features(r))
        .collect();
    let results = component
        .instantiate_blocking()
        .unwrap()
        .predict_batch_blocking(&rows)
        .unwrap();
    assert_eq!(results.len(), 64);
    assert!(results.iter().all(Result::is_ok));
}

#[test]
fn every_call_reports_its_running_time_and_memory_high_water_mark() {
    let mut instance = hostile().instantiate_blocking().unwrap();
    instance.predict_blocking(&row("ok")).unwrap().unwrap();
    let ok = instance.last_cost();
    assert!(ok.memory_bytes > 0, "{ok:?}");
    assert!(
        ok.cpu > Duration::ZERO && ok.cpu < LIMITS.deadline,
        "{ok:?}"
    );

    // A loop runs until its deadline: that time is what it cost, yields excluded.
    instance.predict_blocking(&row("loop")).unwrap_err();
    let looped = instance.last_cost();
    assert!(looped.cpu >= LIMITS.deadline / 2, "{looped:?}");
    assert!(looped.cpu > ok.cpu * 10, "{looped:?} vs {ok:?}");

    // A hoarder's high-water mark reaches for the cap.
    let mut hoarder = hostile().instantiate_blocking().unwrap();
    hoarder.predict_blocking(&row("alloc")).unwrap_err();
    let hoarded = hoarder.last_cost();
    assert!(
        hoarded.memory_bytes > ok.memory_bytes
            && hoarded.memory_bytes as usize <= LIMITS.memory_bytes,
        "{hoarded:?} vs {ok:?}"
    );
}

#[test]
fn the_first_call_gets_a_longer_deadline_and_later_calls_the_usual_one() {
    let mut instance = hostile().instantiate_blocking().unwrap();
    wasml_runtime::blocking::block_on(instance.warm_up()).unwrap();
    let error = instance.predict_blocking(&row("loop")).unwrap_err();
    assert!(
        matches!(error, CallError::DeadlineExceeded(d) if d == LIMITS.deadline),
        "{error}"
    );
    assert!(
        instance.last_cost().cpu < LIMITS.deadline * 4,
        "{:?}",
        instance.last_cost()
    );
}

#[test]
fn a_first_batch_gets_the_warm_up_deadline_and_the_next_call_the_usual_one() {
    let mut instance = hostile().instantiate_blocking().unwrap();
    // A loop in the first batch runs to the warm-up's longer deadline, not the usual one.
    let error =
        wasml_runtime::blocking::block_on(instance.warm_up_batch(&[row("loop")])).unwrap_err();
    assert!(
        matches!(error, CallError::DeadlineExceeded(d) if d == LIMITS.deadline * wasml_runtime::instance::WARM_UP_FACTOR),
        "{error}"
    );
    let mut instance = hostile().instantiate_blocking().unwrap();
    wasml_runtime::blocking::block_on(instance.warm_up_batch(&[row("ok")]))
        .unwrap()
        .remove(0)
        .unwrap();
    let error = instance.predict_blocking(&row("loop")).unwrap_err();
    assert!(
        matches!(error, CallError::DeadlineExceeded(d) if d == LIMITS.deadline),
        "{error}"
    );
}
