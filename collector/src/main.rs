//! `wasml-collector`: see `wasml-collector --help`, and the README's "Collector" section.

use clap::Parser;
use wasml_collector::config::{Cli, Command};
use wasml_collector::process::init_logging;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging(cli.log_format, &cli.log) {
        eprintln!("wasml-collector: {error}");
        return std::process::ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Serve(args) => wasml_collector::server::serve(args)
            .await
            .map_err(Into::into),
        Command::Replay(args) => replay(args).await,
        Command::Probe { url } => return wasml_collector::probe::run(&url),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "wasml-collector failed");
            eprintln!("wasml-collector: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn replay(
    args: wasml_collector::config::ReplayArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(config) = args.elasticsearch.config(args.dead_letter_dir.clone()) else {
        return Err("replay needs --elasticsearch-url (or WASML_ELASTICSEARCH_URL)".into());
    };
    let batch = config.pipeline_options().batch_events;
    let report = tokio::task::spawn_blocking(move || {
        wasml_collector::replay::replay(&args.files, config, batch)
    })
    .await??;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
