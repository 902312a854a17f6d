//! Inferring a model card from the ONNX graph, so a user usually packages a model with no
//! card at all.
//!
//! The graph says most of it: the task and labels from the ai.onnx.ml estimator
//! (`classlabels_*` of a classifier), the output to read, and the inputs — one named input
//! per column as skl2onnx exports a `ColumnTransformer` (numbers, or strings whose
//! categories a `OneHotEncoder` or `CategoryMapper` lists), or one `[N, k]` float tensor
//! whose columns the user names. Ranges cannot be inferred: numbers are unbounded. A
//! number the graph imputes (an `Imputer` replacing NaN, as skl2onnx exports a
//! `SimpleImputer`) is optional: an absent value is encoded as NaN and imputed.

use prost::Message as _;
use wasml_predictor::card::{Encoding, FieldKind, FieldSpec, ModelCard, OnnxFile, Task};

use crate::PackageError;
use crate::onnx_pb::{self as pb, DataType, DimensionValue};

/// ai.onnx.ml estimators that classify.
const CLASSIFIERS: [&str; 3] = [
    "TreeEnsembleClassifier",
    "LinearClassifier",
    "SVMClassifier",
];
/// ai.onnx.ml estimators that regress.
const REGRESSORS: [&str; 4] = [
    "TreeEnsembleRegressor",
    "TreeEnsemble",
    "LinearRegressor",
    "SVMRegressor",
];

/// What the user says about the model besides its graph.
#[derive(Debug, Clone, Default)]
pub struct CardHints {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Names of the columns of a single `[N, k]` input tensor.
    pub feature_names: Option<Vec<String>>,
}

/// Parses ONNX bytes, or says they are not an ONNX model.
pub fn parse_onnx(onnx: &[u8]) -> Result<pb::ModelProto, PackageError> {
    let proto = pb::ModelProto::decode(onnx).map_err(|e| PackageError::NotOnnx(e.to_string()))?;
    match &proto.graph {
        Some(graph) if !graph.node.is_empty() => Ok(proto),
        _ => Err(PackageError::NotOnnx("the model has no graph".into())),
    }
}

/// The card the graph of `onnx` implies; `proto` is `onnx` parsed by [`parse_onnx`].
pub fn infer_card(
    proto: &pb::ModelProto,
    onnx: &[u8],
    hints: &CardHints,
) -> Result<ModelCard, PackageError> {
    let graph = proto.graph.as_ref().expect("parse_onnx checked");
    let cannot = |why: String| PackageError::CannotInfer(why);

    let estimator = graph.node.iter().find(|n| {
        CLASSIFIERS.contains(&n.op_type.as_str()) || REGRESSORS.contains(&n.op_type.as_str())
    });
    let (task, labels, model_type) = match estimator {
        Some(estimator) if CLASSIFIERS.contains(&estimator.op_type.as_str()) => {
            let labels = class_labels(estimator).ok_or_else(|| {
                cannot(format!(
                    "the {} has no class labels (classlabels_strings, _int64s or _ints)",
                    estimator.op_type
                ))
            })?;
            (Task::Classification, labels, kebab(&estimator.op_type))
        }
        Some(estimator) => (Task::Regression, Vec::new(), kebab(&estimator.op_type)),
        // skl2onnx's MLP, k-NN and naive Bayes models are standard ops only.
        None => match looked_up_labels(graph) {
            Some(labels) => (Task::Classification, labels, "onnx-classifier".to_string()),
            // One float output and no labels: skl2onnx's `variable`, a regressor's value.
            None if graph.output.len() == 1 && float_output(graph, Task::Regression).is_some() => {
                (Task::Regression, Vec::new(), "onnx-regressor".to_string())
            }
            None => {
                return Err(cannot(format!(
                    "no ai.onnx.ml classifier or regressor in the graph, no `label` looked up \
                     in a list of classes, and not one float output (ops: {}); pass a card",
                    op_types(graph).join(", ")
                )));
            }
        },
    };
    let output = float_output(graph, task)
        .ok_or_else(|| cannot("the graph has no float output to read predictions from".into()))?;
    let (input, inputs, features) = inferred_inputs(graph, hints)?;

    Ok(ModelCard {
        name: hints.name.clone(),
        version: hints.version.clone(),
        description: format!(
            "{model_type} exported by {} {}; card inferred by wasml package",
            proto.producer_name, proto.producer_version
        ),
        model_type,
        task,
        labels,
        inputs,
        encoding: Encoding {
            input,
            output,
            features,
        },
        evaluation: None,
        onnx: OnnxFile {
            file: "model.onnx".into(),
            sha256: crate::sha256_hex(onnx),
        },
    })
}

