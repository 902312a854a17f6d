//! The models the host serves, each with its versions: one active version per model, an
//! optional canary taking a share of its traffic, and versions on their way in or out.
//!
//! A ready version may also *shadow* the active one: a share of the requests the active
//! version answers are run on it too, after the answer ([`Route::shadow`]).
//!
//! A request asks [`ModelRegistry::route`] for a model and gets an `Arc` of one version.
//! Activation changes which version later requests get; a request in flight finishes on
//! the version it started with, which its `Arc` keeps alive. New versions arrive through
//! [`crate::swap`]: compiling → validating → ready (or failed, with the reason); only a
//! ready version can be activated or made the canary.

mod files;
mod model;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

pub use files::model_files;
pub use model::{
    CallOutput, Info, LoadedModel, ModelCall, ModelUnavailable, Predict, PredictBatch,
    RequestCounters,
};

/// Where a version stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", tag = "state", content = "reason")]
pub enum VersionState {
    /// Being compiled (or loaded from the `.cwasm` cache) and instantiated.
    Compiling,
    /// Going through the validation gate.
    Validating,
    /// Passed the gate; can be activated or made the canary.
    Ready,
    /// Serving the model's traffic.
    Active,
    /// Serving a share of the model's traffic next to the active version.
    Canary,
    /// Did not pass; never served. The reason says why.
    Failed(String),
    /// Taken out of service for good.
    Retired,
}

impl VersionState {
    /// The state's name, for metrics and events.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Compiling => "compiling",
            Self::Validating => "validating",
            Self::Ready => "ready",
            Self::Active => "active",
            Self::Canary => "canary",
            Self::Failed(_) => "failed",
            Self::Retired => "retired",
        }
    }
}

/// One check of the validation gate and its outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GateCheck {
    /// Which check: `identity`, `info`, `schema`, `conformance`, `deadline`.
    pub check: &'static str,
    /// Whether it passed (a skipped check passes, and says so).
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// How long the check took, in milliseconds.
    pub milliseconds: f64,
}

/// One version as listed.
#[derive(Clone)]
pub struct VersionView {
    /// The model's name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Where it stands.
    pub state: VersionState,
    /// Since when.
    pub since: DateTime<Utc>,
    /// The loaded component, once compiled.
    pub model: Option<Arc<LoadedModel>>,
    /// The canary's share of traffic, in percent, when it is the canary.
    pub canary_percent: Option<u32>,
    /// The validation gate's checks (empty for versions loaded at start).
    pub checks: Vec<GateCheck>,
    /// sha256 of the component, once compiled (kept after it is retired or failed).
    pub sha256: Option<String>,
    /// The share of the active version's requests it also runs, when it is the shadow.
    pub shadow_percent: Option<u32>,
}

/// A ready version running a share of the active version's requests after they are
/// answered, its answers compared with the active one's.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    /// The shadow version.
    pub version: String,
    /// Share of the active version's requests, 1 to 100.
    pub percent: u32,
    /// For a regressor: the relative difference from which two values disagree.
    pub tolerance: f64,
}

/// Where one request goes ([`ModelRegistry::route_request`]).
pub struct Route {
    /// The version that answers it.
    pub model: Arc<LoadedModel>,
    /// The active version, when `model` is the canary: it answers if the canary fails.
    pub fallback: Option<Arc<LoadedModel>>,
    /// The shadow that also runs it after the answer, with its settings.
    pub shadow: Option<(Arc<LoadedModel>, Shadow)>,
}

impl Route {
    /// Straight to `model`: no fallback, no shadow (a request naming its version).
    pub fn to(model: Arc<LoadedModel>) -> Self {
        Self {
            model,
            fallback: None,
            shadow: None,
        }
    }
}

struct VersionEntry {
    state: VersionState,
    since: DateTime<Utc>,
    model: Option<Arc<LoadedModel>>,
    checks: Vec<GateCheck>,
    sha256: Option<String>,
}

#[derive(Default)]
struct ModelVersions {
    versions: BTreeMap<String, VersionEntry>,
    active: Option<String>,
    /// Versions active before the current one, most recent last: where rollback goes.
    history: Vec<String>,
    canary: Option<(String, u32)>,
    shadow: Option<Shadow>,
}

impl ModelVersions {
    /// Stops `version` shadowing, if it does (it changed state).
    fn unshadow(&mut self, version: &str) {
        if self.shadow.as_ref().is_some_and(|s| s.version == version) {
            self.shadow = None;
        }
    }

