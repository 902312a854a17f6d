//! Every field the host puts in an event has an explicit mapping in the Elasticsearch
//! index template the collector installs (`observability/elasticsearch/`), so no field is
//! left to dynamic mapping's guesses; and the documents are ECS documents too: each
//! Elastic Common Schema field the README's table promises is mapped (a field of its own,
//! a multi-field, or an alias of the seed's field holding the same value) with ECS's type.

use serde_json::Value;
use wasml_server::event_sink::Event;

const TEMPLATE: &str = include_str!("../../../observability/elasticsearch/index-template.json");

#[test]
fn every_event_field_is_mapped() {
    let mut event = Event::now("info", "wasml-host", "prediction served");
    event.request_id = Some("r".into());
    event.method = Some("POST".into());
    event.endpoint = Some("/predict".into());
    event.status = Some(200);
    event.set_duration(0.001_234_567);
    event.model = Some("m".into());
    event.model_version = Some("1".into());
    event.model_type = Some("t".into());
    event.prediction = Some(1);
    event.label = Some("yes".into());
    event.confidence = Some(0.9);
    event.rows = Some(1);
    event.error = Some("e".into());
    event.feature_seconds = Some(1e-6);
    event.inference_seconds = Some(1e-5);
    event.guest_cpu_seconds = Some(2e-5);
    event.guest_memory_bytes = Some(1 << 20);
    event.fields.insert("k".into(), "v".into());
    event.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    event.span_id = Some("00f067aa0ba902b7".into());
    let document = serde_json::to_value(&event).unwrap();
    let template: Value = serde_json::from_str(TEMPLATE).unwrap();
    let mappings = &template["template"]["mappings"];
    let fields = document.as_object().unwrap();
    assert_eq!(fields.len(), 28, "the test sets every field: {document}");
    for field in fields.keys() {
        let mapping = mapping(mappings, field)
            .unwrap_or_else(|| panic!("{field} has no mapping in the index template"));
        assert_ne!(
            mapping["type"], "alias",
            "{field} is written, so it cannot be an alias"
        );
    }
    assert_eq!(mapping(mappings, "prediction").unwrap()["type"], "integer");
    assert_eq!(mapping(mappings, "@timestamp").unwrap()["type"], "date");
    assert_eq!(mapping(mappings, "confidence").unwrap()["type"], "float");
    // ECS: its units, and the version it follows.
    assert_eq!(document["event.duration"], 1_234_567, "nanoseconds");
    assert_eq!(document["ecs.version"], "8.11.0");
}

/// The mapping of `field` (`a.b.c` through objects' `properties`, or a multi-field
/// `field.sub` under `fields`).
fn mapping<'a>(mappings: &'a Value, field: &str) -> Option<&'a Value> {
    let properties = &mappings["properties"];
    if let Some(mapping) = properties.get(field) {
        return Some(mapping);
    }
    let (head, rest) = field.split_once('.')?;
    let parent = properties.get(head)?;
    mapping(parent, rest).or_else(|| parent["fields"].get(rest))
}

#[test]
fn the_ecs_fields_are_mapped_with_ecs_types() {
    let template: Value = serde_json::from_str(TEMPLATE).unwrap();
    let mappings = &template["template"]["mappings"];
    // ECS field → the seed field it aliases (or None: a field of its own), and ECS's type.
    let ecs: [(&str, Option<&str>, &str); 13] = [
        ("ecs.version", None, "keyword"),
        ("host.name", None, "keyword"),
        ("event.duration", None, "long"),
        ("trace.id", None, "keyword"),
        ("span.id", None, "keyword"),
        ("service.name", None, "keyword"),
        ("error.message", None, "text"),
        ("event.id", Some("event_id"), "keyword"),
        ("log.level", Some("level"), "keyword"),
        ("http.request.id", Some("request_id"), "keyword"),
        ("http.request.method", Some("method"), "keyword"),
        ("http.response.status_code", Some("status"), "short"),
        ("url.path", Some("endpoint"), "keyword"),
    ];
    for (field, alias_of, kind) in ecs {
        let found = mapping(mappings, field).unwrap_or_else(|| panic!("{field} is not mapped"));
        let target = match alias_of {
            Some(seed) => {
                assert_eq!(found["type"], "alias", "{field}");
                assert_eq!(found["path"], seed, "{field}");
                mapping(mappings, seed).unwrap()
            }
            None => found,
        };
        assert_eq!(target["type"], kind, "{field}");
    }
}
