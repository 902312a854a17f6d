//! Every field the host puts in an event has an explicit mapping in the Elasticsearch
//! index template the collector installs (`observability/elasticsearch/`), so no field is
//! left to dynamic mapping's guesses.

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
    event.duration = Some(0.001);
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
    let document = serde_json::to_value(&event).unwrap();
    let template: Value = serde_json::from_str(TEMPLATE).unwrap();
    let mapped = template["template"]["mappings"]["properties"]
        .as_object()
        .unwrap();
    let fields = document.as_object().unwrap();
    assert_eq!(fields.len(), 23, "the test sets every field: {document}");
    for field in fields.keys() {
        assert!(
            mapped.contains_key(field),
            "{field} has no mapping in the index template"
        );
    }
    assert_eq!(mapped["prediction"]["type"], "integer");
    assert_eq!(mapped["@timestamp"]["type"], "date");
    assert_eq!(mapped["confidence"]["type"], "float");
}
