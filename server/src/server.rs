//! The server's life: load the models, serve until SIGINT/SIGTERM, drain, flush events.
//! Or, with `--wasi-http`, the same life for one plain `wasi:http` component.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use wasml_net::connections::{ConnectionEvents, ConnectionLimits, Speaks};
use wasml_net::tls::TlsAcceptor;
use wasmtime::error::Context as _;

use crate::api::admin::Admin;
use crate::api::body::BodyLimits;
use crate::api::{AppState, app};
use crate::config::Config;
use crate::event_sink::EventWriter;
use crate::intake::{self, Intake};
use crate::metrics::{Clock, Metrics};
use crate::registry::{LoadedModel, ModelRegistry, model_files};
use crate::serving::Serving;
use crate::swap::ModelLoader;
use crate::wasi_http::{self, GuestOutput, WasiHttpApp};
use wasml_runtime::digest::DigestedWasm;
use wasml_runtime::engine::new_engine;

/// Aborts a background task when dropped (when serving ends).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A model the configuration asks for.
enum ModelSource {
    /// The bundled model (none configured).
    Bundled,
    /// A component or ONNX file, and the models directory it is in (none for `--model`).
    File { dir: Option<PathBuf>, path: PathBuf },
}

impl ModelSource {
    /// Where it came from, for `/status` and the log.
    fn describe(&self) -> String {
        match self {
            Self::Bundled => {
                let (model, version) = intake::BUNDLED_MODEL;
                format!("bundled:{model}/{version}")
            }
            Self::File { path, .. } => path.display().to_string(),
        }
    }

    /// The model as a component (an ONNX file or the bundled model packaged by `intake`).
    fn read(&self, intake: &Intake) -> wasmtime::Result<DigestedWasm> {
        match self {
            Self::Bundled => Ok(intake.bundled()),
            Self::File { dir, path } => Ok(intake.read_model_file(dir.as_deref(), path)?),
        }
    }
}

/// The models the configuration asks for: every `--model`, every model file of
/// `--models-dir`, or else the bundled model.
fn model_sources(config: &Config) -> wasmtime::Result<Vec<ModelSource>> {
    let mut sources: Vec<_> = config
        .models
        .iter()
        .map(|path| ModelSource::File {
            dir: None,
            path: path.clone(),
        })
        .collect();
    if let Some(dir) = &config.models_dir {
        let files = model_files(dir)
            .with_context(|| format!("reading the models directory {}", dir.display()))?;
        sources.extend(files.into_iter().map(|path| ModelSource::File {
            dir: Some(dir.clone()),
            path,
        }));
    }
    if sources.is_empty() {
        sources.push(ModelSource::Bundled);
    }
    Ok(sources)
}

/// The models loaded at start, and the intake that loaded them: its engine, cache and
/// limits are the ones new versions must use (instances share the epoch clock, and the
/// runner compiled at start is reused from the cache's memory).
pub struct Loaded {
    /// The models.
    pub models: ModelRegistry,
    /// Their engine, cache, limits and runner.
    pub intake: Intake,
}

/// Compiles (or loads from the cache) and warms every configured model.
///
/// The first model loads alone: it compiles (or maps) the runner its packaged peers then
/// share. The others load on every core at once: reading and hashing a package, linking
/// it and parsing its model are independent per model.
/// ONNX files (and the bundled model) are packaged on `runner`, the runner component the
/// binary embeds.
pub fn load_models(config: &Config, runner: &'static [u8]) -> wasmtime::Result<Loaded> {
    use rayon::prelude::*;

    let engine = new_engine()?;
    let cache = config.component_cache();
    let intake = Intake::new(
        runner,
        engine.clone(),
        cache.clone(),
        config.sandbox_limits(),
    );
    let load = |source: &ModelSource| {
        let described = source.describe();
        tracing::info!(source = %described, "loading model");
        source
            .read(&intake)
            .and_then(|wasm| {
                LoadedModel::load(
                    &engine,
                    &wasm,
                    described.clone(),
                    &cache,
                    config.sandbox_limits(),
                    config.pool_size(),
                )
            })
            .with_context(|| format!("loading {described}"))
    };
    let sources = model_sources(config)?;
    let mut models = Vec::with_capacity(sources.len());
    if let Some((first, rest)) = sources.split_first() {
        models.push(load(first)?);
        let rest: Vec<LoadedModel> = rest.par_iter().map(load).collect::<Result<_, _>>()?;
        models.extend(rest);
    }
    let models = ModelRegistry::new(models, config.default_model.as_deref())?;
    Ok(Loaded { models, intake })
}

