//! HAProxy (Debian's `haproxy`) in front of hosts on loopback, as a fleet's load balancer:
//! round robin, health checks on `/v2/health/ready` every 200 ms, connection failures
//! retried on another server, and the answering server named in `x-served-by`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::eventually;

/// A running HAProxy, killed when dropped.
pub struct Balancer {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    log: PathBuf,
}

impl Balancer {
    /// HAProxy balancing over `servers` (named `host0`, `host1`, … in `x-served-by`), its
    /// config and output in `dir`.
    pub fn start(dir: &Path, servers: &[SocketAddr]) -> Self {
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let servers: String = servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                format!("    server host{i} {server} check inter 200ms fall 2 rise 2\n")
            })
            .collect();
        let config = format!(
            "global
    maxconn 2000
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    retry-on conn-failure
    option redispatch
frontend fleet
    bind {address}
    default_backend hosts
backend hosts
    balance roundrobin
    option httpchk GET /v2/health/ready
    http-check expect status 200
    http-response set-header X-Served-By %s
{servers}"
        );
        let config_path = dir.join("haproxy.cfg");
        std::fs::create_dir_all(dir).expect("the balancer's directory");
        std::fs::write(&config_path, config).expect("haproxy.cfg");
        let log = dir.join("haproxy.log");
        let output = std::fs::File::create(&log).expect("haproxy.log");
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&config_path)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .expect("haproxy runs (Debian's haproxy: .ci/run installs it)");
        let balancer = Self {
            child,
            address,
            log,
        };
        assert!(
            eventually(Duration::from_secs(10), || TcpStream::connect(address)
                .is_ok()),
            "haproxy listens on {address}: {}",
            balancer.log()
        );
        balancer
    }

    /// What HAProxy wrote so far: its warnings, such as `Server hosts/host1 is DOWN`.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
