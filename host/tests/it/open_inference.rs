//! The Open Inference Protocol (KServe V2 REST): the protocol's own example request and an
//! example in its layout for the bundled model as fixtures, metadata and health shapes, and
//! every kind of bad request answered in the protocol's error format with this API's
//! status — and the same predictions as `POST /predict`.

use crate::serving;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use serving::{Options, Reply, TestHost};

const INFER: &str = "/v2/models/bank-marketing/infer";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/open-inference/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture's rows as `/predict` instances.
fn instances(request: &Value) -> Value {
    let inputs = request["inputs"].as_array().unwrap();
    let n = inputs[0]["shape"][0].as_u64().unwrap() as usize;
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            let row: serde_json::Map<String, Value> = inputs
                .iter()
                .map(|input| {
                    let data = &input["data"][i];
                    let value = data.get(0).unwrap_or(data).clone();
                    (input["name"].as_str().unwrap().to_owned(), value)
                })
                .collect();
            Value::Object(row)
        })
        .collect();
    json!({ "instances": rows })
}

fn assert_protocol_error(reply: &Reply, status: u16, mentions: &str) {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 1, "only \"error\": {body}");
    let message = body["error"].as_str().expect("error is a string");
    assert!(message.contains(mentions), "{message:?} lacks {mentions:?}");
}

