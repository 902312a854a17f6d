//! `inference.GRPCInferenceService`: readiness and metadata as the REST side answers
//! them (`crate::api::v2`), and `ModelInfer` through the same [`serve`] as every
//! prediction request — admission, limits, metrics, feedback, canary and shadow routing.

use tonic::{Request, Response, Status};
use wasml_grpc_proto::grpc_inference_service_server::GrpcInferenceService;
use wasml_grpc_proto::model_metadata_response::TensorMetadata;
use wasml_grpc_proto::{
    ModelInferRequest, ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse,
    ModelReadyRequest, ModelReadyResponse, ServerLiveRequest, ServerLiveResponse,
    ServerMetadataRequest, ServerMetadataResponse, ServerReadyRequest, ServerReadyResponse,
};

use super::observe::Observed;
use crate::api::AppState;
use crate::api::body::{BodyLimits, PredictInput};
use crate::api::error::AppError;
use crate::api::predict::{Answer, PredictProtocol, current_id, serve};
use crate::api::v2::{self, metadata};
use crate::registry::{LoadedModel, RegistryError, Route};
use wasml_grpc_proto::tensor;

/// The service, over the REST API's state.
pub struct Inference {
    state: AppState,
}

impl Inference {
    /// The service answering from `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The version a request names, or the active one.
    fn model(&self, name: &str, version: &str) -> Result<std::sync::Arc<LoadedModel>, AppError> {
        let models = &self.state.serving.models;
        if version.is_empty() {
            models
                .active(name)
                .ok_or_else(|| AppError::ModelNotFound(name.to_owned()))
        } else {
            models.version(name, version).ok_or_else(|| {
                RegistryError::UnknownVersion(name.to_owned(), version.to_owned()).into()
            })
        }
    }
}

/// The call's [`Observed`], which the listener's layer put there.
fn observed<T>(request: &Request<T>) -> Observed {
    request
        .extensions()
        .get::<Observed>()
        .cloned()
        .unwrap_or_default()
}

#[tonic::async_trait]
impl GrpcInferenceService for Inference {
    async fn server_live(
        &self,
        _request: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _request: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        let ready = self.state.serving.models.ready();
        Ok(Response::new(ServerReadyResponse { ready }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let ModelReadyRequest { name, version } = request.into_inner();
        let ready = self.model(&name, &version).is_ok();
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _request: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let metadata = metadata::server_metadata();
        Ok(Response::new(ServerMetadataResponse {
            name: metadata.name.to_owned(),
            version: metadata.version.to_owned(),
            extensions: metadata.extensions.iter().map(|&e| e.to_owned()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let observed = observed(&request);
        let ModelMetadataRequest { name, version } = request.into_inner();
        let model = self
            .model(&name, &version)
            .map_err(|error| observed.failed(&error))?;
        let metadata = metadata::describe(&self.state, &model);
        let tensors = |tensors: Vec<metadata::TensorMetadata>| {
            tensors
                .into_iter()
                .map(|t| TensorMetadata {
                    name: t.name,
                    datatype: t.datatype.to_owned(),
                    shape: t.shape,
                })
                .collect()
        };
        Ok(Response::new(ModelMetadataResponse {
            name: metadata.name,
            versions: metadata.versions,
            platform: metadata.platform.to_owned(),
            inputs: tensors(metadata.inputs),
            outputs: tensors(metadata.outputs),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let observed = observed(&request);
        let message = request.into_inner();
        let models = &self.state.serving.models;
        let route = if message.model_version.is_empty() {
            models
                .route_request(&message.model_name)
                .ok_or_else(|| AppError::ModelNotFound(message.model_name.clone()))
        } else {
            self.model(&message.model_name, &message.model_version)
                .map(Route::to)
        };
        let route = route.map_err(|error| observed.failed(&error))?;
        let (reply, outcome) = serve(
            &self.state,
            route,
            observed.user(),
            message,
            Protobuf::default(),
        )
        .await;
        observed.served(outcome);
        reply
            .map(Response::new)
            .map_err(|error| observed.failed(&error))
    }
}

/// The protocol's protobuf messages as a [`PredictProtocol`].
#[derive(Default)]
struct Protobuf {
    /// The request's `id`, repeated in the answer.
    id: String,
    /// The outputs asked for.
    outputs: Vec<&'static str>,
    /// The request came as raw contents, so the answer goes back as raw contents.
    raw: bool,
}

impl PredictProtocol for Protobuf {
    type Body = ModelInferRequest;
    type Reply = Result<ModelInferResponse, AppError>;

    async fn read(
        &mut self,
        model: &LoadedModel,
        message: ModelInferRequest,
        limits: BodyLimits,
    ) -> Result<PredictInput, AppError> {
        self.id = message.id.clone();
        self.raw = !message.raw_input_contents.is_empty();
        let request = tensor::inference_request(&message)?;
        let (rows, outputs) = v2::read_tensors(&request, model, limits)?;
        self.outputs = outputs;
        Ok(rows)
    }

    fn answer(&self, model: &LoadedModel, answer: Answer) -> Self::Reply {
        let tensors = v2::tensor::outputs(&answer.predictions, &self.outputs);
        let (outputs, raw_output_contents) = tensor::outputs(tensors, self.raw);
        let parameters = [(
            "request_id".to_owned(),
            tensor::string_parameter(current_id()),
        )]
        .into();
        Ok(ModelInferResponse {
            model_name: model.name().to_owned(),
            model_version: model.version().to_owned(),
            id: self.id.clone(),
            parameters,
            outputs,
            raw_output_contents,
        })
    }

    fn error(&self, error: AppError) -> Self::Reply {
        Err(error)
    }
}
