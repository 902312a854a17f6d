//! `wasml-host`: serves model components over REST. `wasml-host --help` lists every
//! flag and its environment variable.

use std::process::ExitCode;

use clap::Parser;
use wasml_collector::process::init_logging;
use wasml_host::config::Config;
use wasml_host::server;

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
    let models = server::load_models(config)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(server::serve(config, models))
}