    fn set(&mut self, version: &str, state: VersionState) {
        if let Some(entry) = self.versions.get_mut(version) {
            entry.state = state;
            entry.since = Utc::now();
        }
    }

    fn model(&self, version: &str) -> Option<Arc<LoadedModel>> {
        self.versions.get(version)?.model.clone()
    }
}

/// Why a registry operation was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RegistryError {
    /// Nothing to serve.
    #[error("no model to serve")]
    Empty,
    /// The same model version twice.
    #[error("model {0:?} version {1:?} is loaded twice")]
    DuplicateVersion(String, String),
    /// `--default-model` names no loaded model.
    #[error("the default model {0:?} is not among the loaded models")]
    UnknownDefault(String),
    /// No such model.
    #[error("no model named {0:?}")]
    UnknownModel(String),
    /// No such version.
    #[error("model {0:?} has no version {1:?}")]
    UnknownVersion(String, String),
    /// The version exists and is not failed or retired, so it cannot be uploaded again.
    #[error(
        "model {0:?} version {1:?} already exists ({2}); retire it first or use another version"
    )]
    VersionExists(String, String, &'static str),
    /// The operation needs a version in another state.
    #[error("model {model:?} version {version:?} is {state}; {needed}")]
    WrongState {
        /// The model.
        model: String,
        /// The version.
        version: String,
        /// Its state.
        state: &'static str,
        /// What the operation needs.
        needed: &'static str,
    },
    /// Rollback without an earlier version.
    #[error("model {0:?} has no earlier version to roll back to")]
    NothingToRollBack(String),
    /// A canary weight outside 1..=99.
    #[error("a canary weight is a percentage from 1 to 99, not {0}")]
    BadWeight(u32),
    /// A shadow share outside 1..=100, or a negative tolerance.
    #[error("a shadow takes a percentage from 1 to 100 and a tolerance of 0 or more: {0}")]
    BadShadow(String),
}

/// The models and their versions.
pub struct ModelRegistry {
    models: RwLock<BTreeMap<String, ModelVersions>>,
    /// Model names in load order (the first is the default unless one was named).
    order: RwLock<Vec<String>>,
    default: String,
    requests: AtomicU64,
    shadowed: AtomicU64,
}

impl ModelRegistry {
    /// The registry of `models` loaded at start. Each model's last version (in load
    /// order) is active, earlier ones ready. `default` names the model `POST /predict`
    /// uses (the first one if `None`).
    pub fn new(models: Vec<LoadedModel>, default: Option<&str>) -> Result<Self, RegistryError> {
        let mut order: Vec<String> = Vec::new();
        let mut all: BTreeMap<String, ModelVersions> = BTreeMap::new();
        for model in models {
            let name = model.name().to_owned();
            let version = model.version().to_owned();
            let entry = all.entry(name.clone()).or_default();
            if entry.versions.contains_key(&version) {
                return Err(RegistryError::DuplicateVersion(name, version));
            }
            if let Some(previous) = entry.active.replace(version.clone()) {
                entry.set(&previous, VersionState::Ready);
                entry.history.push(previous);
            }
            entry.versions.insert(
                version,
                VersionEntry {
                    state: VersionState::Active,
                    since: Utc::now(),
                    sha256: Some(model.component_sha256.clone()),
                    model: Some(Arc::new(model)),
                    checks: Vec::new(),
                },
            );
            if !order.contains(&name) {
                order.push(name);
            }
        }
        let default = match default {
            None => order.first().cloned().ok_or(RegistryError::Empty)?,
            Some(name) if all.contains_key(name) => name.to_owned(),
            Some(name) => return Err(RegistryError::UnknownDefault(name.to_owned())),
        };
        Ok(Self {
            models: RwLock::new(all),
            order: RwLock::new(order),
            default,
            requests: AtomicU64::new(0),
            shadowed: AtomicU64::new(0),
        })
    }

    /// The version of `name` a request should use: the canary for its share of
    /// requests, else the active version. `None` if the model has no active version.
    pub fn route(&self, name: &str) -> Option<Arc<LoadedModel>> {
        self.route_request(name).map(|route| route.model)
    }