fn op_types(graph: &pb::GraphProto) -> Vec<String> {
    let mut ops: Vec<String> = graph.node.iter().map(|n| n.op_type.clone()).collect();
    ops.sort();
    ops.dedup();
    ops
}

/// The node's attribute `name`.
pub(crate) fn attribute<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn strings(attribute: &pb::AttributeProto) -> Vec<String> {
    attribute
        .strings
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn class_labels(node: &pb::NodeProto) -> Option<Vec<String>> {
    // TreeEnsembleClassifier names integer labels `classlabels_int64s`, LinearClassifier
    // and SVMClassifier `classlabels_ints`.
    if let Some(labels) = attribute(node, "classlabels_strings").filter(|a| !a.strings.is_empty()) {
        return Some(strings(labels));
    }
    ["classlabels_int64s", "classlabels_ints"]
        .iter()
        .filter_map(|name| attribute(node, name))
        .find(|a| !a.ints.is_empty())
        .map(|a| a.ints.iter().map(i64::to_string).collect())
}

/// The labels of a classifier made of standard ops, as skl2onnx exports an MLP, k-NN or
/// naive Bayes model: its `label` output is (through casts and reshapes) an
/// `ArrayFeatureExtractor` picking from a constant list of classes, which are the labels.
fn looked_up_labels(graph: &pb::GraphProto) -> Option<Vec<String>> {
    const PASS_THROUGH: [&str; 5] = ["Cast", "Reshape", "Identity", "Flatten", "Squeeze"];
    let producer = |name: &str| {
        graph
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == name))
    };
    let mut node = producer("label")?;
    while PASS_THROUGH.contains(&node.op_type.as_str()) {
        node = producer(node.input.first()?)?;
    }
    if node.op_type != "ArrayFeatureExtractor" {
        return None;
    }
    let classes = graph
        .initializer
        .iter()
        .find(|t| Some(&t.name) == node.input.first())?;
    let labels = classes.values_as_text()?;
    (labels.len() >= 2).then_some(labels)
}

/// The output to read: a classifier's float one (skl2onnx: `probabilities`, next to an
/// integer or string `label`; with `zipmap`, the `ZipMap`'s output, which the runner reads
/// as the probabilities it maps), a regressor's only float one.
fn float_output(graph: &pb::GraphProto, task: Task) -> Option<String> {
    let floats: Vec<&pb::ValueInfoProto> = graph
        .output
        .iter()
        .filter(|o| matches!(elem_type(o), Some(DataType::Float | DataType::Double)))
        .collect();
    if task == Task::Classification {
        if let Some(named) = floats.iter().find(|o| o.name == "probabilities") {
            return Some(named.name.clone());
        }
        let zipped = graph
            .node
            .iter()
            .filter(|n| n.op_type == "ZipMap")
            .filter_map(|n| n.output.first())
            .find(|out| graph.output.iter().any(|o| &o.name == *out));
        if let Some(zipped) = zipped {
            return Some(zipped.clone());
        }
    }
    floats.last().map(|o| o.name.clone())
}

fn tensor_type(value: &pb::ValueInfoProto) -> Option<&pb::TensorType> {
    value.r#type.as_ref()?.tensor_type.as_ref()
}

fn elem_type(value: &pb::ValueInfoProto) -> Option<DataType> {
    DataType::try_from(tensor_type(value)?.elem_type).ok()
}

/// The second dimension of an input, when the graph gives it.
fn columns(value: &pb::ValueInfoProto) -> Option<i64> {
    let dims = &tensor_type(value)?.shape.as_ref()?.dim;
    match dims.as_slice() {
        [_] => Some(1),
        [_, second] => match second.value {
            Some(DimensionValue::DimValue(k)) => Some(k),
            _ => None,
        },
        _ => None,
    }
}

type InferredInputs = (Option<String>, Vec<FieldSpec>, Vec<String>);

