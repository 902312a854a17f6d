//! A model component compiled for the host's engine and linked against what the host
//! offers, so each instance costs microseconds.
//!
//! A package (`wasml package`: the runner composed with a model's data) is not compiled
//! as a whole: the host compiles the runner inside it once, by its hash, and gives each
//! package's runner instances that package's data through the `model-data` import. Fifty
//! models on one runner cost one Cranelift run and fifty small byte buffers.

use std::sync::Arc;

use wasml_package::data::MODEL_DATA;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::error::Context as _;

use crate::bindings::{Model, ModelPre};
use crate::blocking::block_on;
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
        Self::load_with(engine, wasm, || crate::digest::sha256_hex(wasm), cache)
    }

    /// [`load`](Self::load) with the wasm's sha256 (hex) already computed.
    pub fn load_digested(
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
        cache: &ComponentCache,
    ) -> wasmtime::Result<(Self, CacheOutcome)> {
        Self::load_with(engine, wasm, || sha256.to_owned(), cache)
    }

    /// The whole component's sha256 names its cache entry; a package's runner has its
    /// own, so a package's is never computed.
    fn load_with(
        engine: &Engine,
        wasm: &[u8],
        sha256: impl FnOnce() -> String,
        cache: &ComponentCache,
    ) -> wasmtime::Result<(Self, CacheOutcome)> {
        // An HTTP package is no model: compiled whole, the gate names what it lacks.
        if let Some(package) = wasml_package::unpack(wasm).filter(|p| p.manifest.is_model()) {
            return Self::load_package(engine, package, cache);
        }
        let (component, outcome) = cache.load_or_compile_digested(engine, wasm, &sha256())?;
        Ok((Self::link(engine, component)?, outcome))
    }

    /// A package's runner, compiled once per runner, linked with the package's data.
    fn load_package(
        engine: &Engine,
        package: wasml_package::Unpacked<'_>,
        cache: &ComponentCache,
    ) -> wasmtime::Result<(Self, CacheOutcome)> {
        let claimed = &package.manifest.runner_sha256;
        let (runner, outcome) = match cache.cached(engine, claimed) {
            Some(runner) => (runner, CacheOutcome::Hit),
            None => {
                // Compiled under the manifest's name only if the bytes are what it says:
                // otherwise one upload could plant its code under another runner's hash.
                let actual = crate::digest::sha256_hex(package.runner);
                if &actual != claimed {
                    wasmtime::bail!(
                        "the package's runner has sha256 {actual}, its manifest says {claimed}"
                    );
                }
                cache.load_or_compile_digested(engine, package.runner, claimed)?
            }
        };
        let data = ModelData {
            onnx: package.onnx,
            card_json: package.card_json,
        };
        Ok((
            Self::link_with(engine, runner, Some(Arc::new(data)))?,
            outcome,
        ))
    }

    /// Links an already compiled component.
    pub fn link(engine: &Engine, component: Component) -> wasmtime::Result<Self> {
        Self::link_with(engine, component, None)
    }

    /// Links a component; `data` answers a runner's `model-data` import.
    fn link_with(
        engine: &Engine,
        component: Component,
        data: Option<Arc<ModelData>>,
    ) -> wasmtime::Result<Self> {
        let pre = linker(engine, data)?
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
    pub async fn instantiate(&self) -> wasmtime::Result<ModelInstance> {
        ModelInstance::new(&self.engine, &self.pre, self.limits).await
    }

    /// [`instantiate`](Self::instantiate) from synchronous code.
    pub fn instantiate_blocking(&self) -> wasmtime::Result<ModelInstance> {
        block_on(self.instantiate())
    }
}

/// What a model component may import: WASI (Rust's std imports it; the context granted is
/// empty, no files, sockets, environment or arguments, see `HostState::new`) in its async
/// flavour, as calls run on the async runtime; `events`; and a package's data.
fn linker(engine: &Engine, data: Option<Arc<ModelData>>) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Model::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
    if let Some(data) = data {
        let mut model_data = linker.instance(MODEL_DATA)?;
        let onnx = Arc::clone(&data);
        model_data.func_wrap("onnx", move |_, (): ()| Ok((onnx.onnx.clone(),)))?;
        model_data.func_wrap("card", move |_, (): ()| Ok((data.card_json.clone(),)))?;
    }
    Ok(linker)
}

/// A packaged model's data, handed to each of its runner instances once.
struct ModelData {
    onnx: Vec<u8>,
    card_json: String,
}
