//! The validation gate a new version passes before it may serve: each check gives a
//! verdict and a detail, and the first failure is the version's reason for `failed`.
//!
//! 1. `identity`: the component says it is the model and version it was uploaded as;
//! 2. `info`: its `info()` is well-formed (labels, unique fields, sane ranges and
//!    categories, card figures in [0, 1], the card is JSON);
//! 3. `schema`: its inputs accept everything the active version's accept (unless forced);
//! 4. `conformance`: it reproduces the conformance set shipped with the version within
//!    the set's tolerance (skipped, and said so, when none was given);
//! 5. `deadline`: a prediction of a row built from its schema answers within the
//!    sandbox's deadline, without trapping.

use std::time::{Duration, Instant};

use thiserror::Error;
use wasml_predictor::ConformanceSet;
use wasml_runtime::CallError;
use wasml_runtime::bindings::types::{
    Feature, FeatureValue, FieldKind, FieldSpec, ModelInfo, NumberRange, Task,
};
use wasml_runtime::blocking::block_on;
use wasml_runtime::convert;

use crate::registry::{GateCheck as Check, LoadedModel, ModelCall, Predict, PredictBatch};

/// What the gate needs besides the candidate.
pub struct GateInput<'a> {
    /// The name the version was uploaded as.
    pub name: &'a str,
    /// The version it was uploaded as.
    pub version: &'a str,
    /// The active version's schema, if the model has one.
    pub active_inputs: Option<&'a [FieldSpec]>,
    /// Accept a schema change.
    pub force: bool,
    /// The conformance set shipped with the version.
    pub conformance: Option<&'a ConformanceSet>,
}

/// Why a check failed; its text is the check's detail and the version's reason.
#[derive(Debug, Error)]
pub enum CheckFailure {
    /// What the component says or answers is not what it must be.
    #[error("{0}")]
    Found(String),
    /// The conformance set given with the version cannot be used.
    #[error("{0}")]
    UnusableSet(String),
    /// No instance of the candidate could be had for the check.
    #[error("{0}")]
    NoInstance(String),
    /// The call into the candidate trapped, overran or overate.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A check's outcome: what it found when it passes.
type Verdict = Result<String, CheckFailure>;

/// One check.
type Step<'a> = dyn Fn() -> Verdict + 'a;

/// Runs every check on `candidate`, stopping at the first failure. Blocking: it calls
/// into the component.
pub fn run(candidate: &LoadedModel, input: &GateInput<'_>) -> Vec<Check> {
    let info = &candidate.info;
    let mut checks = Vec::new();
    let steps: [(&'static str, &Step<'_>); 5] = [
        ("identity", &|| identity(info, input)),
        ("info", &|| well_formed(info)),
        ("schema", &|| schema(info, input)),
        ("conformance", &|| conformance(candidate, input.conformance)),
        ("deadline", &|| smoke_prediction(candidate)),
    ];
    for (check, step) in steps {
        let started = std::time::Instant::now();
        let outcome = step();
        let passed = outcome.is_ok();
        checks.push(Check {
            check,
            passed,
            detail: outcome.unwrap_or_else(|failure| failure.to_string()),
            milliseconds: started.elapsed().as_secs_f64() * 1e3,
        });
        if !passed {
            break;
        }
    }
    checks
}

/// The first failed check, as a reason: `"schema: field age was removed"`.
pub fn failure(checks: &[Check]) -> Option<String> {
    checks
        .iter()
        .find(|c| !c.passed)
        .map(|c| format!("{}: {}", c.check, c.detail))
}

fn identity(info: &ModelInfo, input: &GateInput<'_>) -> Verdict {
    if info.name != input.name {
        return Err(found(format!(
            "the component says it is model {:?}, uploaded as {:?}",
            info.name, input.name
        )));
    }
    if info.version != input.version {
        return Err(found(format!(
            "the component says it is version {:?}, uploaded as {:?}",
            info.version, input.version
        )));
    }
    Ok(format!("{} {}", info.name, info.version))
}

fn well_formed(info: &ModelInfo) -> Verdict {
    match (info.task, info.labels.len()) {
        (Task::Classification, n) if n < 2 => {
            return Err(found(format!("{n} labels; a classifier needs at least 2")));
        }
        (Task::Regression, n) if n > 0 => {
            return Err(found(format!("{n} labels; a regressor has none")));
        }
        _ => {}
    }
    if info.inputs.is_empty() {
        return Err(found("the schema has no input fields".into()));
    }
    for (i, spec) in info.inputs.iter().enumerate() {
        if spec.name.is_empty() || info.inputs[..i].iter().any(|s| s.name == spec.name) {
            return Err(found(format!(
                "input field {:?} is empty or repeated",
                spec.name
            )));
        }
        match &spec.kind {
            FieldKind::Number(r) if !is_range(r) => {
                return Err(found(format!(
                    "field {}: range {} is not a range",
                    spec.name,
                    range_text(r)
                )));
            }
            FieldKind::Category(values) if values.is_empty() => {
                return Err(found(format!("field {}: no categories", spec.name)));
            }
            _ => {}
        }
    }
    if let Some(e) = &info.evaluation {
        let bounded = [
            ("accuracy", e.accuracy, 0.0, 1.0),
            ("precision", e.precision, 0.0, 1.0),
            ("recall", e.recall, 0.0, 1.0),
            ("f1_score", e.f1_score, 0.0, 1.0),
            ("roc_auc", e.roc_auc, 0.0, 1.0),
            ("r2", e.r2, f64::NEG_INFINITY, 1.0),
            ("mae", e.mae, 0.0, f64::INFINITY),
            ("rmse", e.rmse, 0.0, f64::INFINITY),
        ];
        for (figure, value, low, high) in bounded {
            if let Some(value) = value.filter(|v| !(low..=high).contains(v)) {
                return Err(found(format!(
                    "card figure {figure} = {value} is not in [{low}, {high}]"
                )));
            }
        }
    }
    serde_json::from_str::<serde_json::Value>(&info.card_json)
        .map_err(|e| found(format!("the model card is not JSON: {e}")))?;
    let figure = match (&info.evaluation, info.task) {
        (Some(e), Task::Classification) => e.accuracy.map(|a| format!("card accuracy {a:.4}")),
        (Some(e), Task::Regression) => e.r2.map(|r2| format!("card R² {r2:.4}")),
        (None, _) => None,
    };
    Ok(format!(
        "{} inputs, {} labels, {}",
        info.inputs.len(),
        info.labels.len(),
        figure.unwrap_or_else(|| "no card figures".into())
    ))
}

/// Bounds that are numbers, in order.
fn is_range(r: &NumberRange) -> bool {
    let finite = |b: Option<f64>| b.is_none_or(f64::is_finite);
    finite(r.min) && finite(r.max) && !matches!((r.min, r.max), (Some(a), Some(b)) if a > b)
}

fn range_text(r: &NumberRange) -> String {
    let bound = |b: Option<f64>| b.map_or_else(String::new, |b| b.to_string());
    format!("{}..{}", bound(r.min), bound(r.max))
}

/// Whether `new` accepts every number `old` accepts (an absent bound is no bound).
fn covers(new: &NumberRange, old: &NumberRange) -> bool {
    let low = match (new.min, old.min) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(n), Some(o)) => n <= o,
    };
    let high = match (new.max, old.max) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(n), Some(o)) => n >= o,
    };
    low && high && (old.integer || !new.integer)
}

