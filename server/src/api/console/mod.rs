//! The live console, `GET /ui`: one small page embedded in the binary (no CDN, works
//! offline) showing what Grafana and Kibana show — traffic, latency, classes, every model
//! version against its card, a live tail of the events — on the one-command default that
//! has neither, plus a form generated from the model's input schema to try it.
//!
//! | route | what |
//! |---|---|
//! | `GET /ui` | the page (`assets/index.html`, `app.js`, `app.css`) |
//! | `GET /ui/snapshot` | one [`Snapshot`] as JSON |
//! | `GET /ui/events?after=N` | the event tail after sequence number `N` |
//! | `GET /ui/stream` | server-sent events: a snapshot and the new events every second |
//!
//! Read-only, like `/metrics`; the page changes nothing except through the admin API with
//! the token the user types in (kept in the page's memory, never stored). A strict
//! Content-Security-Policy allows only the page's own script and style, and the script
//! writes every value as text, never as HTML: an event's message cannot become markup.

pub mod snapshot;

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;

use crate::api::AppState;
pub use snapshot::Snapshot;

/// How often the stream sends a frame.
pub const STREAM_EVERY: Duration = Duration::from_secs(1);

/// Most events one frame or `/ui/events` answer carries (the newest of them).
pub const EVENTS_PER_FRAME: usize = 200;

/// The page may load its own script, style and data, and nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ui",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/ui/snapshot", get(snapshot))
        .route("/ui/events", get(events))
        .route("/ui/stream", get(stream))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn snapshot(State(state): State<AppState>) -> Json<Snapshot> {
    Json(Snapshot::now(&state))
}

/// `?after=N`: events with a greater sequence number (0, all, when absent or not a
/// number).
fn after(uri: &Uri) -> u64 {
    uri.query()
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("after=")?.parse().ok())
        .unwrap_or(0)
}

/// New events since a sequence number.
#[derive(Debug, Serialize)]
pub struct EventsBody {
    /// The newest sequence number so far: the next request's `after`.
    pub newest: u64,
    /// The events, oldest first, each `{"seq", "event"}`.
    pub events: Vec<Value>,
}

impl EventsBody {
    fn after(state: &AppState, after: u64) -> Self {
        let (events, newest) = state.serving.events.tail().after(after, EVENTS_PER_FRAME);
        let events = events
            .into_iter()
            .filter_map(|(seq, document)| {
                let event: Value = serde_json::from_str(&document).ok()?;
                Some(serde_json::json!({"seq": seq, "event": event}))
            })
            .collect();
        Self { newest, events }
    }
}

async fn events(State(state): State<AppState>, uri: Uri) -> Json<EventsBody> {
    Json(EventsBody::after(&state, after(&uri)))
}

/// One frame of the stream.
#[derive(Serialize)]
struct Frame {
    snapshot: Snapshot,
    events: EventsBody,
}

async fn stream(State(state): State<AppState>) -> impl IntoResponse {
    let frames =
        futures_util::stream::unfold((state, 0u64, true), |(state, after, first)| async move {
            // Ends when the server stops, so shutdown does not wait for an open page.
            let mut stopping = state.stopping.subscribe();
            if *stopping.borrow_and_update() {
                return None;
            }
            if !first {
                tokio::select! {
                    () = tokio::time::sleep(STREAM_EVERY) => {}
                    _ = stopping.changed() => return None,
                }
            }
            let frame = Frame {
                snapshot: Snapshot::now(&state),
                events: EventsBody::after(&state, after),
            };
            let newest = frame.events.newest;
            let event = SseEvent::default()
                .event("frame")
                .json_data(&frame)
                .unwrap_or_else(|_| SseEvent::default().comment("unserializable frame"));
            Some((Ok::<_, Infallible>(event), (state, newest, false)))
        });
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Sse::new(frames).keep_alive(KeepAlive::default()),
    )
}
