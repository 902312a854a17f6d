//! `wasml-es-test-server [ADDRESS]`: the Elasticsearch-API test server as a process, for
//! trying the collector or the host by hand without an Elasticsearch (default
//! `127.0.0.1:9200`). Faults are queued with `POST /_fault`; stop it with Ctrl-C.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9200".into());
    let Ok(address) = address.parse() else {
        eprintln!("usage: wasml-es-test-server [ADDRESS]   (e.g. 127.0.0.1:9200)");
        return std::process::ExitCode::from(2);
    };
    let server = match wasml_es_test_server::EsTestServer::start_on(address).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("wasml-es-test-server: cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!(
        "wasml-es-test-server listening on {} (an Elasticsearch stand-in for tests: in memory, not for production)",
        server.url()
    );
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