fn inferred_inputs(
    graph: &pb::GraphProto,
    hints: &CardHints,
) -> Result<InferredInputs, PackageError> {
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(&i.name.as_str()))
        .collect();
    let cannot = |why: String| PackageError::CannotInfer(why);
    let number = |name: &str, integer: bool, required: bool| FieldSpec {
        name: name.to_string(),
        description: String::new(),
        required,
        kind: FieldKind::Number {
            min: None,
            max: None,
            integer,
        },
    };

    if let Some(names) = &hints.feature_names {
        let [input] = inputs.as_slice() else {
            return Err(cannot(format!(
                "--feature-names names the columns of one input tensor, but the graph has {} inputs",
                inputs.len()
            )));
        };
        if let Some(k) = columns(input).filter(|k| *k > 0 && *k as usize != names.len()) {
            return Err(cannot(format!(
                "--feature-names gives {} names, but the input {:?} has {k} columns",
                names.len(),
                input.name
            )));
        }
        let required = !imputes_nan(graph, &input.name);
        let fields = names.iter().map(|n| number(n, false, required)).collect();
        return Ok((Some(input.name.clone()), fields, names.clone()));
    }

    let mut fields = Vec::new();
    for input in &inputs {
        match columns(input) {
            Some(1) => {}
            Some(k) => {
                return Err(cannot(format!(
                    "the input {:?} is one [N, {k}] tensor; name its {k} columns with --feature-names",
                    input.name
                )));
            }
            None => {
                return Err(cannot(format!(
                    "the input {:?} has no fixed number of columns; name them with --feature-names",
                    input.name
                )));
            }
        }
        let required = !imputes_nan(graph, &input.name);
        let field = match elem_type(input) {
            Some(DataType::Float | DataType::Double | DataType::Float16) => {
                number(&input.name, false, required)
            }
            Some(DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8) => {
                number(&input.name, true, required)
            }
            Some(DataType::String) => FieldSpec {
                kind: FieldKind::Category {
                    values: categories(graph, &input.name).ok_or_else(|| {
                        cannot(format!(
                            "the string input {:?} feeds no OneHotEncoder, CategoryMapper or LabelEncoder listing its categories; pass a card",
                            input.name
                        ))
                    })?,
                },
                ..number(&input.name, false, true)
            },
            other => {
                return Err(cannot(format!(
                    "the input {:?} has type {other:?}; inputs must be numbers or strings",
                    input.name
                )));
            }
        };
        fields.push(field);
    }
    Ok((None, fields, Vec::new()))
}

/// Whether the value `name` reaches an `Imputer` that replaces NaN, through casts and
/// concatenations only (so every element of it is imputed).
fn imputes_nan(graph: &pb::GraphProto, name: &str) -> bool {
    graph
        .node
        .iter()
        .filter(|n| n.input.iter().any(|i| i == name))
        .any(|n| match n.op_type.as_str() {
            "Imputer" => attribute(n, "replaced_value_float").is_some_and(|a| a.f.is_nan()),
            "Cast" | "Concat" | "Identity" => n.output.iter().any(|o| imputes_nan(graph, o)),
            _ => false,
        })
}

/// The categories the encoder reading `input` lists (a `LabelEncoder`'s keys), through ops
/// that only select or reshape it (skl2onnx puts a `Gather` of the column before a
/// `ColumnTransformer`'s `OneHotEncoder`).
fn categories(graph: &pb::GraphProto, input: &str) -> Option<Vec<String>> {
    graph
        .node
        .iter()
        .filter(|n| n.input.first().is_some_and(|i| i == input))
        .find_map(|n| {
            let listing = match n.op_type.as_str() {
                "OneHotEncoder" | "CategoryMapper" => "cats_strings",
                "LabelEncoder" => "keys_strings",
                "Gather" | "Identity" | "Reshape" | "Squeeze" | "Flatten" => {
                    return n.output.iter().find_map(|o| categories(graph, o));
                }
                _ => return None,
            };
            attribute(n, listing).map(strings).filter(|v| !v.is_empty())
        })
}

/// `TreeEnsembleClassifier` → `tree-ensemble-classifier`.
fn kebab(op: &str) -> String {
    let mut out = String::new();
    for (i, c) in op.char_indices() {
        let next_lower = op[i + c.len_utf8()..]
            .chars()
            .next()
            .is_some_and(char::is_lowercase);
        let prev_lower = op[..i].chars().last().is_some_and(char::is_lowercase);
        if c.is_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_become_kebab_case() {
        assert_eq!(kebab("TreeEnsembleClassifier"), "tree-ensemble-classifier");
        assert_eq!(kebab("SVMRegressor"), "svm-regressor");
        assert_eq!(kebab("LinearRegressor"), "linear-regressor");
    }
}