    /// Where a request to `name` goes, decided under one lock: the canary for its share
    /// of requests (then with the active version as its fallback: an analysis may stop the
    /// canary while the request runs), else the active version (then with the shadow, for
    /// its share). `None` if the model has no active version.
    pub fn route_request(&self, name: &str) -> Option<Route> {
        let models = self.models.read().expect("registry lock");
        let model = models.get(name)?;
        let active = model.model(model.active.as_deref()?)?;
        // Spread evenly: request n takes a share p when it crosses a multiple of 100 / p,
        // so 10 % is every tenth request, not the first ten of each 100.
        let picks = |counter: &AtomicU64, percent: u32| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            (n * u64::from(percent)) % 100 < u64::from(percent)
        };
        if let Some((canary, percent)) = &model.canary
            && picks(&self.requests, *percent)
            && let Some(canary) = model.model(canary)
        {
            return Some(Route {
                model: canary,
                fallback: Some(active),
                shadow: None,
            });
        }
        let shadow = model
            .shadow
            .as_ref()
            .filter(|shadow| picks(&self.shadowed, shadow.percent))
            .and_then(|shadow| Some((model.model(&shadow.version)?, shadow.clone())));
        Some(Route {
            model: active,
            fallback: None,
            shadow,
        })
    }

    /// The model `POST /predict` uses, as [`route`](Self::route) picks its version.
    pub fn default_model(&self) -> Option<Arc<LoadedModel>> {
        self.route(&self.default)
    }

    /// The name of the model `POST /predict` uses.
    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// `each` applied to every model, in load order, under one read lock; `None`s left out.
    fn each_model<T>(&self, mut each: impl FnMut(&str, &ModelVersions) -> Option<T>) -> Vec<T> {
        let models = self.models.read().expect("registry lock");
        self.order
            .read()
            .expect("registry lock")
            .iter()
            .filter_map(|name| each(name, models.get(name)?))
            .collect()
    }

    /// The active version of each model, in load order.
    pub fn models(&self) -> Vec<Arc<LoadedModel>> {
        self.each_model(|_, model| model.model(model.active.as_deref()?))
    }

    /// Whether the server is ready: some model is served and every served one is ready.
    /// A model is served while any of its versions is not failed or retired (one loaded
    /// at start, or an upload on its way), and ready when it has an active version.
    pub fn ready(&self) -> bool {
        let served = self.each_model(|_, model| {
            let served = model.versions.values().any(|entry| {
                !matches!(entry.state, VersionState::Failed(_) | VersionState::Retired)
            });
            served.then_some(model.active.is_some())
        });
        !served.is_empty() && served.into_iter().all(|ready| ready)
    }

    /// Every version that receives traffic: each model's active version and its canary.
    pub fn serving(&self) -> Vec<Arc<LoadedModel>> {
        self.each_model(|_, model| {
            let active = model.active.as_deref().and_then(|v| model.model(v));
            let canary = model.canary.as_ref().and_then(|(v, _)| model.model(v));
            Some(active.into_iter().chain(canary))
        })
        .into_iter()
        .flatten()
        .collect()
    }

    /// Version `version` of `name`, while it is loaded (not failed or retired).
    pub fn version(&self, name: &str, version: &str) -> Option<Arc<LoadedModel>> {
        self.models
            .read()
            .expect("registry lock")
            .get(name)?
            .model(version)
    }

    /// The active version of `name`.
    pub fn active(&self, name: &str) -> Option<Arc<LoadedModel>> {
        let models = self.models.read().expect("registry lock");
        let model = models.get(name)?;
        model.model(model.active.as_deref()?)
    }

    /// Every version of every model, models in load order, versions sorted.
    pub fn versions(&self) -> Vec<VersionView> {
        let models = self.models.read().expect("registry lock");
        let order = self.order.read().expect("registry lock");
        let mut views = Vec::new();
        for name in order.iter() {
            let Some(model) = models.get(name) else {
                continue;
            };
            for (version, entry) in &model.versions {
                views.push(VersionView {
                    name: name.clone(),
                    version: version.clone(),
                    state: entry.state.clone(),
                    since: entry.since,
                    model: entry.model.clone(),
                    canary_percent: model
                        .canary
                        .as_ref()
                        .filter(|(v, _)| v == version)
                        .map(|(_, p)| *p),
                    checks: entry.checks.clone(),
                    sha256: entry.sha256.clone(),
                    shadow_percent: model
                        .shadow
                        .as_ref()
                        .filter(|s| s.version == *version)
                        .map(|s| s.percent),
                });
            }
        }
        views
    }

    /// The state of one version.
    pub fn state(&self, name: &str, version: &str) -> Option<VersionState> {
        let models = self.models.read().expect("registry lock");
        Some(models.get(name)?.versions.get(version)?.state.clone())
    }

    /// Registers an upload of `name`/`version` as compiling. A failed or retired version
    /// may be uploaded again; any other existing one may not.
    pub fn begin(&self, name: &str, version: &str) -> Result<(), RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = models.entry(name.to_owned()).or_default();
        if let Some(entry) = model.versions.get(version)
            && !matches!(entry.state, VersionState::Failed(_) | VersionState::Retired)
        {
            return Err(RegistryError::VersionExists(
                name.to_owned(),
                version.to_owned(),
                entry.state.name(),
            ));
        }
        model.versions.insert(
            version.to_owned(),
            VersionEntry {
                state: VersionState::Compiling,
                since: Utc::now(),
                model: None,
                checks: Vec::new(),
                sha256: None,
            },
        );
        drop(models);
        let mut order = self.order.write().expect("registry lock");
        if !order.iter().any(|n| n == name) {
            order.push(name.to_owned());
        }
        Ok(())
    }

    /// Moves an upload to `validating`, with its compiled component.
    pub fn validating(&self, name: &str, version: &str, model: Arc<LoadedModel>) {
        let mut models = self.models.write().expect("registry lock");
        if let Some(entry) = models
            .get_mut(name)
            .and_then(|m| m.versions.get_mut(version))
        {
            entry.sha256 = Some(model.component_sha256.clone());
            entry.model = Some(model);
            entry.state = VersionState::Validating;
            entry.since = Utc::now();
        }
    }

    /// Records the gate's `checks` for an upload: ready if all passed, else failed with
    /// `reason` (and its component dropped: it never serves).
    pub fn gated(&self, name: &str, version: &str, checks: Vec<GateCheck>, reason: Option<String>) {
        let mut models = self.models.write().expect("registry lock");
        if let Some(entry) = models
            .get_mut(name)
            .and_then(|m| m.versions.get_mut(version))
        {
            entry.checks = checks;
            entry.since = Utc::now();
            match reason {
                None => entry.state = VersionState::Ready,
                Some(reason) => {
                    entry.model = None;
                    entry.state = VersionState::Failed(reason);
                }
            }
        }
    }

    /// Makes `version` the active version of `name`; returns the version it replaced.
    /// The version must be ready (or the canary, which it then stops being).
    pub fn activate(&self, name: &str, version: &str) -> Result<Option<String>, RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = lookup_servable(
            &mut models,
            name,
            version,
            "only a ready version (or the canary) can be activated",
        )?;
        if model.canary.as_ref().is_some_and(|(v, _)| v == version) {
            model.canary = None;
        }
        model.unshadow(version);
        let previous = model.active.replace(version.to_owned());
        if let Some(previous) = &previous {
            model.set(previous, VersionState::Ready);
            model.history.retain(|v| v != previous);
            model.history.push(previous.clone());
        }
        model.history.retain(|v| v != version);
        model.set(version, VersionState::Active);
        Ok(previous)
    }

    /// Sends `percent` of `name`'s requests to `version` (ready, or already the canary).
    /// Returns the canary it replaced, if another.
    pub fn set_canary(
        &self,
        name: &str,
        version: &str,
        percent: u32,
    ) -> Result<Option<String>, RegistryError> {
        if !(1..=99).contains(&percent) {
            return Err(RegistryError::BadWeight(percent));
        }
        let mut models = self.models.write().expect("registry lock");
        let model = lookup_servable(
            &mut models,
            name,
            version,
            "only a ready version can be the canary",
        )?;
        let replaced = model
            .canary
            .replace((version.to_owned(), percent))
            .map(|(v, _)| v)
            .filter(|v| v != version);
        if let Some(replaced) = &replaced {
            model.set(replaced, VersionState::Ready);
        }
        model.unshadow(version);
        model.set(version, VersionState::Canary);
        Ok(replaced)
    }

    /// Makes a ready `version` of `name` shadow its active version; returns the shadow it
    /// replaced, if another.
    pub fn set_shadow(&self, name: &str, shadow: Shadow) -> Result<Option<String>, RegistryError> {
        let tolerance_ok = shadow.tolerance.is_finite() && shadow.tolerance >= 0.0;
        if !(1..=100).contains(&shadow.percent) || !tolerance_ok {
            return Err(RegistryError::BadShadow(format!(
                "percent {}, tolerance {}",
                shadow.percent, shadow.tolerance
            )));
        }
        let mut models = self.models.write().expect("registry lock");
        let model = lookup(&mut models, name, &shadow.version)?;
        let state = &model.versions[&shadow.version].state;
        if *state != VersionState::Ready {
            return Err(wrong_state(
                name,
                &shadow.version,
                state,
                "only a ready version can shadow the active one",
            ));
        }
        let version = shadow.version.clone();
        Ok(model
            .shadow
            .replace(shadow)
            .map(|s| s.version)
            .filter(|v| *v != version))
    }

    /// Stops `name`'s shadow; returns its version.
    pub fn clear_shadow(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = models
            .get_mut(name)
            .ok_or_else(|| RegistryError::UnknownModel(name.to_owned()))?;
        Ok(model.shadow.take().map(|s| s.version))
    }

    /// Stops the canary of `name`; returns its version.
    pub fn clear_canary(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = models
            .get_mut(name)
            .ok_or_else(|| RegistryError::UnknownModel(name.to_owned()))?;
        let cleared = model.canary.take().map(|(v, _)| v);
        if let Some(version) = &cleared {
            model.set(version, VersionState::Ready);
        }
        Ok(cleared)
    }

    /// Re-activates the version active before the current one; returns `(from, to)`.
    pub fn rollback(&self, name: &str) -> Result<(String, String), RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = models
            .get_mut(name)
            .ok_or_else(|| RegistryError::UnknownModel(name.to_owned()))?;
        let target = model
            .history
            .iter()
            .rev()
            .find(|v| {
                model
                    .versions
                    .get(*v)
                    .is_some_and(|e| matches!(e.state, VersionState::Ready | VersionState::Canary))
            })
            .cloned()
            .ok_or_else(|| RegistryError::NothingToRollBack(name.to_owned()))?;
        let from = model
            .active
            .replace(target.clone())
            .ok_or_else(|| RegistryError::NothingToRollBack(name.to_owned()))?;
        model.set(&from, VersionState::Ready);
        model.history.retain(|v| v != &target && v != &from);
        if model.canary.as_ref().is_some_and(|(v, _)| v == &target) {
            model.canary = None;
        }
        model.unshadow(&target);
        model.set(&target, VersionState::Active);
        Ok((from, target))
    }

    /// Retires `version` of `name`: it serves no more and its instances are released once
    /// requests in flight on it finish. The active version cannot be retired.
    pub fn retire(&self, name: &str, version: &str) -> Result<(), RegistryError> {
        let mut models = self.models.write().expect("registry lock");
        let model = lookup(&mut models, name, version)?;
        if model.active.as_deref() == Some(version) {
            let state = &model.versions[version].state;
            return Err(wrong_state(
                name,
                version,
                state,
                "activate another version first",
            ));
        }
        if model.canary.as_ref().is_some_and(|(v, _)| v == version) {
            model.canary = None;
        }
        model.unshadow(version);
        model.history.retain(|v| v != version);
        if let Some(entry) = model.versions.get_mut(version) {
            entry.model = None;
            entry.state = VersionState::Retired;
            entry.since = Utc::now();
        }
        Ok(())
    }
}

