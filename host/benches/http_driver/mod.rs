//! The load driver shared by the HTTP benches: start the host binary, keep-alive
//! connections (plain or TLS) sending the seed request (or a trivial route's), closed and
//! open loops, latency percentiles of all answers and of the successful ones.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wasml_test_support::process::host_command;

/// The seed's request.
pub const BODY: &str = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;

/// Starts the host binary on an ephemeral loopback port, with its cache and events in
/// `dir` and `extra` flags, and waits for it to listen.
pub fn start_host(dir: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let (child, address, _) = start_host_with_grpc(dir, extra);
    (child, address)
}

/// [`start_host`], and the address of its gRPC listener (also on an ephemeral port).
pub fn start_host_with_grpc(dir: &Path, extra: &[&str]) -> (Child, SocketAddr, SocketAddr) {
    start_host_in(dir, extra, &[])
}

/// [`start_host_with_grpc`] with environment variables `env` set for the host.
pub fn start_host_in(
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, SocketAddr, SocketAddr) {
    let mut child = host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .envs(env.iter().copied())
        .args(["--log", "info"])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--events")
        .arg(dir.join("events"))
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the host binary starts");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut grpc = None;
    let address = loop {
        let line = lines
            .next()
            .expect("the host logs until it listens")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let address = || {
            entry["fields"]["address"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        match entry["fields"]["message"].as_str() {
            Some("grpc listening") => grpc = Some(address()),
            Some("listening") => break address(),
            _ => {}
        }
    };
    let grpc = grpc.expect("the gRPC listener starts before REST says it listens");
    // Keep draining the log so the host never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address, grpc)
}

/// What a connection asks for.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    /// `POST /predict` with the seed's row.
    Predict,
    /// `GET /v2/health/live`: the same server's trivial route, the HTTP floor.
    Live,
    /// `POST /v2/models/bank-marketing/infer` with the seed's row as JSON tensors.
    V2Infer,
    /// The same with the seed's row 64 times: a batch.
    V2InferBatch,
}

/// The seed's row `rows` times as the Open Inference Protocol's JSON tensors.
pub fn v2_body(rows: usize) -> String {
    let fields = [
        ("age", "INT64", "30"),
        ("job", "BYTES", "\"admin.\""),
        ("marital", "BYTES", "\"single\""),
        ("education", "BYTES", "\"secondary\""),
        ("housing", "BYTES", "\"yes\""),
        ("loan", "BYTES", "\"no\""),
        ("duration", "INT64", "200"),
        ("campaign", "INT64", "2"),
    ];
    let inputs: Vec<String> = fields
        .iter()
        .map(|(name, datatype, value)| {
            let data = vec![*value; rows].join(", ");
            format!(r#"{{"name": "{name}", "shape": [{rows}], "datatype": "{datatype}", "data": [{data}]}}"#)
        })
        .collect();
    format!(r#"{{"inputs": [{}]}}"#, inputs.join(", "))
}

impl Route {
    fn request(self) -> Vec<u8> {
        match self {
            Self::Predict => format!(
                "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
                BODY.len()
            )
            .into_bytes(),
            Self::Live => b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            Self::V2Infer | Self::V2InferBatch => {
                let body = v2_body(if matches!(self, Self::V2Infer) { 1 } else { 64 });
                format!(
                    "POST /v2/models/bank-marketing/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            }
        }
    }
}

/// Latencies and failures of one phase.
pub struct Run {
    pub elapsed: Duration,
    /// Every answer's latency.
    pub latencies_us: Vec<u64>,
    /// The latencies of the 200 answers only.
    pub ok_latencies_us: Vec<u64>,
    pub failures: u64,
}

impl Run {
    pub fn print(mut self, name: &str) {
        let n = self.latencies_us.len();
        println!(
            "{name}: {n} requests in {:.1} s = {:.0} req/s, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, non-200 {}",
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.quantile_ms(0.50),
            self.quantile_ms(0.90),
            self.quantile_ms(0.99),
            self.quantile_ms(1.0),
            self.failures
        );
    }

    /// Requests answered per second.
    pub fn throughput(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// 200 answers per second.
    pub fn goodput(&self) -> f64 {
        self.ok_latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The share of answers that were not 200.
    pub fn failed_share(&self) -> f64 {
        self.failures as f64 / self.latencies_us.len().max(1) as f64
    }

    /// The latency at quantile `q` (0.99: p99), in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        quantile_ms(&mut self.latencies_us, q)
    }

    /// The latency of the 200 answers at quantile `q`, in milliseconds.
    pub fn ok_quantile_ms(&mut self, q: f64) -> f64 {
        quantile_ms(&mut self.ok_latencies_us, q)
    }

    /// The runs of several connections over `elapsed`, as one.
    pub fn merge(runs: Vec<Timings>, elapsed: Duration) -> Self {
        let mut run = Self {
            elapsed,
            latencies_us: Vec::new(),
            ok_latencies_us: Vec::new(),
            failures: 0,
        };
        for timings in runs {
            run.latencies_us.extend(timings.all);
            run.ok_latencies_us.extend(timings.ok);
            run.failures += timings.failures;
        }
        run
    }
}

fn quantile_ms(latencies_us: &mut [u64], q: f64) -> f64 {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let i = ((n as f64 * q).ceil() as usize).clamp(1, n.max(1)) - 1;
    latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

/// One connection's answers.
#[derive(Default)]
pub struct Timings {
    all: Vec<u64>,
    ok: Vec<u64>,
    failures: u64,
}

impl Timings {
    /// An answer with HTTP `status` (200: a success) to a request sent at `since`.
    pub fn record(&mut self, status: u16, since: Instant) {
        let us = since.elapsed().as_micros() as u64;
        self.all.push(us);
        if status == 200 {
            self.ok.push(us);
        } else {
            self.failures += 1;
        }
    }
}

/// `/predict` goodput at 64 connections on each of `hosts` (with its TLS, if any), the
/// hosts driven in turn three times so drift in the machine's speed hits all alike;
/// each host's median, after a 2 s warm-up of each.
pub fn alternate(
    runtime: &tokio::runtime::Runtime,
    hosts: &[(SocketAddr, Option<TlsConnector>)],
    length: Duration,
) -> Vec<f64> {
    let goodput = |(address, tls): &(SocketAddr, Option<TlsConnector>), length| {
        runtime
            .block_on(closed_loop_over(
                *address,
                tls.clone(),
                Route::Predict,
                64,
                length,
            ))
            .goodput()
    };
    for host in hosts {
        goodput(host, Duration::from_secs(2));
    }
    let mut runs = vec![Vec::new(); hosts.len()];
    for _ in 0..3 {
        for (i, host) in hosts.iter().enumerate() {
            runs[i].push(goodput(host, length));
        }
    }
    runs.into_iter().map(median).collect()
}

/// The middle of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub async fn closed_loop(address: SocketAddr, connections: u64, length: Duration) -> Run {
    closed_loop_to(address, Route::Predict, connections, length).await
}

/// `connections` connections asking for `route` for `length`, each sending its next
/// request as soon as the last is answered; latency runs from the send.
pub async fn closed_loop_to(
    address: SocketAddr,
    route: Route,
    connections: u64,
    length: Duration,
) -> Run {
    closed_loop_over(address, None, route, connections, length).await
}

/// [`closed_loop_to`], over TLS when `tls` is given (one handshake per connection).
pub async fn closed_loop_over(
    address: SocketAddr,
    tls: Option<TlsConnector>,
    route: Route,
    connections: u64,
    length: Duration,
) -> Run {
    let started = Instant::now();
    let end = started + length;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let tls = tls.clone();
            tokio::spawn(async move {
                let mut connection = Connection::open(address, tls, route).await;
                let mut timings = Timings::default();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let status = connection.send().await;
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

/// An open loop: `connections` keep-alive connections together send the seed request at
/// `rate` for `length`, each latency timed from when its request was due (a stall counts
/// for every request it delays). Each connection is a thread timed by the OS: tokio's
/// timer rounds every wait up to its next 1 ms tick, which would add up to a millisecond
/// to sub-millisecond latencies.
pub async fn open_loop(address: SocketAddr, rate: u64, connections: u64, length: Duration) -> Run {
    tokio::task::spawn_blocking(move || open_loop_on_threads(address, rate, connections, length))
        .await
        .expect("the open loop's threads finish")
}

fn open_loop_on_threads(address: SocketAddr, rate: u64, connections: u64, length: Duration) -> Run {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(connections as f64 / rate as f64);
    let per_connection = (length.as_secs_f64() / interval.as_secs_f64()) as u32;
    let threads: Vec<_> = (0..connections)
        .map(|i| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                stream.set_nodelay(true).unwrap();
                let request = Route::Predict.request();
                let mut buffer = Vec::with_capacity(4096);
                let mut timings = Timings::default();
                let first = started + interval.mul_f64(i as f64 / connections as f64);
                for k in 0..per_connection {
                    let at = first + interval * k;
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    stream.write_all(&request).unwrap();
                    buffer.clear();
                    let status = loop {
                        if let Some(response) = complete_response(&buffer) {
                            break response.status;
                        }
                        let mut chunk = [0u8; 4096];
                        let n = stream.read(&mut chunk).unwrap();
                        assert!(n > 0, "the host closed the connection");
                        buffer.extend_from_slice(&chunk[..n]);
                    };
                    timings.record(status, at);
                }
                timings
            })
        })
        .collect();
    let runs = threads.into_iter().map(|t| t.join().unwrap()).collect();
    Run::merge(runs, started.elapsed())
}

/// A whole response's status, and whether the server closes the connection after it.
struct Response {
    status: u16,
    closes: bool,
}

/// The response `buffer` holds whole, if it does.
fn complete_response(buffer: &[u8]) -> Option<Response> {
    let header_end = find(buffer, b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..header_end]).unwrap();
    let status = head[9..12].parse().unwrap();
    let header = |wanted: &str| {
        head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case(wanted).then(|| value.trim())
        })
    };
    let length: usize = header("content-length")
        .expect("responses carry Content-Length")
        .parse()
        .unwrap();
    // gunicorn's sync workers (the Flask peer) answer one request per connection.
    let closes = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    (buffer.len() >= header_end + length).then_some(Response { status, closes })
}

/// One keep-alive HTTP/1.1 connection sending one route's request (reconnecting when a
/// server closes it after an answer, as `wrk` does).
struct Connection {
    address: SocketAddr,
    tls: Option<TlsConnector>,
    stream: Box<dyn Stream>,
    request: Vec<u8>,
    buffer: Vec<u8>,
}

/// A connection's byte stream, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Connection {
    async fn open(address: SocketAddr, tls: Option<TlsConnector>, route: Route) -> Self {
        Self {
            address,
            stream: connect(address, tls.as_ref()).await,
            tls,
            request: route.request(),
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends one request and reads the whole response; returns its status.
    async fn send(&mut self) -> u16 {
        self.stream.write_all(&self.request).await.unwrap();
        self.buffer.clear();
        loop {
            if let Some(response) = complete_response(&self.buffer) {
                if response.closes {
                    self.stream = connect(self.address, self.tls.as_ref()).await;
                }
                return response.status;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the host closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A connection to `address`, over TLS when `tls` is given.
pub async fn connect(address: SocketAddr, tls: Option<&TlsConnector>) -> Box<dyn Stream> {
    let stream = TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    match tls {
        None => Box::new(stream),
        Some(connector) => {
            let name = rustls::pki_types::ServerName::IpAddress(address.ip().into());
            Box::new(connector.connect(name, stream).await.unwrap())
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
