//! What a plain `wasi:http` component's store holds (`wasml-host --wasi-http`): WASI with
//! nothing granted, the `wasi:http` context with outgoing requests denied
//! ([`DenyOutgoing`]), the same memory cap as a model instance, and where the guest's
//! stdout and stderr go. [`HttpState::store`] gives it the deadline too.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use wasmtime::{Engine, Store};

use crate::limits::{CallBudget, MemoryCap, SandboxLimits, Sandboxed, sandboxed_store};

/// Where a component's stdout and stderr (its JSON log lines) go.
#[derive(Clone, Default)]
pub enum GuestOutput {
    /// To the host's own stdout and stderr (the `--wasi-http` default).
    #[default]
    Inherit,
    /// Into a buffer shared by every instance, for tests to read.
    Capture(MemoryOutputPipe),
}

/// The store's data for one request.
pub struct HttpState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    memory: MemoryCap,
    budget: CallBudget,
    hooks: DenyOutgoing,
}

impl HttpState {
    /// Nothing granted beyond stdout and stderr: no preopened directories, environment,
    /// arguments or sockets.
    pub fn new(limits: &SandboxLimits, output: &GuestOutput) -> Self {
        let mut wasi = WasiCtx::builder();
        match output {
            GuestOutput::Inherit => {
                wasi.inherit_stdout().inherit_stderr();
            }
            GuestOutput::Capture(pipe) => {
                wasi.stdout(pipe.clone()).stderr(pipe.clone());
            }
        }
        Self {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            memory: MemoryCap::new(limits.memory_bytes),
            budget: CallBudget::default(),
            hooks: DenyOutgoing,
        }
    }

    /// A store for one request, under `limits` (memory cap and deadline); its handler
    /// runs on the async runtime and yields at every epoch tick.
    pub fn store(engine: &Engine, limits: &SandboxLimits, output: &GuestOutput) -> Store<Self> {
        sandboxed_store(engine, Self::new(limits, output), limits)
    }
}

impl Sandboxed for HttpState {
    fn memory_cap(&mut self) -> &mut MemoryCap {
        &mut self.memory
    }

    fn call_budget(&mut self) -> &mut CallBudget {
        &mut self.budget
    }
}

impl WasiView for HttpState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HttpState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A served component makes no outgoing HTTP requests: the sandbox grants no network.
pub struct DenyOutgoing;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
