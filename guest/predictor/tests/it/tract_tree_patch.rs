//! Our tract patch (vendor/README.md) against onnxruntime: a TreeEnsembleClassifier using
//! every ONNX branch mode, inputs on and around every threshold. Unpatched tract 0.23.9
//! read BRANCH_GTE nodes as leaves and fails this test.

use tract_onnx::prelude::*;

#[test]
fn every_branch_mode_matches_onnxruntime() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tree_modes.json")).unwrap())
            .unwrap();
    let inputs: Vec<Vec<f32>> = serde_json::from_value(fixture["inputs"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["scores"].clone()).unwrap();

    let plan = tract_onnx::onnx()
        .model_for_path(dir.join("tree_modes.onnx"))
        .unwrap()
        .with_input_fact(0, f32::fact([inputs.len(), 2]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let flat: Vec<f32> = inputs.concat();
    let input = Tensor::from_shape(&[inputs.len(), 2], &flat).unwrap();
    let outputs = plan.run(tvec!(input.into())).unwrap();
    let scores = outputs[0].to_plain_array_view::<f32>().unwrap();
    for (i, (row, want)) in scores.outer_iter().zip(&expected).enumerate() {
        let got: Vec<f32> = row.iter().copied().collect();
        assert_eq!(&got, want, "input {:?}", inputs[i]);
    }
}