#[tokio::test]
async fn the_example_request_gets_the_example_answer_and_the_same_predictions_as_predict() {
    let host = TestHost::start(Options::default());
    let request: Value = serde_json::from_str(&fixture("bank-marketing-request.json")).unwrap();
    let expected: Value = serde_json::from_str(&fixture("bank-marketing-response.json")).unwrap();

    let reply = host.post_json(INFER, &request.to_string()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let mut answer = reply.json();
    let request_id = answer["parameters"]["request_id"].as_str().unwrap();
    assert_eq!(request_id.len(), 32, "the host's request ID, for /feedback");
    answer.as_object_mut().unwrap().remove("parameters");
    assert_eq!(answer, expected);

    // Every output when none is named, equal to /predict's answer for the same rows.
    let mut all = request.clone();
    all.as_object_mut().unwrap().remove("outputs");
    let answer = host.post_json(INFER, &all.to_string()).await.json();
    let native = host
        .post_json("/predict", &instances(&request).to_string())
        .await
        .json();
    let outputs: Vec<&str> = answer["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        ["label", "class_index", "confidence", "probabilities"]
    );
    let predictions = native["predictions"].as_array().unwrap();
    for (i, prediction) in predictions.iter().enumerate() {
        assert_eq!(answer["outputs"][0]["data"][i], prediction["label"]);
        assert_eq!(answer["outputs"][1]["data"][i], prediction["prediction"]);
        assert_eq!(answer["outputs"][2]["data"][i], prediction["confidence"]);
        assert_eq!(
            answer["outputs"][3]["data"][2 * i],
            prediction["probabilities"][0]
        );
        assert_eq!(
            answer["outputs"][3]["data"][2 * i + 1],
            prediction["probabilities"][1]
        );
    }
    assert_eq!(answer["outputs"][3]["shape"], json!([2, 2]));
    assert_eq!(answer["outputs"][3]["datatype"], "FP64");

    // An explicit version answers the same; a missing one is the protocol's 404.
    let versioned = host
        .post_json(
            "/v2/models/bank-marketing/versions/2.0.0/infer",
            &request.to_string(),
        )
        .await;
    assert_eq!(versioned.json()["outputs"], expected["outputs"]);
    let missing = host
        .post_json(
            "/v2/models/bank-marketing/versions/9.9.9/infer",
            &request.to_string(),
        )
        .await;
    assert_protocol_error(&missing, 404, "has no version \"9.9.9\"");
}

#[tokio::test]
async fn the_protocols_own_example_is_read_and_refused_for_its_shape() {
    let host = TestHost::start(Options::default());
    // Written for another model: parsed as the protocol's JSON, refused for what it holds.
    let reply = host
        .post_json(INFER, &fixture("spec-example-request.json"))
        .await;
    assert_protocol_error(
        &reply,
        400,
        "input \"input0\": shape [2, 2] is not [N] or [N, 1]",
    );
}

#[tokio::test]
async fn metadata_and_health_have_the_protocols_shapes() {
    let host = TestHost::start(Options::default());
    let server = host.get("/v2").await;
    assert_eq!(server.status, 200);
    assert_eq!(server.json()["name"], "wasml");
    assert_eq!(server.json()["extensions"], json!([]));

    let model = host.get("/v2/models/bank-marketing").await.json();
    assert_eq!(model["name"], "bank-marketing");
    assert_eq!(model["versions"], json!(["2.0.0"]));
    let inputs = model["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 8);
    assert_eq!(
        inputs[0],
        json!({"name": "age", "datatype": "INT64", "shape": [-1]})
    );
    assert_eq!(
        inputs[1],
        json!({"name": "job", "datatype": "BYTES", "shape": [-1]})
    );
    assert_eq!(
        model["outputs"][3],
        json!({"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]})
    );
    let version = host.get("/v2/models/bank-marketing/versions/2.0.0").await;
    assert_eq!(version.json(), model);
    assert_protocol_error(&host.get("/v2/models/nope").await, 404, "\"nope\"");
    assert_protocol_error(
        &host.get("/v2/models/bank-marketing/versions/1").await,
        404,
        "has no version \"1\"",
    );

    let live = host.get("/v2/health/live").await;
    assert_eq!(
        (live.status.as_u16(), live.json()),
        (200, json!({"live": true}))
    );
    let ready = host.get("/v2/health/ready").await;
    assert_eq!(
        (ready.status.as_u16(), ready.json()),
        (200, json!({"ready": true}))
    );
    let ready = host.get("/v2/models/bank-marketing/ready").await;
    assert_eq!(
        (ready.status.as_u16(), ready.json()),
        (200, json!({"name": "bank-marketing", "ready": true}))
    );
    let ready = host
        .get("/v2/models/bank-marketing/versions/2.0.0/ready")
        .await;
    assert_eq!(ready.status, 200);
    let not_ready = host.get("/v2/models/nope/ready").await;
    assert_eq!(
        (not_ready.status.as_u16(), not_ready.json()),
        (400, json!({"name": "nope", "ready": false}))
    );
}

#[tokio::test]
async fn bad_requests_get_the_protocols_error_with_the_apis_status() {
    let host = TestHost::start(Options {
        body_limits: wasml_server::api::body::BodyLimits {
            max_bytes: 64 << 10,
            max_batch_rows: 3,
        },
        ..Options::default()
    });
    let tensor = |name: &str, datatype: &str, data: Value| json!({"name": name, "shape": [data.as_array().unwrap().len()], "datatype": datatype, "data": data});
    let good: Vec<Value> = vec![
        tensor("age", "INT64", json!([30])),
        tensor("job", "BYTES", json!(["admin."])),
        tensor("marital", "BYTES", json!(["single"])),
        tensor("education", "BYTES", json!(["secondary"])),
        tensor("housing", "BYTES", json!(["yes"])),
        tensor("loan", "BYTES", json!(["no"])),
        tensor("duration", "INT64", json!([200])),
        tensor("campaign", "INT64", json!([2])),
    ];
    let with = |replace: usize, input: Value| {
        let mut inputs = good.clone();
        inputs[replace] = input;
        json!({ "inputs": inputs }).to_string()
    };

    // A value the model refuses: 422 naming the field, as /predict does.
    let reply = host
        .post_json(INFER, &with(0, tensor("age", "BYTES", json!(["thirty"]))))
        .await;
    assert_protocol_error(&reply, 422, "age");
    let native = host
        .post_json(
            "/predict",
            r#"{"age": "thirty", "job": "admin.", "marital": "single", "education": "secondary",
                "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#,
        )
        .await;
    assert_eq!(native.status, 422);
    // A field the model lacks, and a missing one.
    let reply = host
        .post_json(INFER, &with(7, tensor("balance", "INT64", json!([5]))))
        .await;
    assert_protocol_error(&reply, 422, "balance");
    assert!(String::from_utf8_lossy(&reply.body).contains("campaign"));
    // Not JSON; JSON that is not an inference request.
    assert_protocol_error(
        &host.post_json(INFER, "{\"inputs\": [").await,
        400,
        "not valid JSON",
    );
    assert_protocol_error(
        &host
            .post_json(INFER, r#"{"inputs": [], "colour": 1}"#)
            .await,
        400,
        "unknown field `colour`",
    );
    assert_protocol_error(
        &host.post_json(INFER, r#"{"inputs": []}"#).await,
        400,
        "no inputs",
    );
    // Shapes that do not hold the data, rows that disagree, types that do not fit.
    let reply = host
        .post_json(
            INFER,
            &with(
                0,
                json!({"name": "age", "shape": [2], "datatype": "INT64", "data": [30]}),
            ),
        )
        .await;
    assert_protocol_error(&reply, 400, "shape [2] holds 2 elements, data has 1");
    let reply = host
        .post_json(INFER, &with(0, tensor("age", "INT64", json!([30, 31]))))
        .await;
    assert_protocol_error(&reply, 400, "has 1 element(s) but the first input has 2");
    let reply = host
        .post_json(INFER, &with(1, tensor("job", "BYTES", json!([7]))))
        .await;
    assert_protocol_error(&reply, 400, "element 7 is not of datatype BYTES");
    // An output the model does not have; binary data.
    let mut request: Value = serde_json::from_str(&with(0, good[0].clone())).unwrap();
    request["outputs"] = json!([{"name": "logits"}]);
    let reply = host.post_json(INFER, &request.to_string()).await;
    assert_protocol_error(&reply, 400, "output \"logits\" does not exist");
    request["outputs"] = json!([{"name": "label", "parameters": {"binary_data": true}}]);
    let reply = host.post_json(INFER, &request.to_string()).await;
    assert_protocol_error(&reply, 400, "binary tensor data extension");
    let reply = host
        .call(
            Request::post(INFER)
                .header("inference-header-content-length", "100")
                .body(Body::from(with(0, good[0].clone())))
                .unwrap(),
        )
        .await;
    assert_protocol_error(&reply, 400, "binary tensor data extension");
    // Too many rows; an unknown model.
    let many: Vec<Value> = good
        .iter()
        .map(|t| {
            let value = t["data"][0].clone();
            tensor(
                t["name"].as_str().unwrap(),
                t["datatype"].as_str().unwrap(),
                json!([value.clone(), value.clone(), value.clone(), value]),
            )
        })
        .collect();
    let reply = host
        .post_json(INFER, &json!({ "inputs": many }).to_string())
        .await;
    assert_protocol_error(&reply, 413, "4 rows; the limit is 3");
    let reply = host
        .post_json("/v2/models/nope/infer", &with(0, good[0].clone()))
        .await;
    assert_protocol_error(&reply, 404, "\"nope\"");
    // And the good request still answers.
    let reply = host.post_json(INFER, &with(0, good[0].clone())).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["outputs"][0]["shape"], json!([1]));
}
