//! The HTTP/2 listener (`Speaks::Http2`, served on `h2` directly): streams on one
//! connection run on several threads (the first in the connection's task, the rest
//! spawned); a stream the peer resets cancels its call; bodies larger than the
//! flow-control windows pass both ways; a stop lets in-flight streams finish; a peer that
//! never sends the preface, or stops answering pings, is dropped while one that answers
//! stays.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use bytes::Bytes;
use h2::client::SendRequest;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use wasml_net::connections::{ConnectionEvents, ConnectionLimits, Speaks, serve};

const BIG: usize = 3 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(10);

struct Ignored;

impl ConnectionEvents for Ignored {
    fn refused(&self) {}
    fn handshake_failed(&self) {}
}

/// What the test routes share.
#[derive(Clone)]
struct Shared {
    rendezvous: Arc<Rendezvous>,
    /// Told when a `/hang` call starts and when its future is dropped.
    hangs: mpsc::UnboundedSender<&'static str>,
}

/// Two calls that each hold their thread until the other arrives, as a model call that
/// does not yield holds it: they meet only if they run on two threads at once.
#[derive(Default)]
struct Rendezvous {
    arrived: Mutex<u32>,
    all_here: Condvar,
}

impl Rendezvous {
    fn meet(&self) -> &'static str {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, Duration::from_secs(5), |arrived| *arrived < 2)
            .unwrap();
        if *arrived >= 2 { "met" } else { "alone" }
    }
}

