//! `ml_app_memory_bytes` is the process's resident set, read from the OS at scrape time.
//! In a binary of its own: other tests allocating and freeing meanwhile would blur the
//! figure this test moves on purpose.

#[path = "it/serving.rs"]
mod serving;

use serving::{Options, TestHost};

async fn value(host: &TestHost, name: &str) -> f64 {
    host.metric(name, &[]).await.unwrap_or(0.0)
}

#[tokio::test]
async fn memory_is_the_process_resident_set_and_moves_with_it() {
    let host = TestHost::start(Options::default());
    let before = value(&host, "ml_app_memory_bytes").await;
    let os = wasml_server::metrics::resident_bytes().unwrap() as f64;
    assert!(
        (before - os).abs() < (16 << 20) as f64,
        "read from the OS at scrape time: {before} vs {os}"
    );
    let hoard = vec![7u8; 256 << 20];
    let after = value(&host, "ml_app_memory_bytes").await;
    drop(std::hint::black_box(hoard));
    assert!(after >= before + (200 << 20) as f64, "{before} -> {after}");
}
