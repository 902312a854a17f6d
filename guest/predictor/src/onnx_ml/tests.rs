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

fn floats(name: &str, values: &[f32]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: values.to_vec(),
        ..pb::AttributeProto::default()
    }
}

fn float(name: &str, value: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: value,
        ..pb::AttributeProto::default()
    }
}

/// Loads `model` with the added operators, optimises it and runs it on `rows`.
fn run(model: &pb::ModelProto, rows: [[f32; 3]; 2]) -> TractResult<Vec<f32>> {
    let input = tract_ndarray::arr2(&rows).into_tensor();
    let plan = super::onnx()
        .model_for_proto_model(model)?
        .into_optimized()?
        .into_runnable()?;
    let output = plan.run(tvec!(input.into()))?;
    Ok(output[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect())
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
    let ints = pb::AttributeProto {
        name: "imputed_value_int64s".into(),
        r#type: AttributeType::Ints as i32,
        ints: vec![1, 2, 3],
        ..pb::AttributeProto::default()
    };
    let error = run(&one_node("Imputer", vec![ints], 3), [[0.0; 3]; 2]).unwrap_err();
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