/// Sends "dropped" when the call holding it is dropped.
struct DropSignal(mpsc::UnboundedSender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

fn app(shared: Shared) -> Router {
    Router::new()
        .route(
            "/rendezvous",
            get(|State(shared): State<Shared>| async move { shared.rendezvous.meet() }),
        )
        .route(
            "/hang",
            get(|State(shared): State<Shared>| async move {
                let _signal = DropSignal(shared.hangs.clone());
                let _ = shared.hangs.send("started");
                std::future::pending::<()>().await;
            }),
        )
        .route("/big", get(|| async { vec![7u8; BIG] }))
        .route(
            "/length",
            post(|body: Body| async move {
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                body.len().to_string()
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .with_state(shared)
}

/// A listener on its own port; its stop, and the task that ends when it has stopped.
struct Listener {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
    hangs: mpsc::UnboundedReceiver<&'static str>,
}

async fn listen(keep_alive: Duration) -> Listener {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (hangs_tx, hangs) = mpsc::unbounded_channel();
    let shared = Shared {
        rendezvous: Arc::default(),
        hangs: hangs_tx,
    };
    let limits = ConnectionLimits {
        max_open: 16,
        header_read_timeout: keep_alive,
        speaks: Speaks::Http2,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        listener,
        app(shared),
        limits,
        None,
        Arc::new(Ignored),
        async move {
            let _ = stopped.await;
        },
    ));
    Listener {
        address,
        stop,
        served,
        hangs,
    }
}

async fn connect(address: SocketAddr) -> SendRequest<Bytes> {
    let stream = TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::handshake(stream).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn request(method: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(())
        .unwrap()
}

/// Sends a bodiless request; its status and whole body.
async fn send(client: &SendRequest<Bytes>, method: &str, path: &str) -> (u16, Bytes) {
    let mut client = client.clone().ready().await.unwrap();
    let (response, _) = client.send_request(request(method, path), true).unwrap();
    read(response).await
}

async fn read(response: h2::client::ResponseFuture) -> (u16, Bytes) {
    let response = response.await.unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut all = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.unwrap();
        body.flow_control().release_capacity(data.len()).unwrap();
        all.extend_from_slice(&data);
    }
    (status, all.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn streams_on_one_connection_run_on_several_threads() {
    let mut listener = listen(WAIT).await;
    let client = connect(listener.address).await;
    // A call that never ends holds the connection's own task...
    let mut ready = client.clone().ready().await.unwrap();
    let (_hanging, _) = ready.send_request(request("GET", "/hang"), true).unwrap();
    let started = tokio::time::timeout(WAIT, listener.hangs.recv()).await;
    assert_eq!(started.unwrap(), Some("started"));
    // ...so these two, which hold their threads until both have arrived, meet only if
    // they were spawned onto the runtime's other threads.
    let (first, second) = tokio::join!(
        send(&client, "GET", "/rendezvous"),
        send(&client, "GET", "/rendezvous")
    );
    for (status, body) in [first, second] {
        assert_eq!((status, &body[..]), (200, &b"met"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_peer_resets_cancels_its_call() {
    let mut listener = listen(WAIT).await;
    let mut client = connect(listener.address).await.ready().await.unwrap();
    // The first stream runs in the connection's task, the second is spawned: both stop.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let (_, stream) = client.send_request(request("GET", "/hang"), false).unwrap();
        let started = tokio::time::timeout(WAIT, listener.hangs.recv()).await;
        assert_eq!(started.unwrap(), Some("started"));
        streams.push(stream);
    }
    for mut stream in streams {
        stream.send_reset(h2::Reason::CANCEL);
        let dropped = tokio::time::timeout(WAIT, listener.hangs.recv()).await;
        assert_eq!(dropped.expect("the reset call is dropped"), Some("dropped"));
    }
    // The connection still serves.
    assert_eq!(send(&client, "GET", "/slow").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_larger_than_the_flow_control_windows_pass_both_ways() {
    let listener = listen(WAIT).await;
    let client = connect(listener.address).await;
    // 3 MiB each way: past the client's 64 KiB windows and the server's 1 MiB ones.
    let (status, body) = tokio::time::timeout(WAIT, send(&client, "GET", "/big"))
        .await
        .expect("a large answer is sent as the client opens its window");
    assert_eq!(status, 200);
    assert_eq!(body.len(), BIG);
    assert!(body.iter().all(|&byte| byte == 7));

    let mut ready = client.ready().await.unwrap();
    let (response, mut upload) = ready
        .send_request(request("POST", "/length"), false)
        .unwrap();
    let sending = tokio::spawn(async move {
        let mut left = Bytes::from(vec![1u8; BIG]);
        while !left.is_empty() {
            upload.reserve_capacity(left.len());
            let granted = std::future::poll_fn(|cx| upload.poll_capacity(cx))
                .await
                .unwrap()
                .unwrap();
            let chunk = left.split_to(granted.min(left.len()));
            upload.send_data(chunk, left.is_empty()).unwrap();
        }
    });
    let (status, body) = tokio::time::timeout(WAIT, read(response))
        .await
        .expect("a large request is read as the server opens its window");
    sending.await.unwrap();
    assert_eq!((status, &body[..]), (200, BIG.to_string().as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_lets_in_flight_streams_finish_and_takes_no_new_ones() {
    let listener = listen(WAIT).await;
    let client = connect(listener.address).await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move { send(&client, "GET", "/slow").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    listener.stop.send(()).unwrap();
    let (status, body) = slow.await.unwrap();
    assert_eq!((status, &body[..]), (200, &b"slow"[..]));
    tokio::time::timeout(WAIT, listener.served)
        .await
        .expect("the listener returns once its streams are done")
        .unwrap();
    let refused = match client.ready().await {
        Err(_) => true,
        Ok(mut ready) => match ready.send_request(request("GET", "/slow"), true) {
            Err(_) => true,
            Ok((response, _)) => response.await.is_err(),
        },
    };
    assert!(refused, "a stopped listener took a new stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_are_dropped_and_answering_ones_kept() {
    let keep_alive = Duration::from_millis(200);
    let listener = listen(keep_alive).await;

    // No preface within the timeout.
    let mut mute = TcpStream::connect(listener.address).await.unwrap();
    // A preface and empty SETTINGS, then never another byte: pings go unanswered.
    let mut deaf = TcpStream::connect(listener.address).await.unwrap();
    deaf.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    // h2 answers pings by itself.
    let answering = connect(listener.address).await;

    for (name, stream) in [("mute", &mut mute), ("deaf", &mut deaf)] {
        let closed = tokio::time::timeout(WAIT, async {
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
        closed
            .await
            .unwrap_or_else(|_| panic!("the {name} connection was not closed"));
    }
    // Well past several ping intervals, the answering peer is still served.
    tokio::time::sleep(keep_alive * 6).await;
    assert_eq!(send(&answering, "GET", "/slow").await.0, 200);
}
