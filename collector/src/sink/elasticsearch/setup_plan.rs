//! What setup installs on each server, for each target. Everything derives from the two
//! files in `observability/elasticsearch/` (the operator's copy and the collector's are
//! the same): the index template's mappings and the ILM policy's retention (its delete
//! phase's `min_age`).
//!
//! | server | retention | index template |
//! |---|---|---|
//! | Elasticsearch (or unknown) | ILM policy | as the file, naming the policy |
//! | OpenSearch | ISM policy (`_plugins/_ism`), attached by its `ism_template` | no ILM setting; `flat_object` for `flattened` |
//! | Serverless | data stream lifecycle in the template (data streams only) | no index settings (Serverless allows none of them) |
//!
//! A data stream target adds `data_stream: {}` to the template, and a rollover to the
//! policies (a data stream's write index must roll over before it can be deleted).

use serde_json::{Value, json};

use super::detect::ServerKind;
use super::target::Target;

/// The index template for `ml-pipeline-*`: explicit mappings of every field the host emits.
pub const INDEX_TEMPLATE: &str =
    include_str!("../../../../observability/elasticsearch/index-template.json");

/// The retention policy the template names.
pub const ILM_POLICY: &str =
    include_str!("../../../../observability/elasticsearch/ilm-policy.json");

/// The name of the template and policy of daily indices.
pub const SETUP_NAME: &str = "ml-pipeline";

/// The name of the policies of a data stream (they roll over).
const DATA_STREAM_POLICY: &str = "ml-pipeline-data-stream";

/// Why daily indices keep no retention on Serverless.
const NO_SERVERLESS_INDEX_RETENTION: &str = "Elastic Cloud Serverless has no ILM: daily indices are kept until deleted; --elasticsearch-target data-stream gets a data stream lifecycle";

/// How often a data stream's write index rolls over.
const ROLLOVER_AGE: &str = "1d";

/// One `PUT` of setup.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    /// Its name in `wasml_collector_setup_state{step}` and `/health`.
    pub name: &'static str,
    /// The request path.
    pub path: String,
    /// The request body.
    pub body: Value,
    /// A 409 means it exists already (ISM's `PUT` does not overwrite a policy).
    pub exists_on_conflict: bool,
}

/// The setup for one server and target.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    /// The requests, in order (a policy before the template naming it).
    pub steps: Vec<Step>,
    /// What keeps data for how long once every step is installed, in words; or why the
    /// server offers nothing for this target.
    pub retention: Result<String, &'static str>,
}

/// The plan for `kind` writing to `target`.
pub(super) fn plan(kind: ServerKind, target: &Target) -> Plan {
    let age = retention_age();
    let data_stream = matches!(target, Target::DataStream(_));
    let policy_name = if data_stream {
        DATA_STREAM_POLICY
    } else {
        SETUP_NAME
    };
    let template_name = match target {
        Target::DailyIndices => SETUP_NAME.to_owned(),
        Target::DataStream(name) => name.clone(),
    };
    let mut template = base_template(target);
    let settings = &mut template["template"]["settings"];
    let (policy, retention) = match kind {
        ServerKind::Elasticsearch | ServerKind::Unknown => {
            settings["index.lifecycle.name"] = json!(policy_name);
            let policy = Step {
                name: "ilm_policy",
                path: format!("/_ilm/policy/{policy_name}"),
                body: ilm_policy(data_stream),
                exists_on_conflict: false,
            };
            (
                Some(policy),
                Ok(format!("{age} (ILM policy {policy_name})")),
            )
        }
        ServerKind::OpenSearch => {
            rename_types(
                &mut template["template"]["mappings"],
                "flattened",
                "flat_object",
            );
            let policy = Step {
                name: "ism_policy",
                path: format!("/_plugins/_ism/policies/{policy_name}"),
                body: ism_policy(&target.pattern(), data_stream, &age),
                exists_on_conflict: true,
            };
            (
                Some(policy),
                Ok(format!("{age} (ISM policy {policy_name})")),
            )
        }
        ServerKind::Serverless => {
            remove(&mut template["template"], "settings");
            let retention = if data_stream {
                template["template"]["lifecycle"] = json!({ "data_retention": age });
                Ok(format!("{age} (data stream lifecycle)"))
            } else {
                Err(NO_SERVERLESS_INDEX_RETENTION)
            };
            (None, retention)
        }
    };
    let template = Step {
        name: "index_template",
        path: format!("/_index_template/{template_name}"),
        body: template,
        exists_on_conflict: false,
    };
    Plan {
        steps: policy.into_iter().chain([template]).collect(),
        retention,
    }
}

/// The delete phase's `min_age` of the ILM policy file, e.g. `30d`.
fn retention_age() -> String {
    let policy: Value = serde_json::from_str(ILM_POLICY).expect("the ILM policy file is JSON");
    policy["policy"]["phases"]["delete"]["min_age"]
        .as_str()
        .expect("the ILM policy file has a delete phase with a min_age")
        .to_owned()
}

/// The template file, for `target`'s pattern, without a lifecycle setting.
fn base_template(target: &Target) -> Value {
    let mut template: Value =
        serde_json::from_str(INDEX_TEMPLATE).expect("the index template file is JSON");
    template["index_patterns"] = json!([target.pattern()]);
    remove(
        &mut template["template"]["settings"],
        "index.lifecycle.name",
    );
    if matches!(target, Target::DataStream(_)) {
        template["data_stream"] = json!({});
    }
    template
}

