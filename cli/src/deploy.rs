//! `wasml deploy`: a package through a host's admin API — upload, follow the validation
//! gate, activate on request.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::{Client, Method};
use serde_json::Value;

/// `wasml deploy`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model component (a package: its manifest names the model and version).
    wasm: PathBuf,
    /// The host's base URL, e.g. `http://127.0.0.1:5000`.
    #[arg(long, env = "WASML_HOST")]
    host: String,
    /// The host's admin token.
    #[arg(long, env = "WASML_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    /// A conformance set for the gate to check the version against.
    #[arg(long)]
    conformance: Option<PathBuf>,
    /// Accept a schema change that would refuse inputs the active version accepts.
    #[arg(long)]
    force: bool,
    /// Activate the version once it passed the gate.
    #[arg(long)]
    activate: bool,
    /// How long to wait for the gate, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

/// Deploys, or says which step failed and why.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(deploy(args))
}

async fn deploy(args: &Args) -> anyhow::Result<()> {
    let wasm =
        std::fs::read(&args.wasm).with_context(|| format!("reading {}", args.wasm.display()))?;
    let manifest = wasml_package::Manifest::read(&wasm).with_context(|| {
        format!(
            "{} is not a wasml package (no manifest)",
            args.wasm.display()
        )
    })?;
    let admin = Admin {
        client: Client::new(),
        base: format!(
            "{}/admin/models/{}/versions/{}",
            args.host.trim_end_matches('/'),
            manifest.name,
            manifest.version
        ),
        token: args.token.clone(),
    };
    if let Some(path) = &args.conformance {
        let set = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        admin.send(Method::PUT, "/conformance", set).await?;
    }
    let query = if args.force { "?force=true" } else { "" };
    admin.send(Method::PUT, query, wasm).await?;
    println!(
        "uploaded {} {}; waiting for the gate",
        manifest.name, manifest.version
    );

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let version = loop {
        let version = admin.send(Method::GET, "", Vec::new()).await?;
        match version["state"].as_str() {
            Some("compiling" | "validating") if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some("compiling" | "validating") => bail!("the gate did not finish in time"),
            _ => break version,
        }
    };
    for check in version["checks"].as_array().into_iter().flatten() {
        let passed = if check["passed"] == Value::Bool(true) {
            "passed"
        } else {
            "FAILED"
        };
        let name = check["check"].as_str().unwrap_or("?");
        let detail = check["detail"].as_str().unwrap_or("");
        println!("  {name}: {passed}: {detail}");
    }
    match version["state"].as_str() {
        Some("failed") => bail!(
            "the version failed: {}",
            version["reason"].as_str().unwrap_or("")
        ),
        Some("ready") if args.activate => {
            admin.send(Method::POST, "/activate", Vec::new()).await?;
            println!("{} {} is active", manifest.name, manifest.version);
        }
        Some(state) => println!("{} {} is {state}", manifest.name, manifest.version),
        None => bail!("unexpected answer: {version}"),
    }
    Ok(())
}

/// One version's admin routes.
struct Admin {
    client: Client,
    base: String,
    token: String,
}

impl Admin {
    /// Sends a request to `<base><path>`; an error status is an error naming the host's
    /// message.
    async fn send(&self, method: Method, path: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(json);
        }
        let message = json["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| json.to_string());
        bail!("{method} {url}: {status}: {message}")
    }
}
