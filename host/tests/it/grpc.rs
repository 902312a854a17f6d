//! The gRPC listener in process, over a real loopback socket and tonic's own client:
//! server reflection lists the services (what `grpcurl list` shows), the health service
//! follows readiness, every failure kind has its status code (client deadline, shed, a
//! model that loops or traps), the request ID travels in metadata, and each call is
//! counted under its method.

use crate::serving;

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message as _;
use serving::{Options, TestHost};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use wasml_grpc_proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use wasml_grpc_proto::model_infer_request::InferInputTensor;
use wasml_grpc_proto::{InferTensorContents, ModelInferRequest};
use wasml_net::connections::{ConnectionLimits, Speaks};

/// `host`'s gRPC services on a loopback port, with the health tracker running; both stop
/// when the host's state says it is stopping.
async fn serve_grpc(host: &TestHost) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (router, health) = wasml_server::grpc::app(host.state.clone());
    let serving = host.state.serving.clone();
    tokio::spawn(wasml_server::grpc::health::track(
        health,
        serving,
        host.state.stopping.subscribe(),
    ));
    let mut stopping = host.state.stopping.subscribe();
    let limits = ConnectionLimits {
        max_open: 64,
        header_read_timeout: Duration::from_secs(10),
        speaks: Speaks::Http2,
    };
    tokio::spawn(wasml_net::connections::serve(
        listener,
        router,
        limits,
        None,
        host.state.serving.metrics.clone(),
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        },
    ));
    address
}