/// The ILM policy file, with a daily rollover for a data stream.
fn ilm_policy(data_stream: bool) -> Value {
    let mut policy: Value = serde_json::from_str(ILM_POLICY).expect("the ILM policy file is JSON");
    if data_stream {
        policy["policy"]["phases"]["hot"]["actions"]["rollover"] =
            json!({ "max_age": ROLLOVER_AGE, "max_primary_shard_size": "50gb" });
    }
    policy
}

/// The OpenSearch ISM equivalent of the ILM policy: hot, then deleted at `age`, attached
/// to new indices matching `pattern` by its `ism_template`.
fn ism_policy(pattern: &str, data_stream: bool, age: &str) -> Value {
    let hot_actions = if data_stream {
        json!([{ "rollover": { "min_index_age": ROLLOVER_AGE } }])
    } else {
        json!([])
    };
    json!({
        "policy": {
            "description": format!("wasml events in {pattern} are kept {age}."),
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": hot_actions,
                    "transitions": [{ "state_name": "delete", "conditions": { "min_index_age": age } }]
                },
                { "name": "delete", "actions": [{ "delete": {} }], "transitions": [] }
            ],
            "ism_template": [{ "index_patterns": [pattern], "priority": 100 }]
        }
    })
}

fn remove(object: &mut Value, key: &str) {
    if let Some(object) = object.as_object_mut() {
        object.remove(key);
    }
}

/// Renames every mapped `type: from` to `to`.
fn rename_types(mappings: &mut Value, from: &str, to: &str) {
    if let Some(properties) = mappings["properties"].as_object_mut() {
        for field in properties.values_mut() {
            if field["type"] == from {
                field["type"] = json!(to);
            }
            rename_types(field, from, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &Plan) -> Vec<(&str, &str)> {
        plan.steps
            .iter()
            .map(|s| (s.name, s.path.as_str()))
            .collect()
    }

    #[test]
    fn elasticsearch_gets_the_files_as_they_are() {
        let plan = plan(ServerKind::Elasticsearch, &Target::DailyIndices);
        assert_eq!(
            names(&plan),
            [
                ("ilm_policy", "/_ilm/policy/ml-pipeline"),
                ("index_template", "/_index_template/ml-pipeline")
            ]
        );
        let file = |text| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(plan.steps[0].body, file(ILM_POLICY));
        assert_eq!(plan.steps[1].body, file(INDEX_TEMPLATE));
        assert_eq!(
            plan.retention.as_deref(),
            Ok("30d (ILM policy ml-pipeline)")
        );
    }

    #[test]
    fn a_data_stream_rolls_over_under_its_own_policy() {
        let target = Target::DataStream("logs-ml_pipeline-default".into());
        let plan = plan(ServerKind::Elasticsearch, &target);
        assert_eq!(
            names(&plan),
            [
                ("ilm_policy", "/_ilm/policy/ml-pipeline-data-stream"),
                (
                    "index_template",
                    "/_index_template/logs-ml_pipeline-default"
                )
            ]
        );
        assert_eq!(
            plan.steps[0].body["policy"]["phases"]["hot"]["actions"]["rollover"]["max_age"],
            "1d"
        );
        let template = &plan.steps[1].body;
        assert_eq!(template["data_stream"], json!({}));
        assert_eq!(
            template["index_patterns"],
            json!(["logs-ml_pipeline-default"])
        );
        assert_eq!(
            template["template"]["settings"]["index.lifecycle.name"],
            "ml-pipeline-data-stream"
        );
    }

    #[test]
    fn opensearch_gets_an_ism_policy_and_its_own_field_types() {
        let plan = plan(ServerKind::OpenSearch, &Target::DailyIndices);
        assert_eq!(
            names(&plan),
            [
                ("ism_policy", "/_plugins/_ism/policies/ml-pipeline"),
                ("index_template", "/_index_template/ml-pipeline")
            ]
        );
        let policy = &plan.steps[0].body["policy"];
        assert_eq!(
            policy["states"][0]["transitions"][0]["conditions"]["min_index_age"],
            "30d"
        );
        assert_eq!(
            policy["ism_template"][0]["index_patterns"],
            json!(["ml-pipeline-*"])
        );
        assert!(plan.steps[0].exists_on_conflict);
        let template = &plan.steps[1].body["template"];
        assert!(template["settings"].get("index.lifecycle.name").is_none());
        assert_eq!(
            template["mappings"]["properties"]["fields"]["type"],
            "flat_object"
        );
        assert!(!template.to_string().contains("\"flattened\""));
    }

    #[test]
    fn serverless_gets_a_lifecycle_for_data_streams_and_no_settings() {
        let daily = plan(ServerKind::Serverless, &Target::DailyIndices);
        assert_eq!(
            names(&daily),
            [("index_template", "/_index_template/ml-pipeline")]
        );
        assert!(daily.steps[0].body["template"].get("settings").is_none());
        assert!(daily.retention.unwrap_err().contains("no ILM"));
        let target = Target::DataStream("logs-ml_pipeline-default".into());
        let stream = plan(ServerKind::Serverless, &target);
        assert_eq!(
            stream.steps[0].body["template"]["lifecycle"],
            json!({"data_retention": "30d"})
        );
        assert_eq!(
            stream.retention.as_deref(),
            Ok("30d (data stream lifecycle)")
        );
    }
}
