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
    // Checked apart: skipping over a string into `IgnoredAny`, serde_json does not
    // validate its UTF-8, and such a line would pass here to fail in every sink.
    if let Err(error) = std::str::from_utf8(line) {
        return Err(format!(
            "not valid UTF-8 at column {}",
            error.valid_up_to() + 1
        ));
    }
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_taken_blank_lines_skipped() {
        let docs = documents(b"{\"a\":1}\r\n\n  \n{\"b\":[1,2]}\n").unwrap();
        assert_eq!(docs, [b"{\"a\":1}".to_vec(), b"{\"b\":[1,2]}".to_vec()]);
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
