//! Past capacity: a request that finds the admission queue full is refused at once with
//! 503 + `Retry-After`, a queued one that gets no turn in time likewise, the admitted
//! request completes, and `/health` and `/metrics` still answer; an admitted request
//! whose body stops arriving is cut off and gives its slot back.

use std::time::Duration;

use crate::serving::{Options, SEED_ROW, TestHost, eventually};
use wasml_runtime::SandboxLimits;
use wasml_server::api::admission::AdmissionLimits;

#[tokio::test]
async fn past_capacity_requests_are_refused_with_retry_after_and_the_admitted_one_completes() {
    let host = TestHost::start(Options {
        with_hostile: true,
        // One request runs; one may wait, for 200 ms.
        admission: AdmissionLimits {
            max_running: 1,
            max_queued: 1,
            queue_target: Duration::from_millis(20),
            queue_timeout: Duration::from_millis(200),
        },
        limits: SandboxLimits {
            deadline: Duration::from_millis(600),
            ..SandboxLimits::default()
        },
        ..Options::default()
    });
    let admission = &host.state.admission;
    // The running request: a guest that spins until its deadline.
    let running = host.post_json("/models/hostile/predict", r#"{"mode": "loop"}"#);
    let others = async {
        assert!(
            eventually(|| admission.running() == 1).await,
            "the loop runs"
        );
        let queued = host.post_json("/predict", SEED_ROW);
        let past_the_queue = async {
            assert!(
                eventually(|| admission.queued() == 1).await,
                "one request waits"
            );
            let refused = host.post_json("/predict", SEED_ROW).await;
            let metrics = host.get("/metrics").await;
            (refused, metrics)
        };
        tokio::join!(queued, past_the_queue)
    };
    let (running, (queued, (refused, metrics))) = tokio::join!(running, others);

    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.json()["error"]["code"], "overloaded");
    let message = refused.json()["error"]["message"].to_string();
    assert!(
        message.contains("queue of 1 waiting prediction requests is full"),
        "{message}"
    );
    assert_eq!(
        metrics.status, 200,
        "metrics answer while the server is full"
    );

    assert_eq!(queued.status, 503);
    assert_eq!(queued.headers["retry-after"], "1");
    let message = queued.json()["error"]["message"].to_string();
    assert!(message.contains("waited 200 ms in its queue"), "{message}");

    // Admitted, the runaway guest was served to its end: stopped at its deadline.
    assert_eq!(running.status, 504, "{:?}", running.json());

    assert_eq!(host.get("/health").await.status, 200);
    for reason in ["queue_full", "queue_timeout"] {
        let shed = host
            .metric("wasml_requests_shed_total", &[("reason", reason)])
            .await;
        assert_eq!(shed, Some(1.0), "{reason}");
    }
    assert_eq!(
        host.metric("wasml_requests_queued_total", &[]).await,
        Some(1.0)
    );
    // Capacity is back: the next request is admitted and answered.
    assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
    assert_eq!((admission.running(), admission.queued()), (0, 0));
}

/// A body that sends its first bytes and then nothing, forever.
struct Stalled(bool);

impl http_body::Body for Stalled {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if std::mem::replace(&mut self.0, true) {
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(
            axum::body::Bytes::from_static(b"{\"age\": 3"),
        ))))
    }
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_408_and_gives_its_slot_back() {
    let host = TestHost::start(Options {
        body_read_timeout: Duration::from_millis(100),
        ..Options::default()
    });
    let stalled = axum::http::Request::post("/predict")
        .header("content-type", "application/json")
        .body(axum::body::Body::new(Stalled(false)))
        .unwrap();
    let reply = host.call(stalled).await;
    assert_eq!(reply.status, 408);
    assert_eq!(reply.json()["error"]["code"], "body_timeout");
    assert_eq!(host.state.admission.running(), 0);
    assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
}
