//! The ingest body: NDJSON, one JSON object per line. The whole body is checked before
//! anything is persisted, so a request is taken entirely or not at all.

use super::error::IngestError;

/// Splits `body` into its documents; blank lines (and a trailing newline) are skipped,
/// `\r\n` endings accepted. Fails on the first line that is not a JSON object.
pub fn documents(body: &[u8]) -> Result<Vec<Vec<u8>>, IngestError> {
    let mut documents = Vec::new();
    for (index, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        check_object(line).map_err(|reason| IngestError::Malformed {
            line: index + 1,
            reason,
        })?;
        documents.push(line.to_vec());
    }
    if documents.is_empty() {
        return Err(IngestError::Empty);
    }
    Ok(documents)
}

fn check_object(line: &[u8]) -> Result<(), String> {
    // Checked apart: serde_json reads strings it is asked to skip without validating
    // their UTF-8, and such a line would pass here to fail in every sink.
    if let Err(error) = std::str::from_utf8(line) {
        return Err(format!(
            "not valid UTF-8 at column {}",
            error.valid_up_to() + 1
        ));
    }
    if let Err(error) = serde_json::from_slice::<Parsed>(line) {
        let message = error.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        return Err(format!(
            "not valid JSON at column {}: {message}",
            error.column()
        ));
    }
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err("each line must be a JSON object".into()),
    }
}

/// Any JSON value, parsed in full and kept nowhere. Unlike `IgnoredAny`, which skips over
/// numbers, it parses each one, so a number no sink can represent (`1e400`) is refused
/// here, at the line that holds it (found by the `collector_ingest` fuzz target).
struct Parsed;

impl<'de> serde::Deserialize<'de> for Parsed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor)
    }
}

struct ParsedVisitor;

impl<'de> serde::de::Visitor<'de> for ParsedVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_str<E>(self, _: &str) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_unit<E>(self) -> Result<Parsed, E> {
        Ok(Parsed)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        while seq.next_element::<Parsed>()?.is_some() {}
        Ok(Parsed)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        while map.next_entry::<Parsed, Parsed>()?.is_some() {}
        Ok(Parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_taken_blank_lines_skipped() {
        let docs = documents(b"{\"a\":1}\r\n\n  \n{\"b\":[1,2]}\n").unwrap();
        assert_eq!(docs, [b"{\"a\":1}".to_vec(), b"{\"b\":[1,2]}".to_vec()]);
    }

    #[test]
    fn a_number_out_of_range_is_refused() {
        let error = documents(b"{\"a\": 1e400}\n").unwrap_err().to_string();
        assert!(error.starts_with("line 1: not valid JSON"), "{error}");
        assert!(error.contains("number out of range"), "{error}");
    }

    #[test]
    fn invalid_utf8_inside_a_string_is_refused() {
        let error = documents(b"{\"a\": \"\xc3\x28\"}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "line 1: not valid UTF-8 at column 8");
    }

    #[test]
    fn the_first_bad_line_is_named() {
        let error = documents(b"{\"a\":1}\n{\"b\":\n").unwrap_err().to_string();
        assert_eq!(
            error,
            "line 2: not valid JSON at column 5: EOF while parsing a value"
        );
        let error = documents(b"{}\n{}\n[1]\n").unwrap_err().to_string();
        assert_eq!(error, "line 3: each line must be a JSON object");
        let error = documents(b"\n\n").unwrap_err().to_string();
        assert_eq!(error, "the body holds no events");
    }
}