fn schema(info: &ModelInfo, input: &GateInput<'_>) -> Verdict {
    let Some(active) = input.active_inputs else {
        return Ok("no active version to compare with".into());
    };
    let problems = schema_changes(active, &info.inputs);
    match (problems.is_empty(), input.force) {
        (true, _) => Ok("accepts every input the active version accepts".into()),
        (false, true) => Ok(format!(
            "changed, accepted by force: {}",
            problems.join("; ")
        )),
        (false, false) => Err(found(format!(
            "{} (upload with force=true to accept)",
            problems.join("; ")
        ))),
    }
}

/// What the candidate would refuse, or newly require, of the active version's inputs.
fn schema_changes(active: &[FieldSpec], candidate: &[FieldSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for old in active {
        let Some(new) = candidate.iter().find(|s| s.name == old.name) else {
            problems.push(format!("field {} was removed", old.name));
            continue;
        };
        match (&old.kind, &new.kind) {
            (FieldKind::Number(a), FieldKind::Number(b)) => {
                if !covers(b, a) {
                    problems.push(format!(
                        "field {}: range {} no longer covers {}",
                        old.name,
                        range_text(b),
                        range_text(a)
                    ));
                }
            }
            (FieldKind::Category(a), FieldKind::Category(b)) => {
                let lost: Vec<&String> = a.iter().filter(|v| !b.contains(v)).collect();
                if !lost.is_empty() {
                    problems.push(format!(
                        "field {}: categories {lost:?} were removed",
                        old.name
                    ));
                }
            }
            _ => problems.push(format!("field {} changed kind", old.name)),
        }
    }
    for new in candidate {
        if new.required && !active.iter().any(|s| s.name == new.name) {
            problems.push(format!("field {} is new and required", new.name));
        }
    }
    problems
}

fn conformance(candidate: &LoadedModel, set: Option<&ConformanceSet>) -> Verdict {
    let Some(set) = set else {
        return Ok("skipped: no conformance set was given with the version".into());
    };
    if set.model != candidate.info.name || set.version != candidate.info.version {
        return Err(found(format!(
            "the set is for {} {}, not {} {}",
            set.model, set.version, candidate.info.name, candidate.info.version
        )));
    }
    let rows = set.rows().map_err(CheckFailure::UnusableSet)?;
    let rows: Vec<_> = rows.iter().map(|row| convert::features(row)).collect();
    let (results, _) = on_instance(candidate, PredictBatch(rows))?;
    let results: Vec<_> = results
        .into_iter()
        .map(convert::prediction_result)
        .collect();
    let report = set.check(&results);
    if report.passed() {
        Ok(format!(
            "{} cases within {:e} (largest difference {:.2e})",
            report.cases, set.tolerance, report.max_abs_diff
        ))
    } else {
        Err(found(format!(
            "{} of {} cases differ from the reference, e.g. {}",
            report.failures.len(),
            report.cases,
            report.failures[0]
        )))
    }
}

fn smoke_prediction(candidate: &LoadedModel) -> Verdict {
    let row: Vec<Feature> = candidate
        .info
        .inputs
        .iter()
        .map(|spec| Feature {
            name: spec.name.clone(),
            value: match &spec.kind {
                FieldKind::Number(r) => FeatureValue::Number(r.min.or(r.max).unwrap_or(0.0)),
                FieldKind::Category(values) => FeatureValue::Text(values[0].clone()),
            },
        })
        .collect();
    match on_instance(candidate, Predict(row))? {
        (Ok(p), took) => Ok(format!(
            "answered {} in {:.2} ms",
            answer_text(&p),
            took.as_secs_f64() * 1e3
        )),
        (Err(e), _) => Err(found(format!(
            "refused a row built from its own schema: {e:?}"
        ))),
    }
}

fn answer_text(p: &wasml_runtime::bindings::types::Prediction) -> String {
    use wasml_runtime::bindings::types::Prediction;
    match p {
        Prediction::Class(class) => format!("{:?}", class.label),
        Prediction::Value(value) => format!("the value {value}"),
    }
}

fn found(what: String) -> CheckFailure {
    CheckFailure::Found(what)
}

/// Makes `call` on one of the candidate's instances (the gate runs on a blocking thread),
/// and says how long the call took.
fn on_instance<C: ModelCall>(
    candidate: &LoadedModel,
    call: C,
) -> Result<(C::Output, Duration), CheckFailure> {
    block_on(async {
        let mut instance = candidate
            .pool
            .checkout()
            .await
            .map_err(|e| CheckFailure::NoInstance(e.to_string()))?;
        let started = Instant::now();
        let output = call.run(&mut instance).await?;
        Ok((output, started.elapsed()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(name: &str, min: f64, max: f64, required: bool) -> FieldSpec {
        let (min, max) = (Some(min), Some(max));
        FieldSpec {
            name: name.into(),
            description: String::new(),
            kind: FieldKind::Number(NumberRange {
                min,
                max,
                integer: true,
            }),
            required,
        }
    }

    fn category(name: &str, values: &[&str]) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            description: String::new(),
            kind: FieldKind::Category(values.iter().map(|v| (*v).to_owned()).collect()),
            required: true,
        }
    }

    #[test]
    fn a_schema_that_accepts_more_is_compatible() {
        let active = [
            number("age", 18.0, 95.0, true),
            category("job", &["admin.", "retired"]),
        ];
        let wider = [
            number("age", 16.0, 100.0, true),
            category("job", &["admin.", "retired", "student"]),
            number("campaign", 1.0, 60.0, false),
        ];
        assert!(schema_changes(&active, &wider).is_empty());
    }

    #[test]
    fn removed_narrowed_or_newly_required_fields_are_named() {
        let active = [
            number("age", 18.0, 95.0, true),
            category("job", &["admin.", "retired"]),
        ];
        let narrower = [
            number("age", 21.0, 95.0, true),
            category("job", &["admin."]),
            number("balance", 0.0, 1e6, true),
        ];
        assert_eq!(
            schema_changes(&active, &narrower),
            [
                "field age: range 21..95 no longer covers 18..95",
                "field job: categories [\"retired\"] were removed",
                "field balance is new and required",
            ]
        );
        assert_eq!(
            schema_changes(&active, &[category("age", &["young"])]),
            ["field age changed kind", "field job was removed"]
        );
    }
}
