//! The deployment files (docker itself cannot run here): the compose file is valid YAML
//! with the services, health checks and volumes an operator expects, publishing only the
//! host and the UIs (on the .env's address), ingest authenticated, no Prometheus lifecycle
//! API, every secret
//! it needs is documented in `.env.example` and has no default, the Dockerfile builds both
//! binaries, and the index template is one file shared with the collector.

use std::collections::BTreeSet;

use wasml_observability_tests::{read, yaml};

#[test]
fn compose_wires_the_whole_stack_with_health_checks_and_volumes() {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"].as_object().unwrap();
    // Published: the host and the two UIs, on the .env's bind address (127.0.0.1 in the
    // example); nothing else.
    let bind = "${WASML_BIND_ADDRESS:?set it in observability/.env}";
    for (service, ports) in [
        ("host", vec!["5000:5000", "8001:8001"]),
        ("grafana", vec!["3000:3000"]),
        ("kibana", vec!["5601:5601"]),
    ] {
        let published: Vec<&str> = services[service]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let expected: Vec<String> = ports.iter().map(|p| format!("{bind}:{p}")).collect();
        assert_eq!(published, expected, "{service}");
    }
    for service in ["collector", "prometheus", "alertmanager", "elasticsearch"] {
        assert!(
            services[service]["ports"].is_null(),
            "{service} is published"
        );
    }
    let env = read(".env.example");
    assert!(env.lines().any(|l| l == "WASML_BIND_ADDRESS=127.0.0.1"));
    // The debugging override publishes the rest on loopback only.
    let debug = yaml("docker-compose.ports.yml");
    for (service, spec) in debug["services"].as_object().unwrap() {
        for port in spec["ports"].as_array().unwrap() {
            assert!(
                port.as_str().unwrap().starts_with("127.0.0.1:"),
                "{service}: {port}"
            );
        }
    }
    // No lifecycle API: nobody can POST /-/quit to Prometheus.
    let prometheus_flags = services["prometheus"]["command"].to_string();
    assert!(
        !prometheus_flags.contains("enable-lifecycle"),
        "{prometheus_flags}"
    );
    // Ingest is authenticated: the collector requires the token the host sends.
    assert_eq!(
        services["collector"]["environment"]["WASML_COLLECTOR_INGEST_TOKEN"],
        services["host"]["environment"]["WASML_COLLECTOR_TOKEN"]
    );
    assert!(
        services["collector"]["environment"]["WASML_COLLECTOR_INGEST_TOKEN"]
            .as_str()
            .unwrap()
            .starts_with("${WASML_INGEST_TOKEN:?")
    );
    // Long-running services are checked by docker: a health check here or in the image.
    for service in [
        "prometheus",
        "alertmanager",
        "grafana",
        "elasticsearch",
        "kibana",
    ] {
        assert!(
            services[service]["healthcheck"]["test"].is_array(),
            "{service} has no health check"
        );
    }
    let dockerfile = read("Dockerfile");
    assert_eq!(dockerfile.matches("HEALTHCHECK").count(), 2);
    // Distroless, unprivileged; health checks by the binaries' own probe (no curl there).
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot AS runtime"));
    assert!(!dockerfile.contains("curl") && !dockerfile.contains("USER root"));
    assert!(dockerfile.contains(r#"CMD ["wasml-host", "probe", "http://127.0.0.1:5000/health"]"#));
    assert!(
        dockerfile.contains(r#"CMD ["wasml-collector", "probe", "http://127.0.0.1:5080/health"]"#)
    );
    // Named volumes, all declared.
    let declared: BTreeSet<&str> = compose["volumes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for (name, service) in services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if !source.starts_with('.') {
                assert!(declared.contains(source), "{name}: volume {source}");
            }
        }
    }
    // The host sends events to the collector, which indexes into Elasticsearch, and
    // Prometheus scrapes the names compose gives them.
    assert_eq!(
        services["host"]["environment"]["WASML_COLLECTOR_URL"],
        "http://collector:5080"
    );
    assert_eq!(
        services["collector"]["environment"]["WASML_ELASTICSEARCH_URL"],
        "https://elasticsearch:9200"
    );
    // Elasticsearch speaks HTTPS (its 8.x default) with the stack's private CA, which
    // every client of it trusts.
    let es = &services["elasticsearch"]["environment"];
    assert_eq!(es["xpack.security.http.ssl.enabled"], "true");
    assert_eq!(
        services["collector"]["environment"]["WASML_ELASTICSEARCH_CA_CERT"],
        "/certs/ca/ca.crt"
    );
    assert_eq!(
        services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"],
        r#"["https://elasticsearch:9200"]"#
    );
    assert!(
        services["kibana"]["environment"]["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"].is_string()
    );
    assert!(
        services["elasticsearch"]["depends_on"]["es-certs"]["condition"]
            == "service_completed_successfully"
    );
    let grafana_sources = yaml("grafana/provisioning/datasources/datasources.yml");
    let es_source = &grafana_sources["datasources"][1];
    assert_eq!(es_source["url"], "https://elasticsearch:9200");
    assert_eq!(es_source["jsonData"]["tlsAuthWithCACert"], true);
    assert!(!compose.to_string().contains("http://elasticsearch:9200"));
    let prometheus = read("prometheus/prometheus.yml");
    assert!(prometheus.contains("\"host:5000\"") && prometheus.contains("\"collector:5080\""));
    // Both images come from the one multi-stage Dockerfile.
    for target in ["host", "collector"] {
        assert_eq!(services[target]["build"]["target"], target);
        assert!(dockerfile.contains(&format!("AS {target}")), "{target}");
    }
}

#[test]
fn every_secret_is_documented_and_has_no_default() {
    let compose = read("docker-compose.yml");
    let example = read(".env.example");
    let documented: BTreeSet<&str> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let mut used = BTreeSet::new();
    for (at, _) in compose.match_indices("${") {
        // `$${X}` is escaped: the container's shell expands it, not compose.
        if at > 0 && compose.as_bytes()[at - 1] == b'$' {
            continue;
        }
        let part = &compose[at + 2..];
        let end = part.find('}').unwrap();
        let reference = &part[..end];
        let (name, rest) = reference.split_at(reference.find([':', '-']).unwrap_or(end));
        assert!(
            rest.starts_with(":?"),
            "${{{reference}}} must fail when unset, not default"
        );
        used.insert(name);
    }
    assert_eq!(used, documented);
    assert!(used.contains("GRAFANA_ADMIN_PASSWORD") && used.contains("ELASTIC_PASSWORD"));
}

#[test]
fn the_index_template_is_one_file_shared_with_the_collector() {
    use wasml_collector::sink::elasticsearch::{ILM_POLICY, INDEX_TEMPLATE};
    assert_eq!(INDEX_TEMPLATE, read("elasticsearch/index-template.json"));
    assert_eq!(ILM_POLICY, read("elasticsearch/ilm-policy.json"));
}
