//! Shadow traffic: a share of the requests the active version answered also run on a
//! ready version (`PUT /admin/models/{name}/shadow`), on a task of their own once the
//! answer is on its way, so the client never waits for the shadow or sees it fail. The two
//! answers are compared row by row — another class, or for a regressor a value off by more
//! than the shadow's relative tolerance, is a disagreement — into `ml_shadow_*` series,
//! and a request with disagreements becomes an event carrying the request's ID and both
//! answers, so Kibana shows what the candidate would have changed. At most
//! [`MAX_IN_FLIGHT`] shadow runs are under way; past that a run is skipped and counted,
//! never queued.
//!
//! Shadow runs have a thread of their own at the lowest CPU priority (nice 19): on a
//! busy machine the clients' requests go first and the shadow takes what is left, instead
//! of taking half the cores from them (the load bench measures both).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::Semaphore;
use wasml_predictor::Prediction;
use wasml_runtime::bindings::types::Features;
use wasml_runtime::convert;

use crate::event_sink::{Event, SERVICE};
use crate::registry::{LoadedModel, PredictBatch, Shadow};
use crate::serving::Serving;

/// Most shadow runs under way at once.
pub const MAX_IN_FLIGHT: usize = 64;

/// The permits of shadow runs under way.
pub fn slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_IN_FLIGHT))
}

/// What the active version answered, for its shadow to run and compare.
pub struct Answered {
    /// The active version.
    pub model: Arc<LoadedModel>,
    /// The request's rows, as the model took them.
    pub rows: Vec<Features>,
    /// The active version's answer per row.
    pub answers: Vec<Prediction>,
    /// The request's ID, for the event.
    pub request_id: Option<String>,
}

/// Runs `answered`'s rows on `shadow` in the background and compares, if one of `slots`
/// is free; returns at once.
pub fn spawn(
    serving: &Serving,
    slots: &Arc<Semaphore>,
    answered: Answered,
    shadow: Arc<LoadedModel>,
    settings: Shadow,
) {
    let Ok(permit) = Arc::clone(slots).try_acquire_owned() else {
        serving
            .metrics
            .shadow()
            .skipped(&pair(&answered.model, &shadow));
        return;
    };
    let serving = serving.clone();
    runtime().spawn(async move {
        let labels = pair(&answered.model, &shadow);
        let started = Instant::now();
        let output = shadow.call(PredictBatch(answered.rows)).await;
        let seconds = started.elapsed().as_secs_f64();
        drop(permit);
        let results = output.ok().and_then(|output| {
            // A trap counts as any model's would (the instance was replaced).
            output
                .result
                .inspect_err(|error| serving.metrics.wasm_trap(&shadow, error))
                .ok()
        });
        let answers: Option<Vec<Prediction>> = results.and_then(|results| {
            results
                .into_iter()
                .map(|r| convert::prediction_result(r).ok())
                .collect()
        });
        let Some(shadow_answers) = answers.filter(|a| a.len() == answered.answers.len()) else {
            serving.metrics.shadow().failed(&labels);
            return;
        };
        let disagreeing: Vec<usize> = answered
            .answers
            .iter()
            .zip(&shadow_answers)
            .enumerate()
            .filter(|(_, (active, shadow))| disagree(active, shadow, settings.tolerance))
            .map(|(row, _)| row)
            .collect();
        let rows = shadow_answers.len() as u64;
        serving
            .metrics
            .shadow()
            .compared(&labels, rows, disagreeing.len() as u64, seconds);
        if let Some(&first) = disagreeing.first() {
            let mut event = Event::now(
                "info",
                SERVICE,
                format!(
                    "shadow {} disagreed with {} on {} of {rows} rows",
                    labels[2],
                    labels[1],
                    disagreeing.len()
                ),
            );
            event.request_id = answered.request_id;
            event.model = Some(labels[0].to_owned());
            event.model_version = Some(labels[1].to_owned());
            event.fields.extend([
                ("shadow_version".to_owned(), labels[2].to_owned()),
                ("row".to_owned(), first.to_string()),
                (
                    "active_answer".to_owned(),
                    describe(&answered.answers[first]),
                ),
                ("shadow_answer".to_owned(), describe(&shadow_answers[first])),
                ("disagreeing_rows".to_owned(), disagreeing.len().to_string()),
            ]);
            serving.events.send(event);
        }
    });
}

/// The runtime shadow runs go to: one thread, started at first use, at nice 19, shared
/// by every server in the process.
fn runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("wasml-shadow".into())
            .spawn(move || {
                lower_priority();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the shadow runtime starts");
                sender
                    .send(runtime.handle().clone())
                    .expect("the starter waits for the handle");
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("the shadow thread starts");
        receiver.recv().expect("the shadow thread sends its handle")
    })
}

/// Puts the calling thread at nice 19; a refusal (a sandbox forbidding it) leaves it as is.
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours;
    // on Linux PRIO_PROCESS with a thread ID sets that thread's niceness only.
    let refused = unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 19) != 0
    };
    if refused {
        tracing::warn!(error = %std::io::Error::last_os_error(), "shadow runs keep the normal CPU priority");
    }
}

/// The `model`, `active`, `shadow` labels of a pair.
fn pair<'a>(active: &'a LoadedModel, shadow: &'a LoadedModel) -> [&'a str; 3] {
    [active.name(), active.version(), shadow.version()]
}

/// Whether two answers to the same row differ: another class, another kind of answer, or
/// values further apart than `tolerance` relative to the larger.
pub fn disagree(active: &Prediction, shadow: &Prediction, tolerance: f64) -> bool {
    match (active, shadow) {
        (Prediction::Class(a), Prediction::Class(b)) => a.class_index != b.class_index,
        (Prediction::Value(a), Prediction::Value(b)) => {
            (a - b).abs() > tolerance * a.abs().max(b.abs())
        }
        _ => true,
    }
}

/// An answer for people: `label (confidence)` or the value.
fn describe(prediction: &Prediction) -> String {
    match prediction {
        Prediction::Class(class) => format!("{} ({:.4})", class.label, class.confidence),
        Prediction::Value(value) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasml_predictor::ClassPrediction;

    fn class(index: u32) -> Prediction {
        Prediction::Class(ClassPrediction {
            class_index: index,
            label: index.to_string(),
            confidence: 0.9,
            probabilities: vec![0.1, 0.9],
        })
    }

    #[test]
    fn classes_disagree_on_the_class_and_values_past_the_tolerance() {
        assert!(!disagree(&class(1), &class(1), 0.0));
        assert!(disagree(&class(1), &class(0), 0.0));
        let value = Prediction::Value;
        assert!(!disagree(&value(100.0), &value(100.9), 0.01));
        assert!(disagree(&value(100.0), &value(101.5), 0.01));
        assert!(!disagree(&value(0.0), &value(0.0), 0.0));
        assert!(disagree(&value(1.0), &class(1), 1.0));
    }
}
