//! A real Prometheus (Debian's `prometheus`) on loopback, configured from
//! `observability/prometheus/prometheus.yml` with the compose service names replaced by
//! the test's processes, intervals of one second, and the repository's rule files.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wasml_test_support::http::request_with;

/// A running Prometheus, killed when dropped.
pub struct Prometheus {
    child: Child,
    /// Where its HTTP API listens.
    pub address: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus in `dir`, scraping `host` as job `wasml-host` and `collector` as
    /// `wasml-collector`, and waits until it is ready.
    pub fn start(dir: &Path, host: SocketAddr, collector: SocketAddr) -> Self {
        let rules = crate::observability_dir().join("prometheus/rules");
        let mut config = crate::yaml("prometheus/prometheus.yml");
        config["global"]["scrape_interval"] = "1s".into();
        config["global"]["evaluation_interval"] = "1s".into();
        config["rule_files"] = ["recording.yml", "alerts.yml"]
            .map(|f| Value::from(rules.join(f).display().to_string()))
            .into_iter()
            .collect();
        // No Alertmanager here: the rules are evaluated, nothing is sent.
        config.as_object_mut().unwrap().remove("alerting");
        for job in config["scrape_configs"].as_array_mut().unwrap() {
            let target = match job["job_name"].as_str().unwrap() {
                "wasml-host" => host.to_string(),
                "wasml-collector" => collector.to_string(),
                _ => continue,
            };
            job["static_configs"][0]["targets"] = vec![Value::from(target)].into();
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, serde_yaml::to_string(&config).unwrap()).unwrap();

        let address = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus runs: install Debian's prometheus (.ci/run does)");
        let prometheus = Self { child, address };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !request_with(address, "GET", "/-/ready", &[], b"").is_ok_and(|r| r.status == 200) {
            assert!(
                Instant::now() < deadline,
                "prometheus never became ready: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// Runs an instant query; returns Prometheus's `data.result` or panics with its error.
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let response =
            request_with(self.address, "GET", &path, &[], b"").expect("prometheus answers");
        let body = response.json();
        assert_eq!(
            body["status"], "success",
            "Prometheus refused {expr:?}: {body}"
        );
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The health of each scrape target, by job.
    pub fn targets(&self) -> Vec<(String, String)> {
        let body = request_with(self.address, "GET", "/api/v1/targets", &[], b"")
            .expect("prometheus answers")
            .json();
        body["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["labels"]["job"].as_str().unwrap().to_owned(),
                    t["health"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address nobody listens on now (Prometheus cannot take port 0 and say which
/// port it got).
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Percent-encodes everything but unreserved characters, for a query string.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
