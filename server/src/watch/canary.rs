//! Automatic canary analysis: a canary set with an `analysis` policy
//! (`PUT /admin/models/{name}/canary`) is compared with the active version on the same
//! live traffic — server-error rate, p99 latency and, when `/feedback` gives both enough
//! outcomes, live accuracy — over a sliding window; once the canary has served
//! `min_requests` in it, the host promotes it (or holds it) if every check passes and stops
//! it if any fails, by itself, with the reason in the admin listing, an event and
//! `ml_model_swaps_total{result="auto_promoted"|"auto_rolled_back"}`.
//!
//! While a canary is on trial its failures do not reach clients: a request the canary
//! fails with a server error is answered by the active version instead (see
//! `api::predict`), and counted against the canary.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::registry::VersionState;
use crate::serving::Serving;
use crate::swap::lifecycle;

/// What happens when the canary passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnPass {
    /// Make it the active version.
    Promote,
    /// Leave it the canary (a person decides).
    Hold,
}

/// What happens when the canary fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    /// Stop the canary: every request goes to the active version again.
    Rollback,
}

/// The policy of an analysis.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Requests the canary must serve in the window before a verdict.
    #[serde(default = "defaults::min_requests")]
    pub min_requests: u64,
    /// Most the canary's server-error rate may exceed the active version's.
    #[serde(default = "defaults::max_error_rate_delta")]
    pub max_error_rate_delta: f64,
    /// Most the canary's p99 latency may be, as a multiple of the active version's.
    #[serde(default = "defaults::max_p99_ratio")]
    pub max_p99_ratio: f64,
    /// Least the canary's live accuracy may differ from the active version's (negative:
    /// it may be that much worse); checked only when both have 20 outcomes or more.
    #[serde(default = "defaults::min_live_accuracy_delta")]
    pub min_live_accuracy_delta: f64,
    /// Most a regressor canary's live mean absolute error may be, as a multiple of the
    /// active version's; checked only when both have 20 outcomes or more.
    #[serde(default = "defaults::max_live_mae_ratio")]
    pub max_live_mae_ratio: f64,
    /// The window both versions are compared over, in seconds.
    #[serde(default = "defaults::window_seconds")]
    pub window_seconds: u64,
    /// What a pass does.
    #[serde(default = "defaults::on_pass")]
    pub on_pass: OnPass,
    /// What a failure does.
    #[serde(default = "defaults::on_fail")]
    pub on_fail: OnFail,
}

mod defaults {
    use super::{OnFail, OnPass};
    pub fn min_requests() -> u64 {
        200
    }
    pub fn max_error_rate_delta() -> f64 {
        0.01
    }
    pub fn max_p99_ratio() -> f64 {
        1.5
    }
    pub fn min_live_accuracy_delta() -> f64 {
        -0.02
    }
    pub fn max_live_mae_ratio() -> f64 {
        1.1
    }
    pub fn window_seconds() -> u64 {
        300
    }
    pub fn on_pass() -> OnPass {
        OnPass::Promote
    }
    pub fn on_fail() -> OnFail {
        OnFail::Rollback
    }
}

/// Fewest feedback outcomes per version before live accuracy (or error) is compared.
pub const MIN_OUTCOMES: u64 = 20;

/// How often a running analysis looks at its figures.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Where an analysis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Gathering requests.
    Collecting,
    /// Passed and made active.
    Promoted,
    /// Passed and held as the canary.
    Passed,
    /// Failed and stopped.
    RolledBack,
    /// The canary changed (stopped, activated or replaced by hand) before a verdict.
    Aborted,
}

impl Verdict {
    /// The verdict as the listing and `ml_canary_analysis` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Collecting => "collecting",
            Self::Promoted => "promoted",
            Self::Passed => "passed",
            Self::RolledBack => "rolled_back",
            Self::Aborted => "aborted",
        }
    }
}

/// One version's figures over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Prediction requests it served (first attempts).
    pub requests: u64,
    /// Of those, the share it failed with a server error.
    pub error_rate: f64,
    /// Their p99 latency, in seconds.
    pub p99_seconds: f64,
    /// Live accuracy from `/feedback`, when there is enough.
    pub live_accuracy: Option<f64>,
    /// A regressor's live mean absolute error from `/feedback`, when there is enough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_mae: Option<f64>,
}

