//! One structured event: the seed's log fields, plus model and request context, and the
//! Elastic Common Schema fields whose units or names the seed's fields cannot give (the
//! others are aliases and multi-fields in the index template).

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Who emits events from the host.
pub const SERVICE: &str = "wasml-host";

/// The Elastic Common Schema version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// A structured event, one JSON object per line in the event stream. Field names are the
/// seed's (`@timestamp`, `level`, `service`, `message`, `request_id`, `prediction`,
/// `confidence`, `value`, `duration`, `error`, `model_type`, `endpoint`); absent values are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, RFC 3339 UTC with milliseconds.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// A unique ID, the document ID downstream: delivering an event twice stores it once.
    #[serde(default)]
    pub event_id: String,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The emitting service: [`SERVICE`], or `model` for events a model component reported.
    pub service: String,
    /// What happened.
    pub message: String,
    /// The request this event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Route template, e.g. `/models/{name}/predict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// HTTP status answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds from receiving the request to the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Model version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Model type from its card, e.g. `gradient-boosted-trees`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Predicted class index (single-row requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<u32>,
    /// Predicted label (single-row requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Probability of the predicted class (single-row requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Predicted value (single-row requests to a regressor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Rows in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u32>,
    /// Why the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Feature processing seconds, as the model measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_seconds: Option<f64>,
    /// Inference seconds, as the model measured them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_seconds: Option<f64>,
    /// Time the model's guest ran for this request (its call's polls, not its waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_cpu_seconds: Option<f64>,
    /// Linear-memory high-water mark of the instance that served the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_memory_bytes: Option<u64>,
    /// Key/values a model component attached to its own log event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// ECS: the schema version the document follows ([`ECS_VERSION`]).
    #[serde(rename = "ecs.version", default = "ecs_version")]
    pub ecs_version: Cow<'static, str>,
    /// ECS: `duration` in nanoseconds (set both with [`Event::set_duration`]).
    #[serde(
        rename = "event.duration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_duration_ns: Option<u64>,
    /// ECS: the W3C trace the request belongs to (32 hex digits).
    #[serde(rename = "trace.id", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// ECS: the request's span in that trace (16 hex digits).
    #[serde(rename = "span.id", default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// ECS: the machine (in Kubernetes, the pod) the host runs on, so a fleet's events say
    /// which replica wrote them.
    #[serde(rename = "host.name", default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<Cow<'static, str>>,
}

// Both borrowed: an event per request copies neither.
fn ecs_version() -> Cow<'static, str> {
    Cow::Borrowed(ECS_VERSION)
}

/// The host's name, read once (`None` if the system gives none).
fn host_name() -> Option<Cow<'static, str>> {
    static NAME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
        // or truncates, and the last byte stays 0 either way.
        let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len() - 1) };
        let name = std::ffi::CStr::from_bytes_until_nul(&buffer)
            .ok()?
            .to_str()
            .ok()?;
        (status == 0 && !name.is_empty()).then(|| name.to_owned())
    })
    .as_deref()
    .map(Cow::Borrowed)
}

impl Event {
    /// An event happening now, with nothing but its level, service and message.
    pub fn now(level: &str, service: &str, message: impl Into<String>) -> Self {
        Self {
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            event_id: uuid::Uuid::new_v4().simple().to_string(),
            level: level.to_owned(),
            service: service.to_owned(),
            message: message.into(),
            request_id: None,
            method: None,
            endpoint: None,
            status: None,
            duration: None,
            model: None,
            model_version: None,
            model_type: None,
            prediction: None,
            label: None,
            confidence: None,
            value: None,
            rows: None,
            error: None,
            feature_seconds: None,
            inference_seconds: None,
            guest_cpu_seconds: None,
            guest_memory_bytes: None,
            fields: BTreeMap::new(),
            ecs_version: ecs_version(),
            event_duration_ns: None,
            trace_id: None,
            span_id: None,
            host_name: host_name(),
        }
    }

    /// The request's duration: `duration` in seconds (the seed's) and `event.duration` in
    /// nanoseconds (ECS).
    pub fn set_duration(&mut self, seconds: f64) {
        self.duration = Some(seconds);
        self.event_duration_ns = Some((seconds * 1e9).round() as u64);
    }

    /// The UTC day of the event (`YYYY.MM.DD`), which names its daily file or index.
    pub fn day(&self) -> String {
        self.timestamp
            .get(..10)
            .unwrap_or("unknown")
            .replace('-', ".")
    }
}
