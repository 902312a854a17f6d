//! The REST API: `fn app(state) -> Router`, so tests drive it without a socket.
//!
//! | route | module |
//! |---|---|
//! | `POST /predict`, `POST /models/{name}/predict` | [`predict`] |
//! | `POST /feedback` | [`feedback`] |
//! | `GET /health` | [`health`] |
//! | `GET /status` | [`status`] |
//! | `GET /metrics` | [`scrape`] |
//! | `GET /openapi.json` | [`openapi`] |
//! | `/admin/...` (with `--admin-token`) | [`admin`] |
//! | `/v2/...` (Open Inference Protocol) | [`v2`] |
//! | `/ui`, `/ui/...` (the live console) | [`console`] |
//!
//! Every request passes [`observe`] (request ID, span, latency histogram, event);
//! prediction requests are served by [`predict::serve`] whatever their protocol, which
//! admits, queues or sheds them ([`admission`]) and leaves metrics and guest
//! reports behind ([`accounting`]). Request bodies are read by [`body`]; failures are
//! [`error::AppError`]s.

pub mod accounting;
pub mod admin;
pub mod admission;
pub mod audit;
pub mod body;
pub mod console;
pub mod error;
pub mod feedback;
pub mod health;
pub mod observe;
pub mod openapi;
pub mod outcome;
pub mod predict;
pub mod request_id;
pub mod request_span;
pub mod scrape;
pub mod status;
pub mod trace_context;
pub mod v2;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use tower_http::catch_panic::CatchPanicLayer;

use crate::serving::Serving;
use admission::{Admission, AdmissionLimits};
use body::BodyLimits;
use error::{ApiError, AppError};

/// How long a prediction request's body may take to arrive by default.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The models, metrics and events, as the swap pipeline shares them.
    pub serving: Serving,
    /// Body and batch limits.
    pub body_limits: BodyLimits,
    /// Prediction requests running and waiting.
    pub admission: Arc<Admission>,
    /// How long an admitted prediction request's body may take to arrive (then 408).
    pub body_read_timeout: Duration,
    /// When the host started.
    pub started: Instant,
    /// When the host started, wall clock.
    pub started_at: DateTime<Utc>,
    /// Recent single-row predictions, for ground-truth feedback.
    pub predictions: Arc<crate::feedback::PredictionLog>,
    /// The admin API's token and loader; `None` keeps `/admin` unmounted.
    pub admin: Option<admin::Admin>,
    /// The admin API has a listener of its own ([`admin_app`]): not on the public one.
    pub admin_apart: bool,
    /// Permits of shadow runs under way (`crate::watch::shadow`).
    pub shadows: Arc<tokio::sync::Semaphore>,
    /// Canaries on trial (`crate::watch::canary`).
    pub canaries: Arc<crate::watch::canary::CanaryAnalyses>,
    /// Set when the server begins to stop: responses that never end by themselves (the
    /// console's stream) end then, so shutdown does not wait for them.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// OpenTelemetry traces, when exported (`--otlp-endpoint`).
    pub telemetry: Option<wasml_telemetry::Telemetry>,
}

impl AppState {
    /// State serving `serving`'s models within `body_limits`, admitting requests within
    /// `admission`.
    pub fn new(serving: Serving, body_limits: BodyLimits, admission: AdmissionLimits) -> Self {
        Self {
            serving,
            body_limits,
            admission: Arc::new(Admission::new(admission)),
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            started: Instant::now(),
            started_at: Utc::now(),
            admin: None,
            admin_apart: false,
            shadows: crate::watch::shadow::slots(),
            canaries: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
            predictions: Arc::new(crate::feedback::PredictionLog::new(
                crate::feedback::DEFAULT_CAPACITY,
            )),
            telemetry: None,
        }
    }

    /// Gives prediction request bodies `timeout` to arrive instead of
    /// [`DEFAULT_BODY_READ_TIMEOUT`].
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Exports every request's spans through `telemetry`.
    pub fn with_telemetry(mut self, telemetry: wasml_telemetry::Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Turns the admin API on (`/admin/...`), behind `admin`'s token.
    pub fn with_admin(mut self, admin: admin::Admin) -> Self {
        self.admin = Some(admin);
        self
    }

    /// Keeps the admin API off the public app: it is served by [`admin_app`] on a
    /// listener of its own (`--admin-listen`).
    pub fn with_admin_apart(mut self) -> Self {
        self.admin_apart = true;
        self
    }
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let predictions = Router::new()
        .route("/predict", post(predict::predict))
        .route("/models/{name}/predict", post(predict::predict_named))
        .merge(v2::predict_routes());
    let admin = if state.admin_apart {
        Router::new()
    } else {
        admin_routes(&state)
    };
    let routes = Router::new()
        .merge(predictions)
        .merge(admin)
        .route("/feedback", post(feedback::feedback))
        .route("/health", get(health::health))
        .route("/status", get(status::status))
        .route("/metrics", get(scrape::metrics))
        .route("/openapi.json", get(openapi::document))
        .merge(v2::routes())
        .merge(console::routes());
    observed(routes, state)
}

/// The admin API alone, for its own listener (`--admin-listen`): observed, counted and
/// audited as on the public one.
pub fn admin_app(state: AppState) -> Router {
    observed(admin_routes(&state), state)
}

/// `/admin/...` when the admin API is on, else nothing.
fn admin_routes(state: &AppState) -> Router<AppState> {
    match &state.admin {
        Some(admin) => admin::routes(state, admin),
        None => Router::new(),
    }
}

/// `routes` with what every request gets: its route remembered, the JSON 404 and 405, a
/// panic answered as a 500, and the request observed (metrics, log line).
fn observed(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route_layer(from_fn(observe::remember_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside `observe`, so a panic is still answered, counted and logged as a 500.
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}

async fn not_found(request: Request) -> Response {
    AppError::from(ApiError::NotFound(request.uri().path().to_owned())).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    AppError::from(ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    })
    .into_response()
}
