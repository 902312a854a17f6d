//! Each added operator on a one-node graph, against values worked out by hand from the
//! ONNX-ML specification. (The own-model end-to-end tests compare whole scikit-learn
//! pipelines with onnxruntime, in wasm.)

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::{self, type_proto};
use tract_onnx::prelude::*;

/// `op` from ai.onnx.ml with `attributes`, reading `X` (`[rows, columns]` floats) into `Y`.
fn one_node(op: &str, attributes: Vec<pb::AttributeProto>, columns: i64) -> pb::ModelProto {
    let dims = [2, columns].map(|d| Dimension {
        value: Some(dimension::Value::DimValue(d)),
        ..Dimension::default()
    });
    let x = pb::ValueInfoProto {
        name: "X".into(),
        r#type: Some(pb::TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim: dims.into() }),
            })),
            ..pb::TypeProto::default()
        }),
        ..pb::ValueInfoProto::default()
    };
    let node = pb::NodeProto {
        input: vec!["X".into()],
        output: vec!["Y".into()],
        name: op.into(),
        op_type: op.into(),
        domain: "ai.onnx.ml".into(),
        attribute: attributes,
        ..pb::NodeProto::default()
    };
    let opsets = [("", 15), ("ai.onnx.ml", 3)].map(|(domain, version)| pb::OperatorSetIdProto {
        domain: domain.into(),
        version,
    });
    pb::ModelProto {
        ir_version: 8,
        opset_import: opsets.into(),
        graph: Some(pb::GraphProto {
            node: vec![node],
            input: vec![x],
            output: vec![pb::ValueInfoProto {
                name: "Y".into(),
                ..pb::ValueInfoProto::default()
            }],
            ..pb::GraphProto::default()
        }),
        ..pb::ModelProto::default()
    }
}

/// An attribute of `kind`, its value set by `fill`.
fn attribute(
    name: &str,
    kind: AttributeType,
    fill: impl FnOnce(&mut pb::AttributeProto),
) -> pb::AttributeProto {
    let mut attribute = pb::AttributeProto {
        name: name.into(),
        r#type: kind as i32,
        ..pb::AttributeProto::default()
    };
    fill(&mut attribute);
    attribute
}

fn floats(name: &str, values: &[f32]) -> pb::AttributeProto {
    attribute(name, AttributeType::Floats, |a| a.floats = values.to_vec())
}

fn float(name: &str, value: f32) -> pb::AttributeProto {
    attribute(name, AttributeType::Float, |a| a.f = value)
}

fn ints(name: &str, values: &[i64]) -> pb::AttributeProto {
    attribute(name, AttributeType::Ints, |a| a.ints = values.to_vec())
}

fn one_int(name: &str, value: i64) -> pb::AttributeProto {
    attribute(name, AttributeType::Int, |a| a.i = value)
}

fn text(name: &str, values: &[&str]) -> pb::AttributeProto {
    let values = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    attribute(name, AttributeType::Strings, |a| a.strings = values)
}

fn one_text(name: &str, value: &str) -> pb::AttributeProto {
    attribute(name, AttributeType::String, |a| {
        a.s = value.as_bytes().to_vec()
    })
}

/// `model` loaded with the added operators, optimised and made runnable.
fn plan(model: &pb::ModelProto) -> TractResult<std::sync::Arc<TypedRunnableModel>> {
    super::onnx()
        .model_for_proto_model(model)?
        .into_optimized()?
        .into_runnable()
}

/// `model`'s first output on `rows`.
fn first_output(model: &pb::ModelProto, rows: [[f32; 3]; 2]) -> TractResult<TValue> {
    let input = tract_ndarray::arr2(&rows).into_tensor();
    Ok(plan(model)?.run(tvec!(input.into()))?.remove(0))
}

/// A tensor's values, in order.
fn values<T: Datum + Copy>(tensor: &TValue) -> Vec<T> {
    let view = tensor.to_plain_array_view::<T>().unwrap();
    view.iter().copied().collect()
}

/// `model`'s first output on `rows`, as f32 values.
fn run(model: &pb::ModelProto, rows: [[f32; 3]; 2]) -> TractResult<Vec<f32>> {
    Ok(values(&first_output(model, rows)?))
}

