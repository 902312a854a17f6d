//! The HTTP runner: any packaged model as a Spin HTTP component, `POST /predict` and
//! `GET /health` with the very JSON API of the native host, built from the same predictor
//! library (`wasml-predictor`, whose `api` module reads bodies, shapes errors and answers).
//! Like the runner (`guest/component`) it has no model inside: it reads the ONNX bytes and
//! the card from its `model-data` import (world `http-runner`), and `wasml package --world
//! http` composes it with a model's data component, which satisfies that import.
//!
//! Spin runs only components that import WASI and Spin interfaces, so this one cannot use
//! the host's `events` import: it writes one JSON line per event to stdout instead (model
//! loaded, each request with its status and stage timings), which `spin up` keeps in its
//! log directory. Its only export is `wasi:http/incoming-handler`, so `wasml-host
//! --wasi-http` and `wasmtime serve` run it too.

mod log;

use std::sync::OnceLock;
use std::time::Instant;

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use wasml_predictor::Predictor;
use wasml_predictor::api::{
    self, ApiError, BodyLimits, HealthBody, ModelHealth, ModelRef, request_id,
};

/// Rust bindings of `wit/model.wit`'s `http-runner` world: the `model-data` import.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        world: "http-runner",
        path: "../../wit",
    });
}

use bindings::wasml::model::model_data;

/// The card's JSON, read from the data component once per instance.
fn card_json() -> &'static str {
    static CARD: OnceLock<String> = OnceLock::new();
    CARD.get_or_init(model_data::card)
}

/// The model, parsed and optimised on first use and kept for the instance's life.
fn model() -> Result<&'static Predictor, &'static str> {
    static MODEL: OnceLock<Result<Predictor, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let started = Instant::now();
            // The ONNX bytes are copied in once and dropped after parsing.
            let loaded =
                Predictor::load(&model_data::onnx(), card_json()).map_err(|e| e.to_string());
            let seconds = started.elapsed().as_secs_f64();
            match &loaded {
                Ok(p) => log::info("model loaded")
                    .with("model", p.card().name.as_str())
                    .with("version", p.card().version.as_str())
                    .with("seconds", seconds)
                    .write(),
                Err(e) => log::error("model failed to load")
                    .with("error", e.as_str())
                    .write(),
            }
            loaded
        })
        .as_ref()
        .map_err(String::as_str)
}

/// What one request's line in the log carries besides its status.
#[derive(Default)]
struct Timings {
    feature_processing: Option<f64>,
    inference: Option<f64>,
    rows: Option<usize>,
}

#[http_component]
fn handle(request: Request) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let mut timings = Timings::default();
    let (status, body, error) = match route(&request, &id, &mut timings) {
        Ok(body) => (200, body, None),
        Err(error) => {
            let (status, message) = (error.status(), error.to_string());
            (
                status,
                to_json(&error.body(Some(id.clone()))),
                Some(message),
            )
        }
    };
    let mut line = log::info("request")
        .with("request_id", id.as_str())
        .with("method", request.method().to_string())
        .with("path", request.path())
        .with("status", status)
        .with("duration_seconds", started.elapsed().as_secs_f64());
    if let Some(rows) = timings.rows {
        line = line.with("rows", rows);
    }
    if let Some(seconds) = timings.feature_processing {
        line = line.with("feature_processing_seconds", seconds);
    }
    if let Some(seconds) = timings.inference {
        line = line.with("inference_seconds", seconds);
    }
    if let Some(message) = error {
        line = line.level_for(status).with("error", message);
    }
    line.write();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(request_id::HEADER, id)
        .body(body)
        .build()
}

fn route(request: &Request, id: &str, timings: &mut Timings) -> Result<String, ApiError> {
    match (request.method(), request.path()) {
        (Method::Post, "/predict") => predict(request, id, timings),
        (Method::Get, "/health") => Ok(health()),
        (method, path @ ("/predict" | "/health")) => Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_owned(),
        }),
        (_, path) => Err(ApiError::NotFound(path.to_owned())),
    }
}

/// Reads, checks and predicts one row or a batch, exactly as the host's `/predict`.
fn predict(request: &Request, id: &str, timings: &mut Timings) -> Result<String, ApiError> {
    let limits = BodyLimits::default();
    api::require_json(request.header("content-type").map(|v| v.as_bytes()))?;
    if request.body().len() > limits.max_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: limits.max_bytes,
        });
    }
    let input = api::decode_predict_body(request.body(), limits.max_batch_rows)?;
    let model = model().map_err(|e| {
        ApiError::ModelFailed(format!("{}{e}", wasml_predictor::error::LOAD_FAILED))
    })?;
    let batch = input.is_batch();
    let (rows, held_back): (Vec<_>, Vec<_>) = input.rows().into_iter().unzip();
    timings.rows = Some(rows.len());

    let predicted = model.predict_batch_timed(&rows);
    timings.feature_processing = Some(predicted.feature_processing_seconds);
    timings.inference = Some(predicted.inference_seconds);

    let predictions = api::settle(predicted.results, held_back, batch)?;
    let card = model.card();
    let answer = api::answer_body(
        predictions,
        batch,
        ModelRef {
            name: card.name.clone(),
            version: card.version.clone(),
        },
        id.to_owned(),
    );
    Ok(to_json(&answer))
}

/// The host's `/health` body for its one model; a model that does not load is reported,
/// not hidden (the status stays 200 so the error is readable: Spin has no readiness probe).
fn health() -> String {
    let card = serde_json::from_str::<serde_json::Value>(card_json()).unwrap_or_default();
    let text = |key: &str| card[key].as_str().unwrap_or_default().to_owned();
    let loaded = model();
    let body = HealthBody {
        status: if loaded.is_ok() { "ok" } else { "unavailable" },
        models: vec![ModelHealth {
            name: text("name"),
            version: text("version"),
            ready: loaded.is_ok(),
            error: loaded.err().map(str::to_owned),
        }],
    };
    to_json(&body)
}

/// The client's `X-Request-Id` when acceptable, else a fresh random one (32 hex digits,
/// like the host's simple UUIDs).
fn request_id(request: &Request) -> String {
    request
        .header(request_id::HEADER)
        .and_then(|v| v.as_str())
        .filter(|id| request_id::is_acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let [a, b] = [random_u64(), random_u64()];
            format!("{a:016x}{b:016x}")
        })
}

fn random_u64() -> u64 {
    wasi::random::random::get_random_u64()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}
