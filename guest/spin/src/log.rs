//! Structured log lines on stdout: one JSON object per event with `timestamp`, `level` and
//! `message`, as the host's own JSON logs, so one log shipper reads both.

use serde_json::{Map, Value};

/// A log line being built.
pub struct Line(Map<String, Value>);

/// An `info` line.
pub fn info(message: &str) -> Line {
    Line::new("info", message)
}

/// An `error` line.
pub fn error(message: &str) -> Line {
    Line::new("error", message)
}

impl Line {
    fn new(level: &str, message: &str) -> Self {
        let mut fields = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        fields.insert("timestamp".into(), now.into());
        fields.insert("level".into(), level.into());
        fields.insert("message".into(), message.into());
        Self(fields)
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// `error` for a 5xx answer, `warn` for a 4xx, as the host logs failed requests.
    pub fn level_for(mut self, status: u16) -> Self {
        let level = if status >= 500 { "error" } else { "warn" };
        self.0.insert("level".into(), level.into());
        self
    }

    /// Prints the line.
    pub fn write(self) {
        println!("{}", Value::Object(self.0));
    }
}
