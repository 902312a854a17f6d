//! The Kubernetes manifests of `deploy/`: every kustomization renders and validates offline
//! against Kubernetes' schemas and the KServe and Prometheus Operator CRDs
//! (`deploy/validate.py`, strict: an unknown field fails), the `PrometheusRule` carries
//! exactly the groups of `observability/prometheus/rules/` (generated; set
//! `WASML_UPDATE_GENERATED=1` to rewrite it), and the pod specs keep the promises the
//! README makes (non-root, read-only root, probes, grace period).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wasml_observability_tests::yaml;

const RULES_FILES: [&str; 2] = ["recording.yml", "alerts.yml"];
const PROMETHEUS_RULE: &str = "components/prometheus-operator/prometheus-rule.yaml";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The rules' groups, in the order of [`RULES_FILES`].
fn rule_groups() -> Vec<Value> {
    RULES_FILES
        .iter()
        .flat_map(|file| {
            yaml(&format!("prometheus/rules/{file}"))["groups"]
                .as_array()
                .expect("groups")
                .clone()
        })
        .collect()
}

fn generated_prometheus_rule() -> String {
    let groups = serde_yaml::to_string(&rule_groups()).expect("groups as YAML");
    let indented: String = groups.lines().map(|line| format!("    {line}\n")).collect();
    format!(
        "# Generated from observability/prometheus/rules/{{{}}} by tests/observability\n\
         # (deploy.rs); edit those files, then WASML_UPDATE_GENERATED=1 cargo test -p\n\
         # wasml-observability-tests deploy.\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: wasml\n  labels:\n    app.kubernetes.io/name: wasml\n\
         spec:\n  groups:\n{indented}",
        RULES_FILES.join(",")
    )
}

#[test]
fn the_prometheus_rule_carries_exactly_the_rules_of_observability() {
    let path = deploy_dir().join(PROMETHEUS_RULE);
    if std::env::var_os("WASML_UPDATE_GENERATED").is_some() {
        std::fs::write(&path, generated_prometheus_rule()).unwrap();
    }
    let committed: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).expect("YAML");
    let groups = committed["spec"]["groups"].as_array().expect("spec.groups");
    assert_eq!(
        *groups,
        rule_groups(),
        "{} is stale: WASML_UPDATE_GENERATED=1 cargo test -p wasml-observability-tests deploy",
        path.display()
    );
    assert!(groups.len() >= 2, "{groups:?}");
}

/// The Python of `.venv-deploy`, where `kubernetes-validate` is installed.
fn validator_python() -> PathBuf {
    wasml_test_support::venv_program(
        ".venv-deploy",
        "python",
        "WASML_DEPLOY_PYTHON",
        "deploy-venv",
    )
}

#[test]
fn every_manifest_renders_and_validates_against_its_schema() {
    let python = validator_python();
    let output = Command::new(python)
        .arg(deploy_dir().join("validate.py"))
        .output()
        .expect("validate.py runs (kubectl from Debian: .ci/run installs it)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Each kind the README promises was checked (not skipped as unknown).
    for kind in [
        "base: Deployment/wasml-host",
        "base: Service/wasml-host",
        "base: HorizontalPodAutoscaler/wasml-host",
        "base: PodDisruptionBudget/wasml-host",
        "base: DaemonSet/wasml-collector",
        "base: ConfigMap/wasml-host",
        "overlays/fleet: ServiceMonitor/wasml-host",
        "overlays/fleet: PrometheusRule/wasml",
        "kserve: ClusterServingRuntime/wasml",
        "kserve: InferenceService/bank-marketing",
    ] {
        assert!(
            report.contains(&format!("valid {kind}\n")),
            "{kind} not validated:\n{report}"
        );
    }
    assert!(!report.contains("INVALID"), "{report}");
}

#[test]
fn the_validator_refuses_an_unknown_field_in_a_builtin_and_a_custom_resource() {
    let python = validator_python();
    let script = r#"
import copy, sys
sys.path.insert(0, sys.argv[1])
import validate
schemas = validate.custom_schemas()
deployment = [d for d in validate.render("base") if d["kind"] == "Deployment"][0]
deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
service = [d for d in validate.render("kserve") if d["kind"] == "InferenceService"][0]
service["spec"]["predictor"]["canaryTrafficPercnt"] = 10
print(validate.check(deployment, schemas))
print(validate.check(service, schemas))
"#;
    let output = Command::new(python)
        .args(["-c", script])
        .arg(deploy_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("'readinesProbe' was unexpected"), "{text}");
    assert!(
        text.contains("'canaryTrafficPercnt' was unexpected"),
        "{text}"
    );
}

/// The host's and the collector's pod specs, as rendered.
fn pod_spec(kind: &str) -> Value {
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(deploy_dir().join("base"))
        .output()
        .expect("kubectl");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    text.split("\n---\n")
        .map(|doc| serde_yaml::from_str::<Value>(doc).expect("a YAML document"))
        .find(|doc| doc["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))["spec"]["template"]["spec"]
        .clone()
}

#[test]
fn pods_run_unprivileged_with_probes_and_a_grace_period_covering_the_drain() {
    let host = pod_spec("Deployment");
    let container = &host["containers"][0];
    assert_eq!(host["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"][0],
        "ALL"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        "/v2/health/ready"
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    // preStop, then gRPC streams' 10 s drain, then the event flush: inside the grace period.
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    let grace = host["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        pre_stop + 10 < grace,
        "preStop {pre_stop} s, grace {grace} s"
    );
    let collector = pod_spec("DaemonSet");
    let container = &collector["containers"][0];
    assert_eq!(container["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    let wal = collector["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "wal")
        .unwrap();
    assert_eq!(wal["hostPath"]["path"], "/var/lib/wasml-collector");
    // The collector listens beyond loopback, so its ingest requires the token the hosts send.
    let config = |file: &str| -> Value {
        let text = std::fs::read_to_string(deploy_dir().join("base").join(file)).unwrap();
        serde_yaml::from_str(&text).unwrap()
    };
    let (collector, host) = (config("collector-config.yaml"), config("host-config.yaml"));
    assert!(
        collector["data"]["WASML_COLLECTOR_LISTEN"]
            .as_str()
            .unwrap()
            .starts_with("0.0.0.0")
    );
    assert_eq!(
        collector["data"]["WASML_COLLECTOR_INGEST_TOKEN_FILE"],
        host["data"]["WASML_COLLECTOR_TOKEN_FILE"]
    );
    assert!(collector["data"]["WASML_COLLECTOR_INGEST_TOKEN_FILE"].is_string());
}