/// An analysis as the admin listing shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The canary version.
    pub canary: String,
    /// The active version it is compared with.
    pub active: String,
    /// The policy.
    pub policy: Policy,
    /// Where it stands.
    pub verdict: Verdict,
    /// Why it passed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The canary's figures at the last look.
    pub canary_figures: Figures,
    /// The active version's figures at the last look.
    pub active_figures: Figures,
}

/// Most requests kept per version: the window holds the last `MAX_SAMPLES` when more came
/// within it, so memory stays bounded at any rate.
pub const MAX_SAMPLES: usize = 50_000;

/// One request on trial: when it ended, how long it took, whether the server failed it.
struct Sample {
    at: Instant,
    seconds: f64,
    failed: bool,
}

/// One version's requests on trial, oldest first.
#[derive(Default)]
struct Samples(VecDeque<Sample>);

impl Samples {
    fn push(&mut self, sample: Sample) {
        if self.0.len() == MAX_SAMPLES {
            self.0.pop_front();
        }
        self.0.push_back(sample);
    }

    /// Requests, server-error rate and p99 latency over the last `window` (older
    /// requests are dropped).
    fn figures(&mut self, window: Duration) -> (u64, f64, f64) {
        while self.0.front().is_some_and(|s| s.at.elapsed() > window) {
            self.0.pop_front();
        }
        let mut latencies: Vec<f64> = self.0.iter().map(|s| s.seconds).collect();
        latencies.sort_by(f64::total_cmp);
        let requests = latencies.len();
        let failed = self.0.iter().filter(|s| s.failed).count();
        let p99 = latencies
            .get(((requests as f64 * 0.99).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0);
        let error_rate = if requests == 0 {
            0.0
        } else {
            failed as f64 / requests as f64
        };
        (requests as u64, error_rate, p99)
    }
}

/// One running (or finished) analysis.
struct Analysis {
    canary: Mutex<Samples>,
    active: Mutex<Samples>,
    report: Mutex<Report>,
}

/// The analyses, by model.
#[derive(Default)]
pub struct CanaryAnalyses {
    by_model: RwLock<HashMap<String, Arc<Analysis>>>,
}

impl CanaryAnalyses {
    /// Records a prediction request served (its first attempt) by `version` of `model`,
    /// if an analysis of that model is collecting and `version` is its canary or the
    /// active version it is compared with.
    pub fn record(&self, model: &str, version: &str, seconds: f64, failed: bool) {
        let by_model = self.by_model.read().expect("canary lock");
        let Some(analysis) = by_model.get(model) else {
            return;
        };
        let samples = {
            let report = analysis.report.lock().expect("canary lock");
            match (report.verdict, version) {
                (Verdict::Collecting, v) if v == report.canary => &analysis.canary,
                (Verdict::Collecting, v) if v == report.active => &analysis.active,
                _ => return,
            }
        };
        samples.lock().expect("canary lock").push(Sample {
            at: Instant::now(),
            seconds,
            failed,
        });
    }

    /// Every model's last analysis: `(model, report)`.
    pub fn reports(&self) -> Vec<(String, Report)> {
        let by_model = self.by_model.read().expect("canary lock");
        by_model
            .iter()
            .map(|(model, analysis)| {
                let report = analysis.report.lock().expect("canary lock").clone();
                (model.clone(), report)
            })
            .collect()
    }

    /// The report of the last analysis of `model` whose canary was `version`.
    pub fn report(&self, model: &str, version: &str) -> Option<Report> {
        let by_model = self.by_model.read().expect("canary lock");
        let report = by_model
            .get(model)?
            .report
            .lock()
            .expect("canary lock")
            .clone();
        (report.canary == version).then_some(report)
    }

