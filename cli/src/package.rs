//! `wasml package`: ONNX (+ optional card and conformance set) → a model component, or
//! its HTTP flavour for Spin.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use wasml_package::{CardHints, NativeTrial, PackageRequest};

/// `wasml package`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ONNX model (skl2onnx, onnxmltools: `ZipMap` or not).
    onnx: PathBuf,
    /// Model name (required unless the card names it).
    #[arg(long, required_unless_present = "card")]
    name: Option<String>,
    /// Model version (required unless the card names it).
    #[arg(long, required_unless_present = "card")]
    version: Option<String>,
    /// A model card (JSON, `docs/model-card.schema.json`) instead of the inferred one.
    #[arg(long)]
    card: Option<PathBuf>,
    /// A conformance set (JSON) whose outputs the model must reproduce.
    #[arg(long)]
    conformance: Option<PathBuf>,
    /// Names of the columns of a single `[N, k]` input tensor, comma-separated.
    #[arg(long, value_delimiter = ',')]
    feature_names: Option<Vec<String>>,
    /// Where to write the component.
    #[arg(short, long)]
    output: PathBuf,
    /// A CSV sample of the training data (a header row naming the inputs): the card gets
    /// each input's distribution, which `wasml-host` measures input drift against.
    #[arg(long, value_name = "CSV")]
    reference_data: Option<PathBuf>,
    /// Also write the card used (inferred or completed) to this file.
    #[arg(long)]
    card_out: Option<PathBuf>,
    /// Which runner the model is packaged on.
    #[arg(long, value_enum, default_value_t = World::Model)]
    world: World,
}

/// The runners a model can be packaged on.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum World {
    /// World `wasml:model/model`, which `wasml-host` serves (hot swap, metrics, events).
    Model,
    /// A plain `wasi:http` component answering `POST /predict` and `GET /health`, for
    /// Spin, `wasmtime serve` and `wasml-host --wasi-http`.
    Http,
}

impl World {
    fn runner(self) -> &'static [u8] {
        match self {
            World::Model => wasml_guest_artifacts::RUNNER,
            World::Http => wasml_http_artifacts::HTTP_RUNNER,
        }
    }
}

/// Packages, or fails without writing anything.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let onnx =
        std::fs::read(&args.onnx).with_context(|| format!("reading {}", args.onnx.display()))?;
    let read_text = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    let card = args.card.as_ref().map(read_text).transpose()?;
    let conformance = args.conformance.as_ref().map(read_text).transpose()?;
    let reference_data = args.reference_data.as_ref().map(read_text).transpose()?;
    let request = PackageRequest {
        onnx: &onnx,
        card: card.as_deref(),
        hints: CardHints {
            name: args.name.clone().unwrap_or_default(),
            version: args.version.clone().unwrap_or_default(),
            feature_names: args.feature_names.clone(),
        },
        conformance: conformance.as_deref(),
        reference_data: reference_data.as_deref(),
    };
    let packaged = wasml_package::build(args.world.runner(), &request, &NativeTrial)
        .with_context(|| format!("packaging {}", args.onnx.display()))?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.output, &packaged.wasm)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.card_out {
        std::fs::write(path, &packaged.card_json)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let card = &packaged.card;
    println!(
        "packaged {} {} ({}, {} inputs, {} labels) into {} ({} bytes) in {:.2} s",
        card.name,
        card.version,
        card.task.as_str(),
        card.inputs.len(),
        card.labels.len(),
        args.output.display(),
        packaged.wasm.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(report) = &packaged.conformance {
        println!(
            "conformance: {} cases, largest difference {:.2e}",
            report.cases, report.max_abs_diff
        );
    }
    Ok(())
}
