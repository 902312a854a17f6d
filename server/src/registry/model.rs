//! One loaded version of a model: its component's instance pool, what it says it is,
//! and its request counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::error::Context as _;

use wasml_runtime::CallCost;
use wasml_runtime::bindings::types::{Features, ModelInfo, PredictError, Prediction};
use wasml_runtime::blocking::block_on;
use wasml_runtime::cache::{CacheOutcome, ComponentCache};
use wasml_runtime::component::ModelComponent;
use wasml_runtime::digest::DigestedWasm;
use wasml_runtime::host::GuestEvent;
use wasml_runtime::instance::{CallError, ModelInstance};
use wasml_runtime::limits::SandboxLimits;
use wasml_runtime::pool::InstancePool;

use crate::monitoring::Monitoring;
use crate::monitoring::drift::LiveDistribution;

/// One model being served.
pub struct LoadedModel {
    /// What the component says it is (`info()`): name, version, schema, card.
    pub info: ModelInfo,
    /// sha256 (hex) of the component's bytes.
    pub component_sha256: String,
    /// Where the component was loaded from.
    pub source: String,
    /// Warm instances serving requests.
    pub pool: Arc<InstancePool>,
    /// When loading finished.
    pub loaded_at: DateTime<Utc>,
    /// Seconds from reading the component to a warm pool (compile or cache load, link,
    /// instantiate, parse the model).
    pub load_seconds: f64,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
    /// Prediction requests answered and failed.
    pub counters: RequestCounters,
    /// What the card says about watching the model.
    pub monitoring: Monitoring,
    /// The live distribution of its inputs, when the card gives their training one.
    pub drift: Option<LiveDistribution>,
    /// One permit per pooled instance: callers wait here (asynchronously) instead of
    /// warming ever more instances under load.
    call_slots: Semaphore,
}

/// One call into a model's instance: what [`LoadedModel::call`] runs.
pub trait ModelCall: Send {
    /// What the call returns when the instance does not trap.
    type Output: Send;
    /// Makes the call.
    fn run(
        self,
        instance: &mut ModelInstance,
    ) -> impl Future<Output = Result<Self::Output, CallError>> + Send;
}

/// `info()`: what the model is (and whether it answers at all).
pub struct Info;

impl ModelCall for Info {
    type Output = ModelInfo;
    async fn run(self, instance: &mut ModelInstance) -> Result<ModelInfo, CallError> {
        instance.info().await
    }
}

/// `predict(row)`.
pub struct Predict(pub Features);

impl ModelCall for Predict {
    type Output = Result<Prediction, PredictError>;
    async fn run(self, instance: &mut ModelInstance) -> Result<Self::Output, CallError> {
        instance.predict(&self.0).await
    }
}

/// `predict-batch(rows)`.
pub struct PredictBatch(pub Vec<Features>);

impl ModelCall for PredictBatch {
    type Output = Vec<Result<Prediction, PredictError>>;
    async fn run(self, instance: &mut ModelInstance) -> Result<Self::Output, CallError> {
        instance.predict_batch(&self.0).await
    }
}

/// [`LoadedModel::call`] could not get an instance (warming a replacement failed).
#[derive(Debug, Error)]
#[error("no instance of the model is available: {0}")]
pub struct ModelUnavailable(String);

/// What one call into a model returned, with what the guest reported meanwhile.
#[derive(Debug)]
pub struct CallOutput<R> {
    /// The export's return value, or the trap that ended the call (the instance was
    /// then discarded).
    pub result: Result<R, CallError>,
    /// Guest events reported during the call.
    pub events: Vec<GuestEvent>,
    /// Guest events dropped for exceeding the per-call cap.
    pub dropped_events: u64,
    /// What the call cost.
    pub cost: CallCost,
}

/// Per-model request counters, for `/status`.
#[derive(Debug, Default)]
pub struct RequestCounters {
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl RequestCounters {
    /// Counts one prediction request.
    pub fn record(&self, ok: bool) {
        let counter = if ok { &self.succeeded } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered with predictions.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Requests that failed (client or model errors).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl LoadedModel {
    /// Loads a component: compiles it (or takes it from `cache`), warms an instance and
    /// asks it what it is. Blocks: run it off the async runtime's workers.
    pub fn load(
        engine: &Engine,
        wasm: &DigestedWasm,
        source: impl Into<String>,
        cache: &ComponentCache,
        limits: SandboxLimits,
        pool_size: usize,
    ) -> wasmtime::Result<Self> {
        let source = source.into();
        let started = Instant::now();
        let sha256 = wasm.sha256().to_owned();
        let (component, outcome) =
            ModelComponent::load_digested(engine, wasm.bytes(), &sha256, cache)?;
        let compiled = started.elapsed();
        let (pool, info) = block_on(async {
            let pool = InstancePool::new(component.with_limits(limits), pool_size)
                .await
                .with_context(|| format!("starting instances of {source}"))?;
            let info = pool
                .checkout()
                .await?
                .info()
                .await
                .map_err(|e| wasmtime::format_err!("asking {source} for its info: {e}"))?;
            Ok::<_, wasmtime::Error>((pool, info))
        })?;
        let warmed = started.elapsed();
        let load_seconds = started.elapsed().as_secs_f64();
        for event in pool.take_idle_events() {
            if let GuestEvent::Log {
                message, fields, ..
            } = event
            {
                tracing::info!(model = %info.name, ?fields, "model component: {message}");
            }
        }
        tracing::info!(
            model = %info.name,
            version = %info.version,
            seconds = load_seconds,
            component_ms = compiled.as_millis() as u64,
            instances_ms = (warmed - compiled).as_millis() as u64,
            cache = ?outcome,
            instances = pool.size(),
            "model loaded"
        );
        let monitoring = Monitoring::from_card(&info.name, &info.card_json);
        let drift = monitoring
            .reference
            .as_ref()
            .and_then(|reference| LiveDistribution::new(&info.name, reference));
        Ok(Self {
            monitoring,
            drift,
            info,
            component_sha256: sha256,
            source,
            pool,
            loaded_at: Utc::now(),
            load_seconds,
            cache: outcome,
            counters: RequestCounters::default(),
            call_slots: Semaphore::new(pool_size.max(1)),
        })
    }

    /// Makes `call` on one of the model's instances, on the calling task: the guest runs
    /// on a fiber and yields at every epoch tick, so no blocking thread is involved. Waits
    /// for a free instance first; at most one call per pooled instance runs at a time.
    pub async fn call<C: ModelCall>(
        self: &Arc<Self>,
        call: C,
    ) -> Result<CallOutput<C::Output>, ModelUnavailable> {
        let _slot = self
            .call_slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut instance = self
            .pool
            .checkout()
            .await
            .map_err(|e| ModelUnavailable(e.to_string()))?;
        let result = call.run(&mut instance).await;
        let cost = instance.last_cost();
        let (events, dropped_events) = instance.take_events();
        // Back to the pool, or discarded after a trap, before answering.
        drop(instance);
        Ok(CallOutput {
            result,
            events,
            dropped_events,
            cost,
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The model's version.
    pub fn version(&self) -> &str {
        &self.info.version
    }
}