    /// Starts judging `canary` against `active` of `model` under `policy` (replacing any
    /// earlier analysis of the model).
    pub fn start(
        &self,
        serving: &Serving,
        model: &str,
        canary: &str,
        active: &str,
        policy: Policy,
    ) -> tokio::task::JoinHandle<()> {
        let analysis = Arc::new(Analysis {
            canary: Mutex::default(),
            active: Mutex::default(),
            report: Mutex::new(Report {
                canary: canary.to_owned(),
                active: active.to_owned(),
                policy,
                verdict: Verdict::Collecting,
                reason: None,
                canary_figures: Figures::default(),
                active_figures: Figures::default(),
            }),
        });
        self.by_model
            .write()
            .expect("canary lock")
            .insert(model.to_owned(), Arc::clone(&analysis));
        let serving = serving.clone();
        let model = model.to_owned();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(CHECK_EVERY);
            loop {
                ticker.tick().await;
                if analysis.look(&serving, &model) != Verdict::Collecting {
                    return;
                }
            }
        })
    }
}

impl Analysis {
    /// Updates the figures and, once there are enough, decides and acts.
    fn look(&self, serving: &Serving, model: &str) -> Verdict {
        let report = self.report.lock().expect("canary lock").clone();
        if serving.models.state(model, &report.canary) != Some(VersionState::Canary) {
            return self.conclude(Verdict::Aborted, Some("the canary changed by hand".into()));
        }
        let (canary, active) = self.figures(serving, model, &report);
        {
            let mut report = self.report.lock().expect("canary lock");
            report.canary_figures = canary.clone();
            report.active_figures = active.clone();
        }
        if canary.requests < report.policy.min_requests {
            return Verdict::Collecting;
        }
        let failures = check(&report.policy, &canary, &active);
        let (outcome, verdict, reason) = if failures.is_empty() {
            let reason = format!(
                "passed on {} requests: error rate {:.4} vs {:.4}, p99 {:.6} s vs {:.6} s",
                canary.requests,
                canary.error_rate,
                active.error_rate,
                canary.p99_seconds,
                active.p99_seconds
            );
            match report.policy.on_pass {
                OnPass::Promote => (
                    lifecycle::promote_canary(serving, model, &report.canary).map(drop),
                    Verdict::Promoted,
                    reason,
                ),
                OnPass::Hold => (Ok(()), Verdict::Passed, reason),
            }
        } else {
            let reason = failures.join("; ");
            let stopped = lifecycle::reject_canary(serving, model, reason.clone());
            (stopped.map(drop), Verdict::RolledBack, reason)
        };
        match outcome {
            Ok(()) => self.conclude(verdict, Some(reason)),
            Err(error) => self.conclude(Verdict::Aborted, Some(error.to_string())),
        }
    }

    fn conclude(&self, verdict: Verdict, reason: Option<String>) -> Verdict {
        let mut report = self.report.lock().expect("canary lock");
        report.verdict = verdict;
        report.reason = reason;
        tracing::info!(canary = %report.canary, ?verdict, reason = report.reason.as_deref(), "canary analysis");
        verdict
    }

    /// Both versions' figures over the window.
    fn figures(&self, serving: &Serving, model: &str, report: &Report) -> (Figures, Figures) {
        let window = Duration::from_secs(report.policy.window_seconds);
        let of = |samples: &Mutex<Samples>, version: &str| {
            let (requests, error_rate, p99_seconds) =
                samples.lock().expect("canary lock").figures(window);
            let live_accuracy = serving
                .metrics
                .live_accuracy(model, version)
                .filter(|live| live.outcomes >= MIN_OUTCOMES)
                .map(|live| live.accuracy);
            let live_mae = serving
                .metrics
                .live_error(model, version)
                .filter(|live| live.outcomes >= MIN_OUTCOMES)
                .map(|live| live.mae);
            Figures {
                requests,
                error_rate,
                p99_seconds,
                live_accuracy,
                live_mae,
            }
        };
        (
            of(&self.canary, &report.canary),
            of(&self.active, &report.active),
        )
    }
}

