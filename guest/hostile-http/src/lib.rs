//! A deliberately hostile `wasi:http` component: what the host's `--wasi-http` sandbox
//! (`server/src/wasi_http.rs`) must contain. The path picks the attack:
//!
//! - `/loop` spins forever, `/hoard` allocates without end, `/panic` panics;
//! - `/file`, `/socket`, `/outgoing` try to read a host file, open a TCP connection and send
//!   an HTTP request, `/env` counts environment variables; each answers 200 with what it
//!   got (`denied: …` when refused), so a test can tell access from refusal;
//! - anything else answers `200 ok`.

use std::io::Write as _;

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam,
    Scheme,
};

wasi::http::proxy::export!(Hostile);

struct Hostile;

impl wasi::exports::http::incoming_handler::Guest for Hostile {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let body = match request.path_with_query().unwrap_or_default().as_str() {
            "/loop" => spin_forever(),
            "/hoard" => hoard_forever(),
            "/panic" => panic!("the hostile component panics on request"),
            "/file" => {
                outcome(std::fs::read("/etc/hostname").map(|b| format!("{} bytes", b.len())))
            }
            "/socket" => {
                outcome(std::net::TcpStream::connect("127.0.0.1:9").map(|_| "connected".into()))
            }
            "/outgoing" => outgoing(),
            "/env" => format!("{} variables", std::env::vars().count()),
            _ => "ok".into(),
        };
        respond(response_out, &body);
    }
}

fn outcome(result: std::io::Result<String>) -> String {
    result.unwrap_or_else(|e| format!("denied: {e}"))
}

fn spin_forever() -> ! {
    let mut i = 0u64;
    loop {
        i = std::hint::black_box(i.wrapping_add(1));
    }
}

fn hoard_forever() -> ! {
    let mut hoard = Vec::new();
    loop {
        hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

fn outgoing() -> String {
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some("127.0.0.1:9"));
    let _ = request.set_path_with_query(Some("/"));
    match wasi::http::outgoing_handler::handle(request, None) {
        Err(e) => format!("denied: {e:?}"),
        Ok(future) => {
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(response))) => format!("status {}", response.status()),
                Some(Ok(Err(e))) => format!("denied: {e:?}"),
                other => format!("denied: {other:?}"),
            }
        }
    }
}

fn respond(out: ResponseOutparam, text: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let body = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let mut stream = body.write().expect("the stream, once");
    stream.write_all(text.as_bytes()).expect("writing the body");
    stream.flush().expect("flushing the body");
    drop(stream);
    OutgoingBody::finish(body, None).expect("finishing the body");
}
