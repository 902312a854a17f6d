//! Compiling a component in a child process, as the host does for uploads and first
//! starts.
//!
//! Cranelift needs hundreds of megabytes to compile a runner, and a process's allocator
//! rarely gives them back: compiled in the server, a runner left it at ~400 MB of RSS where
//! a restart from the cache needs ~60. In a child, that memory goes back to the system
//! when it exits, and a compiler crash, or an upload built to make compilation take
//! forever or eat memory, kills the child (time and memory limits), not the server. The
//! child writes the `.cwasm` cache entry; the server maps it as any cache hit.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::error::Context as _;

use crate::engine::{COMPILE_NICENESS, engine_config};

/// The command word a compiler program takes: `<program> compile IN OUT`.
pub const COMMAND: &str = "compile";

/// How to run the compiler child: `<program> compile IN OUT`.
#[derive(Debug, Clone)]
pub struct ChildCompiler {
    /// The program: the host's own binary, which answers [`COMMAND`] with
    /// [`compile_file`] and [`crate::cache::write_entry`].
    pub program: PathBuf,
    /// Wall-clock time the child may take before it is killed.
    pub timeout: Duration,
    /// Memory the child may allocate (`RLIMIT_DATA`: heap and private writable
    /// mappings; address space merely reserved, as allocators and thread stacks do on
    /// machines with many cores, does not count), in bytes.
    pub memory_bytes: u64,
}

/// Why the child did not produce a compiled component.
#[derive(Debug, Error)]
pub enum ChildCompileError {
    /// It could not be started.
    #[error("starting the compiler process {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran past its time limit and was killed.
    #[error("compiling took longer than {0:?}; the compiler process was killed")]
    TimedOut(Duration),
    /// It failed: the component does not compile, or it hit its memory limit, or crashed.
    #[error("the compiler process failed ({status}): {stderr}")]
    Failed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
}

impl ChildCompiler {
    /// Compiles the component at `input` into the cache entry `output` in a child process
    /// under this compiler's limits.
    pub fn compile(&self, input: &Path, output: &Path) -> Result<(), ChildCompileError> {
        let mut command = Command::new(&self.program);
        command
            .arg(COMMAND)
            .arg(input)
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let memory_bytes = self.memory_bytes;
        // SAFETY: between fork and exec only async-signal-safe calls (setrlimit,
        // setpriority) on plain values.
        unsafe {
            use std::os::unix::process::CommandExt as _;
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: memory_bytes,
                    rlim_max: memory_bytes,
                };
                if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Below serving threads, as in-process compile threads were.
                libc::setpriority(libc::PRIO_PROCESS, 0, COMPILE_NICENESS);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| ChildCompileError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        let stderr = child.stderr.take().expect("piped");
        let reader = std::thread::spawn(move || tail(stderr));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for the compiler") {
                break status;
            }
            if started.elapsed() > self.timeout {
                // Ours, by handle: nothing else is killed.
                let _ = child.kill();
                let _ = child.wait();
                return Err(ChildCompileError::TimedOut(self.timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = reader.join().unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(ChildCompileError::Failed { status, stderr })
        }
    }
}

/// The last lines the child wrote (its error, not its progress log).
fn tail(stderr: impl std::io::Read) -> String {
    let mut text = String::new();
    let _ = std::io::BufReader::new(stderr).read_to_string(&mut text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

/// The child's side: the component at `input` compiled with the model engine's
/// configuration (so the parent's engine accepts it), as a cache entry's bytes for
/// [`crate::cache::write_entry`].
pub fn compile_file(input: &Path) -> wasmtime::Result<Vec<u8>> {
    let engine = wasmtime::Engine::new(&engine_config())?;
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    engine
        .precompile_component(&wasm)
        .context("compiling the component")
}
