//! Server and model metadata in the Open Inference Protocol's shapes: a model's inputs
//! are its schema's fields as tensors of shape `[-1]` (one element per row), `BYTES` for
//! categories, `INT64` for whole numbers and `FP64` for other numbers.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error_response;
use super::tensor::outputs_of;
use crate::api::AppState;
use crate::api::error::AppError;
use crate::registry::{LoadedModel, RegistryError};
use wasml_runtime::bindings::types::FieldKind;
use wasml_runtime::convert;

/// `GET /v2`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    /// The server's name.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The protocol extensions it supports.
    pub extensions: Vec<&'static str>,
}

/// `GET /v2/models/{name}[/versions/{version}]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelMetadata {
    /// The model's name.
    pub name: String,
    /// Its versions that can serve.
    pub versions: Vec<String>,
    /// What runs it.
    pub platform: &'static str,
    /// One tensor per input field.
    pub inputs: Vec<TensorMetadata>,
    /// The answer's tensors.
    pub outputs: Vec<TensorMetadata>,
}

/// One tensor's name, datatype and shape (`-1`: any number of rows).
#[derive(Debug, Serialize, ToSchema)]
pub struct TensorMetadata {
    /// The tensor's name.
    pub name: String,
    /// Its datatype.
    pub datatype: &'static str,
    /// Its shape.
    pub shape: Vec<i64>,
}

/// The server: name, version, supported extensions (none).
#[utoipa::path(
    get,
    path = "/v2",
    responses((status = 200, description = "Server metadata", body = ServerMetadata)),
    tag = "open-inference"
)]
pub async fn server() -> Json<ServerMetadata> {
    Json(server_metadata())
}

/// This server's name, version and extensions, whatever protocol asks.
pub fn server_metadata() -> ServerMetadata {
    ServerMetadata {
        name: "wasml",
        version: env!("CARGO_PKG_VERSION"),
        extensions: Vec::new(),
    }
}

/// The active version's metadata.
#[utoipa::path(
    get,
    path = "/v2/models/{name}",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Inputs and outputs as tensors", body = ModelMetadata),
        (status = 404, description = "No such model", body = super::ProtocolError),
    ),
    tag = "open-inference"
)]
pub async fn model(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.serving.models.active(&name) {
        Some(model) => Json(describe(&state, &model)).into_response(),
        None => error_response(AppError::ModelNotFound(name)),
    }
}

/// One version's metadata.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/versions/{version}",
    params(
        ("name" = String, Path, description = "Model name"),
        ("version" = String, Path, description = "Model version"),
    ),
    responses(
        (status = 200, description = "Inputs and outputs as tensors", body = ModelMetadata),
        (status = 404, description = "No such model or version", body = super::ProtocolError),
    ),
    tag = "open-inference"
)]
pub async fn model_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    match state.serving.models.version(&name, &version) {
        Some(model) => Json(describe(&state, &model)).into_response(),
        None => error_response(RegistryError::UnknownVersion(name, version).into()),
    }
}

/// `model`'s metadata, with the versions of its name that can serve.
pub fn describe(state: &AppState, model: &LoadedModel) -> ModelMetadata {
    let versions = state
        .serving
        .models
        .versions()
        .into_iter()
        .filter(|v| v.name == model.name())
        .filter(|v| state.serving.models.version(&v.name, &v.version).is_some())
        .map(|v| v.version)
        .collect();
    let inputs = model
        .info
        .inputs
        .iter()
        .map(|spec| TensorMetadata {
            name: spec.name.clone(),
            datatype: match &spec.kind {
                FieldKind::Category(_) => "BYTES",
                FieldKind::Number(range) if range.integer => "INT64",
                FieldKind::Number(_) => "FP64",
            },
            shape: vec![-1],
        })
        .collect();
    let labels = model.info.labels.len() as i64;
    let outputs = outputs_of(convert::task(model.info.task))
        .iter()
        .map(|&name| {
            let (datatype, shape) = match name {
                "label" => ("BYTES", vec![-1]),
                "class_index" => ("INT64", vec![-1]),
                "confidence" | "value" => ("FP64", vec![-1]),
                _ => ("FP64", vec![-1, labels]),
            };
            TensorMetadata {
                name: name.to_owned(),
                datatype,
                shape,
            }
        })
        .collect();
    ModelMetadata {
        name: model.name().to_owned(),
        versions,
        platform: "wasml_wasm_component",
        inputs,
        outputs,
    }
}
