//! Serving your own models: scikit-learn models trained during the test run
//! (`tests/byom/models.py`, data sets that ship with scikit-learn: a multi-class logistic
//! regression on wine, a random forest on iris behind a `ColumnTransformer`, a linear
//! regression on diabetes, and pipelines whose scaler, binarizer or imputer skl2onnx exports
//! as ONNX-ML operators wasml adds to tract — the imputed one with values left out),
//! exported with skl2onnx, packaged with `wasml package` (the card
//! inferred from the graph), served by the release host, and compared with onnxruntime
//! within 1e-5. And the models a user gets wrong — not ONNX, an operator mode wasml cannot run, a
//! card that contradicts the graph, labels missing — refused with the cause named, by
//! `wasml package` and by the admin intake alike, with nothing written or registered.
//! Packaged with `--world http`, the same models are served by `wasml-host --wasi-http`,
//! as Spin would serve them.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, eventually, start_host};
use wasml_test_support::{http, workspace_binary};

use super::byom::{
    Trained, VERSION, largest_difference, outputs, package, python, stderr, stdout, train, wasml,
};

const TOKEN: &str = "byom-admin-token";

/// Validates each card (argv[2:]) against the schema (argv[1]) with `jsonschema`.
const VALIDATE: &str = "import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
for path in sys.argv[2:]:
    jsonschema.validate(json.load(open(path)), schema)
    print('valid', path)";

/// The models, trained once per test process into the target's temp directory.
fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| train("models.py", "byom-models", "models.json"))
}

