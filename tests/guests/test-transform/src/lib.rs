//! A single message transform for the integration tests, configured by `transforms.<alias>.*`:
//! `uppercase` (`value` uppercases a string value, any other name that string field of a
//! struct value), `header.name`/`header.value` (adds a header), and record matchers
//! `drop.match`, `fail.match`, `trap.match`, `loop.match` (a record whose string value, or any
//! string field of its struct value, contains the text is dropped, failed, makes the guest
//! panic, or makes it spin forever). Checks run in that order: loop, trap, fail, drop. A
//! `mode` setting is refused by `validate` (and by `configure`).

use wasm_connect_sdk::config::{ConfigDef, ConfigKey, ConfigType, ConfigValue, Importance};
use wasm_connect_sdk::{
    Config, Data, Disposition, Error, Header, PluginInfo, Transform, TransformRecord, Value,
};

/// The test transform.
pub struct TestTransform {
    uppercase: Option<String>,
    header: Option<(String, String)>,
    drop_match: Option<String>,
    fail_match: Option<String>,
    trap_match: Option<String>,
    loop_match: Option<String>,
}

fn optional(key: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(key, ConfigType::String)
        .default_value("")
        .importance(Importance::Medium)
        .documentation(doc)
}

/// Whether the record's string value, or a string field of its struct value, contains `text`.
fn matches(record: &TransformRecord, text: &Option<String>) -> bool {
    let Some(text) = text else {
        return false;
    };
    match record.value.as_ref().map(|d| &d.value) {
        Some(Value::String(s)) => s.contains(text.as_str()),
        Some(Value::Struct(s)) => s
            .values()
            .iter()
            .any(|v| v.as_str().is_some_and(|s| s.contains(text.as_str()))),
        _ => false,
    }
}

impl Transform for TestTransform {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "TestTransform",
            "Uppercases, adds a header, drops, fails, traps or loops, as configured.",
        )
        .alias("com.example.TestTransform")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(optional(
                "uppercase",
                "`value` uppercases a string value; a field name uppercases that string field.",
            ))
            .define(optional("header.name", "Adds a header with this key."))
            .define(optional("header.value", "The added header's string value."))
            .define(optional(
                "drop.match",
                "Drops records containing this text.",
            ))
            .define(optional(
                "fail.match",
                "Fails records containing this text.",
            ))
            .define(optional(
                "trap.match",
                "Panics on a batch with a record containing this text.",
            ))
            .define(optional(
                "loop.match",
                "Loops forever on a record containing this text.",
            ))
    }

    fn validate(config: &Config) -> Vec<ConfigValue> {
        let mut values = Self::config_def().validate(config);
        if let Some(mode) = config.get("mode") {
            values.push(
                ConfigValue::new("mode", Some(mode.to_owned()))
                    .error("there is no `mode`; set uppercase, header.name or a *.match key"),
            );
        }
        values
    }

    fn configure(config: Config) -> Result<Self, Error> {
        let get = |key: &str| {
            Some(config.get_str_or(key, "").to_owned()).filter(|value| !value.is_empty())
        };
        if let Some(other) = config.get("mode") {
            return Err(Error::invalid_config(format!(
                "unknown setting mode={other}; use uppercase, header.name, drop.match, fail.match, \
                 trap.match or loop.match"
            )));
        }
        Ok(Self {
            uppercase: get("uppercase"),
            header: get("header.name").map(|name| (name, get("header.value").unwrap_or_default())),
            drop_match: get("drop.match"),
            fail_match: get("fail.match"),
            trap_match: get("trap.match"),
            loop_match: get("loop.match"),
        })
    }

    fn apply(&mut self, record: &TransformRecord) -> Result<Disposition, Error> {
        if matches(record, &self.loop_match) {
            let mut spins: u64 = 0;
            loop {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
        }
        if matches(record, &self.trap_match) {
            panic!("test-transform: trap.match hit on topic {}", record.topic);
        }
        if matches(record, &self.fail_match) {
            return Err(Error::fatal("test-transform: fail.match hit"));
        }
        if matches(record, &self.drop_match) {
            return Ok(Disposition::Drop);
        }
        if self.uppercase.is_none() && self.header.is_none() {
            return Ok(Disposition::Keep);
        }
        let mut new = record.clone();
        if let Some(target) = &self.uppercase {
            new.value = match new.value.take() {
                Some(Data {
                    schema,
                    value: Value::String(s),
                }) if target == "value" => Some(Data {
                    schema,
                    value: Value::String(s.to_uppercase()),
                }),
                Some(Data {
                    schema,
                    value: Value::Struct(mut s),
                }) => {
                    if let Some(upper) =
                        s.get(target).and_then(Value::as_str).map(str::to_uppercase)
                    {
                        s.put(target, upper)
                            .map_err(|e| Error::fatal(e.to_string()))?;
                    }
                    Some(Data {
                        schema,
                        value: Value::Struct(s),
                    })
                }
                other => other,
            };
        }
        if let Some((name, value)) = &self.header {
            new.headers
                .push(Header::new(name.clone(), Data::string(value.clone())));
        }
        Ok(Disposition::Replace(new))
    }
}

wasm_connect_sdk::export_transform!(TestTransform);

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(pairs: &[(&str, &str)]) -> TestTransform {
        TestTransform::configure(Config::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn uppercases_and_adds_a_header() {
        let mut t = transform(&[
            ("uppercase", "value"),
            ("header.name", "h"),
            ("header.value", "v"),
        ]);
        let Disposition::Replace(new) = t
            .apply(&TransformRecord::new("t", Some(Data::string("abc"))))
            .unwrap()
        else {
            panic!("not replaced")
        };
        assert_eq!(new.value.unwrap().value, Value::String("ABC".into()));
        assert_eq!(new.headers[0].key, "h");
    }

    #[test]
    fn drops_and_fails_matching_records() {
        let mut t = transform(&[("drop.match", "x"), ("fail.match", "bad")]);
        let record = |v: &str| TransformRecord::new("t", Some(Data::string(v)));
        assert_eq!(t.apply(&record("axb")).unwrap(), Disposition::Drop);
        assert!(t.apply(&record("bad")).is_err());
        assert_eq!(t.apply(&record("ok")).unwrap(), Disposition::Keep);
    }
}
