//! What serving models takes, shared by the REST API and the swap pipeline: the registry
//! of models and versions, the metrics, and where events go. The API's `AppState` embeds
//! it; the swap pipeline and the directory watcher get only this, not the API's state.

use std::sync::Arc;

use crate::event_sink::EventSender;
use crate::metrics::Metrics;
use crate::registry::ModelRegistry;

/// The models served, their metrics and their event stream.
#[derive(Clone)]
pub struct Serving {
    /// The models served and their versions.
    pub models: Arc<ModelRegistry>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Where events go.
    pub events: EventSender,
}

impl Serving {
    /// Serving `models`, registering their card figures in `metrics`.
    pub fn new(models: ModelRegistry, metrics: Arc<Metrics>, events: EventSender) -> Self {
        for model in models.models() {
            metrics.model_loaded(&model);
        }
        Self {
            models: Arc::new(models),
            metrics,
            events,
        }
    }
}
