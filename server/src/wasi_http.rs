//! Serving plain `wasi:http` components, as `wasmtime serve` does: `wasml-host --wasi-http
//! app.wasm` hands every request to the component's `wasi:http/incoming-handler` export.
//!
//! This is how the Spin flavour of a model (`guest/spin`) runs where Spin is not
//! installed, and how the tests prove it answers exactly like the host's own `/predict`.
//! Such a component gets the same sandbox as a model component: no files, sockets,
//! environment or arguments, no outgoing HTTP
//! ([`wasml_runtime::wasi_http::DenyOutgoing`]), and per request a
//! fresh instance with the CPU deadline and memory cap of [`SandboxLimits`]. A request
//! that traps, overruns or overeats gets this API's JSON error (500/504), and the next
//! request a new instance.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::{WasiHttpView, p2};

use wasml_runtime::instance::CallError;
use wasml_runtime::limits::{SandboxLimits, Sandboxed};
pub use wasml_runtime::wasi_http::{GuestOutput, HttpState};

use crate::api::error::{ApiError, AppError};

/// A `wasi:http` component, linked and ready to instantiate once per request.
pub struct WasiHttpApp {
    pre: ProxyPre<HttpState>,
    limits: SandboxLimits,
    output: GuestOutput,
}

impl WasiHttpApp {
    /// Links `component`, which must export `wasi:http/incoming-handler` and import only
    /// WASI interfaces.
    pub fn new(
        engine: &Engine,
        component: &Component,
        limits: SandboxLimits,
        output: GuestOutput,
    ) -> wasmtime::Result<Self> {
        let mut linker = Linker::<HttpState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| e.context("linking the component (it may import only WASI interfaces)"))?;
        let pre = ProxyPre::new(pre)
            .map_err(|e| e.context("the component does not export wasi:http/incoming-handler"))?;
        Ok(Self {
            pre,
            limits,
            output,
        })
    }

    /// Serves one request with a fresh instance.
    pub async fn handle(&self, request: Request) -> Response {
        let started = Instant::now();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let response = match self.call(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%method, path, %error, "the wasi:http component failed");
                error.into_response()
            }
        };
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            seconds = started.elapsed().as_secs_f64(),
            "request"
        );
        response
    }

    async fn call(&self, request: Request) -> Result<Response, AppError> {
        let mut store = HttpState::store(self.pre.engine(), &self.limits, &self.output);
        let mut request = request.map(|body| body.map_err(|_| ErrorCode::HttpProtocolError));
        // wasi:http requires an authority; HTTP/1.0 clients (and in-process callers) may
        // send none.
        if request.uri().authority().is_none() && !request.headers().contains_key(header::HOST) {
            request
                .headers_mut()
                .insert(header::HOST, HeaderValue::from_static("localhost"));
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let (incoming, outparam) = {
            let mut http = store.data_mut().http();
            let incoming = http
                .new_incoming_request(Scheme::Http, request)
                .map_err(internal)?;
            (
                incoming,
                http.new_response_outparam(sender).map_err(internal)?,
            )
        };
        let pre = self.pre.clone();
        let limits = self.limits;
        // The handler may go on streaming the body after it set the response, so it runs
        // as its own task; its failure matters only if no response was set.
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, outparam)
                    .await
            }
            .await;
            result.map_err(|error| {
                CallError::classify(&error, store.data_mut().memory_cap(), &limits)
            })
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response.map(Body::new)),
            Ok(Err(code)) => Err(ApiError::ModelFailed(format!(
                "the component answered with an error: {code:?}"
            ))
            .into()),
            Err(_) => Err(match task.await {
                Ok(Err(CallError::DeadlineExceeded(deadline))) => {
                    AppError::DeadlineExceeded(deadline)
                }
                Ok(Err(error)) => ApiError::ModelFailed(error.to_string()).into(),
                Ok(Ok(())) => ApiError::ModelFailed("the component set no response".into()).into(),
                Err(join) => internal(join),
            }),
        }
    }
}

fn internal(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "wasi:http plumbing failed");
    ApiError::ModelFailed("the host could not pass the request on".into()).into()
}

/// Every path and method goes to the component.
pub fn app(component: Arc<WasiHttpApp>) -> Router {
    Router::new()
        .fallback(
            |State(app): State<Arc<WasiHttpApp>>, request: Request| async move {
                app.handle(request).await
            },
        )
        .with_state(component)
}
