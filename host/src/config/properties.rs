//! Reading Java `.properties` files and typed access to string settings with errors that name
//! the key, the value and what was expected.

use std::{collections::BTreeMap, path::Path, str::FromStr, time::Duration};

use super::ConfigError;

/// Settings as written: string keys to string values.
pub type Settings = BTreeMap<String, String>;

/// Reads a Java properties file.
pub fn read_properties(path: &Path) -> Result<Settings, ConfigError> {
    let file = std::fs::File::open(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let map = java_properties::read(std::io::BufReader::new(file)).map_err(|source| {
        ConfigError::Parse {
            path: path.to_path_buf(),
            message: source.to_string(),
        }
    })?;
    Ok(map.into_iter().collect())
}

/// Typed reads over [`Settings`].
pub trait SettingsExt {
    fn string(&self, key: &str) -> Option<&str>;
    fn required(&self, key: &str) -> Result<&str, ConfigError>;
    fn parse_or<T: FromStr>(
        &self,
        key: &str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError>;
    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError>;
    fn millis_or(&self, key: &str, default: u64) -> Result<Duration, ConfigError>;
    fn list(&self, key: &str) -> Vec<String>;
    /// Every key starting with `prefix`, with the prefix removed.
    fn with_prefix(&self, prefix: &str) -> Settings;
}

impl SettingsExt for Settings {
    fn string(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.string(key)
            .ok_or_else(|| ConfigError::Missing(key.to_owned()))
    }

    fn parse_or<T: FromStr>(
        &self,
        key: &str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError> {
        match self.string(key) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                key: key.to_owned(),
                value: value.to_owned(),
                expected,
            }),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.string(key) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(ConfigError::Invalid {
                key: key.to_owned(),
                value: value.to_owned(),
                expected: "true or false",
            }),
        }
    }

    fn millis_or(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        self.parse_or(key, default, "a non-negative number of milliseconds")
            .map(Duration::from_millis)
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.string(key)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn with_prefix(&self, prefix: &str) -> Settings {
        self.iter()
            .filter_map(|(key, value)| {
                key.strip_prefix(prefix)
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| (rest.to_owned(), value.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn typed_reads_name_the_key_and_value_on_error() {
        let s = settings(&[("a", "12"), ("b", "x"), ("c", "TRUE"), ("l", " x , y ,,z")]);
        assert_eq!(s.parse_or("a", 0u32, "a number").unwrap(), 12);
        let error = s.parse_or("b", 0u32, "a number").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid value `x` for setting `b`: expected a number"
        );
        assert!(s.bool_or("c", false).unwrap());
        assert_eq!(s.list("l"), vec!["x", "y", "z"]);
        assert_eq!(
            s.required("zz").unwrap_err().to_string(),
            "missing required setting `zz`"
        );
    }

    #[test]
    fn reads_java_properties_with_escapes_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.properties");
        std::fs::write(&path, "# comment\nname = a\\\n  b\nkey:value\n! other\n").unwrap();
        let map = read_properties(&path).unwrap();
        assert_eq!(map.get("name").unwrap(), "ab");
        assert_eq!(map.get("key").unwrap(), "value");
    }
}
