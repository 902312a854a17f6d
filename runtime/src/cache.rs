//! Compiled components cached on disk as `.cwasm`, so a restart loads a model in
//! milliseconds instead of recompiling it for seconds.
//!
//! A cache entry is named by the component's sha256 and a hash of the engine's
//! compatibility settings: compiled code is only valid for the engine build and
//! configuration that produced it, and wasmtime refuses (and we recompile) anything else.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::error::Context as _;

use crate::compile::ChildCompiler;
use crate::digest::sha256_hex;

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a `.cwasm` written earlier.
    Hit,
    /// Compiled (no entry, or an entry wasmtime refused) and written to the cache.
    Compiled,
}

/// A directory of compiled components, and the components this process already holds.
///
/// The in-process map is what lets every model packaged on one runner share one compiled
/// runner: the second model's runner is a clone of the first's `Component` (its code
/// mapped once), not another load.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    /// Components loaded by this process, with the engine they belong to (a component is
    /// only usable with its own engine; another engine of the same configuration shares
    /// the disk entry, not this).
    loaded: Arc<Mutex<HashMap<PathBuf, (Engine, Component)>>>,
    /// Compiles in a child process when set (the host); in this process otherwise.
    compiler: Option<Arc<ChildCompiler>>,
}

impl ComponentCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            loaded: Arc::default(),
            compiler: None,
        }
    }

    /// The same cache, compiling in child processes run by `compiler`.
    pub fn with_child_compiler(mut self, compiler: ChildCompiler) -> Self {
        self.compiler = Some(Arc::new(compiler));
        self
    }

    /// The compiled component whose wasm has sha256 `sha256`, if this process or the disk
    /// already has it. Entries are only ever written for bytes that hashed to their name,
    /// so a hit is the component those bytes compile to.
    pub fn cached(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(engine, sha256);
        self.in_process(engine, &path)
            .or_else(|| self.on_disk(engine, &path))
    }

    fn in_process(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let loaded = self.loaded.lock().expect("cache lock");
        let (owner, component) = loaded.get(path)?;
        Engine::same(owner, engine).then(|| component.clone())
    }

    fn remember(&self, engine: &Engine, path: PathBuf, component: &Component) {
        self.loaded
            .lock()
            .expect("cache lock")
            .insert(path, (engine.clone(), component.clone()));
    }

    fn on_disk(&self, engine: &Engine, path: &Path) -> Option<Component> {
        if !path.exists() {
            return None;
        }
        // Mapped, not read: a warm load costs about a millisecond instead of ~50 ms copying
        // 50 MB, and wasmtime maps the data segments straight from the file copy-on-write.
        // SAFETY: wasmtime checks the header and its engine compatibility. The mapping
        // stays valid because entries are never changed in place: `store` writes a new
        // read-only file and renames it over the old name, and a replaced or deleted
        // file lives on while mapped. Only truncating an entry in place (which the
        // README warns against, as for a shared library) could crash the host.
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(component) => {
                self.remember(engine, path.to_path_buf(), &component);
                Some(component)
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring unusable cache entry");
                None
            }
        }
    }

    /// The compiled component for `wasm`: from the cache when it holds a valid entry,
    /// otherwise compiled now and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        self.load_or_compile_digested(engine, wasm, &sha256_hex(wasm))
    }

    /// [`load_or_compile`](Self::load_or_compile) for a caller that already has the
    /// wasm's sha256 (hex): hashing a large component costs tens of milliseconds.
    pub fn load_or_compile_digested(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        if let Some(component) = self.cached(engine, sha256) {
            return Ok((component, CacheOutcome::Hit));
        }
        let path = self.path_for(engine, sha256);
        tracing::info!(
            bytes = wasm.len(),
            "compiling component (takes seconds; cached afterwards)"
        );
        let started = Instant::now();
        let component = match &self.compiler {
            Some(compiler) => {
                with_progress(|| self.compile_in_child(compiler, engine, wasm, &path))?
            }
            None => {
                let component = with_progress(|| Component::new(engine, wasm))
                    .context("compiling the component")?;
                self.store(&path, &component.serialize()?)?;
                self.remember(engine, path.clone(), &component);
                component
            }
        };
        let elapsed = started.elapsed();
        tracing::info!(seconds = elapsed.as_secs_f64(), path = %path.display(), "compiled and cached");
        Ok((component, CacheOutcome::Compiled))
    }

    /// Has `compiler` write the entry `path` for `wasm`, then maps it as a hit.
    fn compile_in_child(
        &self,
        compiler: &ChildCompiler,
        engine: &Engine,
        wasm: &[u8],
        path: &Path,
    ) -> wasmtime::Result<Component> {
        self.create_dir()?;
        let input = unique_sibling(path, "input");
        std::fs::write(&input, wasm).with_context(|| format!("writing {}", input.display()))?;
        let compiled = compiler.compile(&input, path);
        let _ = std::fs::remove_file(&input);
        compiled.context("compiling the component")?;
        self.on_disk(engine, path)
            .with_context(|| format!("the compiler's entry {} is unusable", path.display()))
    }

    /// The entry path for `wasm` under `engine`.
    pub fn entry_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        self.path_for(engine, &sha256_hex(wasm))
    }

    fn path_for(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{sha256}-{:016x}.cwasm", hasher.finish()))
    }

    fn store(&self, path: &Path, bytes: &[u8]) -> wasmtime::Result<()> {
        self.create_dir()?;
        write_entry(path, bytes)
    }

    fn create_dir(&self) -> wasmtime::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the cache directory {}", self.dir.display()))
    }
}

/// A file next to `path` no other writer uses: threads of one process, and processes,
/// may compile the same component at once.
fn unique_sibling(path: &Path, what: &str) -> PathBuf {
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!("{what}-{}-{writer}", std::process::id()))
}

/// Writes a cache entry atomically, as a new read-only file: a reader never sees half a
/// file, and a mapped older entry is never changed under its reader.
pub fn write_entry(path: &Path, bytes: &[u8]) -> wasmtime::Result<()> {
    let partial = unique_sibling(path, "partial");
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    // Read-only: entries are mapped while in use and must never be edited in place.
    let mut permissions = std::fs::metadata(&partial)?.permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&partial, permissions)
        .with_context(|| format!("making {} read-only", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// How often a long compilation says it is still going.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Runs `compile`, logging every [`PROGRESS_EVERY`] that it is still running: a
/// Cranelift compile of a model component takes seconds, and a silent start looks hung.
fn with_progress<R>(compile: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let (done, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(PROGRESS_EVERY) {
                tracing::info!(
                    seconds = started.elapsed().as_secs(),
                    "still compiling the component"
                );
            }
        });
        let result = compile();
        drop(done);
        result
    })
}
