//! A model's rollout declared in the models directory, so a fleet converges without
//! per-host admin calls: `<dir>/<name>/rollout.json` names the version every host sharing
//! the directory makes active and, optionally, a canary with its share of traffic:
//!
//! ```json
//! {"active": "2.0.0", "canary": {"version": "3.0.0", "percent": 10}}
//! ```
//!
//! Each host reconciles its registry with the file once at start (before it listens) and
//! at every scan of the watcher, as a Kubernetes controller does with a spec: rolling out,
//! starting or stopping a canary and rolling back are each one edit of one file. While a
//! model has a rollout file, a version dropped in becomes ready but is not activated by
//! itself: the file decides. A version the file names that is still compiling is waited
//! for; one that failed the gate is reported (once per change) and the current version
//! keeps serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::lifecycle;
use crate::registry::VersionState;
use crate::serving::Serving;

/// The file's name inside a model's folder.
pub const FILE_NAME: &str = "rollout.json";

/// What a rollout file declares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// The version that serves the model's traffic.
    pub active: String,
    /// A version taking a share of it, if any.
    #[serde(default)]
    pub canary: Option<CanaryPlan>,
}

/// A canary as a rollout file declares it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanaryPlan {
    /// The canary version.
    pub version: String,
    /// Its share of the model's requests, 1 to 99.
    pub percent: u32,
}

/// Where one model stands against its rollout file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The registry matches the file.
    Converged,
    /// A version the file names is not ready yet (compiling, validating, not yet copied).
    Waiting(String),
    /// The file cannot be followed: unreadable, or names a failed or retired version.
    Blocked(String),
}

/// Whether `<dir>/<name>` has a rollout file (then new versions wait for it).
pub fn declared(dir: &Path, name: &str) -> bool {
    dir.join(name).join(FILE_NAME).is_file()
}

/// Reconciles every model of `dir` that has a rollout file, reporting each model's
/// progress when it changes.
pub struct Rollouts {
    dir: PathBuf,
    reported: HashMap<String, Progress>,
}

impl Rollouts {
    /// Rollouts of the models directory `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            reported: HashMap::new(),
        }
    }

    /// The models directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Brings `serving`'s registry in line with every rollout file, as far as the versions
    /// it has allow; logs each model whose progress changed. Returns every model's
    /// progress, by name.
    pub fn reconcile(&mut self, serving: &Serving) -> Vec<(String, Progress)> {
        let mut all = Vec::new();
        for (name, file) in rollout_files(&self.dir) {
            let progress = match read(&file) {
                Ok(rollout) => apply(serving, &name, &rollout),
                Err(reason) => Progress::Blocked(reason),
            };
            all.push((name.clone(), progress.clone()));
            if self.reported.get(&name) == Some(&progress) {
                continue;
            }
            match &progress {
                Progress::Converged => tracing::info!(model = name, "rollout file followed"),
                Progress::Waiting(what) => {
                    tracing::info!(model = name, waiting_for = what, "rollout file waits")
                }
                Progress::Blocked(reason) => {
                    tracing::warn!(model = name, reason, "rollout file cannot be followed")
                }
            }
            self.reported.insert(name, progress);
        }
        all
    }
}

/// Every `<dir>/<name>/rollout.json`, by model name.
fn rollout_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let file = entry.path().join(FILE_NAME);
            file.is_file().then_some((name, file))
        })
        .collect();
    files.sort();
    files
}

fn read(file: &Path) -> Result<Rollout, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// One model's reconciliation: the active version first, then the canary.
fn apply(serving: &Serving, name: &str, rollout: &Rollout) -> Progress {
    if let Some(canary) = &rollout.canary
        && canary.version == rollout.active
    {
        return Progress::Blocked(format!(
            "{} is both the active version and the canary",
            canary.version
        ));
    }
    let current = Current::of(serving, name);
    let step = match current.states.get(&rollout.active) {
        Some(VersionState::Active) => Ok(()),
        Some(VersionState::Ready | VersionState::Canary) => {
            lifecycle::activate(serving, name, &rollout.active).map(drop)
        }
        state => return not_servable(&rollout.active, state),
    };
    if let Err(error) = step {
        return Progress::Blocked(error.to_string());
    }
    let step = match (&rollout.canary, &current.canary) {
        (None, None) => Ok(()),
        (None, Some(_)) => lifecycle::stop_canary(serving, name).map(drop),
        (Some(plan), Some((version, percent)))
            if *version == plan.version && *percent == plan.percent =>
        {
            Ok(())
        }
        (Some(plan), _) => match current.states.get(&plan.version) {
            Some(VersionState::Ready | VersionState::Canary) => {
                lifecycle::set_canary(serving, name, &plan.version, plan.percent).map(drop)
            }
            state => return not_servable(&plan.version, state),
        },
    };
    match step {
        Ok(()) => Progress::Converged,
        Err(error) => Progress::Blocked(error.to_string()),
    }
}

/// A version the file names that cannot take traffic (yet, or ever).
fn not_servable(version: &str, state: Option<&VersionState>) -> Progress {
    match state {
        None => Progress::Waiting(format!("version {version} (not in the directory yet)")),
        Some(VersionState::Compiling | VersionState::Validating) => Progress::Waiting(format!(
            "version {version} ({})",
            state.map_or("", |s| s.name())
        )),
        Some(VersionState::Failed(reason)) => {
            Progress::Blocked(format!("version {version} failed: {reason}"))
        }
        Some(state) => Progress::Blocked(format!("version {version} is {}", state.name())),
    }
}

/// A model's versions and canary in the registry now.
struct Current {
    states: HashMap<String, VersionState>,
    canary: Option<(String, u32)>,
}

impl Current {
    fn of(serving: &Serving, name: &str) -> Self {
        let views: Vec<_> = serving
            .models
            .versions()
            .into_iter()
            .filter(|view| view.name == name)
            .collect();
        let canary = views
            .iter()
            .find_map(|view| Some((view.version.clone(), view.canary_percent?)));
        Self {
            states: views.into_iter().map(|v| (v.version, v.state)).collect(),
            canary,
        }
    }
}
