//! Steady `/predict` traffic from threads of the test process, one connection per request,
//! every outcome recorded: for fault tests (every request answered 200? every answered
//! request's event indexed once?) and the soak bench (success rate, latency over time).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::http;

/// A valid row of the bundled model.
pub const ROW: &str = r#"{"age": 41, "job": "technician", "marital": "married", "education": "tertiary", "housing": "no", "loan": "no", "duration": 620, "campaign": 1}"#;

/// One request's fate.
#[derive(Debug, Clone)]
pub struct Sent {
    /// When it was sent.
    pub at: Instant,
    /// How long until its answer (or failure).
    pub latency: Duration,
    /// Its status and request ID, or how the connection failed.
    pub result: Result<(u16, Option<String>), ErrorKind>,
    /// The `x-served-by` header, when a balancer in front names the server that answered.
    pub served_by: Option<String>,
}

impl Sent {
    /// Whether it was answered 200.
    pub fn succeeded(&self) -> bool {
        matches!(self.result, Ok((200, _)))
    }
}

/// Traffic in progress.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Vec<Sent>>>,
}

impl Load {
    /// `threads` senders to `address`, together sending about `per_second` requests a
    /// second (as fast as answered when `None`).
    pub fn start(address: SocketAddr, threads: usize, per_second: Option<f64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let interval = per_second.map(|rate| Duration::from_secs_f64(threads as f64 / rate));
        let threads = (0..threads)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || send_until(address, &stop, interval))
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops sending; every request sent, in order of sending.
    pub fn stop(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        let mut sent: Vec<Sent> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().expect("a load thread"))
            .collect();
        sent.sort_by_key(|s| s.at);
        sent
    }
}

fn send_until(address: SocketAddr, stop: &AtomicBool, interval: Option<Duration>) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(interval) = interval {
            next += interval;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let at = Instant::now();
        let response = http::request(
            address,
            "POST",
            "/predict",
            "application/json",
            ROW.as_bytes(),
        );
        let served_by = response
            .as_ref()
            .ok()
            .and_then(|r| r.header("x-served-by").map(str::to_owned));
        let result = response
            .map(|r| (r.status, r.json()["request_id"].as_str().map(str::to_owned)))
            .map_err(|e| e.kind());
        sent.push(Sent {
            at,
            latency: at.elapsed(),
            result,
            served_by,
        });
    }
    sent
}
