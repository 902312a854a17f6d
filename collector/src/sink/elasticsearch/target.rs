//! Where documents go (`--elasticsearch-target`): daily indices `ml-pipeline-YYYY.MM.DD`
//! (the default), or one data stream `logs-ml_pipeline-<namespace>`, named as Elastic
//! Agent and Filebeat 8 name theirs (`<type>-<dataset>-<namespace>`), so the stack's
//! conventions (the `logs-*-*` templates, Kibana's logs views) apply to it.

use crate::sink::DocumentMeta;

/// The kind of target, as the flag spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// Daily indices `ml-pipeline-YYYY.MM.DD`, from each event's `@timestamp`.
    Index,
    /// The data stream `logs-ml_pipeline-<namespace>`.
    DataStream,
}

/// The dataset part of the data stream's name.
pub const DATASET: &str = "ml_pipeline";

/// Where the sink writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Daily indices `ml-pipeline-YYYY.MM.DD`.
    DailyIndices,
    /// One data stream, by name (`logs-ml_pipeline-<namespace>`).
    DataStream(String),
}

/// A data stream namespace, checked as Elasticsearch checks one: lowercase, no `-`, none
/// of `\/*?"<>| ,#:`, 1 to 100 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// `text` if it is a valid namespace (the flag's value parser).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |c: char| c.is_uppercase() || "-\\/*?\"<>| ,#:".contains(c);
        if text.is_empty() || text.len() > 100 || text.contains(bad) {
            return Err(format!(
                "bad data stream namespace {text:?}: it must be 1 to 100 lowercase characters without '-' or any of \\/*?\"<>| ,#:"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Target {
    /// The target of `kind`; `namespace` names a data stream.
    pub fn new(kind: TargetKind, namespace: &Namespace) -> Self {
        match kind {
            TargetKind::Index => Self::DailyIndices,
            TargetKind::DataStream => Self::DataStream(format!("logs-{DATASET}-{namespace}")),
        }
    }

    /// The index or data stream a document goes to.
    pub fn name_for(&self, meta: &DocumentMeta<'_>) -> String {
        match self {
            Self::DailyIndices => meta.daily_name(),
            Self::DataStream(name) => name.clone(),
        }
    }

    /// The index pattern the index template (and a retention policy) applies to.
    pub fn pattern(&self) -> String {
        match self {
            Self::DailyIndices => "ml-pipeline-*".to_owned(),
            Self::DataStream(name) => name.clone(),
        }
    }

    /// How `/health` names it.
    pub fn describe(&self) -> String {
        match self {
            Self::DailyIndices => "daily indices ml-pipeline-YYYY.MM.DD".to_owned(),
            Self::DataStream(name) => format!("data stream {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_streams_follow_the_elastic_naming_convention() {
        let namespace = Namespace::parse("prod_eu").unwrap();
        let target = Target::new(TargetKind::DataStream, &namespace);
        assert_eq!(
            target,
            Target::DataStream("logs-ml_pipeline-prod_eu".into())
        );
        let meta = DocumentMeta::read(br#"{"@timestamp":"2026-11-30T10:00:00Z"}"#);
        assert_eq!(target.name_for(&meta), "logs-ml_pipeline-prod_eu");
        assert_eq!(
            Target::DailyIndices.name_for(&meta),
            "ml-pipeline-2026.11.30"
        );
        assert_eq!(
            Target::new(TargetKind::Index, &namespace),
            Target::DailyIndices
        );
        assert_eq!(Namespace::default().to_string(), "default");
    }

    #[test]
    fn namespaces_are_checked_as_elasticsearch_checks_them() {
        for bad in [
            "",
            "with-dash",
            "Upper",
            "a b",
            "a*",
            "a:b",
            &"x".repeat(101),
        ] {
            let error = Namespace::parse(bad).unwrap_err();
            assert!(error.contains("namespace"), "{bad:?}: {error}");
        }
        assert!(Namespace::parse("team_a.prod").is_ok());
    }
}
