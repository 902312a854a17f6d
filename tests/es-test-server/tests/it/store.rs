//! The test server's index patterns, mappings and query subset behave as Elasticsearch's
//! do for what the tests use.

use std::collections::HashMap;

use serde_json::json;
use wasml_es_test_server::query::{check, matches};
use wasml_es_test_server::store::{Index, glob, mapping_violation};

#[test]
fn globs_match_like_index_patterns() {
    assert!(glob("ml-pipeline-*", "ml-pipeline-2026.11.26"));
    assert!(!glob("ml-pipeline-*", "other"));
    assert!(glob("*", "x"));
    assert!(glob("a*c", "abbbc"));
    assert!(!glob("a*c", "abbbd"));
}

#[test]
fn mappings_reject_what_elasticsearch_would() {
    let index = Index {
        docs: HashMap::new(),
        mappings: [
            ("prediction", "integer"),
            ("@timestamp", "date"),
            ("level", "keyword"),
        ]
        .map(|(f, k)| (f.to_owned(), k.to_owned()))
        .into(),
        data_stream: false,
    };
    assert_eq!(
        mapping_violation(&index, "1", &json!({"prediction": 1, "level": "info"})),
        None
    );
    assert_eq!(
        mapping_violation(&index, "1", &json!({"prediction": "2"})),
        None
    );
    let bad = mapping_violation(&index, "7", &json!({"prediction": "yes"})).unwrap();
    assert!(
        bad.contains("failed to parse field [prediction] of type [integer]"),
        "{bad}"
    );
    assert!(mapping_violation(&index, "1", &json!({"@timestamp": "yesterday"})).is_some());
    assert!(mapping_violation(&index, "1", &json!({"level": {"a": 1}})).is_some());
}

#[test]
fn object_fields_are_checked_by_path_and_aliases_refuse_writes() {
    let index = Index {
        docs: HashMap::new(),
        mappings: [("event.duration", "long"), ("log.level", "alias")]
            .map(|(f, k)| (f.to_owned(), k.to_owned()))
            .into(),
        data_stream: false,
    };
    // A dotted key and the object path are the same field.
    assert_eq!(
        mapping_violation(&index, "1", &json!({"event.duration": 1500})),
        None
    );
    assert!(mapping_violation(&index, "1", &json!({"event.duration": "slow"})).is_some());
    assert!(mapping_violation(&index, "1", &json!({"event": {"duration": "slow"}})).is_some());
    let alias = mapping_violation(&index, "1", &json!({"log.level": "info"})).unwrap();
    assert!(
        alias.contains("Cannot write to a field alias [log.level]"),
        "{alias}"
    );
}

#[test]
fn term_range_and_bool() {
    let doc = json!({"level": "error", "status": 500, "@timestamp": "2026-11-26T10:00:00Z"});
    assert!(matches(Some(&json!({"term": {"level": "error"}})), &doc));
    assert!(!matches(
        Some(&json!({"term": {"level": {"value": "info"}}})),
        &doc
    ));
    assert!(matches(
        Some(&json!({"range": {"status": {"gte": 500, "lt": 600}}})),
        &doc
    ));
    assert!(!matches(
        Some(&json!({"range": {"status": {"gt": 500}}})),
        &doc
    ));
    let both = json!({"bool": {"filter": [
        {"term": {"level": "error"}},
        {"range": {"@timestamp": {"gte": "2026-11-26T00:00:00Z"}}}
    ]}});
    assert!(matches(Some(&both), &doc));
    assert!(check(Some(&json!({"fuzzy": {}}))).is_err());
    assert!(check(Some(&both)).is_ok());
}
