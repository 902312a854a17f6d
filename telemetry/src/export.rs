//! The HTTP client the OTLP exporter sends with. The SDK exports from a thread of its own
//! through a plain executor, where reqwest's async client (the one the tree already has)
//! finds no tokio reactor: this one owns a small runtime and blocks on it, as the
//! collector client does.

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::time::Duration;

/// reqwest, on a current-thread runtime of its own.
#[derive(Debug)]
pub struct BlockingHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl BlockingHttp {
    /// A client whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, runtime })
    }
}

#[async_trait::async_trait]
impl HttpClient for BlockingHttp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        self.runtime.block_on(async {
            let response = self.client.execute(request).await?;
            let mut answer = Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(body)?)
        })
    }
}