async fn channel(address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// What the health service says of `service`.
async fn health_of(client: &HealthClient<Channel>, service: &str) -> Result<i32, tonic::Status> {
    let request = HealthCheckRequest {
        service: service.into(),
    };
    let response = client.clone().check(request).await?;
    Ok(response.into_inner().status)
}

/// `request` as a gRPC call with `grpc-timeout: timeout`, straight into the listener's
/// router: the code and message of its trailers-only answer.
async fn call_with_deadline(
    host: &TestHost,
    request: ModelInferRequest,
    timeout: &str,
) -> (Code, String) {
    use tower::ServiceExt as _;
    let body = wasml_grpc_proto::framed(&request);
    let call = axum::http::Request::post("/inference.GRPCInferenceService/ModelInfer")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", timeout)
        .body(axum::body::Body::from(body))
        .unwrap();
    let (router, _) = wasml_server::grpc::app(host.state.clone());
    let response = router.oneshot(call).await.unwrap();
    let status = tonic::Status::from_header_map(response.headers()).expect("trailers-only");
    (status.code(), status.message().to_owned())
}

/// A one-row request to the hostile model asking it to misbehave as `mode`.
fn hostile(mode: &str) -> ModelInferRequest {
    ModelInferRequest {
        model_name: "hostile".into(),
        inputs: vec![InferInputTensor {
            name: "mode".into(),
            datatype: "BYTES".into(),
            shape: vec![1],
            contents: Some(InferTensorContents {
                bytes_contents: vec![mode.as_bytes().to_vec()],
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_follows_readiness() {
    let host = TestHost::start(Options::default());
    let channel = channel(serve_grpc(&host).await).await;

    let mut reflection = ServerReflectionClient::new(channel.clone());
    let ask = |request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol(
                "inference.GRPCInferenceService".into(),
            )),
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("a service list")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for service in [
        "inference.GRPCInferenceService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(names.contains(&service), "{service} not in {names:?}");
    }
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("the file defining the service")
    };
    let file = prost_types::FileDescriptorProto::decode(&*files.file_descriptor_proto[0]).unwrap();
    assert_eq!(file.name(), "grpc_predict_v2.proto");
    assert!(
        file.service
            .iter()
            .any(|s| s.name() == "GRPCInferenceService")
    );

    let health = HealthClient::new(channel);
    let status = |service: &'static str| health_of(&health, service);
    assert_eq!(status("").await.unwrap(), ServingStatus::Serving as i32);
    assert!(
        serving::eventually_async(|| async {
            status("inference.GRPCInferenceService").await.ok()
                == Some(ServingStatus::Serving as i32)
        })
        .await,
        "the inference service is reported serving once every model is ready"
    );
    assert_eq!(
        status("no.such.Service").await.unwrap_err().code(),
        Code::NotFound
    );
    // Stopping: both turn NOT_SERVING so balancers drain before the listener closes.
    host.state.stopping.send_replace(true);
    assert!(
        serving::eventually_async(|| async {
            status("").await.ok() == Some(ServingStatus::NotServing as i32)
        })
        .await
    );
}

#[tokio::test]
async fn every_failure_has_its_code_and_is_counted_under_its_method() {
    let host = TestHost::start(Options {
        with_hostile: true,
        ..Options::default()
    });
    let address = serve_grpc(&host).await;
    let mut client = GrpcInferenceServiceClient::new(channel(address).await);

    // The client's deadline, honoured by the server (sent without a client: tonic's
    // client would give up at the same instant): the call is abandoned, the looping
    // instance with it.
    let (status, message) = call_with_deadline(&host, hostile("loop"), "20m").await;
    assert_eq!(status, Code::DeadlineExceeded, "{message}");
    assert!(
        message.contains("the client's deadline of 20ms passed"),
        "{message}"
    );
    // The model's own deadline and a trap.
    let error = client.model_infer(hostile("loop")).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    assert!(error.message().contains("deadline"), "{error:?}");
    let error = client.model_infer(hostile("panic")).await.unwrap_err();
    assert_eq!(error.code(), Code::Internal, "{error:?}");
    assert!(error.message().contains("the model failed"), "{error:?}");
    // The hostile model still serves, and the request ID comes back in metadata.
    let mut ok = tonic::Request::new(hostile("ok"));
    ok.metadata_mut()
        .insert("x-request-id", "grpc-call-1".parse().unwrap());
    let answer = client.model_infer(ok).await.unwrap();
    assert_eq!(
        answer.metadata().get("x-request-id").unwrap(),
        "grpc-call-1"
    );
    // An unknown method (Triton's clients may probe `ModelConfig`): UNIMPLEMENTED, a 404.
    let mut raw = tonic::client::Grpc::new(channel(address).await);
    raw.ready().await.unwrap();
    let unknown: Result<tonic::Response<()>, _> = raw
        .unary(
            tonic::Request::new(()),
            "/inference.GRPCInferenceService/ModelConfig"
                .parse()
                .unwrap(),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(unknown.unwrap_err().code(), Code::Unimplemented);

    let count = |status: &'static str| {
        let host = &host;
        async move {
            host.metric(
                "http_request_duration_seconds_count",
                &[
                    ("route", "/inference.GRPCInferenceService/ModelInfer"),
                    ("status", status),
                ],
            )
            .await
            .unwrap_or(0.0)
        }
    };
    assert_eq!(count("504").await, 2.0, "both deadlines");
    assert_eq!(count("500").await, 1.0, "the trap");
    assert_eq!(count("200").await, 1.0);
    assert_eq!(
        host.metric(
            "http_request_duration_seconds_count",
            &[("route", "unmatched"), ("status", "404")]
        )
        .await,
        Some(1.0),
        "the unknown method, without its name as a label"
    );
}

#[tokio::test]
async fn shed_requests_are_resource_exhausted() {
    let host = TestHost::start(Options {
        admission: serving::refuse_all(),
        ..Options::default()
    });
    let mut client = GrpcInferenceServiceClient::new(channel(serve_grpc(&host).await).await);
    let request = ModelInferRequest {
        model_name: "bank-marketing".into(),
        ..Default::default()
    };
    let error = client.model_infer(request).await.unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    assert!(error.message().contains("overloaded"), "{error:?}");
}
