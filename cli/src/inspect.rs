//! `wasml inspect`: what a package holds, read without running it.

use std::path::Path;

use anyhow::Context as _;
use wasml_predictor::{FieldKind, ModelCard};

/// Prints the package's manifest and card, as text or JSON.
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let package = wasml_package::unpack(&wasm).with_context(|| {
        format!(
            "{} is not a wasml package (no valid wasml-package manifest and data component)",
            path.display()
        )
    })?;
    let card: ModelCard = serde_json::from_str(&package.card_json).context("the package's card")?;
    let sha256 = wasml_package::sha256_hex(&wasm);
    if json {
        let out = serde_json::json!({
            "manifest": package.manifest,
            "card": serde_json::from_str::<serde_json::Value>(&package.card_json)?,
            "sha256": sha256,
            "bytes": wasm.len(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let m = &package.manifest;
    println!(
        "{} {} ({}, {})",
        card.name,
        card.version,
        card.task.as_str(),
        card.model_type
    );
    println!("inputs:");
    for field in &card.inputs {
        let kind = match &field.kind {
            FieldKind::Number { min, max, integer } => {
                let whole = if *integer { "integer" } else { "number" };
                match (min, max) {
                    (Some(min), Some(max)) => format!("{whole} from {min} to {max}"),
                    (Some(min), None) => format!("{whole} of at least {min}"),
                    (None, Some(max)) => format!("{whole} of at most {max}"),
                    (None, None) => format!("any {whole}"),
                }
            }
            FieldKind::Category { values } => format!("one of {}", values.join(", ")),
        };
        let required = if field.required { "" } else { " (optional)" };
        println!("  {}: {kind}{required}", field.name);
    }
    if !card.labels.is_empty() {
        println!("labels: {}", card.labels.join(", "));
    }
    match &card.evaluation {
        Some(e) => println!("card figures: {}", serde_json::to_string(e)?),
        None => println!("card figures: none"),
    }
    println!(
        "packaged by wasml-package {} (format {})",
        m.packager, m.format
    );
    println!("exports:       {}", m.exports.join(", "));
    println!("runner sha256: {}", m.runner_sha256);
    println!("onnx sha256:   {}", m.onnx_sha256);
    println!("card sha256:   {}", m.card_sha256);
    println!("file sha256:   {sha256} ({} bytes)", wasm.len());
    Ok(())
}