#[test]
fn own_models_are_packaged_served_and_agree_with_onnxruntime() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "own-models");
    let models_dir = scratch.path().join("models");
    let mut cards = Vec::new();
    for model in &trained.models {
        let name = model["name"].as_str().unwrap();
        let onnx = trained.dir.join(format!("{name}.onnx"));
        let dir = models_dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let wasm = dir.join(format!("{VERSION}.wasm"));
        let card = scratch.path().join(format!("{name}.card.json"));
        cards.push(card.clone());
        let packaged = package(model, &onnx, &wasm, &["--card-out", card.to_str().unwrap()]);
        assert!(packaged.status.success(), "{name}: {}", stderr(&packaged));
        assert!(stdout(&packaged).contains(&format!("packaged {name} {VERSION}")));

        // What the package says about itself is what the graph says.
        let inspected = wasml(&["inspect", "--json", wasm.to_str().unwrap()]);
        assert!(inspected.status.success(), "{}", stderr(&inspected));
        let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
        let card = &inspected["card"];
        assert_eq!(card["task"], model["task"], "{name}");
        let labels = card["labels"].as_array().cloned().unwrap_or_default();
        assert_eq!(Value::Array(labels), model["labels"], "{name}");
        assert_eq!(inspected["manifest"]["name"], name);
        // A graph that imputes its inputs takes them as optional.
        let optional = model["optional"].as_bool().unwrap();
        for field in card["inputs"].as_array().unwrap() {
            assert_eq!(field["required"], !optional, "{name}: {field}");
        }
        assert!(
            inspected["manifest"]["runner_sha256"]
                .as_str()
                .unwrap()
                .len()
                == 64
        );
    }
    // The inferred cards, and the bundled model's, are what the card's JSON Schema says.
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest/models/bank-marketing");
    cards.extend(["v1", "v2"].map(|v| bundled.join(v).join("card.json")));
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/model-card.schema.json"
    );
    let validated = Command::new(python())
        .args(["-c", VALIDATE, schema])
        .args(&cards)
        .output()
        .unwrap();
    assert!(validated.status.success(), "{}", stderr(&validated));
    assert_eq!(stdout(&validated).lines().count(), cards.len());

    // The forest also goes in as a bare ONNX file: the host packages it itself.
    std::fs::remove_file(models_dir.join(format!("iris/{VERSION}.wasm"))).unwrap();
    std::fs::copy(
        trained.dir.join("iris.onnx"),
        models_dir.join(format!("iris/{VERSION}.onnx")),
    )
    .unwrap();

    let host = start_host(
        scratch.path(),
        &["--models-dir", models_dir.to_str().unwrap()],
    );
    for model in &trained.models {
        let name = model["name"].as_str().unwrap();
        let set = trained.conformance_set(name);
        let cases = set["cases"].as_array().unwrap();
        let rows: Vec<&Value> = cases.iter().map(|c| &c["input"]).collect();
        let body = json!({ "instances": rows }).to_string();
        let (status, answer) = http::json(
            host.address,
            "POST",
            &format!("/models/{name}/predict"),
            &body,
        )
        .unwrap();
        assert_eq!(status, 200, "{name}: {answer}");
        let largest = largest_difference(cases, &answer["predictions"]);
        assert!(
            largest <= 1e-5,
            "{name}: largest difference {largest:e} from onnxruntime"
        );

        // The Open Inference Protocol speaks the model's task too.
        let metadata = http::json(host.address, "GET", &format!("/v2/models/{name}"), "")
            .unwrap()
            .1;
        let output_names: Vec<&str> = metadata["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        let expected_outputs: &[&str] = match model["task"].as_str().unwrap() {
            "regression" => &["value"],
            _ => &["label", "class_index", "confidence", "probabilities"],
        };
        assert_eq!(output_names, expected_outputs, "{name}");
    }

    // A one-row request's event carries the regressor's value.
    let row = trained.conformance_set("diabetes")["cases"][0]["input"].to_string();
    let (status, answer) =
        http::json(host.address, "POST", "/models/diabetes/predict", &row).unwrap();
    assert_eq!(status, 200, "{answer}");
    let value = answer["value"].as_f64().unwrap();
    let events = scratch.path().join("events");
    let logged = eventually(Duration::from_secs(30), || {
        event_lines(&events)
            .iter()
            .any(|event| event["model"] == "diabetes" && event["value"].as_f64() == Some(value))
    });
    assert!(logged, "no event with the predicted value {value}");

    let status = http::json(host.address, "GET", "/status", "").unwrap().1;
    for model in &trained.models {
        let served = status["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == model["name"])
            .unwrap_or_else(|| panic!("{} in /status: {status}", model["name"]));
        assert_eq!(served["task"], model["task"]);
    }
    let metrics = http::request(host.address, "GET", "/metrics", "text/plain", b"")
        .unwrap()
        .body;
    assert!(metrics.contains("ml_prediction_value_count{model=\"diabetes\",version=\"1.0.0\"}"));
    assert!(metrics.contains(
        "ml_predictions_by_class_total{model=\"wine\",prediction_class=\"2\",version=\"1.0.0\"}"
    ));
    // Every model on one runner: one compile (or cache load) of the runner, not one each.
    let compiles = host
        .log()
        .iter()
        .filter(|l| l.contains("compiling component"))
        .count();
    assert!(
        compiles <= 1,
        "{compiles} compiles for {} models on one runner",
        trained.models.len()
    );
}

/// Every event in the daily NDJSON files under `dir`.
fn event_lines(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "ndjson"))
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// A model a user gets wrong, and the cause both refusals must name.
struct BadModel {
    label: &'static str,
    onnx: Vec<u8>,
    card: Option<Value>,
    cause: &'static str,
}

fn bad_models(trained: &Trained, scratch: &Path) -> Vec<BadModel> {
    let wine_onnx = std::fs::read(trained.dir.join("wine.onnx")).unwrap();
    // The card the graph implies, to break in two ways.
    let (_, card) = trained.package_inferred("wine", scratch);
    let mut two_labels = card.clone();
    two_labels["labels"] = json!(["red", "white"]);
    let mut no_labels = card.clone();
    no_labels["labels"] = json!([]);
    // The same card for another graph with the same inputs: the packager fills its sha256.
    let mut any_graph = card;
    any_graph["onnx"] = json!({"file": "model.onnx"});
    vec![
        BadModel {
            label: "not ONNX",
            onnx: b"{\"this is\": \"a JSON file\"}".to_vec(),
            card: None,
            cause: "not an ONNX model",
        },
        BadModel {
            label: "an operator mode wasml cannot run",
            onnx: std::fs::read(trained.dir.join("svm.onnx")).unwrap(),
            card: Some(any_graph),
            cause: "unsupported ONNX operator SVMClassifier (node \"SVMc\") without probabilities for 3 classes",
        },
        BadModel {
            label: "a card that contradicts the graph",
            onnx: wine_onnx.clone(),
            card: Some(two_labels),
            cause: "expected [1, 2]",
        },
        BadModel {
            label: "labels missing",
            onnx: wine_onnx,
            card: Some(no_labels),
            cause: "a classifier needs at least two labels",
        },
    ]
}

