//! The gRPC health checking protocol (`grpc.health.v1`), as Kubernetes' gRPC probes and
//! load balancers ask it: the service `""` is the process (serving while it runs), and
//! `inference.GRPCInferenceService` is serving exactly when `ServerReady` would say ready
//! (every model has an active version), re-read every second.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::serving::Serving;

/// How often readiness is re-read.
const EVERY: Duration = Duration::from_secs(1);

/// Keeps `reporter` current with `serving`'s readiness until `stopping` turns true, then
/// reports both services not serving (so balancers stop sending before the listener goes).
pub async fn track(
    reporter: HealthReporter,
    serving: Serving,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut reported = None;
    loop {
        let ready = serving.models.ready();
        if reported != Some(ready) {
            let status = if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter
                .set_service_status(wasml_grpc_proto::SERVICE, status)
                .await;
            reported = Some(ready);
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stopping.wait_for(|stopping| *stopping) => break,
        }
    }
    for service in ["", wasml_grpc_proto::SERVICE] {
        reporter
            .set_service_status(service, ServingStatus::NotServing)
            .await;
    }
}
