//! The Kibana saved objects and the error-rate rule hold together: the NDJSON parses, every
//! reference resolves to an object in the file, and every field a visualization, search or
//! rule uses exists in the collector's index template with a type that serves that use.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wasml_observability_tests::kibana::{
    FieldUse, embedded_json, error_rate_rule, field_uses, kuery_fields, saved_objects,
};

/// Field → mapping type, from the index template: objects' fields as `object.field`,
/// sub-fields as `field.sub`, an alias as the type of the field it points to.
fn mappings() -> BTreeMap<String, String> {
    let template: Value =
        serde_json::from_str(wasml_collector::sink::elasticsearch::INDEX_TEMPLATE).unwrap();
    let mut fields = BTreeMap::new();
    let mut aliases = Vec::new();
    collect(
        "",
        &template["template"]["mappings"],
        &mut fields,
        &mut aliases,
    );
    for (alias, path) in aliases {
        let target = fields
            .get(&path)
            .unwrap_or_else(|| panic!("alias {alias} points to {path}, which is not mapped"))
            .clone();
        assert_ne!(target, "alias", "alias {alias} points to another alias");
        fields.insert(alias, target);
    }
    fields
}

fn collect(
    prefix: &str,
    mapping: &Value,
    fields: &mut BTreeMap<String, String>,
    aliases: &mut Vec<(String, String)>,
) {
    for (name, spec) in mapping["properties"].as_object().into_iter().flatten() {
        let field = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match spec["type"].as_str() {
            Some("alias") => aliases.push((field, spec["path"].as_str().unwrap().to_owned())),
            Some(kind) => {
                fields.insert(field.clone(), kind.to_owned());
                for (sub, sub_mapping) in spec["fields"].as_object().into_iter().flatten() {
                    fields.insert(
                        format!("{field}.{sub}"),
                        sub_mapping["type"].as_str().unwrap().to_owned(),
                    );
                }
            }
            None => collect(&field, spec, fields, aliases),
        }
    }
}

fn check(fields: &BTreeMap<String, String>, owner: &str, field: &str, field_use: FieldUse) {
    let mapping = fields
        .get(field)
        .unwrap_or_else(|| panic!("{owner}: field {field:?} is not in the index template"));
    assert!(
        field_use.accepts(mapping),
        "{owner}: {field} is mapped as {mapping}, which cannot serve {field_use:?}"
    );
}

#[test]
fn the_saved_objects_are_the_data_view_four_visualizations_and_the_dashboard() {
    let objects = saved_objects();
    let titles: BTreeSet<(&str, &str)> = objects
        .iter()
        .map(|o| {
            (
                o["type"].as_str().unwrap(),
                o["attributes"]["title"].as_str().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("index-pattern", "ml-pipeline-*,logs-ml_pipeline-*"),
        ("visualization", "Log levels over time"),
        ("search", "Errors"),
        ("visualization", "Request duration trend"),
        ("visualization", "Success rate"),
        ("dashboard", "ML Pipeline Logs Dashboard"),
    ] {
        assert!(titles.contains(&expected), "{expected:?} missing");
    }
    let view = &objects[0];
    assert_eq!(view["attributes"]["timeFieldName"], "@timestamp");
    // Every embedded JSON string parses.
    for object in &objects {
        for attribute in ["visState", "panelsJSON", "optionsJSON"] {
            if let Some(text) = object["attributes"].get(attribute) {
                embedded_json(text);
            }
        }
    }
}

#[test]
fn every_reference_resolves_to_an_object_in_the_file() {
    let objects = saved_objects();
    let present: BTreeSet<(&str, &str)> = objects
        .iter()
        .map(|o| (o["type"].as_str().unwrap(), o["id"].as_str().unwrap()))
        .collect();
    assert_eq!(present.len(), objects.len(), "IDs are unique");
    for object in &objects {
        let references = object["references"].as_array().unwrap();
        let names: BTreeSet<&str> = references
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for reference in references {
            let key = (
                reference["type"].as_str().unwrap(),
                reference["id"].as_str().unwrap(),
            );
            assert!(present.contains(&key), "{}: {key:?}", object["id"]);
        }
        // What the object says it refers to by name is among its references.
        if let Some(source) = object["attributes"]["kibanaSavedObjectMeta"].get("searchSourceJSON")
            && let Some(name) = embedded_json(source)["indexRefName"].as_str()
        {
            assert!(names.contains(name), "{}: {name}", object["id"]);
        }
        if let Some(panels) = object["attributes"].get("panelsJSON") {
            for panel in embedded_json(panels).as_array().unwrap() {
                let name = panel["panelRefName"].as_str().unwrap();
                assert!(names.contains(name), "{}: {name}", object["id"]);
            }
        }
    }
}

#[test]
fn every_field_used_is_mapped_with_a_suitable_type() {
    let fields = mappings();
    let mut checked = 0;
    for object in saved_objects() {
        let owner = object["attributes"]["title"].as_str().unwrap().to_owned();
        for (field, field_use) in field_uses(&object) {
            check(&fields, &owner, &field, field_use);
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} field uses found");
    // A field the template lacks, or maps wrongly, is caught.
    assert!(!fields.contains_key("no_such_field"));
    assert!(!FieldUse::Numeric.accepts(&fields["level"]));
}

#[test]
fn the_error_rate_rule_counts_error_events_over_five_minutes() {
    let rule = error_rate_rule();
    let params = &rule["params"];
    assert_eq!(rule["rule_type_id"], ".es-query");
    assert_eq!(
        params["index"],
        serde_json::json!(["ml-pipeline-*", "logs-ml_pipeline-*"])
    );
    assert_eq!(params["threshold"], serde_json::json!([5]));
    assert_eq!(params["thresholdComparator"], ">");
    assert_eq!(
        (
            params["timeWindowSize"].as_u64(),
            params["timeWindowUnit"].as_str()
        ),
        (Some(5), Some("m"))
    );
    let fields = mappings();
    check(
        &fields,
        "rule",
        params["timeField"].as_str().unwrap(),
        FieldUse::Date,
    );
    let query = embedded_json(&params["esQuery"]);
    let term = &query["query"]["bool"]["filter"][0]["term"];
    for (field, value) in term.as_object().unwrap() {
        check(&fields, "rule", field, FieldUse::Terms);
        assert_eq!(value, "error");
    }
}

#[test]
fn kuery_fields_are_read_from_queries() {
    assert_eq!(
        kuery_fields("level:error and status:*"),
        ["level", "status"]
    );
    assert!(kuery_fields("").is_empty());
}