/// Serves `models` as `config` says until SIGINT or SIGTERM, then finishes in-flight
/// requests and writes every queued event before returning.
pub async fn serve(config: &Config, loaded: Loaded) -> wasmtime::Result<()> {
    let Loaded { models, intake } = loaded;
    // First: a certificate that cannot be used stops the start before anything is opened.
    let certificate = config
        .tls
        .load()
        .context("loading --tls-cert, --tls-key and --tls-client-ca")?;
    let _reloader = certificate.as_ref().map(|tls| {
        tracing::info!(
            client_certificates = tls.verifies_clients(),
            "TLS on every listener"
        );
        tls.watch_files()
    });
    let metrics = Arc::new(Metrics::with_options(
        Clock::system(),
        config.monitoring_options(),
    ));
    let target = config.event_target();
    let (events, writer) = EventWriter::start(target.clone(), config.event_buffer, &metrics)
        .with_context(|| format!("opening the event sink {target:?}"))?;
    let limits = BodyLimits {
        max_bytes: config.max_body_bytes,
        max_batch_rows: config.max_batch_rows,
    };
    let serving = Serving::new(models, metrics, events);
    let connection_events: Arc<dyn ConnectionEvents> = serving.metrics.clone();
    let mut state = AppState::new(serving.clone(), limits, config.admission_limits())
        .with_body_read_timeout(std::time::Duration::from_secs(
            config.body_read_timeout_secs,
        ));
    let telemetry = config
        .otlp
        .start(crate::event_sink::SERVICE)
        .context("starting the OpenTelemetry exporter (--otlp-endpoint)")?;
    if let Some(telemetry) = &telemetry {
        state = state.with_telemetry(telemetry.clone());
    }
    let loader = Arc::new(ModelLoader::new(intake, config.pool_size()));
    if let Some(token) = config.admin_token() {
        state = state.with_admin(Admin::new(
            token.expose(),
            Arc::clone(&loader),
            config.max_upload_bytes,
        ));
        if config.admin_listen.is_some() {
            state = state.with_admin_apart();
        }
        tracing::info!("admin API on /admin (bearer token)");
    }
    let _shrinker = (config.idle_timeout_secs > 0).then(|| {
        let idle_for = std::time::Duration::from_secs(config.idle_timeout_secs);
        AbortOnDrop(tokio::spawn(shrink_idle_pools(serving.clone(), idle_for)))
    });
    let _drift_watch = AbortOnDrop(crate::watch::drift_events::DriftWatch::spawn(
        serving.clone(),
    ));
    // Rollout files apply before the host listens, so a new replica joins a fleet on the
    // version the others serve.
    let rollouts = config.models_dir.as_ref().map(|dir| {
        let mut rollouts = crate::swap::rollout::Rollouts::new(dir.clone());
        rollouts.reconcile(&serving);
        rollouts
    });
    let ms = config.watch_interval_ms;
    let _watcher = rollouts.filter(|_| ms > 0).map(|rollouts| {
        tracing::info!(dir = %rollouts.dir().display(), every_ms = ms, "watching the models directory");
        let interval = std::time::Duration::from_millis(ms);
        let watch = crate::swap::watch::watch(serving, Arc::clone(&loader), rollouts, interval);
        AbortOnDrop(tokio::spawn(watch))
    });
    let connection_limits = ConnectionLimits {
        max_open: config.max_connections,
        header_read_timeout: std::time::Duration::from_secs(config.header_read_timeout_secs),
        speaks: Speaks::Http1,
    };
    let http1 = certificate.as_ref().map(|c| c.acceptor(&[b"http/1.1"]));
    // gRPC and admin first: once REST says `listening`, all listen.
    let grpc = match config.grpc_listen.0 {
        Some(address) => {
            let h2 = certificate.as_ref().map(|c| c.acceptor(&[b"h2"]));
            Some(grpc_listener(address, &state, connection_limits, h2, &connection_events).await?)
        }
        None => None,
    };
    let admin = match config.admin_listen {
        Some(address) => {
            let tls = http1.clone();
            Some(admin_listener(address, &state, connection_limits, tls, &connection_events).await?)
        }
        None => None,
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    let signal = wasml_collector::process::shutdown_signal();
    tracing::info!(%address, "listening");
    let mut local = address;
    if local.ip().is_unspecified() {
        local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if http1.is_some() { "https" } else { "http" };
    tracing::info!("the live console: {scheme}://{local}/ui");
    let stopping = Arc::clone(&state.stopping);
    let shutdown = async move {
        signal.await;
        stopping.send_replace(true);
    };
    wasml_net::connections::serve(
        listener,
        app(state),
        connection_limits,
        http1,
        connection_events,
        shutdown,
    )
    .await;
    if let Some(grpc) = grpc {
        // It stops with the same signal; its streams have at most `HTTP2_DRAIN`.
        let _ = grpc.await;
    }
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    tracing::info!("in-flight requests done; writing queued events");
    writer.finish().await;
    if let Some(telemetry) = telemetry {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Binds the gRPC listener and serves it in the background until the server stops; its
/// health service follows the models' readiness meanwhile.
async fn grpc_listener(
    address: std::net::SocketAddr,
    state: &AppState,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    events: &Arc<dyn ConnectionEvents>,
) -> wasmtime::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!("listening for gRPC on {address} (--grpc-listen; `off` for none)")
    })?;
    tracing::info!(address = %listener.local_addr()?, "grpc listening");
    let (router, health) = crate::grpc::app(state.clone());
    tokio::spawn(crate::grpc::health::track(
        health,
        state.serving.clone(),
        state.stopping.subscribe(),
    ));
    let limits = ConnectionLimits {
        speaks: Speaks::Http2,
        ..limits
    };
    Ok(serve_beside(listener, router, limits, tls, state, events))
}

/// Binds `--admin-listen` and serves the admin API there alone, in the background until
/// the server stops.
async fn admin_listener(
    address: std::net::SocketAddr,
    state: &AppState,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    events: &Arc<dyn ConnectionEvents>,
) -> wasmtime::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for the admin API on {address} (--admin-listen)"))?;
    tracing::info!(address = %listener.local_addr()?, "admin listening");
    let router = crate::api::admin_app(state.clone());
    Ok(serve_beside(listener, router, limits, tls, state, events))
}

