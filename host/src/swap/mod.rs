//! Hot swap: a new model version comes in while the current one keeps serving.
//!
//! [`start`] registers an upload as `compiling` and returns at once; a background task
//! compiles the component (through the `.cwasm` cache, on a blocking thread), warms its
//! instances, and runs the validation [`gate`]. A version that passes is `ready`: the
//! admin API can then activate it, make it the canary, roll back or retire versions
//! (`crate::registry` does those atomically). A version that fails any step is `failed`
//! with the reason and never receives traffic. Every state change is an event in the
//! log stream and counts in `ml_model_swaps_total`.

pub mod gate;
pub mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasml_predictor::ConformanceSet;
use wasmtime::Engine;

use crate::api::AppState;
use crate::cache::ComponentCache;
use crate::digest::DigestedWasm;
use crate::event_sink::{Event, SERVICE};
use crate::limits::SandboxLimits;
use crate::registry::{LoadedModel, RegistryError};

/// Most conformance sets waiting for their component's upload.
const MAX_PENDING_SETS: usize = 16;

/// What compiling a new version needs: the host's engine, cache, limits and pool size.
pub struct ModelLoader {
    engine: Engine,
    cache: ComponentCache,
    limits: SandboxLimits,
    pool_size: usize,
    /// Conformance sets uploaded ahead of their component, by (model, version).
    pending_sets: Mutex<HashMap<(String, String), ConformanceSet>>,
}

impl ModelLoader {
    /// A loader compiling with `engine` through `cache`, instances limited by `limits`.
    pub fn new(
        engine: Engine,
        cache: ComponentCache,
        limits: SandboxLimits,
        pool_size: usize,
    ) -> Self {
        Self {
            engine,
            cache,
            limits,
            pool_size,
            pending_sets: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps `set` for the upload of `name`/`version` (replacing an earlier one).
    pub fn add_conformance_set(
        &self,
        name: &str,
        version: &str,
        set: ConformanceSet,
    ) -> Result<(), String> {
        let mut pending = self.pending_sets.lock().expect("pending lock");
        let key = (name.to_owned(), version.to_owned());
        if pending.len() >= MAX_PENDING_SETS && !pending.contains_key(&key) {
            return Err(format!(
                "{MAX_PENDING_SETS} conformance sets already wait for their components"
            ));
        }
        pending.insert(key, set);
        Ok(())
    }

    fn take_conformance_set(&self, name: &str, version: &str) -> Option<ConformanceSet> {
        self.pending_sets
            .lock()
            .expect("pending lock")
            .remove(&(name.to_owned(), version.to_owned()))
    }

    fn load(&self, wasm: &DigestedWasm, source: String) -> wasmtime::Result<LoadedModel> {
        LoadedModel::load(
            &self.engine,
            wasm,
            source,
            &self.cache,
            self.limits,
            self.pool_size,
        )
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
    state: &AppState,
    loader: Arc<ModelLoader>,
    upload: Upload,
) -> Result<(), RegistryError> {
    state.models.begin(&upload.name, &upload.version)?;
    record(state, &upload.name, &upload.version, "compiling", None);
    let state = state.clone();
    tokio::spawn(async move { run(state, loader, upload).await });
    Ok(())
}

async fn run(state: AppState, loader: Arc<ModelLoader>, upload: Upload) {
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
            return failed(&state, &name, &version, reason);
        }
        Err(error) => {
            return failed(
                &state,
                &name,
                &version,
                format!("compiling crashed: {error}"),
            );
        }
    };
    state.models.validating(&name, &version, Arc::clone(&model));
    record(&state, &name, &version, "validating", None);
    let conformance = loader.take_conformance_set(&name, &version);
    let active_inputs = state.models.active(&name).map(|m| m.info.inputs.clone());
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
    state.models.gated(&name, &version, checks, reason.clone());
    match reason {
        None => {
            state.metrics.model_loaded(&model);
            record(&state, &name, &version, "ready", None);
            if activate_when_ready {
                activate(&state, &name, &version);
            }
        }
        Some(reason) => record_failure(&state, &name, &version, reason),
    }
}

/// Activates a version that just became ready, recording both versions' changes.
fn activate(state: &AppState, name: &str, version: &str) {
    match state.models.activate(name, version) {
        Ok(previous) => {
            state
                .metrics
                .model_swaps
                .with_label_values(&[name, "activated"])
                .inc();
            record(state, name, version, "active", None);
            if let Some(previous) = previous {
                record(state, name, &previous, "ready", None);
            }
        }
        Err(error) => tracing::warn!(model = name, version, %error, "could not activate"),
    }
}

fn failed(state: &AppState, name: &str, version: &str, reason: String) {
    state.models.fail(name, version, reason.clone());
    record_failure(state, name, version, reason);
}

fn record_failure(state: &AppState, name: &str, version: &str, reason: String) {
    state
        .metrics
        .model_swaps
        .with_label_values(&[name, "failed"])
        .inc();
    record(state, name, version, "failed", Some(reason));
}

/// Logs a state change of `name`/`version` and sends it as an event.
pub fn record(
    state: &AppState,
    name: &str,
    version: &str,
    new_state: &str,
    reason: Option<String>,
) {
    match &reason {
        Some(reason) => tracing::warn!(
            model = name,
            version,
            state = new_state,
            reason,
            "model version state"
        ),
        None => tracing::info!(
            model = name,
            version,
            state = new_state,
            "model version state"
        ),
    }
    let level = if reason.is_some() { "warn" } else { "info" };
    let mut event = Event::now(level, SERVICE, format!("model version {new_state}"));
    event.model = Some(name.to_owned());
    event.model_version = Some(version.to_owned());
    event.error = reason;
    event.fields.insert("state".into(), new_state.to_owned());
    state.events.send(event);
}