#[test]
fn scaler_subtracts_the_offset_then_multiplies_by_the_scale_per_feature() {
    let model = one_node(
        "Scaler",
        vec![
            floats("offset", &[1.0, 2.0, 3.0]),
            floats("scale", &[2.0, 0.5, -1.0]),
        ],
        3,
    );
    let y = run(&model, [[1.0, 2.0, 3.0], [3.0, 6.0, 1.0]]).unwrap();
    assert_eq!(y, [0.0, 0.0, 0.0, 4.0, 2.0, 2.0]);

    // One offset and one scale apply to every feature.
    let model = one_node(
        "Scaler",
        vec![floats("offset", &[1.0]), floats("scale", &[3.0])],
        3,
    );
    let y = run(&model, [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]).unwrap();
    assert_eq!(y, [0.0, 3.0, 6.0, -3.0, -3.0, -3.0]);
}

#[test]
fn binarizer_is_one_strictly_above_the_threshold() {
    let model = one_node("Binarizer", vec![float("threshold", 0.5)], 3);
    let y = run(&model, [[0.2, 0.5, 0.7], [-1.0, 0.5001, 9.0]]).unwrap();
    assert_eq!(y, [0.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
}

#[test]
fn imputer_replaces_nan_or_the_given_value_with_each_features_imputed_value() {
    let model = one_node(
        "Imputer",
        vec![
            floats("imputed_value_floats", &[10.0, 20.0, 30.0]),
            float("replaced_value_float", f32::NAN),
        ],
        3,
    );
    let y = run(&model, [[f32::NAN, 2.0, f32::NAN], [1.0, f32::NAN, 3.0]]).unwrap();
    assert_eq!(y, [10.0, 2.0, 30.0, 1.0, 20.0, 3.0]);

    let model = one_node(
        "Imputer",
        vec![
            floats("imputed_value_floats", &[5.0]),
            float("replaced_value_float", 0.0),
        ],
        3,
    );
    let y = run(&model, [[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]).unwrap();
    assert_eq!(y, [5.0, 1.0, 5.0, 2.0, 5.0, 3.0]);
}

#[test]
fn integer_imputation_is_refused_by_name() {
    let integers = ints("imputed_value_int64s", &[1, 2, 3]);
    let error = run(&one_node("Imputer", vec![integers], 3), [[0.0; 3]; 2]).unwrap_err();
    assert!(
        format!("{error:#}").contains("Unimplemented(Imputer)"),
        "{error:#}"
    );
}

#[test]
fn zipmap_passes_the_probabilities_through() {
    let y = run(
        &one_node("ZipMap", vec![], 3),
        [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]],
    )
    .unwrap();
    assert_eq!(y, [0.2, 0.3, 0.5, 1.0, 0.0, 0.0]);
}

/// Two trees: `x0 <= 0.5 ? 1 : 3`, and a lone leaf worth 10; then `aggregate` and a base
/// value of 0.5.
fn two_trees(aggregate: &str) -> pb::ModelProto {
    one_node(
        "TreeEnsembleRegressor",
        vec![
            one_int("n_targets", 1),
            ints("nodes_treeids", &[0, 0, 0, 1]),
            ints("nodes_nodeids", &[0, 1, 2, 0]),
            ints("nodes_featureids", &[0, 0, 0, 0]),
            ints("nodes_truenodeids", &[1, 0, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 0, 0]),
            floats("nodes_values", &[0.5, 0.0, 0.0, 0.0]),
            text("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF", "LEAF"]),
            ints("target_treeids", &[0, 0, 1]),
            ints("target_nodeids", &[1, 2, 0]),
            ints("target_ids", &[0, 0, 0]),
            floats("target_weights", &[1.0, 3.0, 10.0]),
            floats("base_values", &[0.5]),
            one_text("aggregate_function", aggregate),
        ],
        3,
    )
}

#[test]
fn tree_ensemble_regressor_sums_or_averages_its_trees_plus_the_base_value() {
    let rows = [[0.2, 7.0, 7.0], [0.9, 7.0, 7.0]];
    assert_eq!(run(&two_trees("SUM"), rows).unwrap(), [11.5, 13.5]);
    assert_eq!(run(&two_trees("AVERAGE"), rows).unwrap(), [6.0, 7.0]);
}

/// `model` with its input declared as strings, run on `rows`.
fn run_strings(mut model: pb::ModelProto, rows: [&str; 2]) -> TValue {
    let input = &mut model.graph.as_mut().unwrap().input[0];
    let Some(type_proto::Value::TensorType(tensor)) = input.r#type.as_mut().unwrap().value.as_mut()
    else {
        unreachable!("one_node declares a tensor")
    };
    tensor.elem_type = DataType::String as i32;
    let rows = tract_ndarray::arr2(&rows.map(|r| [r.to_string()])).into_tensor();
    let runnable = plan(&model).unwrap();
    runnable.run(tvec!(rows.into())).unwrap().remove(0)
}

#[test]
fn one_hot_encoder_sets_the_column_of_each_category_and_none_for_an_unknown_one() {
    let model = one_node(
        "OneHotEncoder",
        vec![text("cats_strings", &["a", "b", "c"])],
        1,
    );
    let output = run_strings(model, ["c", ""]);
    assert_eq!(output.shape(), [2, 1, 3]);
    assert_eq!(values::<f32>(&output), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn label_encoder_maps_each_key_to_its_value_and_an_unknown_one_to_the_default() {
    let model = one_node(
        "LabelEncoder",
        vec![
            text("keys_strings", &["low", "high"]),
            ints("values_int64s", &[4, 9]),
            one_int("default_int64", -7),
        ],
        1,
    );
    let output = run_strings(model, ["high", "other"]);
    assert_eq!(values::<i64>(&output), [9, -7]);
}

/// `one_node` for a classifier: the node writes `label` and the scores `Y`; the graph
/// outputs `outputs` (`Y`, or `label` too).
fn classifier_node(
    op: &str,
    attributes: Vec<pb::AttributeProto>,
    outputs: &[&str],
) -> pb::ModelProto {
    let mut model = one_node(op, attributes, 3);
    let graph = model.graph.as_mut().unwrap();
    graph.node[0].output = vec!["label".into(), "Y".into()];
    graph.output = outputs
        .iter()
        .map(|name| pb::ValueInfoProto {
            name: name.to_string(),
            ..pb::ValueInfoProto::default()
        })
        .collect();
    model
}

/// A binary booster as skl2onnx writes one: one tree, `x0 <= 0.5 ? -1 : 2`, scoring the
/// positive class only, two base values (the second applies), logistic.
fn binary_booster(outputs: &[&str]) -> pb::ModelProto {
    classifier_node(
        "TreeEnsembleClassifier",
        vec![
            ints("classlabels_int64s", &[0, 1]),
            ints("nodes_treeids", &[0, 0, 0]),
            ints("nodes_nodeids", &[0, 1, 2]),
            ints("nodes_featureids", &[0, 0, 0]),
            ints("nodes_truenodeids", &[1, 0, 0]),
            ints("nodes_falsenodeids", &[2, 0, 0]),
            floats("nodes_values", &[0.5, 0.0, 0.0]),
            text("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF"]),
            ints("class_treeids", &[0, 0]),
            ints("class_nodeids", &[1, 2]),
            ints("class_ids", &[0, 0]),
            floats("class_weights", &[-1.0, 2.0]),
            floats("base_values", &[9.0, 0.5]),
            one_text("post_transform", "LOGISTIC"),
        ],
        outputs,
    )
}

fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn binary_tree_classifier_adds_the_second_base_value_and_scores_both_classes() {
    let rows = [[0.2, 7.0, 7.0], [0.9, 7.0, 7.0]];
    let y = run(&binary_booster(&["Y"]), rows).unwrap();
    let (low, high) = (logistic(-1.0 + 0.5), logistic(2.0 + 0.5));
    let expected = [1.0 - low, low, 1.0 - high, high];
    for (got, expected) in y.iter().zip(expected) {
        assert!((got - expected).abs() < 1e-6, "{y:?} vs {expected}");
    }

    // The label output names each row's more probable class.
    let labels = first_output(&binary_booster(&["label"]), rows).unwrap();
    assert_eq!(values::<i64>(&labels), [0, 1]);
}

/// Two support vectors, `e0` and `e1`, with coefficients 2 and -1 and rho 0.5.
fn two_vector_regressor(kernel: &str, gamma: f32) -> pb::ModelProto {
    one_node(
        "SVMRegressor",
        vec![
            one_int("n_supports", 2),
            floats("support_vectors", &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            floats("coefficients", &[2.0, -1.0]),
            floats("rho", &[0.5]),
            one_text("kernel_type", kernel),
            floats("kernel_params", &[gamma, 0.0, 3.0]),
        ],
        3,
    )
}

#[test]
fn svm_regressor_weighs_the_kernel_against_each_support_vector() {
    let y = run(
        &two_vector_regressor("LINEAR", 0.0),
        [[1.0, 2.0, 3.0], [3.0, 1.0, 0.0]],
    )
    .unwrap();
    assert_eq!(y, [2.0 - 2.0 + 0.5, 6.0 - 1.0 + 0.5]);

    // RBF: exp(-gamma |x - v|²).
    let y = run(
        &two_vector_regressor("RBF", 0.5),
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    )
    .unwrap();
    let far = (-1.0f32).exp(); // |e0 - e1|² = 2
    let expected = [2.0 - far + 0.5, 2.0 * far - 1.0 + 0.5];
    for (got, expected) in y.iter().zip(expected) {
        assert!((got - expected).abs() < 1e-6, "{y:?}");
    }

    // Without support vectors: x · coefficients + rho.
    let linear = one_node(
        "SVMRegressor",
        vec![
            floats("coefficients", &[1.0, 2.0, 3.0]),
            floats("rho", &[1.0]),
        ],
        3,
    );
    assert_eq!(
        run(&linear, [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).unwrap(),
        [7.0, 1.0]
    );
}

/// A binary SVC on `e0` (class 0) and `e1` (class 1), linear kernel: the decision value is
/// `x0 - x1`; `prob_a` -2 makes P(class 0) = 1 / (1 + exp(-2 d)).
fn binary_svc(extra: Vec<pb::AttributeProto>) -> pb::ModelProto {
    let mut attributes = vec![
        ints("classlabels_ints", &[0, 1]),
        ints("vectors_per_class", &[1, 1]),
        floats("support_vectors", &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        floats("coefficients", &[1.0, -1.0]),
        floats("rho", &[0.0]),
        one_text("kernel_type", "LINEAR"),
    ];
    attributes.extend(extra);
    classifier_node("SVMClassifier", attributes, &["Y"])
}

#[test]
fn svm_classifier_turns_decision_values_into_probabilities() {
    let model = binary_svc(vec![floats("prob_a", &[-2.0]), floats("prob_b", &[0.0])]);
    let y = run(&model, [[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]]).unwrap();
    // Two classes couple to the pair's own probability (to the solver's tolerance).
    let (first, second) = (logistic(2.0), logistic(-1.0));
    for (got, expected) in y.iter().zip([first, 1.0 - first, second, 1.0 - second]) {
        assert!((got - expected).abs() < 5e-3, "{y:?}");
    }
    assert!((y[0] + y[1] - 1.0).abs() < 1e-6 && (y[2] + y[3] - 1.0).abs() < 1e-6);

    // Without probabilities: the margins [-d, d].
    let y = run(&binary_svc(vec![]), [[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]]).unwrap();
    assert_eq!(y, [-1.0, 1.0, 0.5, -0.5]);
}

#[test]
fn what_the_classifiers_cannot_run_is_refused_by_name() {
    let three_classes = classifier_node(
        "SVMClassifier",
        vec![
            ints("classlabels_ints", &[0, 1, 2]),
            ints("vectors_per_class", &[1, 1, 1]),
            floats(
                "support_vectors",
                &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            ),
            floats("coefficients", &[1.0; 6]),
            floats("rho", &[0.0; 3]),
        ],
        &["Y"],
    );
    let softmax_zero = binary_svc(vec![one_text("post_transform", "SOFTMAX_ZERO")]);
    for (model, cause) in [
        (
            three_classes,
            "Unimplemented(SVMClassifier) without probabilities",
        ),
        (
            softmax_zero,
            "Unimplemented(SVMClassifier) with post_transform SOFTMAX_ZERO",
        ),
    ] {
        let error = run(&model, [[0.0; 3]; 2]).unwrap_err();
        assert!(format!("{error:#}").contains(cause), "{error:#}");
    }
}

/// `ArrayFeatureExtractor` picking columns `indices` (an int64 constant of `shape`) of `X`.
fn array_feature_extractor(indices: &[i64], shape: &[i64]) -> pb::ModelProto {
    let mut model = one_node("ArrayFeatureExtractor", vec![], 3);
    let graph = model.graph.as_mut().unwrap();
    graph.node[0].input.push("K".into());
    graph.initializer.push(pb::TensorProto {
        name: "K".into(),
        dims: shape.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: indices.to_vec(),
        ..pb::TensorProto::default()
    });
    model
}

#[test]
fn array_feature_extractor_picks_columns_into_one_axis_as_onnxruntime_does() {
    let rows = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    // A scalar index (CalibratedClassifierCV) keeps the column axis: [2, 1].
    let output = first_output(&array_feature_extractor(&[2], &[]), rows).unwrap();
    assert_eq!(output.shape(), [2, 1]);
    assert_eq!(values::<f32>(&output), [3.0, 6.0]);
    // Indices of any shape are read in order: [2, 4].
    let picked = run(&array_feature_extractor(&[0, 2, 1, 1], &[2, 2]), rows).unwrap();
    assert_eq!(picked, [1.0, 3.0, 2.0, 2.0, 4.0, 6.0, 5.0, 5.0]);
}
