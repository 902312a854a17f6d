//! Validating one request row against the schema and encoding it for the model.
//!
//! The encoding is the card's contract with the training script: every field in schema
//! order, a number as itself, a category as a one-hot block in the order of its values.
//! Validation never stops at the first problem: a client fixes every field in one round trip.

use std::fmt;

use crate::card::{FieldKind, FieldSpec};

/// A field's value as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    /// A JSON number.
    Number(f64),
    /// A JSON string.
    Text(String),
}

/// A named input value.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: FeatureValue,
}

impl Feature {
    /// A number field.
    pub fn number(name: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            value: FeatureValue::Number(value),
        }
    }

    /// A text (category) field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: FeatureValue::Text(value.into()),
        }
    }
}

/// Why a field was rejected; mirrors `field-problem` in `wit/model.wit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldProblem {
    /// A required field is absent.
    Missing,
    /// A number where text is expected, or the other way round.
    WrongType,
    /// A number outside the field's range, or not finite.
    OutOfRange,
    /// A fractional number for a whole-number field.
    NotAnInteger,
    /// Text that is not one of the field's categories.
    UnknownCategory,
    /// A field the model does not have.
    UnknownField,
    /// The same field given twice.
    DuplicateField,
}

impl FieldProblem {
    /// The kebab-case name used on the wire (WIT enum case, JSON error bodies, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::WrongType => "wrong-type",
            Self::OutOfRange => "out-of-range",
            Self::NotAnInteger => "not-an-integer",
            Self::UnknownCategory => "unknown-category",
            Self::UnknownField => "unknown-field",
            Self::DuplicateField => "duplicate-field",
        }
    }
}

/// One rejected field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field's name as sent (or as the schema names it, for a missing field).
    pub field: String,
    /// What is wrong.
    pub problem: FieldProblem,
    /// A sentence for the client.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Longest piece of client text echoed back in a message.
const ECHO_LIMIT: usize = 64;

/// Validates rows against a schema and writes their encoding.
#[derive(Debug, Clone)]
pub struct FeatureEncoder {
    fields: Vec<FieldSpec>,
    /// Column of each field's first encoded value.
    offsets: Vec<usize>,
    width: usize,
}

impl FeatureEncoder {
    /// An encoder for `fields`, in schema order.
    pub fn new(fields: &[FieldSpec]) -> Self {
        let mut offsets = Vec::with_capacity(fields.len());
        let mut width = 0;
        for field in fields {
            offsets.push(width);
            width += match &field.kind {
                FieldKind::Number { .. } => 1,
                FieldKind::Category { values } => values.len(),
            };
        }
        Self {
            fields: fields.to_vec(),
            offsets,
            width,
        }
    }

    /// Columns per encoded row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Validates `row` and appends its `width()` columns to `out`; on error `out` is left
    /// as it was and every problem is returned.
    ///
    /// An absent optional number encodes as NaN (tree models route it down their
    /// missing-value branch), an absent optional category as all zeros.
    pub fn encode_into(&self, row: &[Feature], out: &mut Vec<f32>) -> Result<(), Vec<FieldError>> {
        let start = out.len();
        out.resize(start + self.width, 0.0);
        let encoded = &mut out[start..];
        let mut seen = vec![false; self.fields.len()];
        let mut errors = Vec::new();

        for feature in row {
            let Some(index) = self.fields.iter().position(|f| f.name == feature.name) else {
                errors.push(self.unknown_field(&feature.name));
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                errors.push(FieldError {
                    field: feature.name.clone(),
                    problem: FieldProblem::DuplicateField,
                    message: "appears more than once".into(),
                });
                continue;
            }
            let spec = &self.fields[index];
            let columns = &mut encoded[self.offsets[index]..];
            if let Err((problem, message)) = encode_value(spec, &feature.value, columns) {
                errors.push(FieldError {
                    field: spec.name.clone(),
                    problem,
                    message,
                });
            }
        }

        for (index, spec) in self.fields.iter().enumerate() {
            if seen[index] {
                continue;
            }
            if spec.required {
                errors.push(FieldError {
                    field: spec.name.clone(),
                    problem: FieldProblem::Missing,
                    message: "is required".into(),
                });
            } else if let FieldKind::Number { .. } = spec.kind {
                encoded[self.offsets[index]] = f32::NAN;
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            out.truncate(start);
            Err(errors)
        }
    }

    fn unknown_field(&self, name: &str) -> FieldError {
        let known: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        FieldError {
            field: echo(name),
            problem: FieldProblem::UnknownField,
            message: format!(
                "is not an input of this model (inputs: {})",
                known.join(", ")
            ),
        }
    }
}

/// Checks one value against its spec and writes it into `columns` (the field's first column
/// onwards).
fn encode_value(
    spec: &FieldSpec,
    value: &FeatureValue,
    columns: &mut [f32],
) -> Result<(), (FieldProblem, String)> {
    match (&spec.kind, value) {
        (FieldKind::Number { min, max, integer }, FeatureValue::Number(x)) => {
            let x = *x;
            let below = min.is_some_and(|min| x < min);
            let above = max.is_some_and(|max| x > max);
            if !x.is_finite() || below || above {
                return Err((FieldProblem::OutOfRange, range_message(*min, *max, x)));
            }
            if *integer && x.fract() != 0.0 {
                return Err((
                    FieldProblem::NotAnInteger,
                    format!("must be a whole number, got {x}"),
                ));
            }
            columns[0] = x as f32;
            Ok(())
        }
        (FieldKind::Number { .. }, FeatureValue::Text(text)) => Err((
            FieldProblem::WrongType,
            format!("must be a number, got the string \"{}\"", echo(text)),
        )),
        (FieldKind::Category { values }, FeatureValue::Text(text)) => {
            match values.iter().position(|v| v == text) {
                Some(column) => {
                    columns[column] = 1.0;
                    Ok(())
                }
                None => Err((
                    FieldProblem::UnknownCategory,
                    format!(
                        "must be one of {}, got \"{}\"",
                        quoted_list(values),
                        echo(text)
                    ),
                )),
            }
        }
        (FieldKind::Category { values }, FeatureValue::Number(x)) => Err((
            FieldProblem::WrongType,
            format!(
                "must be a string, one of {}, got the number {x}",
                quoted_list(values)
            ),
        )),
    }
}

fn range_message(min: Option<f64>, max: Option<f64>, x: f64) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("must be a number from {min} to {max}, got {x}"),
        (Some(min), None) => format!("must be a number of at least {min}, got {x}"),
        (None, Some(max)) => format!("must be a number of at most {max}, got {x}"),
        (None, None) => format!("must be a finite number, got {x}"),
    }
}

fn quoted_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    quoted.join(", ")
}

/// Client text as it goes back into a message: cut short, so a hostile client cannot make
/// the error larger than its request.
fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
