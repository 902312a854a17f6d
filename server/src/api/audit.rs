//! The admin API's audit trail: every admin request — refused or served, read or change —
//! becomes an event in the log stream (`"message": "admin action"`) saying who (the
//! admin token's holder, or nobody for a refused request, and the client's address), what
//! (method and path, the model and version it names) and the result (the status). The
//! token itself is never written anywhere.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;

use crate::event_sink::{Event, SERVICE};
use crate::serving::Serving;

/// Who made an admin request, as far as the host can tell.
pub struct Caller {
    /// The client's IP address (`unknown` without a socket, as in tests).
    pub client: String,
    /// The request's method.
    pub method: String,
    /// Its path.
    pub path: String,
}

impl Caller {
    /// The caller of `request`.
    pub fn of(request: &Request) -> Self {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |ConnectInfo(a)| a.ip().to_string());
        Self {
            client,
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
        }
    }
}

/// Records `caller`'s request, answered `status`; `actor` is who the credentials say it
/// is (`admin-token`), `None` when they were refused.
pub fn admin_action(serving: &Serving, caller: &Caller, actor: Option<&str>, status: StatusCode) {
    let level = if status.is_success() { "info" } else { "warn" };
    let mut event = Event::now(level, SERVICE, "admin action".to_owned());
    event.method = Some(caller.method.clone());
    event.endpoint = Some(caller.path.clone());
    event.status = Some(status.as_u16());
    // /admin/models/{name}[/versions/{version}]/...
    if let Some(rest) = caller.path.strip_prefix("/admin/models/") {
        let mut parts = rest.split('/');
        event.model = parts.next().map(str::to_owned);
        if parts.next() == Some("versions") {
            event.model_version = parts.next().map(str::to_owned);
        }
    }
    event
        .fields
        .insert("client_ip".into(), caller.client.clone());
    event
        .fields
        .insert("actor".into(), actor.unwrap_or("none").to_owned());
    serving.events.send(event);
}
