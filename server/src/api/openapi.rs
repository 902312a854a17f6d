//! `GET /openapi.json`: the OpenAPI 3 document of the whole API, generated from the
//! handlers and the request and response types each declares beside it (`utoipa`); this
//! module only collects them (nothing imports it but the router), with the row schema filled in from the
//! default model's own input schema, so clients and test generators see the real fields,
//! ranges and categories.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::AppState;
use super::error::{ErrorBody, ErrorDetail, FieldIssue};
use super::feedback::{self, ActualOutcome, FeedbackBody, FeedbackRequest, Outcome};
use super::health::{self, EventsHealth, HealthBody, ModelHealth};
use super::predict::{
    self, BatchPredictionBody, BatchRequest, FeatureValue, Features, ModelRef, PredictRequest,
    PredictResponse, PredictionBody, RowPrediction,
};
use super::scrape;
use super::status::{self, InstanceCounts, ModelStatus, RequestCounts, StatusBody};
use super::v2;
use crate::registry::ModelRegistry;
use wasml_predictor::Evaluation;
use wasml_runtime::bindings::types::{FieldKind, FieldSpec};

/// The API, as generated from the code.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wasml host",
        description = "Serves ONNX models sandboxed in WebAssembly components."
    ),
    paths(
        predict::predict,
        predict::predict_named,
        feedback::feedback,
        health::health,
        status::status,
        scrape::metrics,
        document,
        v2::metadata::server,
        v2::live,
        v2::ready,
        v2::metadata::model,
        v2::model_ready,
        v2::metadata::model_version,
        v2::version_ready,
        v2::infer,
        v2::infer_version
    ),
    components(schemas(
        FeedbackRequest,
        FeedbackBody,
        Features,
        FeatureValue,
        ActualOutcome,
        Outcome,
        BatchRequest,
        PredictRequest,
        PredictResponse,
        PredictionBody,
        BatchPredictionBody,
        RowPrediction,
        ModelRef,
        ErrorBody,
        ErrorDetail,
        FieldIssue,
        HealthBody,
        ModelHealth,
        EventsHealth,
        StatusBody,
        ModelStatus,
        Evaluation,
        InstanceCounts,
        RequestCounts,
        v2::ProtocolError,
        v2::tensor::InferenceRequest,
        v2::tensor::RequestInput,
        v2::tensor::RequestOutput,
        v2::tensor::InferenceResponse,
        v2::tensor::ResponseOutput,
        v2::metadata::ServerMetadata,
        v2::metadata::ModelMetadata,
        v2::metadata::TensorMetadata
    )),
    tags(
        (name = "predict", description = "Predictions"),
        (name = "operations", description = "Health, status, metrics, this document"),
        (name = "open-inference", description = "The Open Inference Protocol (KServe V2 REST)")
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)),
    tag = "operations"
)]
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(served_document(&state.serving.models))
}

/// The generated document with the models' schemas filled in.
pub fn served_document(models: &ModelRegistry) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    if let Some(default) = models.default_model() {
        let inputs = &default.info.inputs;
        let schemas = &mut doc["components"]["schemas"];
        schemas["Features"] = row_schema(inputs);
        // A V2 input tensor is named after a field and has one of the protocol's types.
        let tensor = &mut schemas["RequestInput"]["properties"];
        let fields: Vec<&str> = inputs.iter().map(|s| s.name.as_str()).collect();
        tensor["name"]["enum"] = json!(fields);
        tensor["datatype"]["enum"] = json!(v2::tensor::DATATYPES);
        // Feedback names one of a classifier's labels or class indices, or a number.
        let labels = &default.info.labels;
        schemas["ActualOutcome"] = match labels.is_empty() {
            true => json!({"type": "number"}),
            false => json!({"oneOf": [
                {"type": "string", "enum": labels},
                {"type": "integer", "minimum": 0, "maximum": labels.len() - 1},
            ]}),
        };
    }
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    let served = models.models();
    let mut names: Vec<&str> = served.iter().map(|m| m.name()).collect();
    let mut versions: Vec<&str> = served.iter().map(|m| m.version()).collect();
    for values in [&mut names, &mut versions] {
        values.sort_unstable();
        values.dedup();
    }
    // Every `{name}` and `{version}` path parameter takes the served ones, so generated
    // requests reach the models instead of 404s.
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|path| path.as_object_mut())
        .flat_map(|path| path.values_mut());
    for operation in operations {
        // `get_mut`, not indexing: `operation["parameters"]` would insert a `null`, which
        // is not a valid parameter list.
        let Some(params) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for param in params.iter_mut() {
            let values = match param["name"].as_str() {
                Some("name") => &names,
                Some("version") => &versions,
                _ => continue,
            };
            param["schema"] = json!({"type": "string", "enum": values});
        }
    }
    doc
}

/// A JSON Schema of one row, from the model's field specs.
fn row_schema(inputs: &[FieldSpec]) -> Value {
    let mut properties = serde_json::Map::new();
    let mut example = serde_json::Map::new();
    for spec in inputs {
        let (schema, sample) = match &spec.kind {
            FieldKind::Number(range) => {
                let mut schema = json!({
                    "type": if range.integer { "integer" } else { "number" },
                    "description": spec.description,
                });
                // An absent bound is no bound: no keyword, rather than `null`.
                for (keyword, bound) in [("minimum", range.min), ("maximum", range.max)] {
                    if let Some(bound) = bound {
                        schema[keyword] = json!(bound);
                    }
                }
                (schema, json!(range.min.or(range.max).unwrap_or(0.0)))
            }
            FieldKind::Category(values) => (
                json!({"type": "string", "enum": values, "description": spec.description}),
                json!(values.first()),
            ),
        };
        properties.insert(spec.name.clone(), schema);
        example.insert(spec.name.clone(), sample);
    }
    let required: Vec<&str> = inputs
        .iter()
        .filter(|s| s.required)
        .map(|s| s.name.as_str())
        .collect();
    json!({
        "type": "object",
        "description": "One row of the default model's input fields.",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "example": example,
    })
}