/// The admin API of a host started with `--admin-token TOKEN`.
struct AdminApi {
    address: std::net::SocketAddr,
    auth: String,
}

impl AdminApi {
    fn of(host: &wasml_test_support::process::Process) -> Self {
        Self {
            address: host.address,
            auth: format!("Bearer {TOKEN}"),
        }
    }

    /// `method path` with the token and `body` of `content_type`.
    fn send(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> http::Response {
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", content_type),
        ];
        http::request_with(self.address, method, path, &headers, body).unwrap()
    }
}

#[test]
fn bad_models_are_refused_with_their_cause_and_nothing_is_registered() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "bad-models");
    let bad = bad_models(trained, scratch.path());
    let host = start_host(scratch.path(), &["--admin-token", TOKEN]);
    let admin = AdminApi::of(&host);
    // Described as wine with no column names: the card is given, or inferred (and the
    // file turns out to be no ONNX model).
    let mut described = trained.model("wine").clone();
    described["feature_names"] = Value::Null;

    for (i, model) in bad.iter().enumerate() {
        let onnx = scratch.path().join(format!("bad-{i}.onnx"));
        std::fs::write(&onnx, &model.onnx).unwrap();
        let out = scratch.path().join(format!("bad-{i}.wasm"));
        let card = scratch.path().join(format!("bad-{i}.card.json"));
        let mut extra = Vec::new();
        if let Some(value) = &model.card {
            std::fs::write(&card, value.to_string()).unwrap();
            extra = vec!["--card", card.to_str().unwrap()];
        }
        let refused = package(&described, &onnx, &out, &extra);
        assert!(!refused.status.success(), "{}: packaged", model.label);
        assert!(
            stderr(&refused).contains(model.cause),
            "{}: {}",
            model.label,
            stderr(&refused)
        );
        assert!(!out.exists(), "{}: a file was written", model.label);

        // The same model through the admin API: the same cause, nothing registered.
        let name = format!("bad-{i}");
        let base = format!("/admin/models/{name}/versions/{VERSION}");
        if let Some(value) = &model.card {
            let card = value.to_string();
            let kept = admin.send(
                "PUT",
                &format!("{base}/card"),
                "application/json",
                card.as_bytes(),
            );
            assert_eq!(kept.status, 200, "{}", kept.body);
        }
        let upload = admin.send("PUT", &base, "application/octet-stream", &model.onnx);
        assert_eq!(upload.status, 422, "{}: {}", model.label, upload.body);
        let error = &upload.json()["error"];
        assert_eq!(error["code"], "unprocessable_model");
        assert!(
            error["message"].as_str().unwrap().contains(model.cause),
            "{}: {error}",
            model.label
        );
        let listed = admin.send("GET", "/admin/models", "application/json", b"");
        assert!(
            !listed.body.contains(&name),
            "{}: registered: {}",
            model.label,
            listed.body
        );
    }
}

