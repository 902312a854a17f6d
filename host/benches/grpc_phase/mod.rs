//! The load bench's gRPC phase (issue #22): the same host answers the seed's row at 64
//! requests in flight over gRPC `ModelInfer` (raw contents, as Triton's clients send; one
//! HTTP/2 connection per caller, 16 callers per connection, and all 64 on one connection
//! as a single client's channel carries them), REST V2 `infer` (JSON tensors) and
//! `POST /predict`, and each protocol's trivial call (what the transport
//! alone costs), alternated three times so drift in the machine's speed hits all alike;
//! medians, with the host's CPU time per request.
//!
//! The client shares the server's two cores, so each protocol is driven as leanly as the
//! other: REST by writing prepared bytes on HTTP/1 connections, gRPC by sending a
//! prepared message on bare `h2` streams (tonic's channel would add a buffer task per
//! call, the client's cost, not the server's), each connection one task with its
//! callers, as each REST connection is. The table gives both sides' CPU per request.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use http::{HeaderValue, Uri};
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
            "gRPC ModelInfer, 64 in flight on 1 connection (one client)",
            infer(1, 64),
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
    // what the protocol costs the server, whatever the client on the same cores costs;
    // and the client's (this process's), which the two cores share with the host.
    let mut runs: Vec<Vec<(Run, Cpu)>> = loads.iter().map(|_| Vec::new()).collect();
    for _ in 0..3 {
        for (i, (_, load)) in loads.iter().enumerate() {
            let before = (cpu_seconds(pid), cpu_seconds(std::process::id()));
            let run = drive(*load, length);
            let answers = run.latencies_us.len().max(1) as f64;
            let cpu = Cpu {
                host: (cpu_seconds(pid) - before.0) / answers,
                client: (cpu_seconds(std::process::id()) - before.1) / answers,
            };
            runs[i].push((run, cpu));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "| phase (median of 3) | goodput (200/s) | non-200 | p50 of 200s | p99 of 200s | host CPU per request | client CPU per request |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for ((name, _), runs) in loads.iter().zip(runs) {
        let (mut run, cpu) = median_run(runs);
        println!(
            "| {name} | {:.0} | {:.1} % | {:.3} ms | {:.3} ms | {:.1} µs | {:.1} µs |",
            run.goodput(),
            100.0 * run.failed_share(),
            run.ok_quantile_ms(0.50),
            run.ok_quantile_ms(0.99),
            cpu.host * 1e6,
            cpu.client * 1e6,
        );
        medians.push((run.goodput(), cpu.host));
    }
    let [
        grpc,
        multiplexed,
        one_connection,
        v2,
        predict,
        grpc_live,
        rest_live,
        grpc_batch,
        v2_batch,
    ] = medians[..]
    else {
        unreachable!("nine loads")
    };
    println!(
        "gRPC vs REST V2 at 64 in flight: goodput {:.2}x (on 4 connections {:.2}x, on 1 {:.2}x), host CPU per request {:.2}x (on 4 connections {:.2}x, on 1 {:.2}x); gRPC vs /predict: goodput {:.2}x (on 4 connections {:.2}x, on 1 {:.2}x)",
        grpc.0 / v2.0,
        multiplexed.0 / v2.0,
        one_connection.0 / v2.0,
        grpc.1 / v2.1,
        multiplexed.1 / v2.1,
        one_connection.1 / v2.1,
        grpc.0 / predict.0,
        multiplexed.0 / predict.0,
        one_connection.0 / predict.0
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

/// CPU seconds per request answered.
#[derive(Clone, Copy)]
struct Cpu {
    host: f64,
    client: f64,
}

/// The run with the median goodput, and its CPU per request.
fn median_run(mut runs: Vec<(Run, Cpu)>) -> (Run, Cpu) {
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
    /// The method's URI and its request, framed as gRPC sends it.
    fn prepared(self) -> (Uri, Bytes) {
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
        let uri = format!("http://localhost{path}").parse().unwrap();
        (uri, Bytes::from(framed))
    }
}

/// `connections` HTTP/2 connections with `streams` callers each, every caller making
/// `call` again as soon as its last answer came, for `length`. A connection and its
/// callers are one task, as a REST connection is: polled callers first, so that what they
/// send goes out in one write when the connection is polled after them.
async fn closed_loop_grpc(
    address: SocketAddr,
    call: Call,
    connections: u64,
    streams: u64,
    length: Duration,
) -> Run {
    let started = Instant::now();
    let end = started + length;
    let (uri, framed) = call.prepared();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (client, connection) = h2::client::handshake(stream).await.unwrap();
        let mut callers: FuturesUnordered<_> = (0..streams)
            .map(|_| caller(client.clone(), uri.clone(), framed.clone(), end))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut runs = Vec::new();
            while !callers.is_empty() {
                tokio::select! {
                    biased;
                    Some(timings) = callers.next() => runs.push(timings),
                    ended = &mut connection => panic!("the connection ended: {ended:?}"),
                }
            }
            runs
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        runs.extend(task.await.unwrap());
    }
    Run::merge(runs, started.elapsed())
}

/// One caller: calls `uri` until `end`, timing each answer.
async fn caller(
    mut client: h2::client::SendRequest<Bytes>,
    uri: Uri,
    framed: Bytes,
    end: Instant,
) -> Timings {
    let mut timings = Timings::default();
    while Instant::now() < end {
        let sent = Instant::now();
        let status = match unary(&mut client, &uri, framed.clone()).await {
            Ok(true) => 200,
            _ => 500,
        };
        timings.record(status, sent);
    }
    timings
}

/// One unary call of `uri` on `client`: whether it ended with `grpc-status: 0`.
async fn unary(
    client: &mut h2::client::SendRequest<Bytes>,
    uri: &Uri,
    framed: Bytes,
) -> Result<bool, h2::Error> {
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("te", HeaderValue::from_static("trailers"));
    std::future::poll_fn(|cx| client.poll_ready(cx)).await?;
    let (response, mut body) = client.send_request(request, false)?;
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
