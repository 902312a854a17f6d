//! Shared by the API tests: a host serving real components (bank-marketing v2 and,
//! on request, the hostile test component), driven through `app(state)` without a socket.
//! Each test binary uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use wasml_runtime::digest::DigestedWasm;
use wasml_runtime::engine::new_engine;
use wasml_runtime::{ComponentCache, SandboxLimits};
use wasml_server::api::admin::Admin;
pub use wasml_server::api::admission::AdmissionLimits;
use wasml_server::api::body::BodyLimits;
use wasml_server::api::{AppState, app};
use wasml_server::event_sink::{Event, EventWriter};
use wasml_server::intake::Intake;
use wasml_server::metrics::{Clock, Metrics};
use wasml_server::registry::{LoadedModel, ModelRegistry};
use wasml_server::serving::Serving;
use wasml_server::swap::ModelLoader;
use wasml_test_support::ScratchDir;
use wasmtime::Engine;

/// The seed's example request.
pub const SEED_ROW: &str = r#"{"age": 30, "job": "admin.", "marital": "single",
    "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;

/// Admission that runs and queues nothing: every prediction request is shed at once.
pub fn refuse_all() -> AdmissionLimits {
    AdmissionLimits {
        max_running: 0,
        max_queued: 0,
        ..Options::default().admission
    }
}

/// How a test host is set up.
#[derive(Debug, Clone)]
pub struct Options {
    pub with_hostile: bool,
    pub admission: AdmissionLimits,
    pub body_read_timeout: Duration,
    pub body_limits: BodyLimits,
    pub limits: SandboxLimits,
    pub pool_size: usize,
    /// Serve bank-marketing v1 instead of v2 (to swap in v2).
    pub start_with_v1: bool,
    /// Turn the admin API on with this token.
    pub admin_token: Option<&'static str>,
    /// The metrics' clock (a manual one lets a test empty the 5-minute windows).
    pub clock: Clock,
    /// Components loaded as ready versions beside the served one, without the gate (a
    /// test's candidate that the gate would refuse).
    pub ready_versions: Vec<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            with_hostile: false,
            body_read_timeout: wasml_server::api::DEFAULT_BODY_READ_TIMEOUT,
            admission: AdmissionLimits {
                max_running: 64,
                max_queued: 1024,
                queue_target: Duration::from_millis(20),
                queue_timeout: Duration::from_secs(1),
            },
            body_limits: BodyLimits {
                max_bytes: 64 << 10,
                max_batch_rows: 100,
            },
            limits: SandboxLimits::default(),
            pool_size: 2,
            start_with_v1: false,
            admin_token: None,
            clock: Clock::system(),
            ready_versions: Vec::new(),
        }
    }
}

/// One engine per test binary; compiled components come from a cache shared by all.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| new_engine().unwrap())
}

/// Loads a component file, through the shared `.cwasm` cache.
pub fn load(path: &str, limits: SandboxLimits, pool_size: usize) -> LoadedModel {
    let cache = ComponentCache::new(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cwasm"));
    let wasm = DigestedWasm::new(std::fs::read(path).unwrap());
    LoadedModel::load(engine(), &wasm, path, &cache, limits, pool_size).unwrap()
}

/// A fresh directory under the target's temp dir, removed with the guard.
pub fn scratch_dir(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), name)
}

/// A host over real components with its event sink writing to a scratch directory.
pub struct TestHost {
    pub state: AppState,
    pub router: Router,
    pub events_dir: ScratchDir,
    writer: EventWriter,
}

/// A response, fully read.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the status is `expected`, showing the body if not.
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status,
            expected,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// The `X-Request-Id` header.
    pub fn request_id(&self) -> &str {
        self.headers["x-request-id"].to_str().unwrap()
    }
}

impl TestHost {
    pub fn start(options: Options) -> Self {
        let version = if options.start_with_v1 { "v1" } else { "v2" };
        let bank = wasml_test_support::bundled_component("bank-marketing", version);
        let mut models: Vec<LoadedModel> = options
            .ready_versions
            .iter()
            .map(|path| load(path, options.limits, options.pool_size))
            .collect();
        models.push(load(bank, options.limits, options.pool_size));
        if options.with_hostile {
            models.push(load(wasml_test_artifacts::HOSTILE, options.limits, 1));
        }
        let registry = ModelRegistry::new(models, None).unwrap();
        let metrics = Arc::new(Metrics::with_clock(options.clock.clone()));
        let events_dir = scratch_dir("events");
        let (events, writer) =
            EventWriter::start(events_dir.to_path_buf().into(), 1 << 16, &metrics).unwrap();
        let serving = Serving::new(registry, metrics, events);
        let mut state = AppState::new(serving, options.body_limits, options.admission)
            .with_body_read_timeout(options.body_read_timeout);
        if let Some(token) = options.admin_token {
            let intake = Intake::new(
                wasml_guest_artifacts::RUNNER,
                engine().clone(),
                ComponentCache::new(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cwasm")),
                options.limits,
            );
            let loader = ModelLoader::new(intake, options.pool_size);
            state = state.with_admin(Admin::new(token, Arc::new(loader), 128 << 20));
        }
        Self {
            router: app(state.clone()),
            state,
            events_dir,
            writer,
        }
    }

    pub async fn call(&self, request: Request<Body>) -> Reply {
        call(&self.router, request).await
    }

    pub async fn post_json(&self, uri: &str, body: &str) -> Reply {
        self.call(
            Request::post(uri)
                .header("content-type", "application/json")
                .body(Body::from(body.to_owned()))
                .unwrap(),
        )
        .await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// The value of one series in `/metrics`, if present.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = String::from_utf8(self.get("/metrics").await.body.to_vec()).unwrap();
        wasml_test_support::prometheus::sample(&text, name, labels)
    }

    /// Asserts that the series `name` with `labels` reads `expected` (`None`: no series).
    pub async fn assert_metric(&self, name: &str, labels: &[(&str, &str)], expected: Option<f64>) {
        let found = self.metric(name, labels).await;
        assert_eq!(found, expected, "{name} {labels:?}");
    }

    /// Stops the event writer and returns every event written.
    pub async fn finish_events(self) -> Vec<Event> {
        drop(self.router);
        self.writer.finish().await;
        read_events(&self.events_dir)
    }
}

/// `request` through `router`, the response fully read.
pub async fn call(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// Every event in the daily NDJSON files of an events directory (the collector's WAL and
/// bookkeeping beside them are skipped).
pub fn read_events(dir: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let text = std::fs::read_to_string(path).unwrap();
            events.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Event>(l).unwrap()),
            );
        }
    }
    events
}

/// The first of `events` for request `id` (a panic naming it if there is none).
pub fn event_of<'a>(events: &'a [Event], id: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.request_id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no event for request {id}: {events:?}"))
}

/// Polls `check` until it holds, for up to five seconds.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    eventually_async(|| std::future::ready(check())).await
}

/// [`eventually`] for a check that has to await (a `/metrics` read, say).
pub async fn eventually_async<F: Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
    for _ in 0..500 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
