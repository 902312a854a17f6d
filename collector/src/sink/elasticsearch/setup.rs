//! Setup before the first bulk, as `--elasticsearch-setup` says: ask the server what it is
//! ([`detect`](super::detect)), then `PUT` what that server supports for the target
//! ([`setup_plan`](super::setup_plan)). Every step is a `PUT` of a fixed body, so repeating
//! it is harmless. A step the server cannot take (no such API or setting) or the key may
//! not (a writer-only key) does not stop delivery under `auto`: it is logged once, shown in
//! `wasml_collector_setup_state` and `/health`, and passed.

use std::sync::{Arc, Mutex};

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use serde::Serialize;

use super::config::SetupMode;
use super::detect::{self, Server};
use super::setup_plan::{self, Step};
use super::target::Target;
use crate::metrics::CollectorMetrics;
use crate::sink::SinkError;

/// How far setup got, for `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupState {
    /// Not done yet (no delivery tried, or the server did not answer).
    Pending,
    /// Everything the server supports is installed.
    Complete,
    /// Some steps were refused; delivering without them (`auto`).
    Partial,
    /// Nothing installed on purpose (`skip`).
    Skipped,
    /// A step was refused under `require`: nothing is delivered (retried).
    Blocked,
}

impl SetupState {
    /// Every state, for the metric's labels.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Complete,
        Self::Partial,
        Self::Skipped,
        Self::Blocked,
    ];

    /// The state as `/health` and the metric spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Skipped => "skipped",
            Self::Blocked => "blocked",
        }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// `ilm_policy`, `ism_policy`, `index_template` or `retention`.
    pub step: &'static str,
    /// `installed`, `unsupported` or `forbidden`.
    pub state: &'static str,
    /// Why it is not installed, as the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What setup did, as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupReport {
    /// `--elasticsearch-setup`.
    pub mode: SetupMode,
    /// How far it got.
    pub state: SetupState,
    /// Where documents go.
    pub target: String,
    /// What `GET /` said, once asked.
    pub server: Option<Server>,
    /// What keeps documents for how long; `None` when nothing installed does.
    pub retention: Option<String>,
    /// Each step's outcome.
    pub steps: Vec<StepReport>,
}

/// The sink's setup report, shared with `/health`.
#[derive(Debug, Clone)]
pub struct SetupStatus(Arc<Mutex<SetupReport>>);

impl SetupStatus {
    /// A pending setup (`wasml_collector_setup_status{state="pending"}` from now on).
    pub(super) fn new(mode: SetupMode, target: &Target, metrics: &CollectorMetrics) -> Self {
        record(metrics, SetupState::Pending, &[]);
        Self(Arc::new(Mutex::new(SetupReport {
            mode,
            state: SetupState::Pending,
            target: target.describe(),
            server: None,
            retention: None,
            steps: Vec::new(),
        })))
    }

    /// Whether setup ran to a state delivery may go on from (not pending, not blocked).
    pub(super) fn done(&self) -> bool {
        let state = self.0.lock().expect("setup report lock").state;
        !matches!(state, SetupState::Pending | SetupState::Blocked)
    }

    /// The report now.
    pub fn report(&self) -> SetupReport {
        self.0.lock().expect("setup report lock").clone()
    }

    fn update(&self, change: impl FnOnce(&mut SetupReport)) {
        change(&mut self.0.lock().expect("setup report lock"));
    }
}

/// The `state` label values of `wasml_collector_setup_state`.
const STATES: [&str; 3] = ["installed", "unsupported", "forbidden"];

