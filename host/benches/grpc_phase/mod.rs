//! The load bench's gRPC phase (issue #22): the same host answers the seed's row at 64
//! requests in flight over gRPC `ModelInfer` (raw contents, as Triton's clients send; one
//! HTTP/2 connection per caller), REST V2 `infer` (JSON tensors) and `POST /predict`,
//! alternated three times so drift in the machine's speed hits all alike; medians.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use wasml_grpc_proto::ModelInferRequest;
use wasml_grpc_proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use wasml_grpc_proto::model_infer_request::InferInputTensor;

use crate::http_driver::{Route, Run, Timings, closed_loop_to, start_host_with_grpc};

/// Runs the phase on a host of its own in `dir` and prints its rows and the ratio.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, length: Duration) {
    let (mut child, rest, grpc) = start_host_with_grpc(dir, &[]);
    // Warm-up: connections, pools.
    runtime.block_on(closed_loop_grpc(grpc, 64, Duration::from_secs(2)));
    runtime.block_on(closed_loop_to(
        rest,
        Route::V2Infer,
        64,
        Duration::from_secs(2),
    ));
    let (mut over_grpc, mut over_v2, mut over_predict) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        over_grpc.push(runtime.block_on(closed_loop_grpc(grpc, 64, length)));
        over_v2.push(runtime.block_on(closed_loop_to(rest, Route::V2Infer, 64, length)));
        over_predict.push(runtime.block_on(closed_loop_to(rest, Route::Predict, 64, length)));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut medians = Vec::new();
    for (name, runs) in [
        ("gRPC ModelInfer (raw contents), 64 in flight", over_grpc),
        ("REST V2 infer (JSON tensors), c64", over_v2),
        ("POST /predict, c64", over_predict),
    ] {
        let mut run = median_run(runs);
        println!(
            "| {name} (median of 3) | {:.0} | {:.1} % | {:.3} ms | {:.3} ms |",
            run.goodput(),
            100.0 * run.failed_share(),
            run.ok_quantile_ms(0.50),
            run.ok_quantile_ms(0.99),
        );
        medians.push(run.goodput());
    }
    println!(
        "gRPC vs REST V2 at 64 in flight: {:.2}x; gRPC vs /predict: {:.2}x",
        medians[0] / medians[1],
        medians[0] / medians[2]
    );
}

/// The run with the median goodput.
fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.goodput().total_cmp(&b.goodput()));
    runs.swap_remove(runs.len() / 2)
}

/// `connections` callers, each on its own HTTP/2 connection, sending the seed's row as
/// soon as the last answer came, for `length`.
async fn closed_loop_grpc(address: SocketAddr, connections: u64, length: Duration) -> Run {
    let started = Instant::now();
    let end = started + length;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(async move {
                let channel = Channel::from_shared(format!("http://{address}"))
                    .unwrap()
                    .connect()
                    .await
                    .expect("the gRPC listener accepts");
                let mut client = GrpcInferenceServiceClient::new(channel);
                let request = seed_request();
                let mut timings = Timings::default();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let status = match client.model_infer(request.clone()).await {
                        Ok(_) => 200,
                        Err(_) => 500,
                    };
                    timings.record(status, sent);
                }
                timings
            })
        })
        .collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    Run::merge(runs, started.elapsed())
}

/// The seed's row in raw contents: little-endian `INT64`s, length-prefixed `BYTES`.
fn seed_request() -> ModelInferRequest {
    let number = |n: i64| n.to_le_bytes().to_vec();
    let text = |s: &str| [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()].concat();
    let fields = [
        ("age", "INT64", number(30)),
        ("job", "BYTES", text("admin.")),
        ("marital", "BYTES", text("single")),
        ("education", "BYTES", text("secondary")),
        ("housing", "BYTES", text("yes")),
        ("loan", "BYTES", text("no")),
        ("duration", "INT64", number(200)),
        ("campaign", "INT64", number(2)),
    ];
    ModelInferRequest {
        model_name: "bank-marketing".into(),
        inputs: fields
            .iter()
            .map(|(name, datatype, _)| InferInputTensor {
                name: (*name).into(),
                datatype: (*datatype).into(),
                shape: vec![1],
                ..Default::default()
            })
            .collect(),
        raw_input_contents: fields.into_iter().map(|(_, _, raw)| raw).collect(),
        ..Default::default()
    }
}
