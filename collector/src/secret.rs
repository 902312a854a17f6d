//! Secrets (API keys, tokens) given as a flag, an environment variable or a file, kept
//! in a type that never prints them: `Debug` shows `Secret(redacted)`, there is no
//! `Display`, and errors about a secret file name the file, never its contents.

use std::fmt;
use std::path::Path;

/// A secret string; read it with [`Secret::expose`] where it is sent, nowhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A `clap` value parser for a secret given inline (flag or environment variable).
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(Self(value.to_owned()))
    }

    /// A `clap` value parser for a file holding a secret (a Docker or Kubernetes secret
    /// mount): its contents without surrounding whitespace, such as the final newline.
    pub fn read_file(path: &str) -> Result<Self, String> {
        let contents = std::fs::read_to_string(Path::new(path))
            .map_err(|e| format!("cannot read the secret file {path}: {e}"))?;
        Self::parse(contents.trim()).map_err(|_| format!("the secret file {path} is empty"))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::parse("hunter2").unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(redacted)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_file_is_read_without_its_newline_and_errors_name_only_the_file() {
        let dir = std::env::temp_dir().join(format!("wasml-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret-value\n").unwrap();
        let secret = Secret::read_file(file.to_str().unwrap()).unwrap();
        assert_eq!(secret.expose(), "s3cret-value");
        std::fs::write(&file, "\n").unwrap();
        let error = Secret::read_file(file.to_str().unwrap()).unwrap_err();
        assert!(error.contains("is empty"), "{error}");
        let missing = dir.join("missing");
        let error = Secret::read_file(missing.to_str().unwrap()).unwrap_err();
        assert!(error.starts_with("cannot read the secret file"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
