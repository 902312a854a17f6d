//! A model's `rollout.json` in the models directory decides its active version and canary
//! (what a fleet sharing the directory converges on): a version dropped in next to a
//! rollout file waits, ready; editing the file activates it, starts and stops a canary and
//! rolls back; a file naming a failed version, one that is not JSON, or an impossible
//! canary is refused with its cause and changes nothing while the current version serves.

use std::time::{Duration, Instant};

use wasml_server::swap::rollout::{Progress, Rollouts};

use crate::hot_swap::{TOKEN, admin, copy_in_version_2, watch_models_dir};
use crate::serving::{Options, SEED_ROW, TestHost};

/// `(state, canary_percent)` of each version of the model, by version.
async fn states(host: &TestHost) -> Vec<(String, String, Option<u64>)> {
    let listing = admin(host, "GET", "/admin/models", Vec::new()).await.json();
    listing["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_owned(),
                v["state"].as_str().unwrap().to_owned(),
                v["canary_percent"].as_u64(),
            )
        })
        .collect()
}

/// Waits until `check` holds for the model's versions (the watcher scans every 50 ms).
async fn until(
    host: &TestHost,
    what: &str,
    check: impl Fn(&[(String, String, Option<u64>)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = states(host).await;
        if check(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state_of<'a>(versions: &'a [(String, String, Option<u64>)], version: &str) -> Option<&'a str> {
    versions
        .iter()
        .find(|(v, _, _)| v == version)
        .map(|(_, state, _)| state.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollout_file_decides_activation_canary_and_rollback() {
    let host = TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let (_dir, model_dir, watcher) = watch_models_dir(&host, "rollout-file", |model_dir| {
        std::fs::write(model_dir.join("rollout.json"), r#"{"active": "1.0.0"}"#).unwrap();
    });
    let rollout = model_dir.join("rollout.json");

    // Dropped in under a rollout file naming 1.0.0: gated, ready, not active.
    copy_in_version_2(&model_dir);
    until(&host, "2.0.0 ready", |v| {
        state_of(v, "2.0.0") == Some("ready")
    })
    .await;
    assert_eq!(state_of(&states(&host).await, "1.0.0"), Some("active"));
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.json()["model"]["version"], "1.0.0");

    // Roll out, with 1.0.0 kept as a 30 % canary; then stop the canary; then roll back.
    std::fs::write(
        &rollout,
        r#"{"active": "2.0.0", "canary": {"version": "1.0.0", "percent": 30}}"#,
    )
    .unwrap();
    until(&host, "2.0.0 active with a 1.0.0 canary", |v| {
        state_of(v, "2.0.0") == Some("active")
            && v.iter()
                .any(|(ver, s, p)| ver == "1.0.0" && s == "canary" && *p == Some(30))
    })
    .await;
    std::fs::write(&rollout, r#"{"active": "2.0.0"}"#).unwrap();
    until(&host, "the canary stopped", |v| {
        state_of(v, "1.0.0") == Some("ready")
    })
    .await;
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.json()["model"]["version"], "2.0.0");
    std::fs::write(&rollout, r#"{"active": "1.0.0"}"#).unwrap();
    until(&host, "the rollback", |v| {
        state_of(v, "1.0.0") == Some("active")
    })
    .await;

    // A broken version, a file that is not JSON, a canary equal to the active version, a
    // canary share out of range: each is refused with its cause (reconciled here, with the
    // watcher stopped, so every file is known to have been read) and 1.0.0 keeps serving.
    std::fs::write(model_dir.join("3.0.0.wasm"), b"not a component").unwrap();
    until(&host, "3.0.0 failed", |v| {
        state_of(v, "3.0.0") == Some("failed")
    })
    .await;
    watcher.abort();
    let mut rollouts = Rollouts::new(model_dir.parent().unwrap().to_owned());
    for (text, cause) in [
        (r#"{"active": "3.0.0"}"#, "version 3.0.0 failed: "),
        ("not json", "rollout.json: expected"),
        (
            r#"{"active": "1.0.0", "canary": {"version": "1.0.0", "percent": 10}}"#,
            "1.0.0 is both the active version and the canary",
        ),
        (
            r#"{"active": "1.0.0", "canary": {"version": "2.0.0", "percent": 100}}"#,
            "a canary weight is a percentage from 1 to 99, not 100",
        ),
    ] {
        std::fs::write(&rollout, text).unwrap();
        let progress = rollouts.reconcile(&host.state.serving);
        assert!(
            matches!(&progress[..], [(model, Progress::Blocked(reason))]
                if model == "bank-marketing" && reason.contains(cause)),
            "after {text}: {progress:?}"
        );
        let now = states(&host).await;
        assert_eq!(
            state_of(&now, "1.0.0"),
            Some("active"),
            "after {text}: {now:?}"
        );
        assert_eq!(
            state_of(&now, "2.0.0"),
            Some("ready"),
            "after {text}: {now:?}"
        );
        let reply = host.post_json("/predict", SEED_ROW).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["model"]["version"], "1.0.0", "after {text}");
    }
    // And a good file after them is followed.
    std::fs::write(&rollout, r#"{"active": "2.0.0"}"#).unwrap();
    let progress = rollouts.reconcile(&host.state.serving);
    assert_eq!(
        progress,
        [("bank-marketing".to_owned(), Progress::Converged)]
    );
    assert_eq!(state_of(&states(&host).await, "2.0.0"), Some("active"));
}

#[test]
fn a_rollout_file_is_strict_json() {
    use wasml_server::swap::rollout::{CanaryPlan, Rollout};
    let parsed: Rollout = serde_json::from_str(
        r#"{"active": "2.0.0", "canary": {"version": "1.0.0", "percent": 10}}"#,
    )
    .unwrap();
    assert_eq!(
        parsed,
        Rollout {
            active: "2.0.0".into(),
            canary: Some(CanaryPlan {
                version: "1.0.0".into(),
                percent: 10
            })
        }
    );
    let typo: Result<Rollout, _> = serde_json::from_str(r#"{"activ": "2.0.0"}"#);
    assert!(
        typo.unwrap_err()
            .to_string()
            .contains("unknown field `activ`")
    );
}
