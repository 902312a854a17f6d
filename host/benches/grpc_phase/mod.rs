//! The load bench's gRPC phase (issue #22): the same host answers the seed's row at 64
//! requests in flight over gRPC `ModelInfer` (raw contents, as Triton's clients send; one
//! HTTP/2 connection per caller, and 16 callers per connection), REST V2 `infer` (JSON
//! tensors) and `POST /predict`, and each protocol's trivial call (what the transport
//! alone costs), alternated three times so drift in the machine's speed hits all alike;
//! medians, with the host's CPU time per request.
//!
//! The client shares the server's two cores, so each protocol is driven as leanly as the
//! other: REST by writing prepared bytes on HTTP/1 connections, gRPC by sending a
//! prepared message on bare `h2` streams (tonic's channel would add a buffer task per
//! call, the client's cost, not the server's).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasml_grpc_proto::model_infer_request::InferInputTensor;
use wasml_grpc_proto::{ModelInferRequest, framed};

use crate::http_driver::{Route, Run, Timings, closed_loop_to, start_host_with_grpc};

/// What the phase drives, by name.
#[derive(Clone, Copy)]
enum Load {
    /// gRPC calls of `call` on `connections` connections with `streams` callers each.
    Grpc {
        call: Call,
        connections: u64,
        streams: u64,
    },
    /// A REST route at 64 connections.
    Rest(Route),
}

/// Runs the phase on a host of its own in `dir` and prints its rows and the ratios.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, length: Duration) {
    let (mut child, rest, grpc) = start_host_with_grpc(dir, &[]);
    let pid = child.id();
    let drive = |load: Load, length: Duration| match load {
        Load::Grpc {
            call,
            connections,
            streams,
        } => runtime.block_on(closed_loop_grpc(grpc, call, connections, streams, length)),
        Load::Rest(route) => runtime.block_on(closed_loop_to(rest, route, 64, length)),
    };
    let infer = |connections, streams| Load::Grpc {
        call: Call::Infer,
        connections,
        streams,
    };
    let loads = [
        (
            "gRPC ModelInfer (raw contents), 64 connections",
            infer(64, 1),
        ),
        (
            "gRPC ModelInfer, 64 in flight on 4 connections",
            infer(4, 16),
        ),
        (
            "REST V2 infer (JSON tensors), c64",
            Load::Rest(Route::V2Infer),
        ),
        ("POST /predict, c64", Load::Rest(Route::Predict)),
        (
            "gRPC ServerLive (trivial), 64 connections",
            Load::Grpc {
                call: Call::Live,
                connections: 64,
                streams: 1,
            },
        ),
        (
            "GET /v2/health/live (trivial), c64",
            Load::Rest(Route::Live),
        ),
        (
            "gRPC ModelInfer, 64-row batches, 64 connections",
            Load::Grpc {
                call: Call::InferBatch,
                connections: 64,
                streams: 1,
            },
        ),
        (
            "REST V2 infer, 64-row batches, c64",
            Load::Rest(Route::V2InferBatch),
        ),
    ];
    // Warm-up: connections, pools.
    drive(infer(64, 1), Duration::from_secs(2));
    drive(Load::Rest(Route::V2Infer), Duration::from_secs(2));
    // Each run with the host's CPU time over it (user + system) per request answered:
    // what the protocol costs the server, whatever the client on the same cores costs.
    let mut runs: Vec<Vec<(Run, f64)>> = loads.iter().map(|_| Vec::new()).collect();
    for _ in 0..3 {
        for (i, (_, load)) in loads.iter().enumerate() {
            let before = cpu_seconds(pid);
            let run = drive(*load, length);
            let cpu = (cpu_seconds(pid) - before) / run.latencies_us.len().max(1) as f64;
            runs[i].push((run, cpu));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "| phase (median of 3) | goodput (200/s) | non-200 | p50 of 200s | p99 of 200s | host CPU per request |"
    );
    println!("|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for ((name, _), runs) in loads.iter().zip(runs) {
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
    let [
        grpc,
        multiplexed,
        v2,
        predict,
        grpc_live,
        rest_live,
        grpc_batch,
        v2_batch,
    ] = medians[..]
    else {
        unreachable!("eight loads")
    };
    println!(
        "gRPC vs REST V2 at 64 in flight: goodput {:.2}x (multiplexed {:.2}x), host CPU per request {:.2}x (multiplexed {:.2}x); gRPC vs /predict: goodput {:.2}x",
        grpc.0 / v2.0,
        multiplexed.0 / v2.0,
        grpc.1 / v2.1,
        multiplexed.1 / v2.1,
        grpc.0 / predict.0
    );
    println!(
        "the transport alone (trivial calls): gRPC {:.1} µs vs REST {:.1} µs of host CPU per request",
        grpc_live.1 * 1e6,
        rest_live.1 * 1e6
    );
    println!(
        "64-row batches: gRPC vs REST V2 rows per second {:.2}x, host CPU per request {:.2}x",
        grpc_batch.0 / v2_batch.0,
        grpc_batch.1 / v2_batch.1
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

/// A unary gRPC call the phase makes.
#[derive(Clone, Copy)]
enum Call {
    /// `ModelInfer` with the seed's row in raw contents.
    Infer,
    /// `ModelInfer` with the seed's row 64 times.
    InferBatch,
    /// `ServerLive`: the gRPC listener's trivial call.
    Live,
}

impl Call {
    /// The method's path and its request, framed as gRPC sends it.
    fn prepared(self) -> (&'static str, Bytes) {
        let (path, framed) = match self {
            Self::Infer | Self::InferBatch => (
                "/inference.GRPCInferenceService/ModelInfer",
                framed(&seed_request(if matches!(self, Self::Infer) {
                    1
                } else {
                    64
                })),
            ),
            Self::Live => ("/inference.GRPCInferenceService/ServerLive", framed(&())),
        };
        (path, Bytes::from(framed))
    }
}

/// `connections` HTTP/2 connections with `streams` callers each, every caller making
/// `call` again as soon as its last answer came, for `length`.
async fn closed_loop_grpc(
    address: SocketAddr,
    call: Call,
    connections: u64,
    streams: u64,
    length: Duration,
) -> Run {
    let started = Instant::now();
    let end = started + length;
    let (path, framed) = call.prepared();
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
                    let status = match unary(&mut client, path, framed.clone()).await {
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

/// One unary call of `path` on `client`: whether it ended with `grpc-status: 0`.
async fn unary(
    client: &mut h2::client::SendRequest<Bytes>,
    path: &str,
    framed: Bytes,
) -> Result<bool, h2::Error> {
    let request = http::Request::post(format!("http://localhost{path}"))
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

/// The seed's row `rows` times in raw contents: little-endian `INT64`s, length-prefixed
/// `BYTES`.
fn seed_request(rows: usize) -> ModelInferRequest {
    let number = |n: i64| n.to_le_bytes().repeat(rows);
    let text = |s: &str| {
        [&(s.len() as u32).to_le_bytes()[..], s.as_bytes()]
            .concat()
            .repeat(rows)
    };
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
                shape: vec![rows as i64],
                ..Default::default()
            })
            .collect(),
        raw_input_contents: fields.into_iter().map(|(_, _, raw)| raw).collect(),
        ..Default::default()
    }
}
