//! `wasml`: package an ONNX model as a wasml model component in seconds, with no Rust
//! toolchain (the runner is embedded in this binary), inspect a package, and deploy one
//! to a running host.
//!
//! ```sh
//! wasml package model.onnx --name wine --version 1.0.0 -o wine.wasm
//! wasml inspect wine.wasm
//! wasml package model.onnx --name wine --version 1.0.0 --world http -o wine-http.wasm
//! wasml deploy wine.wasm --host http://127.0.0.1:5000 --token "$TOKEN" --activate
//! ```

mod deploy;
mod inspect;
mod package;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Package, inspect and deploy wasml model components.
#[derive(Debug, Parser)]
#[command(name = "wasml", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Package an ONNX model on an embedded runner: infer (or take) its card, check that
    /// tract runs it as the card says, and write one `.wasm` model component (`--world
    /// http`: a `wasi:http` component for Spin).
    Package(package::Args),
    /// Show what a packaged model component holds: name, version, task, inputs, labels,
    /// card figures, runner version and sha256s.
    Inspect {
        /// The model component.
        wasm: PathBuf,
        /// Print the manifest and card as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upload a model component to a host's admin API, follow its validation gate and
    /// (with `--activate`) activate it.
    Deploy(deploy::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Package(args) => package::run(&args),
        Command::Inspect { wasm, json } => inspect::run(&wasm, json),
        Command::Deploy(args) => deploy::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
