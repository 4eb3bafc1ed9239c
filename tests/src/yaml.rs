//! Reading YAML configuration files as JSON values (merge keys `<<` applied).

use std::path::Path;

/// Errors reading a YAML file.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is invalid or cannot be expressed as JSON (e.g. non-string keys).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
}

/// Parse YAML text, apply merge keys, and convert to a JSON value.
pub fn parse(text: &str, origin: &str) -> Result<serde_json::Value, YamlError> {
    let err = |message: String| YamlError::Parse {
        path: origin.to_string(),
        message,
    };
    let mut value: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
    value.apply_merge().map_err(|e| err(e.to_string()))?;
    serde_json::to_value(&value).map_err(|e| err(e.to_string()))
}

/// Read and parse a YAML file.
pub fn load(path: &Path) -> Result<serde_json::Value, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|source| YamlError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keys_are_applied() {
        let v = parse("x: &a {k: 1}\ny:\n  <<: *a\n  z: 2\n", "t").unwrap();
        assert_eq!(v["y"]["k"], 1);
        assert_eq!(v["y"]["z"], 2);
    }

    #[test]
    fn invalid_yaml_names_the_origin() {
        let e = parse("a: [1, 2", "file.yml").unwrap_err().to_string();
        assert!(e.starts_with("file.yml:"), "{e}");
    }
}
