//! The training distribution of a model's inputs, from a CSV sample of its training data
//! (`wasml package --reference-data`), for the card's `monitoring.reference`: the host
//! compares live traffic with it (input drift). The same computation as
//! `guest/training/train.py`'s: a numeric input's decile edges (linear interpolation, as
//! numpy's default `quantile`; repeated edges merged) and the share of rows in each bin
//! (a value falls in the first bin whose edge is `>=` it); a categorical input's share of
//! each category the card lists.

use serde_json::{Map, Value, json};
use wasml_predictor::{FieldKind, ModelCard};

use crate::PackageError;

/// Quantile bins per numeric input.
pub const BINS: usize = 10;

/// The `monitoring.reference` object for `card`'s inputs over the CSV `text` (a header
/// row naming the columns; `,`, `;` or tab separated; `"` quoting).
pub fn from_csv(card: &ModelCard, text: &str) -> Result<Value, PackageError> {
    let bad = |reason: String| PackageError::Card(format!("--reference-data: {reason}"));
    let table = parse(text).map_err(bad)?;
    let (header, rows) = table
        .split_first()
        .ok_or_else(|| bad("the file is empty".into()))?;
    if rows.is_empty() {
        return Err(bad("the file has a header and no rows".into()));
    }
    let mut inputs = Map::new();
    for field in &card.inputs {
        let column = header
            .iter()
            .position(|name| *name == field.name)
            .ok_or_else(|| bad(format!("no column is named {:?}", field.name)))?;
        let cells = rows.iter().enumerate().map(|(i, row)| {
            row.get(column).map(String::as_str).ok_or_else(|| {
                bad(format!(
                    "row {} has {} cells, fewer than the header",
                    i + 2,
                    row.len()
                ))
            })
        });
        let distribution = match &field.kind {
            FieldKind::Number { .. } => {
                let mut values = Vec::with_capacity(rows.len());
                for (i, cell) in cells.enumerate() {
                    let cell = cell?;
                    let value = cell.trim().parse::<f64>().ok().filter(|v| v.is_finite());
                    values.push(value.ok_or_else(|| {
                        bad(format!(
                            "row {}, column {:?}: {cell:?} is not a number",
                            i + 2,
                            field.name
                        ))
                    })?);
                }
                numeric(values)
            }
            FieldKind::Category { values } => {
                let mut counts = vec![0u64; values.len()];
                for cell in cells {
                    let cell = cell?;
                    if let Some(index) = values.iter().position(|v| v == cell) {
                        counts[index] += 1;
                    }
                }
                let shares: Map<String, Value> = values
                    .iter()
                    .zip(counts)
                    .map(|(value, count)| (value.clone(), json!(round(share(count, rows.len())))))
                    .collect();
                json!({ "categories": shares })
            }
        };
        inputs.insert(field.name.clone(), distribution);
    }
    Ok(json!({
        "rows": rows.len(),
        "source": "wasml package --reference-data",
        "inputs": inputs,
    }))
}

/// Decile edges of `values` and the share of values per bin.
fn numeric(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let last = values.len() - 1;
    let mut edges: Vec<f64> = (1..BINS)
        .map(|i| {
            let position = last as f64 * i as f64 / BINS as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(last);
            values[below] + (values[above] - values[below]) * (position - below as f64)
        })
        .collect();
    edges.dedup();
    let mut counts = vec![0u64; edges.len() + 1];
    for value in &values {
        counts[edges.partition_point(|edge| edge < value)] += 1;
    }
    let shares: Vec<f64> = counts
        .into_iter()
        .map(|count| round(share(count, values.len())))
        .collect();
    json!({ "edges": edges, "shares": shares })
}

fn share(count: u64, rows: usize) -> f64 {
    count as f64 / rows as f64
}

/// Six decimals, as the training script writes shares.
fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Rows of cells. The separator is whichever of `,`, `;` and tab the header holds most
/// of; a cell in `"` may hold separators, newlines and `""` for a quote.
fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let header = text.lines().next().unwrap_or_default();
    let separator = [',', ';', '\t']
        .into_iter()
        .max_by_key(|s| header.matches(*s).count())
        .expect("three candidates");
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, c) if c == separator => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err("a quoted cell is never closed".into());
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows.retain(|row| !(row.len() == 1 && row[0].is_empty()));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> ModelCard {
        serde_json::from_value(json!({
            "name": "m", "version": "1", "model_type": "t",
            "inputs": [
                {"name": "age", "required": true, "kind": {"number": {}}},
                {"name": "job", "required": true, "kind": {"category": {"values": ["a", "b"]}}}
            ],
            "encoding": {"output": "y"},
            "onnx": {"file": "model.onnx", "sha256": "0".repeat(64)}
        }))
        .unwrap()
    }

    #[test]
    fn deciles_and_shares_are_numpys() {
        // 0..=99: numpy.quantile(range(100), [.1, ..., .9]) = 9.9, 19.8, ..., 89.1
        let mut csv = String::from("job;age\n");
        for i in 0..100 {
            csv.push_str(&format!("{};{i}\n", if i % 4 == 0 { "a" } else { "\"b\"" }));
        }
        let reference = from_csv(&card(), &csv).unwrap();
        assert_eq!(reference["rows"], 100);
        let age = &reference["inputs"]["age"];
        let edges: Vec<f64> = serde_json::from_value(age["edges"].clone()).unwrap();
        let expected: Vec<f64> = (1..10).map(|i| 9.9 * i as f64).collect();
        for (edge, want) in edges.iter().zip(&expected) {
            assert!((edge - want).abs() < 1e-9, "{edges:?}");
        }
        assert_eq!(age["shares"], json!(vec![0.1; 10]));
        assert_eq!(
            reference["inputs"]["job"]["categories"],
            json!({"a": 0.25, "b": 0.75})
        );
    }

    #[test]
    fn repeated_edges_merge_and_bad_files_are_named() {
        let csv = "age,job\n1,a\n1,a\n1,a\n2,b\n";
        let reference = from_csv(&card(), csv).unwrap();
        // Deciles of 1, 1, 1, 2: 1 six times (merged into one edge), then 1.1, 1.4, 1.7.
        let edges: Vec<f64> =
            serde_json::from_value(reference["inputs"]["age"]["edges"].clone()).unwrap();
        assert_eq!(edges.len(), 4, "{edges:?}");
        assert_eq!(edges[0], 1.0);
        assert_eq!(
            reference["inputs"]["age"]["shares"],
            json!([0.75, 0.0, 0.0, 0.0, 0.25])
        );
        let error = |csv: &str| from_csv(&card(), csv).unwrap_err().to_string();
        assert!(error("age\n1\n").contains("no column is named \"job\""));
        assert!(error("age,job\nx,a\n").contains("row 2, column \"age\": \"x\" is not a number"));
        assert!(error("age,job\n").contains("no rows"));
        assert!(error("age,job\n\"1,a\n").contains("never closed"));
    }
}
