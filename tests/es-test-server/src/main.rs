//! `wasml-es-test-server [ADDRESS] [--flavor elasticsearch|opensearch|serverless]
//! [--writer-key]`: the Elasticsearch-API test server as a process, for trying the
//! collector or the host by hand without an Elasticsearch (default `127.0.0.1:9200`),
//! answering as the server named (and, with `--writer-key`, as to a least-privilege
//! key). Faults are queued with `POST /_fault`; stop it with Ctrl-C.

use wasml_es_test_server::{EsTestServer, Flavor};

const USAGE: &str = "usage: wasml-es-test-server [ADDRESS] [--flavor elasticsearch|opensearch|serverless] [--writer-key]   (e.g. 127.0.0.1:9200)";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut address = "127.0.0.1:9200".to_owned();
    let mut flavor = Flavor::default();
    let mut writer_key = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--flavor" => match args.next().as_deref().and_then(Flavor::parse) {
                Some(parsed) => flavor = parsed,
                None => return usage(),
            },
            "--writer-key" => writer_key = true,
            _ if !arg.starts_with('-') => address = arg,
            _ => return usage(),
        }
    }
    let Ok(address) = address.parse() else {
        return usage();
    };
    let server = match EsTestServer::start_on(address).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("wasml-es-test-server: cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    server.set_flavor(flavor);
    if writer_key {
        server.restrict_to_writer_key();
    }
    eprintln!(
        "wasml-es-test-server listening on {} as {flavor:?}{} (an Elasticsearch stand-in for tests: in memory, not for production)",
        server.url(),
        if writer_key {
            " with a writer-only key"
        } else {
            ""
        }
    );
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

fn usage() -> std::process::ExitCode {
    eprintln!("{USAGE}");
    std::process::ExitCode::from(2)
}
