//! The admin API's guard and the host's secrets. Secrets given as files (as Docker and
//! Kubernetes mount them) are used — the admin API takes the token, Elasticsearch gets the
//! API key — and never appear in `/status`, `/metrics`, `/openapi.json`, error bodies,
//! `--help` or the host's log, even at debug level and through a failed upload and wrong
//! tokens. An upload over `--max-upload-bytes` is refused with 413 and registers nothing.

use std::process::Command;
use std::time::Duration;

use wasml_e2e::{ScratchDir, eventually, http, start_es, start_host};
use wasml_test_support::workspace_binary;

const ADMIN_TOKEN: &str = "adm1n-t0ken-7f3a9c";
const API_KEY: &str = "ZXMtaWQ6ZXMtYXBpLWtleS05YjI0";
const ROW: &str = wasml_e2e::load::ROW;

#[test]
fn secrets_from_files_are_used_and_never_shown() {
    let (_runtime, es) = start_es();
    es.store.lock().unwrap().required_authorization = Some(format!("ApiKey {API_KEY}"));
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "secrets");
    let token_file = dir.join("admin-token");
    let key_file = dir.join("es-api-key");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    std::fs::write(&key_file, format!("{API_KEY}\n")).unwrap();
    let host = start_host(
        &dir,
        &[
            "--log",
            "info,wasml_host=debug,wasml_server=debug,wasml_collector=debug",
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--elasticsearch-url",
            &es.url(),
            "--elasticsearch-api-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    let address = host.address;
    let mut seen = Vec::new();
    let mut call = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let response = http::request_with(address, method, path, headers, body).unwrap();
        seen.push(format!(
            "{method} {path} → {} {}",
            response.status, response.body
        ));
        response.status
    };
    let json = [("Content-Type", "application/json")];
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [("Authorization", bearer.as_str())];
    let wrong = format!("Bearer {ADMIN_TOKEN}x");

    assert_eq!(call("POST", "/predict", &json, ROW.as_bytes()), 200);
    assert_eq!(call("POST", "/predict", &json, b"{not json"), 400);
    assert_eq!(
        call("GET", "/admin/models", &admin, b""),
        200,
        "the file's token works"
    );
    assert_eq!(call("GET", "/admin/models", &[], b""), 401);
    assert_eq!(
        call(
            "GET",
            "/admin/models",
            &[("Authorization", wrong.as_str())],
            b""
        ),
        403
    );
    let garbage = call(
        "PUT",
        "/admin/models/bank-marketing/versions/9.0.0",
        &admin,
        b"\0asm not a component",
    );
    assert_eq!(garbage, 202, "accepted for validation, then refused");
    for path in [
        "/status",
        "/metrics",
        "/openapi.json",
        "/health",
        "/admin/models",
    ] {
        call("GET", path, &admin, b"");
    }
    // The API key from the file reached Elasticsearch: the cluster demands it.
    assert!(
        eventually(Duration::from_secs(30), || !es
            .documents("ml-pipeline-*")
            .is_empty()),
        "events are indexed with the file's API key"
    );

    let help = Command::new(workspace_binary("wasml-host"))
        .arg("--help")
        .env("WASML_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("WASML_ELASTICSEARCH_API_KEY", API_KEY)
        .output()
        .unwrap();
    seen.push(String::from_utf8_lossy(&help.stdout).into_owned());
    // A token file that cannot be read: the error names the file.
    let missing = Command::new(workspace_binary("wasml-host"))
        .args(["--admin-token-file", "/nonexistent/admin-token"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("cannot read the secret file /nonexistent/admin-token"),
        "{stderr}"
    );

    host.terminate();
    let mut host = host;
    host.wait();
    seen.extend(host.log());
    assert!(seen.len() > 20, "the host logged: {seen:?}");
    for secret in [ADMIN_TOKEN, API_KEY] {
        let leaks: Vec<&String> = seen.iter().filter(|s| s.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret} shown in {leaks:?}");
    }
}

#[test]
fn an_upload_over_the_limit_is_refused_with_413() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "upload-limit");
    let host = start_host(
        &dir,
        &["--admin-token", ADMIN_TOKEN, "--max-upload-bytes", "4096"],
    );
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let response = http::request_with(
        host.address,
        "PUT",
        "/admin/models/bank-marketing/versions/9.0.0",
        &[("Authorization", bearer.as_str())],
        &[0u8; 8192],
    )
    .unwrap();
    assert_eq!(response.status, 413, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], "payload_too_large");
    let listing = http::request_with(
        host.address,
        "GET",
        "/admin/models",
        &[("Authorization", bearer.as_str())],
        b"",
    )
    .unwrap();
    assert!(
        !listing.body.contains("9.0.0"),
        "nothing was registered: {}",
        listing.body
    );
}
