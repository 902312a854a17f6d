//! What a prediction request leaves behind besides its answer: the guest's reports
//! (stage timings into histograms and the request's event, logs into the event stream
//! under the request's ID) and the input fields a rejection counts against.

use wasml_runtime::bindings::{Level, Stage};
use wasml_runtime::host::GuestEvent;

use super::error::{ApiError, AppError};
use super::outcome::StageTimes;
use super::request_id;
use crate::event_sink::Event;
use crate::metrics::DropReason;
use crate::registry::LoadedModel;
use crate::serving::Serving;

/// Forwards what the guest reported during a call: timings to the stage histograms (and
/// the returned stage times, for the request's event), logs as events carrying the
/// request's ID. Events past the runtime's per-call cap count as dropped.
pub fn forward_guest_events(
    serving: &Serving,
    model: &LoadedModel,
    events: Vec<GuestEvent>,
    dropped: u64,
) -> StageTimes {
    let mut times = StageTimes::default();
    for event in events {
        match event {
            GuestEvent::Timing { stage, seconds, .. } => {
                serving.metrics.guest_timing(model, stage, seconds);
                let total = match stage {
                    Stage::FeatureProcessing => &mut times.feature,
                    Stage::Inference => &mut times.inference,
                };
                *total = Some(total.unwrap_or(0.0) + seconds);
            }
            GuestEvent::Log {
                level,
                message,
                fields,
            } => {
                let mut event = Event::now(level_name(level), "model", message);
                event.request_id = request_id::current().map(|id| id.to_string());
                event.model = Some(model.name().to_owned());
                event.model_version = Some(model.version().to_owned());
                event.fields = fields.into_iter().collect();
                serving.events.send(event);
            }
        }
    }
    if dropped > 0 {
        serving
            .metrics
            .events()
            .dropped(DropReason::GuestFlood, dropped);
    }
    times
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace | Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// The `field` labels of `ml_input_validation_failures_total` a failed request counts:
/// one per rejected field; fields outside the schema share `_unknown` (clients choose
/// those names: they must not grow the series), and a body that is not JSON, too large
/// or of the wrong shape (tensors included) counts as `_body`. Server failures count none.
pub fn rejected_fields<'a>(model: &'a LoadedModel, error: &'a AppError) -> Vec<&'a str> {
    match error {
        AppError::Api(ApiError::InvalidInput { fields, .. }) => fields
            .iter()
            .map(|issue| {
                let known = model
                    .info
                    .inputs
                    .iter()
                    .any(|spec| spec.name == issue.field);
                match (known, issue.problem.as_str()) {
                    (_, "invalid-body") => "_body",
                    (true, _) => issue.field.as_str(),
                    (false, _) => "_unknown",
                }
            })
            .collect(),
        AppError::Api(
            ApiError::MalformedJson(_)
            | ApiError::BadRequest(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::PayloadTooLarge { .. }
            | ApiError::BatchTooLarge { .. },
        ) => vec!["_body"],
        _ => Vec::new(),
    }
}
