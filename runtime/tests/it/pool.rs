//! The instance pool hands out warm instances to concurrent callers, replaces an
//! instance that trapped instead of reusing it, and scales to zero when idle.

use crate::common;

use std::time::Duration;

use wasml_predictor::row_from_json;
use wasml_runtime::bindings::types::{Feature, FeatureValue};
use wasml_runtime::host::GuestEvent;
use wasml_runtime::{CallError, InstancePool, SandboxLimits, convert};

fn mode(mode: &str) -> Vec<Feature> {
    vec![Feature {
        name: "mode".into(),
        value: FeatureValue::Text(mode.into()),
    }]
}

#[tokio::test]
async fn a_trapped_instance_is_replaced_and_the_pool_keeps_serving() {
    let limits = SandboxLimits {
        deadline: Duration::from_millis(20),
        ..SandboxLimits::default()
    };
    let component = common::hostile().clone().with_limits(limits);
    let pool = InstancePool::new(component, 2).await.unwrap();
    assert_eq!((pool.idle(), pool.busy(), pool.replaced()), (1, 0, 0));

    {
        let mut instance = pool.checkout().await.unwrap();
        assert_eq!((pool.idle(), pool.busy()), (0, 1));
        let error = instance.predict(&mode("loop")).await.unwrap_err();
        assert!(matches!(error, CallError::DeadlineExceeded(_)), "{error}");
    }
    // Discarded, not given back; the next checkout warms a fresh one.
    assert_eq!((pool.idle(), pool.busy(), pool.replaced()), (0, 0, 1));

    // Every instance the pool hands out now answers: none of them is the trapped one.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(pool.checkout().await.unwrap());
    }
    for instance in &mut held {
        instance.predict(&mode("ok")).await.unwrap().unwrap();
    }
    // With both busy, a third caller still gets an instance; the pool keeps only `size`.
    held.push(pool.checkout().await.unwrap());
    assert_eq!((pool.idle(), pool.busy()), (0, 3));
    drop(held);
    assert_eq!((pool.idle(), pool.busy(), pool.size()), (2, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_warm_instances() {
    let pool = InstancePool::new(common::bank_marketing("v2").clone(), 2)
        .await
        .unwrap();
    let row = serde_json::json!({"age": 41, "job": "technician", "marital": "married",
        "education": "tertiary", "housing": "no", "loan": "no", "duration": 600, "campaign": 1});
    let row = convert::features(&row_from_json(row.as_object().unwrap()).unwrap());
    let mut first = pool.checkout().await.unwrap();
    // Warming parsed the model; its load report is still there for the host to forward.
    let (events, _) = first.take_events();
    let loaded =
        |e: &GuestEvent| matches!(e, GuestEvent::Log { message, .. } if message == "model loaded");
    assert!(events.iter().any(loaded), "{events:?}");
    let expected = common::probabilities(&first.predict(&row).await.unwrap().unwrap()).to_vec();
    drop(first);

    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (pool, row, expected) = (pool.clone(), row.clone(), expected.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let mut instance = pool.checkout().await.unwrap();
                    let prediction = instance.predict(&row).await.unwrap().unwrap();
                    assert_eq!(common::probabilities(&prediction), expected);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!((pool.busy(), pool.replaced()), (0, 0));
    // The pool grows only when callers overlap, which the scheduler decides; it never
    // keeps more than its size.
    assert!((1..=2).contains(&pool.idle()), "{} idle", pool.idle());
}

#[tokio::test]
async fn a_pool_grows_on_demand_and_an_idle_one_scales_to_zero_and_back() {
    let pool = InstancePool::new(common::bank_marketing("v1").clone(), 2)
        .await
        .unwrap();
    assert_eq!(pool.live(), 1, "one instance at start");
    {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.checkout().await.unwrap());
        }
        assert_eq!((pool.idle(), pool.busy()), (0, 3));
    }
    assert_eq!(
        pool.idle(),
        2,
        "no more idle instances than the pool's size"
    );
    assert_eq!(
        pool.shrink_idle(Duration::from_secs(3600)),
        0,
        "none idle for an hour"
    );
    assert_eq!(pool.shrink_idle(Duration::ZERO), 2);
    assert_eq!(pool.live(), 0);

    // The next request instantiates and parses the model again, and is answered.
    let row = convert::features(&row_from_json(&serde_json::from_str(r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#).unwrap()).unwrap());
    let answer = pool.checkout().await.unwrap().predict(&row).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(pool.live(), 1);
}