/// Runs setup for `target` as `mode` says, recording it in `status` and `metrics`.
/// `Err` means "retry": the server did not answer (or answered 429/5xx), or, under
/// `require`, refused a step.
pub(super) async fn install(
    client: &Elasticsearch,
    mode: SetupMode,
    target: &Target,
    status: &SetupStatus,
    metrics: &CollectorMetrics,
) -> Result<(), SinkError> {
    if mode == SetupMode::Skip {
        record(metrics, SetupState::Skipped, &[]);
        status.update(|report| report.state = SetupState::Skipped);
        return Ok(());
    }
    let server = detect::detect(client).await?;
    let plan = setup_plan::plan(server.kind, target);
    let mut steps = Vec::new();
    for step in &plan.steps {
        let outcome = match put(client, step).await? {
            Ok(()) => step_report(step.name, "installed", None),
            Err(refusal) => step_report(step.name, refusal.state(), Some(refusal.to_string())),
        };
        steps.push(outcome);
    }
    if let Err(why) = &plan.retention {
        steps.push(step_report(
            "retention",
            "unsupported",
            Some((*why).to_owned()),
        ));
    }
    let refused: Vec<&StepReport> = steps.iter().filter(|s| s.state != "installed").collect();
    let state = match (refused.is_empty(), mode) {
        (true, _) => SetupState::Complete,
        (false, SetupMode::Require) => SetupState::Blocked,
        (false, _) => SetupState::Partial,
    };
    let refusals: Vec<String> = refused
        .iter()
        .map(|s| format!("{}: {}", s.step, s.reason.as_deref().unwrap_or(s.state)))
        .collect();
    if state == SetupState::Partial {
        for step in &refused {
            tracing::warn!(
                step = step.step,
                state = step.state,
                reason = step.reason.as_deref(),
                "Elasticsearch setup step not installed; delivering without it"
            );
        }
    }
    let retention = plan.retention.ok().filter(|_| refused.is_empty());
    record(metrics, state, &steps);
    tracing::info!(?server, ?state, ?retention, "Elasticsearch setup");
    status.update(|report| {
        report.state = state;
        report.server = Some(server);
        report.retention = retention;
        report.steps = steps;
    });
    if state == SetupState::Blocked {
        return Err(SinkError::Unavailable(format!(
            "--elasticsearch-setup require: {}",
            refusals.join("; ")
        )));
    }
    Ok(())
}

fn step_report(step: &'static str, state: &'static str, reason: Option<String>) -> StepReport {
    StepReport {
        step,
        state,
        reason,
    }
}

/// Sets `wasml_collector_setup_status` and `wasml_collector_setup_state`: 1 on the
/// current state (overall, and of each step), 0 on the others.
fn record(metrics: &CollectorMetrics, state: SetupState, steps: &[StepReport]) {
    for other in SetupState::ALL {
        metrics
            .setup_status
            .with_label_values(&[other.as_str()])
            .set(i64::from(other == state));
    }
    for step in steps {
        for state in STATES {
            metrics
                .setup_state
                .with_label_values(&[step.step, state])
                .set(i64::from(state == step.state));
        }
    }
}

/// A setup request the server answered but did not take.
struct Refusal {
    path: String,
    status: u16,
    reason: String,
}

impl Refusal {
    fn state(&self) -> &'static str {
        match self.status {
            401 | 403 => "forbidden",
            _ => "unsupported",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PUT {} answered {}: {}",
            self.path, self.status, self.reason
        )
    }
}

/// `PUT step`: `Ok(Ok(()))` when taken (or, for a step that does not overwrite, already
/// there), `Ok(Err(_))` when the server answered that it cannot or may not, `Err(_)` when
/// it did not answer or answered an error worth retrying.
async fn put(client: &Elasticsearch, step: &Step) -> Result<Result<(), Refusal>, SinkError> {
    let path = &step.path;
    let response = client
        .send(
            Method::Put,
            path,
            HeaderMap::new(),
            None::<&()>,
            Some(step.body.to_string().into_bytes()),
            None,
        )
        .await
        .map_err(|e| SinkError::Unavailable(format!("PUT {path}: {e}")))?;
    let status = response.status_code().as_u16();
    if status < 300 || (status == 409 && step.exists_on_conflict) {
        return Ok(Ok(()));
    }
    let reason = response.text().await.unwrap_or_default();
    let refusal = Refusal {
        path: path.clone(),
        status,
        reason,
    };
    match status {
        400 | 401 | 403 | 404 | 405 => Ok(Err(refusal)),
        _ => Err(SinkError::Unavailable(refusal.to_string())),
    }
}