#[test]
fn an_onnx_upload_is_packaged_gated_and_served() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "onnx-upload");
    let host = start_host(scratch.path(), &["--admin-token", TOKEN]);
    let admin = AdminApi::of(&host);
    let base = format!("/admin/models/diabetes/versions/{VERSION}");
    let (_, card) = trained.package_inferred("diabetes", scratch.path());
    let kept = admin.send(
        "PUT",
        &format!("{base}/card"),
        "application/json",
        card.to_string().as_bytes(),
    );
    assert_eq!(kept.status, 200, "{}", kept.body);
    let onnx = std::fs::read(trained.dir.join("diabetes.onnx")).unwrap();
    let upload = admin.send("PUT", &base, "application/octet-stream", &onnx);
    assert_eq!(upload.status, 202, "{}", upload.body);
    let ready = eventually(Duration::from_secs(120), || {
        admin.send("GET", &base, "application/json", b"").json()["state"] == "ready"
    });
    assert!(ready, "the uploaded ONNX model never became ready");
    let activated = admin.send("POST", &format!("{base}/activate"), "application/json", b"");
    assert_eq!(activated.status, 200, "{}", activated.body);
    let row = trained.conformance_set("diabetes")["cases"][0].clone();
    let (status, answer) = http::json(
        host.address,
        "POST",
        "/models/diabetes/predict",
        &row["input"].to_string(),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let (got, expected) = (outputs(&answer)[0], outputs(&row)[0]);
    assert!(
        (got - expected).abs() <= 1e-5 * expected.abs().max(1.0),
        "{got} vs onnxruntime's {expected}"
    );
}

#[test]
fn wasml_deploy_uploads_gates_and_activates_a_package() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "deploy");
    let host = start_host(scratch.path(), &["--admin-token", TOKEN]);
    let (wasm, _) = trained.package_inferred("wine", scratch.path());
    let set = trained.dir.join("wine.conformance.json");
    let url = format!("http://{}", host.address);
    let deploy = |extra: &[&str]| {
        let mut args = vec![
            "deploy",
            wasm.to_str().unwrap(),
            "--host",
            &url,
            "--token",
            TOKEN,
        ];
        args.extend(extra);
        wasml(&args)
    };
    let deployed = deploy(&["--conformance", set.to_str().unwrap(), "--activate"]);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    let said = stdout(&deployed);
    assert!(said.contains("conformance: passed"), "{said}");
    assert!(said.contains("wine 1.0.0 is active"), "{said}");
    let case = trained.conformance_set("wine")["cases"][0].clone();
    let (status, answer) = http::json(
        host.address,
        "POST",
        "/models/wine/predict",
        &case["input"].to_string(),
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(outputs(&answer).len(), 3);

    // A second deploy of the same version is refused, and says why.
    let again = deploy(&[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("409"), "{}", stderr(&again));
}

#[test]
fn a_copied_host_binary_still_serves_the_bundled_model() {
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "copied-host");
    let copy = scratch.path().join("wasml-host");
    std::fs::copy(workspace_binary("wasml-host"), &copy).unwrap();
    let mut command = wasml_test_support::process::host_command(&copy);
    command
        .current_dir(scratch.path())
        .arg("--cache-dir")
        .arg(scratch.path().join("cache"))
        .arg("--events")
        .arg(scratch.path().join("events"));
    let host = wasml_test_support::process::Process::start(command, Duration::from_secs(120));
    let status = http::json(host.address, "GET", "/status", "").unwrap().1;
    assert_eq!(status["models"][0]["name"], "bank-marketing");
    assert_eq!(status["models"][0]["version"], "2.0.0");
    assert_eq!(status["models"][0]["source"], "bundled:bank-marketing/v2");
}

