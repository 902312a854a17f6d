//! The load driver shared by the HTTP benches: start the host binary, keep-alive
//! connections sending the seed request, closed and open loops, latency percentiles.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The seed's request.
pub const BODY: &str = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;

/// Starts the host binary on an ephemeral loopback port, with its cache and events in
/// `dir` and `extra` flags, and waits for it to listen.
pub fn start_host(dir: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasml-host"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "info",
        ])
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
    let address = loop {
        let line = lines
            .next()
            .expect("the host logs until it listens")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if entry["fields"]["message"] == "listening" {
            break entry["fields"]["address"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    // Keep draining the log so the host never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// Latencies and failures of one phase.
pub struct Run {
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
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

    /// The latency at quantile `q` (0.99: p99), in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        let i = ((n as f64 * q).ceil() as usize).clamp(1, n.max(1)) - 1;
        self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }

    fn merge(runs: Vec<(Vec<u64>, u64)>, elapsed: Duration) -> Self {
        let mut latencies_us = Vec::new();
        let mut failures = 0;
        for (latencies, failed) in runs {
            latencies_us.extend(latencies);
            failures += failed;
        }
        Self {
            elapsed,
            latencies_us,
            failures,
        }
    }
}

pub async fn closed_loop(address: SocketAddr, connections: u64, length: Duration) -> Run {
    let end = Instant::now() + length;
    // Each request is due the moment the previous one is answered.
    drive(address, connections, move |_, _| {
        let now = Instant::now();
        (now < end).then_some(now)
    })
    .await
}

pub async fn open_loop(address: SocketAddr, rate: u64, connections: u64, length: Duration) -> Run {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(connections as f64 / rate as f64);
    let per_connection = (length.as_secs_f64() / interval.as_secs_f64()) as u32;
    // Connection `i` sends every `interval`, staggered evenly over one interval.
    drive(address, connections, move |i, k| {
        (k < per_connection)
            .then(|| started + interval.mul_f64(i as f64 / connections as f64) + interval * k)
    })
    .await
}

/// Runs `connections` connections; `due(i, k)` is when connection `i`'s `k`-th request is
/// due (`None`: that connection is done). Latency runs from the due time.
async fn drive(
    address: SocketAddr,
    connections: u64,
    due: impl Fn(u64, u32) -> Option<Instant> + Copy + Send + 'static,
) -> Run {
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(async move {
                let mut connection = Connection::open(address).await;
                let mut latencies = Vec::new();
                let mut failures = 0;
                let mut k = 0;
                while let Some(at) = due(i, k) {
                    tokio::time::sleep_until(at.into()).await;
                    if connection.predict().await != 200 {
                        failures += 1;
                    }
                    latencies.push(at.elapsed().as_micros() as u64);
                    k += 1;
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut runs = Vec::new();
    for task in tasks {
        runs.push(task.await.unwrap());
    }
    Run::merge(runs, started.elapsed())
}

/// One keep-alive HTTP/1.1 connection sending the seed request.
struct Connection {
    stream: TcpStream,
    request: Vec<u8>,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let request = format!(
            "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        )
        .into_bytes();
        Self {
            stream,
            request,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends one request and reads the whole response; returns its status.
    async fn predict(&mut self) -> u16 {
        self.stream.write_all(&self.request).await.unwrap();
        self.buffer.clear();
        let header_end = loop {
            if let Some(i) = find(&self.buffer, b"\r\n\r\n") {
                break i + 4;
            }
            self.read_more().await;
        };
        let head = std::str::from_utf8(&self.buffer[..header_end]).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("responses carry Content-Length");
        while self.buffer.len() < header_end + length {
            self.read_more().await;
        }
        status
    }

    async fn read_more(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the host closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
