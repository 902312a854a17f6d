//! Hot swap: a new model version comes in while the current one keeps serving.
//!
//! [`start`] registers an upload as `compiling` and returns at once; a background task
//! compiles the component (through the `.cwasm` cache, on a blocking thread), warms its
//! instances, and runs the validation [`gate`]. A version that passes is `ready`: the
//! admin API (or the directory watcher) can then take it through its [`lifecycle`]:
//! activate, canary, roll back, retire — or a [`rollout`] file in the models directory
//! declares which version is active for every host sharing it. A version that fails any
//! step is `failed` with the reason and never receives traffic. Every state change is an
//! event in the log stream and counts in `ml_model_swaps_total`.
//!
//! This module sees only [`Serving`] (models, metrics, events), never the REST API's state.

pub mod gate;
pub mod lifecycle;
pub mod rollout;
pub mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use thiserror::Error;
use wasml_predictor::ConformanceSet;
use wasml_runtime::digest::DigestedWasm;
use wasml_runtime::trial::SandboxTrial;

use crate::intake::Intake;
use crate::registry::{LoadedModel, RegistryError};
use crate::serving::Serving;

/// Most conformance sets (or cards) waiting for their model's upload.
const MAX_PENDING_SETS: usize = 16;

/// Too many conformance sets or cards wait for their models (each is kept until its
/// upload).
#[derive(Debug, Error)]
#[error("{MAX_PENDING_SETS} uploads already wait for their models")]
pub struct TooManyPendingSets;

/// What was uploaded ahead of a version's model, by (model, version), bounded.
struct Pending<T>(Mutex<HashMap<(String, String), T>>);

impl<T> Pending<T> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn add(&self, name: &str, version: &str, item: T) -> Result<(), TooManyPendingSets> {
        let mut pending = self.0.lock().expect("pending lock");
        let key = (name.to_owned(), version.to_owned());
        if pending.len() >= MAX_PENDING_SETS && !pending.contains_key(&key) {
            return Err(TooManyPendingSets);
        }
        pending.insert(key, item);
        Ok(())
    }

    fn take(&self, name: &str, version: &str) -> Option<T> {
        self.0
            .lock()
            .expect("pending lock")
            .remove(&(name.to_owned(), version.to_owned()))
    }
}

/// What compiling a new version needs: the host's sandbox (engine, cache, limits, in its
/// intake, which also packages ONNX uploads) and pool size.
pub struct ModelLoader {
    intake: Intake,
    pool_size: usize,
    /// Conformance sets uploaded ahead of their component.
    pending_sets: Pending<ConformanceSet>,
    /// Model cards uploaded ahead of their ONNX model.
    pending_cards: Pending<String>,
}

impl ModelLoader {
    /// A loader compiling and limiting instances with `intake`'s sandbox (the one the
    /// models at start were loaded with, so its cache already holds their runner),
    /// `pool_size` instances per version.
    pub fn new(intake: Intake, pool_size: usize) -> Self {
        Self {
            intake,
            pool_size,
            pending_sets: Pending::new(),
            pending_cards: Pending::new(),
        }
    }

    /// ONNX intake on this loader's runner and sandbox.
    pub fn intake(&self) -> Intake {
        self.intake.clone()
    }

    /// Keeps `set` for the upload of `name`/`version` (replacing an earlier one).
    pub fn add_conformance_set(
        &self,
        name: &str,
        version: &str,
        set: ConformanceSet,
    ) -> Result<(), TooManyPendingSets> {
        self.pending_sets.add(name, version, set)
    }

    fn take_conformance_set(&self, name: &str, version: &str) -> Option<ConformanceSet> {
        self.pending_sets.take(name, version)
    }

    /// Keeps a model card (JSON) for the ONNX upload of `name`/`version`.
    pub fn add_card(
        &self,
        name: &str,
        version: &str,
        card: String,
    ) -> Result<(), TooManyPendingSets> {
        self.pending_cards.add(name, version, card)
    }

    /// The card uploaded for `name`/`version`, if any (taken: an upload uses it once).
    pub fn take_card(&self, name: &str, version: &str) -> Option<String> {
        self.pending_cards.take(name, version)
    }

    fn load(&self, wasm: &DigestedWasm, source: String) -> wasmtime::Result<LoadedModel> {
        let SandboxTrial {
            engine,
            cache,
            limits,
        } = &self.intake.trial;
        LoadedModel::load(engine, wasm, source, cache, *limits, self.pool_size)
    }
}

/// A new version's component, as uploaded.
pub struct Upload {
    /// The model it is a version of.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The component's bytes and digest.
    pub wasm: DigestedWasm,
    /// Accept a schema change.
    pub force: bool,
    /// Activate the version as soon as it passes the gate (the models directory does).
    pub activate_when_ready: bool,
}

/// Registers `upload` as compiling and starts its pipeline in the background.
pub fn start(
    serving: &Serving,
    loader: Arc<ModelLoader>,
    upload: Upload,
) -> Result<(), RegistryError> {
    serving.models.begin(&upload.name, &upload.version)?;
    lifecycle::record(serving, &upload.name, &upload.version, "compiling", None);
    let serving = serving.clone();
    tokio::spawn(async move { run(serving, loader, upload).await });
    Ok(())
}

async fn run(serving: Serving, loader: Arc<ModelLoader>, upload: Upload) {
    let Upload {
        name,
        version,
        wasm,
        force,
        activate_when_ready,
    } = upload;
    let source = format!("upload of {name} {version}");
    let compiling = Arc::clone(&loader);
    let compiled = tokio::task::spawn_blocking(move || compiling.load(&wasm, source)).await;
    let model = match compiled {
        Ok(Ok(model)) => Arc::new(model),
        Ok(Err(error)) => {
            let reason = format!("not a usable model component: {error:#}");
            return lifecycle::failed(&serving, &name, &version, Vec::new(), reason);
        }
        Err(error) => {
            let reason = format!("compiling crashed: {error}");
            return lifecycle::failed(&serving, &name, &version, Vec::new(), reason);
        }
    };
    serving
        .models
        .validating(&name, &version, Arc::clone(&model));
    lifecycle::record(&serving, &name, &version, "validating", None);
    let conformance = loader.take_conformance_set(&name, &version);
    let active_inputs = serving.models.active(&name).map(|m| m.info.inputs.clone());
    let candidate = Arc::clone(&model);
    let (gate_name, gate_version) = (name.clone(), version.clone());
    let checks = tokio::task::spawn_blocking(move || {
        gate::run(
            &candidate,
            &gate::GateInput {
                name: &gate_name,
                version: &gate_version,
                active_inputs: active_inputs.as_deref(),
                force,
                conformance: conformance.as_ref(),
            },
        )
    })
    .await
    .unwrap_or_default();
    let reason =
        gate::failure(&checks).or_else(|| checks.is_empty().then(|| "the gate crashed".to_owned()));
    match reason {
        None => {
            serving.models.gated(&name, &version, checks, None);
            serving.metrics.model_loaded(&model);
            lifecycle::record(&serving, &name, &version, "ready", None);
            if activate_when_ready
                && let Err(error) = lifecycle::activate(&serving, &name, &version)
            {
                tracing::warn!(model = name, version, %error, "could not activate");
            }
        }
        Some(reason) => lifecycle::failed(&serving, &name, &version, checks, reason),
    }
}
