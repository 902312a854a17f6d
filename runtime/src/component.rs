//! A model component compiled for the host's engine and linked against what the host
//! offers, so each instance costs microseconds.

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::error::Context as _;

use crate::bindings::{Model, ModelPre};
use crate::cache::{CacheOutcome, ComponentCache};
use crate::host::HostState;
use crate::instance::ModelInstance;
use crate::limits::SandboxLimits;

/// A compiled, pre-linked model component.
#[derive(Clone)]
pub struct ModelComponent {
    engine: Engine,
    pre: ModelPre<HostState>,
    limits: SandboxLimits,
}

impl ModelComponent {
    /// Compiles a component (wasm binary) and links it. Fails if it is not a component or
    /// does not fit the `model` world (e.g. imports something the host does not offer).
    pub fn compile(engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Self> {
        let component = Component::new(engine, wasm).context("compiling the component")?;
        Self::link(engine, component)
    }

    /// Like [`ModelComponent::compile`], but through the on-disk cache of compiled code.
    pub fn load(
        engine: &Engine,
        wasm: &[u8],
        cache: &ComponentCache,
    ) -> wasmtime::Result<(Self, CacheOutcome)> {
        Self::load_digested(engine, wasm, &crate::digest::sha256_hex(wasm), cache)
    }

    /// [`load`](Self::load) with the wasm's sha256 (hex) already computed.
    pub fn load_digested(
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
        cache: &ComponentCache,
    ) -> wasmtime::Result<(Self, CacheOutcome)> {
        let (component, outcome) = cache.load_or_compile_digested(engine, wasm, sha256)?;
        Ok((Self::link(engine, component)?, outcome))
    }

    /// Links an already compiled component.
    pub fn link(engine: &Engine, component: Component) -> wasmtime::Result<Self> {
        let mut linker = Linker::<HostState>::new(engine);
        // WASI is linked because Rust's std imports it; the context granted is empty (no
        // files, sockets, environment or arguments), see `HostState::new`.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Model::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        let pre = linker
            .instantiate_pre(&component)
            .context("linking the component")?;
        let pre =
            ModelPre::new(pre).context("the component does not export wasml:model/predictor")?;
        Ok(Self {
            engine: engine.clone(),
            pre,
            limits: SandboxLimits::default(),
        })
    }

    /// The same component with other sandbox limits for its instances.
    pub fn with_limits(mut self, limits: SandboxLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A fresh instance with its own memory, under this component's limits.
    pub fn instantiate(&self) -> wasmtime::Result<ModelInstance> {
        ModelInstance::new(&self.engine, &self.pre, self.limits)
    }
}