/// The checks `canary` fails against `active` under `policy`, each with its figures.
pub fn check(policy: &Policy, canary: &Figures, active: &Figures) -> Vec<String> {
    let mut failures = Vec::new();
    let error_delta = canary.error_rate - active.error_rate;
    if error_delta > policy.max_error_rate_delta {
        failures.push(format!(
            "error rate {:.4} vs {:.4} (more than {} worse)",
            canary.error_rate, active.error_rate, policy.max_error_rate_delta
        ));
    }
    if active.requests > 0 && active.p99_seconds > 0.0 {
        let ratio = canary.p99_seconds / active.p99_seconds;
        if ratio > policy.max_p99_ratio {
            failures.push(format!(
                "p99 {:.6} s vs {:.6} s ({ratio:.2}x, more than {}x)",
                canary.p99_seconds, active.p99_seconds, policy.max_p99_ratio
            ));
        }
    }
    if let (Some(canary_accuracy), Some(active_accuracy)) =
        (canary.live_accuracy, active.live_accuracy)
    {
        let delta = canary_accuracy - active_accuracy;
        if delta < policy.min_live_accuracy_delta {
            failures.push(format!(
                "live accuracy {canary_accuracy:.4} vs {active_accuracy:.4} ({delta:+.4}, below {:+})",
                policy.min_live_accuracy_delta
            ));
        }
    }
    if let (Some(canary_mae), Some(active_mae)) = (canary.live_mae, active.live_mae)
        && active_mae > 0.0
    {
        let ratio = canary_mae / active_mae;
        if ratio > policy.max_live_mae_ratio {
            failures.push(format!(
                "live MAE {canary_mae:.4} vs {active_mae:.4} ({ratio:.2}x, more than {}x)",
                policy.max_live_mae_ratio
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        serde_json::from_str("{}").unwrap()
    }

    fn figures(requests: u64, error_rate: f64, p99: f64, accuracy: Option<f64>) -> Figures {
        Figures {
            requests,
            error_rate,
            p99_seconds: p99,
            live_accuracy: accuracy,
            live_mae: None,
        }
    }

    #[test]
    fn each_check_fails_on_its_own_figure_and_names_it() {
        let active = figures(1000, 0.0, 0.001, Some(0.9));
        assert!(check(&policy(), &figures(200, 0.005, 0.0014, Some(0.89)), &active).is_empty());
        let errors = check(&policy(), &figures(200, 0.05, 0.001, None), &active);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("error rate 0.0500"), "{errors:?}");
        let slow = check(&policy(), &figures(200, 0.0, 0.01, None), &active);
        assert!(slow[0].contains("10.00x"), "{slow:?}");
        let worse = check(&policy(), &figures(200, 0.0, 0.001, Some(0.5)), &active);
        assert!(
            worse[0].starts_with("live accuracy 0.5000 vs 0.9000"),
            "{worse:?}"
        );
    }

    #[test]
    fn a_regressor_is_judged_by_its_live_error() {
        let with_mae = |mae| Figures {
            live_mae: Some(mae),
            ..figures(500, 0.0, 0.001, None)
        };
        assert!(check(&policy(), &with_mae(10.5), &with_mae(10.0)).is_empty());
        let worse = check(&policy(), &with_mae(13.0), &with_mae(10.0));
        assert_eq!(worse.len(), 1);
        assert!(
            worse[0].starts_with("live MAE 13.0000 vs 10.0000 (1.30x"),
            "{worse:?}"
        );
    }

    #[test]
    fn samples_stay_bounded_and_give_rate_and_p99() {
        let mut samples = Samples::default();
        for i in 0..MAX_SAMPLES + 100 {
            samples.push(Sample {
                at: Instant::now(),
                seconds: (i % 100) as f64 / 1000.0,
                failed: i % 10 == 0,
            });
        }
        assert_eq!(samples.0.len(), MAX_SAMPLES);
        let (requests, error_rate, p99) = samples.figures(Duration::from_secs(60));
        assert_eq!(requests, MAX_SAMPLES as u64);
        assert!((error_rate - 0.1).abs() < 1e-9, "{error_rate}");
        assert!((p99 - 0.098).abs() < 1e-9, "{p99}");
        assert_eq!(
            samples.figures(Duration::ZERO).0,
            0,
            "older than the window"
        );
    }

    #[test]
    fn a_policy_takes_defaults_and_refuses_unknown_fields() {
        let policy = policy();
        assert_eq!(
            (policy.min_requests, policy.on_pass, policy.on_fail),
            (200, OnPass::Promote, OnFail::Rollback)
        );
        assert!(serde_json::from_str::<Policy>(r#"{"min_request": 5}"#).is_err());
    }
}