#[test]
fn an_own_model_packaged_for_http_is_served_by_wasi_http_as_onnxruntime_answers() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "own-model-http");
    for name in ["wine", "diabetes"] {
        let wasm = scratch.path().join(format!("{name}-http.wasm"));
        let onnx = trained.dir.join(format!("{name}.onnx"));
        let made = package(trained.model(name), &onnx, &wasm, &["--world", "http"]);
        assert!(made.status.success(), "{name}: {}", stderr(&made));
        let inspected = wasml(&["inspect", "--json", wasm.to_str().unwrap()]);
        let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
        assert_eq!(
            inspected["manifest"]["exports"],
            json!(["wasi:http/incoming-handler@0.2.0"])
        );

        // What Spin would run, run by the host's wasi:http mode.
        let host = start_host(scratch.path(), &["--wasi-http", wasm.to_str().unwrap()]);
        let set = trained.conformance_set(name);
        let cases = set["cases"].as_array().unwrap();
        let rows: Vec<&Value> = cases.iter().map(|c| &c["input"]).collect();
        let body = json!({ "instances": rows }).to_string();
        let (status, answer) = http::json(host.address, "POST", "/predict", &body).unwrap();
        assert_eq!(status, 200, "{name}: {answer}");
        assert_eq!(answer["model"]["name"], name);
        let largest = largest_difference(cases, &answer["predictions"]);
        assert!(largest <= 1e-5, "{name}: largest difference {largest:e}");

        // Bad input gets the host's error shape, naming the field.
        let (status, error) =
            http::json(host.address, "POST", "/predict", r#"{"instances": [{}]}"#).unwrap();
        assert_eq!(status, 422, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("missing"),
            "{error}"
        );
    }

    // Offered to the host as a model, an HTTP package fails the gate for what it is.
    let host = start_host(scratch.path(), &["--admin-token", TOKEN]);
    let admin = AdminApi::of(&host);
    let base = format!("/admin/models/wine/versions/{VERSION}");
    let wasm = std::fs::read(scratch.path().join("wine-http.wasm")).unwrap();
    let upload = admin.send("PUT", &base, "application/wasm", &wasm);
    assert_eq!(upload.status, 202, "{}", upload.body);
    let mut listing = Value::Null;
    let settled = eventually(Duration::from_secs(120), || {
        listing = admin.send("GET", &base, "application/json", b"").json();
        listing["state"] == "failed" || listing["state"] == "ready"
    });
    assert!(settled, "{listing}");
    assert_eq!(listing["state"], "failed", "{listing}");
    let reason = listing["reason"].as_str().unwrap();
    assert!(reason.contains("wasi:http"), "{reason}");
}

#[test]
fn a_training_sample_gives_the_card_the_distribution_numpy_computes() {
    let trained = trained();
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "own-models-reference");
    let model = trained.models.iter().find(|m| m["name"] == "wine").unwrap();
    let sample = trained.dir.join("wine.train.csv");
    let card_path = scratch.path().join("wine.card.json");
    let packaged = package(
        model,
        &trained.dir.join("wine.onnx"),
        &scratch.path().join("wine.wasm"),
        &[
            "--reference-data",
            sample.to_str().unwrap(),
            "--card-out",
            card_path.to_str().unwrap(),
        ],
    );
    assert!(packaged.status.success(), "{}", stderr(&packaged));
    let card: Value = serde_json::from_str(&std::fs::read_to_string(&card_path).unwrap()).unwrap();
    let ours = &card["monitoring"]["reference"];
    let numpy: Value = serde_json::from_str(
        &std::fs::read_to_string(trained.dir.join("wine.reference.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ours["rows"], numpy["rows"]);
    let inputs = numpy["inputs"].as_object().unwrap();
    assert_eq!(inputs.len(), 13, "every wine column");
    let numbers = |v: &Value| -> Vec<f64> { serde_json::from_value(v.clone()).unwrap() };
    for (input, expected) in inputs {
        let got = &ours["inputs"][input];
        let (edges, want_edges) = (numbers(&got["edges"]), numbers(&expected["edges"]));
        assert_eq!(edges.len(), want_edges.len(), "{input}");
        for (edge, want) in edges.iter().zip(&want_edges) {
            assert!(
                (edge - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{input}: {edges:?} vs {want_edges:?}"
            );
        }
        for (share, want) in numbers(&got["shares"])
            .iter()
            .zip(numbers(&expected["shares"]))
        {
            assert!((share - want).abs() <= 5e-7, "{input}: {share} vs {want}");
        }
    }

    // A sample without the model's columns is refused, naming the one missing.
    let bad = scratch.path().join("bad.csv");
    std::fs::write(&bad, "x,y\n1,2\n").unwrap();
    let refused = package(
        model,
        &trained.dir.join("wine.onnx"),
        &scratch.path().join("bad.wasm"),
        &["--reference-data", bad.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--reference-data: no column is named"),
        "{}",
        stderr(&refused)
    );
}
