//! Hot swap through the admin API, driven without a socket: a new version compiles and
//! passes the gate while the old one serves; activation, canary, rollback and retirement
//! happen under continuous concurrent load with no failed request, each response showing
//! the version the API said was serving; every way a candidate can fail is refused with
//! its reason; the admin routes need the token.

use crate::serving;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use serving::{AdmissionLimits, Options, Reply, SEED_ROW, TestHost};
use wasml_server::swap::rollout::Rollouts;

pub(crate) const TOKEN: &str = "test-admin-token";
const MODEL: &str = "bank-marketing";

pub(crate) fn conformance_json(version_dir: &str) -> String {
    let path = format!(
        "{}/../guest/models/bank-marketing/{version_dir}/conformance.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// Copies bundled 2.0.0 with its conformance set into a watched model folder.
pub(crate) fn copy_in_version_2(model_dir: &std::path::Path) {
    std::fs::write(
        model_dir.join("2.0.0.conformance.json"),
        conformance_json("v2"),
    )
    .unwrap();
    std::fs::copy(
        wasml_test_support::bundled_component(MODEL, "v2"),
        model_dir.join("2.0.0.wasm"),
    )
    .unwrap();
}

/// A fresh models directory `host` watches (every 50 ms, as `--models-dir` would), after
/// `prepare` has filled the model's folder and the rollout files were applied as at start;
/// the directory, that folder and the watcher (abort it at the end).
pub(crate) fn watch_models_dir(
    host: &TestHost,
    name: &str,
    prepare: impl FnOnce(&std::path::Path),
) -> (
    wasml_test_support::ScratchDir,
    std::path::PathBuf,
    tokio::task::JoinHandle<()>,
) {
    let dir = serving::scratch_dir(name);
    let model_dir = dir.join(MODEL);
    std::fs::create_dir_all(&model_dir).unwrap();
    prepare(&model_dir);
    let loader = Arc::clone(&host.state.admin.as_ref().unwrap().loader);
    let mut rollouts = Rollouts::new(dir.to_path_buf());
    rollouts.reconcile(&host.state.serving);
    let watcher = tokio::spawn(wasml_server::swap::watch::watch(
        host.state.serving.clone(),
        loader,
        rollouts,
        Duration::from_millis(50),
    ));
    (dir, model_dir, watcher)
}

/// The inputs of a bundled version's conformance set: rows spread over every field's
/// range.
pub(crate) fn conformance_rows(version_dir: &str) -> Vec<Value> {
    let set: Value = serde_json::from_str(&conformance_json(version_dir)).unwrap();
    set["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["input"].clone())
        .collect()
}

pub(crate) async fn admin(host: &TestHost, method: &str, uri: &str, body: Vec<u8>) -> Reply {
    host.call(
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Uploads `wasm` as `version` (with `conformance`, if any) and waits for the gate's
/// verdict; returns the version's final listing.
pub(crate) async fn upload(
    host: &TestHost,
    name: &str,
    version: &str,
    wasm: Vec<u8>,
    conformance: Option<String>,
) -> Value {
    let base = format!("/admin/models/{name}/versions/{version}");
    if let Some(set) = conformance {
        let reply = admin(
            host,
            "PUT",
            &format!("{base}/conformance"),
            set.into_bytes(),
        )
        .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let reply = admin(host, "PUT", &base, wasm).await;
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers["location"], base.as_str());
    settled(host, &base).await
}

/// The listing of the version at `base` once it is no longer compiling or validating.
pub(crate) async fn settled(host: &TestHost, base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listing = admin(host, "GET", base, Vec::new()).await.json();
        if !matches!(listing["state"].as_str(), Some("compiling" | "validating")) {
            return listing;
        }
        assert!(Instant::now() < deadline, "still {listing}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// One request's outcome, with when it started and ended.
struct Sample {
    started: Instant,
    ended: Instant,
    status: u16,
    version: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn versions_swap_under_load_without_a_failed_request() {
    let host = Arc::new(TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        admission: AdmissionLimits {
            max_running: 256,
            ..Options::default().admission
        },
        ..Options::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let host = Arc::clone(&host);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let reply = host.post_json("/predict", SEED_ROW).await;
                    let version = if reply.status == 200 {
                        reply.json()["model"]["version"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    } else {
                        String::from_utf8_lossy(&reply.body).into_owned()
                    };
                    samples.push(Sample {
                        started,
                        ended: Instant::now(),
                        status: reply.status.as_u16(),
                        version,
                    });
                }
                samples
            })
        })
        .collect();

    let wasm = read(wasml_test_support::bundled_component(MODEL, "v2"));
    let listing = upload(&host, MODEL, "2.0.0", wasm, Some(conformance_json("v2"))).await;
    assert_eq!(listing["state"], "ready", "{listing}");
    let checks: Vec<&str> = listing["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["identity", "info", "schema", "conformance", "deadline"]
    );
    assert!(
        listing["checks"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("cases within")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let pause = Duration::from_millis(300);
    let before_activate = Instant::now();
    let reply = admin(
        &host,
        "POST",
        "/admin/models/bank-marketing/versions/2.0.0/activate",
        Vec::new(),
    )
    .await;
    let activated = Instant::now();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"model": MODEL, "active": "2.0.0", "previous": "1.0.0"})
    );
    tokio::time::sleep(pause).await;

    let before_canary = Instant::now();
    let body = json!({"version": "1.0.0", "percent": 50})
        .to_string()
        .into_bytes();
    let reply = admin(&host, "PUT", "/admin/models/bank-marketing/canary", body).await;
    let canaried = Instant::now();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    tokio::time::sleep(pause).await;

    let before_rollback = Instant::now();
    let reply = admin(
        &host,
        "POST",
        "/admin/models/bank-marketing/rollback",
        Vec::new(),
    )
    .await;
    let rolled_back = Instant::now();
    assert_eq!(
        reply.json(),
        json!({"model": MODEL, "active": "1.0.0", "previous": "2.0.0"})
    );
    tokio::time::sleep(pause).await;

    let reply = admin(
        &host,
        "DELETE",
        "/admin/models/bank-marketing/versions/2.0.0",
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 200);
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::Relaxed);

    let mut samples = Vec::new();
    for client in clients {
        samples.extend(client.await.unwrap());
    }
    assert!(
        samples.len() > 500,
        "continuous load: {} requests",
        samples.len()
    );
    let failed: Vec<_> = samples
        .iter()
        .filter(|s| s.status != 200)
        .map(|s| &s.version)
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed requests: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );

    let versions_between = |from: Instant, to: Instant| -> Vec<&str> {
        samples
            .iter()
            .filter(|s| s.started >= from && s.ended <= to)
            .map(|s| s.version.as_str())
            .collect()
    };
    let only = |versions: &[&str], expected: &str, phase: &str| {
        assert!(!versions.is_empty(), "requests during {phase}");
        assert!(
            versions.iter().all(|v| *v == expected),
            "{phase}: {versions:?}"
        );
    };
    let start = samples.iter().map(|s| s.started).min().unwrap();
    only(
        &versions_between(start, before_activate),
        "1.0.0",
        "before activation",
    );
    only(
        &versions_between(activated, before_canary),
        "2.0.0",
        "after activation",
    );
    let canary = versions_between(canaried, before_rollback);
    let on_v1 = canary.iter().filter(|v| **v == "1.0.0").count();
    assert!(
        on_v1 * 10 >= canary.len() * 4 && on_v1 * 10 <= canary.len() * 6,
        "a 50 % canary got {on_v1} of {} requests",
        canary.len()
    );
    only(
        &versions_between(rolled_back, Instant::now()),
        "1.0.0",
        "after rollback",
    );

    let listing = admin(&host, "GET", "/admin/models", Vec::new())
        .await
        .json();
    let states: Vec<(String, String)> = listing["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("1.0.0".into(), "active".into()),
            ("2.0.0".into(), "retired".into())
        ]
    );
    for result in ["activated", "canary", "rolled_back", "retired"] {
        assert_eq!(
            host.metric(
                "ml_model_swaps_total",
                &[("model", MODEL), ("result", result)]
            )
            .await,
            Some(1.0),
            "{result}"
        );
    }
    assert_eq!(
        host.metric(
            "ml_model_info",
            &[("version", "2.0.0"), ("state", "retired")]
        )
        .await,
        Some(1.0)
    );
    let host = Arc::into_inner(host).expect("clients are done");
    let events = host.finish_events().await;
    let changes: Vec<String> = events
        .iter()
        .filter(|e| {
            e.message.starts_with("model version ") && e.model_version.as_deref() == Some("2.0.0")
        })
        .map(|e| e.message.trim_start_matches("model version ").to_owned())
        .collect();
    assert_eq!(
        changes,
        [
            "compiling",
            "validating",
            "ready",
            "active",
            "ready",
            "retired"
        ],
        "every state change of 2.0.0 is an event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_candidate_is_refused_with_its_reason_while_the_model_serves() {
    let host = TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let refused = |listing: &Value| -> String {
        assert_eq!(listing["state"], "failed", "{listing}");
        listing["reason"].as_str().unwrap().to_owned()
    };

    // Not a component: a core wasm module, and garbage.
    let module = b"\0asm\x01\0\0\0".to_vec();
    let reason = refused(&upload(&host, MODEL, "9.0.0", module, None).await);
    assert!(
        reason.starts_with("not a usable model component"),
        "{reason}"
    );
    // A component of another world: it exports no predictor.
    let empty_component = b"\0asm\x0d\0\x01\0".to_vec();
    let reason = refused(&upload(&host, MODEL, "9.0.1", empty_component, None).await);
    assert!(
        reason.starts_with("not a usable model component"),
        "{reason}"
    );
    // The right model under the wrong version.
    let v2 = read(wasml_test_support::bundled_component(MODEL, "v2"));
    let reason = refused(&upload(&host, MODEL, "3.0.0", v2.clone(), None).await);
    assert!(
        reason.starts_with("identity:") && reason.contains("\"2.0.0\""),
        "{reason}"
    );
    // Wrong outputs: a conformance set whose references moved.
    let mut set: Value = serde_json::from_str(&conformance_json("v2")).unwrap();
    set["cases"][7]["probabilities"][0] = json!(0.5);
    set["cases"][7]["probabilities"][1] = json!(0.5);
    let reply = admin(
        &host,
        "DELETE",
        "/admin/models/bank-marketing/versions/3.0.0",
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 200, "a failed version can be retired");
    let again = upload(&host, MODEL, "2.0.0", v2, Some(set.to_string())).await;
    let reason = refused(&again);
    assert!(reason.starts_with("conformance: 1 of"), "{reason}");
    // A model that runs past the deadline: the hostile component's first mode loops.
    let hostile = read(wasml_test_artifacts::HOSTILE);
    let reason = refused(&upload(&host, "hostile", "0.0.0", hostile, None).await);
    assert!(
        reason.starts_with("deadline:") && reason.contains("deadline"),
        "{reason}"
    );

    // A candidate whose `info()` traps cannot say what it is.
    let traps = read(wasml_test_artifacts::HOSTILE_INFO_TRAPS);
    let reason = refused(&upload(&host, MODEL, "9.0.2", traps, None).await);
    assert!(
        reason.starts_with("not a usable model component") && reason.contains("info()"),
        "{reason}"
    );
    // A component importing an interface the host does not offer is not linked at all.
    let alien = read(wasml_test_artifacts::HOSTILE_ALIEN);
    let reason = refused(&upload(&host, MODEL, "9.0.3", alien, None).await);
    assert!(
        reason.starts_with("not a usable model component") && reason.contains("wasml:alien/vault"),
        "{reason}"
    );
    // A schema change: it says it is bank-marketing 9.9.9 but takes one field of its own.
    let impostor = read(wasml_test_artifacts::HOSTILE_IMPOSTOR);
    let reason = refused(&upload(&host, MODEL, "9.9.9", impostor.clone(), None).await);
    assert!(
        reason.starts_with("schema: field age was removed") && reason.contains("force=true"),
        "{reason}"
    );
    // Forced, the change passes the schema check (and the impostor fails the next one).
    let base = "/admin/models/bank-marketing/versions/9.9.9";
    assert_eq!(admin(&host, "DELETE", base, Vec::new()).await.status, 200);
    let forced = format!("{base}?force=true");
    assert_eq!(admin(&host, "PUT", &forced, impostor).await.status, 202);
    let listing = settled(&host, base).await;
    let schema = &listing["checks"][2];
    assert_eq!(schema["check"], "schema", "{listing}");
    assert_eq!(schema["passed"], true, "{listing}");
    assert!(refused(&listing).starts_with("deadline:"), "{listing}");

    // Through all of it the active version served, and nothing else ever did.
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["model"]["version"], "1.0.0");
    let reply = host
        .post_json("/models/hostile/predict", r#"{"mode": "ok"}"#)
        .await;
    assert_eq!(reply.status, 404, "a failed version never receives traffic");
    let reply = admin(
        &host,
        "POST",
        "/admin/models/hostile/versions/0.0.0/activate",
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["error"]["code"], "wrong_state");
    assert_eq!(
        host.metric(
            "ml_model_swaps_total",
            &[("model", MODEL), ("result", "failed")]
        )
        .await,
        Some(8.0)
    );
}

#[tokio::test]
async fn admin_routes_need_the_token() {
    let closed = TestHost::start(Options::default());
    assert_eq!(
        closed.get("/admin/models").await.status,
        404,
        "off without a token"
    );

    let host = TestHost::start(Options {
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let reply = host.get("/admin/models").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    assert_eq!(reply.json()["error"]["code"], "unauthorized");
    for wrong in [
        "Bearer nope",
        "Bearer test-admin-token-",
        "Basic dGVzdA==",
        "test-admin-token",
    ] {
        let reply = host
            .call(
                Request::get("/admin/models")
                    .header("authorization", wrong)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            matches!(reply.status.as_u16(), 401 | 403),
            "{wrong}: {}",
            reply.status
        );
    }
    let reply = host
        .call(
            Request::post("/admin/models/bank-marketing/rollback")
                .header("authorization", "Bearer wrong")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 403);
    let listing = admin(&host, "GET", "/admin/models", Vec::new()).await;
    assert_eq!(listing.status, 200);
    assert_eq!(listing.json()["versions"][0]["state"], "active");
    let activate = admin(
        &host,
        "POST",
        "/admin/models/bank-marketing/versions/9.9.9/activate",
        Vec::new(),
    )
    .await;
    assert_eq!(activate.status, 404);

    // Refusals are counted by reason: 1 + 2 without a bearer token, 2 + 1 with another.
    host.assert_metric(
        "wasml_admin_auth_failures_total",
        &[("reason", "unauthenticated")],
        Some(3.0),
    )
    .await;
    host.assert_metric(
        "wasml_admin_auth_failures_total",
        &[("reason", "forbidden")],
        Some(3.0),
    )
    .await;
    // Every admin request is in the audit trail: who, what, the result; never the token.
    let events = host.finish_events().await;
    let audit: Vec<_> = events
        .iter()
        .filter(|e| e.message == "admin action")
        .collect();
    assert_eq!(audit.len(), 8, "{audit:?}");
    let refused = audit.iter().filter(|e| e.fields["actor"] == "none").count();
    assert_eq!(refused, 6);
    let rollback = audit
        .iter()
        .find(|e| e.method.as_deref() == Some("POST") && e.status == Some(403))
        .unwrap();
    assert_eq!(
        rollback.endpoint.as_deref(),
        Some("/admin/models/bank-marketing/rollback")
    );
    assert_eq!(rollback.model.as_deref(), Some("bank-marketing"));
    assert_eq!(rollback.fields["client_ip"], "unknown");
    let activated = audit.last().unwrap();
    assert_eq!(activated.fields["actor"], "admin-token");
    assert_eq!(activated.model_version.as_deref(), Some("9.9.9"));
    assert_eq!(activated.status, Some(404));
    let written = serde_json::to_string(&audit).unwrap();
    assert!(!written.contains(TOKEN), "the token is never written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_dropped_into_the_models_directory_is_gated_then_activated() {
    let host = TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let (_dir, model_dir, watcher) = watch_models_dir(&host, "models-dir", |model_dir| {
        std::fs::copy(
            wasml_test_support::bundled_component(MODEL, "v1"),
            model_dir.join("1.0.0.wasm"),
        )
        .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A broken file is refused and never serves; a good one is gated, then activated.
    std::fs::write(model_dir.join("3.0.0.wasm"), b"not a component").unwrap();
    copy_in_version_2(&model_dir);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = host.post_json("/predict", SEED_ROW).await;
        assert_eq!(reply.status, 200);
        if reply.json()["model"]["version"] == "2.0.0" {
            break;
        }
        assert!(Instant::now() < deadline, "2.0.0 never became active");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let version = admin(
        &host,
        "GET",
        "/admin/models/bank-marketing/versions/2.0.0",
        Vec::new(),
    )
    .await
    .json();
    assert_eq!(version["state"], "active");
    assert!(
        version["checks"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("300 cases")
    );
    let broken = admin(
        &host,
        "GET",
        "/admin/models/bank-marketing/versions/3.0.0",
        Vec::new(),
    )
    .await
    .json();
    assert_eq!(broken["state"], "failed", "{broken}");
    watcher.abort();
}
