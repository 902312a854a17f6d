//! Secrets (API keys, tokens) given as a flag, an environment variable or a file, kept
//! in a type that never prints them: `Debug` shows `Secret(redacted)`, there is no
//! `Display`, and errors about a secret file name the file, never its contents. And the
//! check of a bearer token against one, [`BearerToken`].

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

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

/// A bearer token requests are checked against. Kept only as its sha256 and compared
/// digest to digest in constant time: the comparison's timing says nothing about how much
/// of a guess was right, and the checker holds no copy of the token.
#[derive(Clone)]
pub struct BearerToken {
    digest: [u8; 32],
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer` header (answer 401).
    Missing,
    /// Another token (answer 403).
    Wrong,
}

impl BearerToken {
    /// Checks requests against `token`.
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `given` is the token.
    pub fn accepts(&self, given: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        digest
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Checks an `Authorization` header's value, if any.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), TokenRefusal> {
        let given = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(TokenRefusal::Missing)?;
        if self.accepts(given.trim()) {
            Ok(())
        } else {
            Err(TokenRefusal::Wrong)
        }
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
    fn a_bearer_token_accepts_itself_only() {
        let token = BearerToken::new("s3cret");
        assert_eq!(token.check(Some("Bearer s3cret")), Ok(()));
        assert_eq!(token.check(Some("Bearer s3cret\n")), Ok(()));
        assert_eq!(token.check(Some("Bearer s3cre")), Err(TokenRefusal::Wrong));
        assert_eq!(token.check(Some("Bearer ")), Err(TokenRefusal::Wrong));
        assert_eq!(
            token.check(Some("Basic s3cret")),
            Err(TokenRefusal::Missing)
        );
        assert_eq!(token.check(None), Err(TokenRefusal::Missing));
    }

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
