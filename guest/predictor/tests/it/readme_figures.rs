//! The figures table in the README is the one the training script wrote from the model
//! cards: nobody edits a figure by hand and nobody forgets to update it after retraining.

use wasml_predictor::model_dir::bundled;

#[test]
fn readme_figures_match_the_model_cards() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let start = readme
        .find("<!-- model-figures:start")
        .expect("figures block start");
    let end = readme
        .find("<!-- model-figures:end -->")
        .expect("figures block end");
    let block = &readme[start..end];

    for version in ["v1", "v2"] {
        let card: serde_json::Value =
            serde_json::from_str(&bundled("bank-marketing", version).card_json().unwrap()).unwrap();
        let e = &card["evaluation"];
        let r = &e["repeated_splits"];
        let figure = |v: &serde_json::Value| format!("{:.4}", v.as_f64().unwrap());
        let expected = format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ± {} | {} ± {} |",
            card["version"].as_str().unwrap(),
            card["model_type"].as_str().unwrap(),
            figure(&e["accuracy"]),
            figure(&e["precision"]),
            figure(&e["recall"]),
            figure(&e["f1_score"]),
            figure(&e["roc_auc"]),
            figure(&e["log_loss"]),
            figure(&r["accuracy_mean"]),
            figure(&r["accuracy_std"]),
            figure(&r["roc_auc_mean"]),
            figure(&r["roc_auc_std"]),
        );
        assert!(
            block.lines().any(|line| line == expected),
            "README lacks\n{expected}\nin\n{block}"
        );
    }
}
