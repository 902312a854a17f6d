//! `wasml-host`: serves model components over REST. `wasml-host --help` lists every
//! flag and its environment variable.
//!
//! The serving layer is the `wasml-server` crate; this binary adds the runner component
//! (`wasml-guest-artifacts`), which it embeds so that a copied binary still packages the
//! bundled model and ONNX uploads.

use std::process::ExitCode;

use clap::Parser;
use wasml_collector::process::init_logging;
use wasml_server::config::Config;
use wasml_server::server;

fn main() -> ExitCode {
    let config = Config::parse();
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