/// Serves `router` on `listener` next to the REST listener, stopping with it.
fn serve_beside(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    state: &AppState,
    events: &Arc<dyn ConnectionEvents>,
) -> tokio::task::JoinHandle<()> {
    let mut stopping = state.stopping.subscribe();
    let events = Arc::clone(events);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        wasml_net::connections::serve(listener, router, limits, tls, events, stopped).await;
    })
}

/// Every so often, drops the instances of every loaded version that sat idle for
/// `idle_for` (scale to zero).
async fn shrink_idle_pools(serving: Serving, idle_for: std::time::Duration) {
    let every = (idle_for / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(30),
    );
    loop {
        tokio::time::sleep(every).await;
        for version in serving.models.versions() {
            let Some(model) = version.model else { continue };
            let dropped = model.pool.shrink_idle(idle_for);
            if dropped > 0 {
                tracing::debug!(
                    model = version.name,
                    version = version.version,
                    dropped,
                    "idle instances dropped"
                );
            }
        }
    }
}

/// Compiles (or takes from the cache) the `wasi:http` component at `path`.
pub fn load_wasi_http(config: &Config, path: &std::path::Path) -> wasmtime::Result<WasiHttpApp> {
    let engine = new_engine()?;
    let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let wasm = DigestedWasm::new(wasm);
    let cache = config.component_cache();
    let (component, _) = cache.load_or_compile_digested(&engine, wasm.bytes(), wasm.sha256())?;
    WasiHttpApp::new(
        &engine,
        &component,
        config.sandbox_limits(),
        GuestOutput::Inherit,
    )
    .with_context(|| format!("loading {}", path.display()))
}

/// Serves one `wasi:http` component until SIGINT or SIGTERM, finishing in-flight requests.
pub async fn serve_wasi_http(config: &Config, component: WasiHttpApp) -> wasmtime::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let signal = wasml_collector::process::shutdown_signal();
    tracing::info!(address = %listener.local_addr()?, serving = "wasi:http component", "listening");
    axum::serve(listener, wasi_http::app(Arc::new(component)))
        .with_graceful_shutdown(signal)
        .await?;
    tracing::info!("stopped");
    Ok(())
}
