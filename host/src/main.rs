//! `wasml-host`: serves model components over REST. `wasml-host --help` lists every
//! flag and its environment variable.
//!
//! The serving layer is the `wasml-server` crate; this binary adds the runner component
//! (`wasml-guest-artifacts`), which it embeds so that a copied binary still packages the
//! bundled model and ONNX uploads.

use std::process::ExitCode;

use clap::Parser;
use wasml_collector::probe;
use wasml_collector::process::init_logging;
use wasml_runtime::cache::write_entry;
use wasml_runtime::compile;
use wasml_server::config::Config;
use wasml_server::server;

/// mimalloc's per-thread heaps: under load glibc's allocator cost ~12 % of the host's CPU
/// and its arena locks another ~5 % (docs/benchmarks.md, issue #18).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `wasml-host compile IN OUT`: the compiler child the server runs for each component
    // it compiles (wasml_runtime::compile), not a command for people.
    let args: Vec<_> = std::env::args_os().collect();
    if let [_, command, input, output] = args.as_slice()
        && command == compile::COMMAND
    {
        let compiled = compile::compile_file(input.as_ref());
        return match compiled.and_then(|bytes| write_entry(output.as_ref(), &bytes)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("wasml-host compile: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    // `wasml-host probe URL`: the distroless image's health check (no shell, no curl).
    if let [_, command, url] = args.as_slice()
        && command == probe::COMMAND
    {
        return probe::run(&url.to_string_lossy());
    }
    let mut config = Config::parse();
    // This very binary, even if the file was replaced by an upgrade since it started: a
    // newer binary's compiled code would not load in this one's engine.
    let this_binary = std::path::Path::new("/proc/self/exe");
    config.compiler = if this_binary.exists() {
        Some(this_binary.to_path_buf())
    } else {
        std::env::current_exe().ok()
    };
    if let Err(error) = init_logging(config.log_format, &config.log) {
        eprintln!("wasml-host: {error}");
        return ExitCode::FAILURE;
    }
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "wasml-host failed");
            ExitCode::FAILURE
        }
    }
}

fn run(config: &Config) -> wasmtime::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(path) = &config.wasi_http {
        let component = server::load_wasi_http(config, path)?;
        return runtime.block_on(server::serve_wasi_http(config, component));
    }
    let models = server::load_models(config, wasml_guest_artifacts::RUNNER)?;
    runtime.block_on(server::serve(config, models))
}