fn lookup<'a>(
    models: &'a mut BTreeMap<String, ModelVersions>,
    name: &str,
    version: &str,
) -> Result<&'a mut ModelVersions, RegistryError> {
    let model = models
        .get_mut(name)
        .ok_or_else(|| RegistryError::UnknownModel(name.to_owned()))?;
    if !model.versions.contains_key(version) {
        return Err(RegistryError::UnknownVersion(
            name.to_owned(),
            version.to_owned(),
        ));
    }
    Ok(model)
}

/// Like [`lookup`], and the version must be ready or the canary (else `needed` says why).
fn lookup_servable<'a>(
    models: &'a mut BTreeMap<String, ModelVersions>,
    name: &str,
    version: &str,
    needed: &'static str,
) -> Result<&'a mut ModelVersions, RegistryError> {
    let model = lookup(models, name, version)?;
    let state = &model.versions[version].state;
    if !matches!(state, VersionState::Ready | VersionState::Canary) {
        return Err(wrong_state(name, version, state, needed));
    }
    Ok(model)
}

fn wrong_state(
    model: &str,
    version: &str,
    state: &VersionState,
    needed: &'static str,
) -> RegistryError {
    RegistryError::WrongState {
        model: model.to_owned(),
        version: version.to_owned(),
        state: state.name(),
        needed,
    }
}
