//! The load bench's gRPC phase (issue #22): the same host answers the seed's row at 64
//! requests in flight over gRPC `ModelInfer` (raw contents, as Triton's clients send; one
//! HTTP/2 connection per caller), REST V2 `infer` (JSON tensors) and `POST /predict`,
//! alternated three times so drift in the machine's speed hits all alike; medians.
//!
//! The client shares the server's two cores, so each protocol is driven as leanly as the
//! other: REST by writing prepared bytes on HTTP/1 connections, gRPC by sending a
//! prepared message on bare `h2` streams (tonic's channel would add a buffer task per
//! call, the client's cost, not the server's).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use wasml_grpc_proto::ModelInferRequest;
use wasml_grpc_proto::model_infer_request::InferInputTensor;

use crate::http_driver::{Route, Run, Timings, closed_loop_to, start_host_with_grpc};

/// Runs the phase on a host of its own in `dir` and prints its rows and the ratio.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, length: Duration) {
    let (mut child, rest, grpc) = start_host_with_grpc(dir, &[]);
    // Warm-up: connections, pools.
    runtime.block_on(closed_loop_grpc(grpc, 64, 1, Duration::from_secs(2)));
    runtime.block_on(closed_loop_to(
        rest,
        Route::V2Infer,
        64,
        Duration::from_secs(2),
    ));
    let pid = child.id();
    // Each run with the host's CPU time over it (user + system), per request answered:
    // what the protocol costs the server, whatever the client on the same cores costs.
    let measured = |run: &dyn Fn() -> Run| {
        let before = cpu_seconds(pid);
        let run = run();
        let per_request = (cpu_seconds(pid) - before) / run.latencies_us.len().max(1) as f64;
        (run, per_request)
    };
    let (mut over_grpc, mut multiplexed) = (Vec::new(), Vec::new());
    let (mut over_v2, mut over_predict) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        over_grpc.push(measured(&|| {
            runtime.block_on(closed_loop_grpc(grpc, 64, 1, length))
        }));
        multiplexed.push(measured(&|| {
            runtime.block_on(closed_loop_grpc(grpc, 4, 16, length))
        }));
        over_v2.push(measured(&|| {
            runtime.block_on(closed_loop_to(rest, Route::V2Infer, 64, length))
        }));
        over_predict.push(measured(&|| {
            runtime.block_on(closed_loop_to(rest, Route::Predict, 64, length))
        }));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut medians = Vec::new();
    println!(
        "| phase (median of 3) | goodput (200/s) | non-200 | p50 of 200s | p99 of 200s | host CPU per request |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, runs) in [
        ("gRPC ModelInfer (raw contents), 64 connections", over_grpc),
        (
            "gRPC ModelInfer, 64 in flight on 4 connections",
            multiplexed,
        ),
        ("REST V2 infer (JSON tensors), c64", over_v2),
        ("POST /predict, c64", over_predict),
    ] {
        let (mut run, cpu) = median_run(runs);
        println!(
            "| {name} | {:.0} | {:.1} % | {:.3} ms | {:.3} ms | {:.1} µs |",
            run.goodput(),
            100.0 * run.failed_share(),
            run.ok_quantile_ms(0.50),
            run.ok_quantile_ms(0.99),
            cpu * 1e6,
        );
        medians.push((run.goodput(), cpu));
    }
    let (grpc, multiplexed, v2, predict) = (medians[0], medians[1], medians[2], medians[3]);
    println!(
        "gRPC vs REST V2 at 64 in flight: goodput {:.2}x (multiplexed {:.2}x), host CPU per request {:.2}x (multiplexed {:.2}x); gRPC vs /predict: goodput {:.2}x",
        grpc.0 / v2.0,
        multiplexed.0 / v2.0,
        grpc.1 / v2.1,
        multiplexed.1 / v2.1,
        grpc.0 / predict.0
    );
}

/// The run with the median goodput, and its host CPU seconds per request.
fn median_run(mut runs: Vec<(Run, f64)>) -> (Run, f64) {
    runs.sort_by(|a, b| a.0.goodput().total_cmp(&b.0.goodput()));
    runs.swap_remove(runs.len() / 2)
}

/// CPU seconds (user + system) process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the host runs");
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // The kernel's USER_HZ, 100 on Linux.
    ticks / 100.0
}

/// `connections` HTTP/2 connections with `streams` callers each, every caller sending the
/// seed's row as soon as its last answer came, for `length`.
async fn closed_loop_grpc(
    address: SocketAddr,
    connections: u64,
    streams: u64,
    length: Duration,
) -> Run {
    let started = Instant::now();
    let end = started + length;
    // The message in gRPC's framing: uncompressed, a 4-byte big-endian length, the bytes.
    let message = seed_request().encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let framed = Bytes::from(framed);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (client, connection) = h2::client::handshake(stream).await.unwrap();
        tokio::spawn(connection);
        for _ in 0..streams {
            let (mut client, framed) = (client.clone(), framed.clone());
            tasks.push(tokio::spawn(async move {
                let mut timings = Timings::default();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let status = match call(&mut client, framed.clone()).await {
                        Ok(true) => 200,
                        _ => 500,
                    };
                    timings.record(status, sent);
                }
                timings
            }));
        }
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    Run::merge(runs, started.elapsed())
}

/// One unary call on `client`: whether it ended with `grpc-status: 0`.
async fn call(
    client: &mut h2::client::SendRequest<Bytes>,
    framed: Bytes,
) -> Result<bool, h2::Error> {
    let request = http::Request::post(format!("http://localhost{PATH}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let mut ready = client.clone().ready().await?;
    let (response, mut body) = ready.send_request(request, false)?;
    body.send_data(framed, true)?;
    let mut response = response.await?;
    let answer = response.body_mut();
    while let Some(data) = answer.data().await {
        let data = data?;
        answer.flow_control().release_capacity(data.len())?;
    }
    let trailers = answer.trailers().await?;
    let status = trailers
        .as_ref()
        .or(Some(response.headers()))
        .and_then(|headers| headers.get("grpc-status"));
    Ok(status.is_some_and(|status| status == "0"))
}

/// The method's path.
const PATH: &str = "/inference.GRPCInferenceService/ModelInfer";

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
