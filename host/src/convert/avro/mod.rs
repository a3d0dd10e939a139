//! `AvroConverter`: Connect data as Avro in Confluent Schema Registry's wire format (magic byte
//! 0, the 4-byte big-endian schema id, the Avro binary body), compatible with Confluent's
//! `io.confluent.connect.avro.AvroConverter`.
//!
//! Writing maps the Connect schema to an Avro schema as Confluent's `AvroData` does
//! (`schema`), registers it under the subject of `key.subject.name.strategy` /
//! `value.subject.name.strategy` (or only looks its id up with `auto.register.schemas=false`,
//! or uses the subject's latest schema with `use.latest.version=true`), and encodes the value
//! (`value`, with the binary encoding of `codec`). Reading fetches the writer schema by id and
//! maps it back. Schema ids are cached per converter by subject and schema text, and writer
//! schemas by id (up to 1000 each), so the registry is asked once per schema.
//!
//! Unlike the other converters this one does I/O: the registry calls are blocking HTTP
//! (`registry`, with timeouts), made on the calling thread the first time a schema is seen.
//!
//! Differences from Confluent's converter:
//! - Avro unions other than `["null", T]` and recursive Avro schemas cannot be read (Confluent
//!   maps general unions to `io.confluent.connect.avro.Union` structs).
//! - Bytes after the Avro body are an error (Confluent ignores them).
//! - Map entries keep their order on the wire and when read back, and maps given to
//!   `use.latest.version` are written in key order (Java's `HashMap` order is arbitrary).
//! - `use.latest.version` resolves the value written with the Connect-derived schema into the
//!   latest schema (Avro schema resolution) and caches the latest schema for the converter's
//!   life; `latest.cache.ttl.sec`, `normalize.schemas`, context names, schema references and
//!   `SASL_INHERIT`/bearer authentication are not supported; `enhanced.avro.schema.support`
//!   and `scrub.invalid.names` are ignored.
//! - Unnamed nested structs are `ConnectDefault2`, `ConnectDefault3`, … and further maps with
//!   non-string keys `MapEntry2`, …, so that every Avro name is defined once.

mod codec;
mod registry;
mod schema;
mod value;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use apache_avro::Schema as AvroSchema;
use serde_json::Value as Json;

use super::{ConvertError, Converter, ConverterKind, DataError, bool_setting};
use crate::data::{Data, SchemaRef};

use registry::RegistryClient;
pub use registry::{BasicAuth, RegistryError};

const NAME: ConverterKind = ConverterKind::Avro;
/// The first byte of every value in the Schema Registry wire format.
pub const MAGIC_BYTE: u8 = 0;
const HEADER_LEN: usize = 5;
/// Most schemas each cache holds; a full cache is emptied (Confluent keeps 1000 per subject).
const MAX_CACHED_SCHEMAS: usize = 1000;

/// How the subject a schema is registered under is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (Confluent's default).
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    fn parse(text: &str) -> Option<Self> {
        let simple = text.trim().rsplit('.').next().unwrap_or_default();
        match simple {
            "TopicNameStrategy" => Some(Self::TopicName),
            "RecordNameStrategy" => Some(Self::RecordName),
            "TopicRecordNameStrategy" => Some(Self::TopicRecordName),
            _ => None,
        }
    }
}

/// `AvroConverter` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvroConverterConfig {
    /// `schema.registry.url`, split on commas.
    pub registry_urls: Vec<String>,
    /// `auto.register.schemas` (default true).
    pub auto_register_schemas: bool,
    /// `use.latest.version` (default false; only used with `auto.register.schemas=false`).
    pub use_latest_version: bool,
    /// `key.subject.name.strategy` or `value.subject.name.strategy`, whichever applies.
    pub subject_name_strategy: SubjectNameStrategy,
    /// `basic.auth.credentials.source` with `basic.auth.user.info`.
    pub basic_auth: BasicAuth,
    /// `connect.meta.data` (default true).
    pub connect_meta_data: bool,
    /// Whether this converts keys (`<topic>-key` subjects).
    pub is_key: bool,
}

impl AvroConverterConfig {
    /// Reads the settings; unknown keys are ignored.
    pub fn from_settings(
        settings: &BTreeMap<String, String>,
        is_key: bool,
    ) -> Result<Self, ConvertError> {
        let raw_urls = settings.get("schema.registry.url").map(String::as_str);
        let registry_urls: Vec<String> = raw_urls
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect();
        if registry_urls.is_empty() {
            return Err(ConvertError::InvalidSetting {
                converter: NAME,
                key: "schema.registry.url",
                value: raw_urls.unwrap_or_default().to_string(),
                reason: "required: one or more comma-separated Schema Registry URLs",
            });
        }
        if let Some(url) = registry_urls
            .iter()
            .find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(ConvertError::InvalidSetting {
                converter: NAME,
                key: "schema.registry.url",
                value: url.clone(),
                reason: "expected an http:// or https:// URL",
            });
        }
        let strategy_key = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let subject_name_strategy = match settings.get(strategy_key) {
            None => SubjectNameStrategy::TopicName,
            Some(value) => {
                SubjectNameStrategy::parse(value).ok_or_else(|| ConvertError::InvalidSetting {
                    converter: NAME,
                    key: strategy_key,
                    value: value.clone(),
                    reason: "expected TopicNameStrategy, RecordNameStrategy or \
                             TopicRecordNameStrategy (io.confluent.kafka.serializers.subject.*)",
                })?
            }
        };
        let basic_auth = match settings
            .get("basic.auth.credentials.source")
            .map(|s| s.trim().to_ascii_uppercase())
            .as_deref()
        {
            None | Some("URL") => BasicAuth::FromUrl,
            Some("USER_INFO") => match settings.get("basic.auth.user.info") {
                Some(user_info) if user_info.contains(':') => {
                    BasicAuth::UserInfo(user_info.trim().to_string())
                }
                other => {
                    return Err(ConvertError::InvalidSetting {
                        converter: NAME,
                        key: "basic.auth.user.info",
                        value: if other.is_some() { "****" } else { "" }.to_string(),
                        reason: "required as `user:password` with \
                                 basic.auth.credentials.source=USER_INFO",
                    });
                }
            },
            Some(_) => {
                return Err(ConvertError::InvalidSetting {
                    converter: NAME,
                    key: "basic.auth.credentials.source",
                    value: settings
                        .get("basic.auth.credentials.source")
                        .cloned()
                        .unwrap_or_default(),
                    reason: "expected URL or USER_INFO (SASL_INHERIT is not supported)",
                });
            }
        };
        Ok(Self {
            registry_urls,
            auto_register_schemas: bool_setting(settings, NAME, "auto.register.schemas", true)?,
            use_latest_version: bool_setting(settings, NAME, "use.latest.version", false)?,
            subject_name_strategy,
            basic_auth,
            connect_meta_data: bool_setting(settings, NAME, "connect.meta.data", true)?,
            is_key,
        })
    }
}

/// A schema the converter writes with: its registry id and the parsed Avro schema.
struct WriterSchema {
    id: u32,
    avro: AvroSchema,
    /// Set when writing with a subject's latest schema: values are resolved into it.
    resolve: bool,
}

/// A schema the converter read by id: the parsed Avro schema and its Connect schema.
struct ReaderSchema {
    avro: AvroSchema,
    connect: SchemaRef,
}

/// Confluent's `io.confluent.connect.avro.AvroConverter`.
pub struct AvroConverter {
    config: AvroConverterConfig,
    registry: RegistryClient,
    /// By (subject, Avro schema text).
    written: Mutex<HashMap<(String, String), Arc<WriterSchema>>>,
    /// Latest schemas by subject (`use.latest.version`).
    latest: Mutex<HashMap<String, Arc<WriterSchema>>>,
    /// By schema id.
    read: Mutex<HashMap<u32, Arc<ReaderSchema>>>,
}

impl std::fmt::Debug for AvroConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConverter")
            .field("config", &self.config.registry_urls)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl AvroConverter {
    pub fn new(config: AvroConverterConfig) -> Self {
        let registry = RegistryClient::new(&config.registry_urls, config.basic_auth.clone());
        Self {
            config,
            registry,
            written: Mutex::default(),
            latest: Mutex::default(),
            read: Mutex::default(),
        }
    }

    /// Reads the settings (see [`AvroConverterConfig::from_settings`]).
    pub fn from_settings(
        settings: &BTreeMap<String, String>,
        is_key: bool,
    ) -> Result<Self, ConvertError> {
        Ok(Self::new(AvroConverterConfig::from_settings(
            settings, is_key,
        )?))
    }

    pub fn config(&self) -> &AvroConverterConfig {
        &self.config
    }

    /// The Avro schema (JSON text) `schema` is written with, before registration.
    pub fn avro_schema(&self, schema: &crate::data::Schema) -> Result<String, DataError> {
        schema::FromConnect::new(self.config.connect_meta_data)
            .convert(schema)
            .map(|json| json.to_string())
    }

    fn subject(&self, topic: &str, avro: &Json) -> Result<String, DataError> {
        let suffix = if self.config.is_key { "key" } else { "value" };
        let record_name = || {
            let props = avro
                .as_object()
                .filter(|props| props.get("type").and_then(Json::as_str) == Some("record"));
            let props = props.ok_or_else(|| {
                DataError::new(
                    "the record name subject strategies need a struct schema (an Avro record)",
                )
            })?;
            let name = props.get("name").and_then(Json::as_str).unwrap_or_default();
            Ok::<_, DataError>(match props.get("namespace").and_then(Json::as_str) {
                Some(namespace) if !namespace.is_empty() && !name.contains('.') => {
                    format!("{namespace}.{name}")
                }
                _ => name.to_string(),
            })
        };
        Ok(match self.config.subject_name_strategy {
            SubjectNameStrategy::TopicName => format!("{topic}-{suffix}"),
            SubjectNameStrategy::RecordName => record_name()?,
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", record_name()?),
        })
    }

    fn serialize(&self, topic: &str, data: Option<&Data>) -> Result<Option<Vec<u8>>, Failure> {
        let Some(data) = data else {
            return Ok(None);
        };
        let Some(schema) = data.schema.as_deref() else {
            if data.value.is_null() {
                return Ok(None);
            }
            return Err(Failure::Data(DataError::new(
                "AvroConverter needs a schema: schemaless data cannot be written as Avro \
                 (use a converter that takes schemaless data, such as JsonConverter with \
                 schemas.enable=false)",
            )));
        };
        if data.value.is_null() && schema.default.is_none() {
            if schema.optional {
                return Ok(None);
            }
            return Err(Failure::Data(DataError::new(format!(
                "null for a required {} schema",
                schema.ty.name()
            ))));
        }
        let avro_json = schema::FromConnect::new(self.config.connect_meta_data).convert(schema)?;
        // The value is checked before the registry is asked anything.
        let use_latest = !self.config.auto_register_schemas && self.config.use_latest_version;
        let mut avro_value = value::to_avro(schema, &data.value, !use_latest)?;
        let subject = self.subject(topic, &avro_json)?;
        let writer = self.writer_schema(subject, avro_json.to_string())?;
        if writer.resolve {
            avro_value = avro_value.resolve(&writer.avro).map_err(|e| {
                DataError::new(format!(
                    "the value does not fit the latest registered schema (id {}): {e}",
                    writer.id
                ))
            })?;
        }
        let body = codec::encode(&writer.avro, &avro_value)
            .map_err(|e| DataError::new(format!("Avro encoding failed: {e}")))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.push(MAGIC_BYTE);
        bytes.extend_from_slice(&writer.id.to_be_bytes());
        bytes.extend_from_slice(&body);
        Ok(Some(bytes))
    }

    /// The id and parsed schema to write `text` with under `subject`, from the cache or the
    /// registry.
    fn writer_schema(&self, subject: String, text: String) -> Result<Arc<WriterSchema>, Failure> {
        let use_latest = !self.config.auto_register_schemas && self.config.use_latest_version;
        if use_latest {
            if let Some(found) = lock(&self.latest).get(&subject) {
                return Ok(found.clone());
            }
            let latest = self.registry.latest(&subject)?;
            let avro = parse(&latest.schema).map_err(|e| {
                DataError::new(format!(
                    "the latest schema of subject `{subject}` (id {}) is not valid Avro: {e}",
                    latest.id
                ))
            })?;
            let writer = Arc::new(WriterSchema {
                id: latest.id,
                avro,
                resolve: true,
            });
            insert_bounded(&self.latest, subject, writer.clone());
            return Ok(writer);
        }
        let key = (subject, text);
        if let Some(found) = lock(&self.written).get(&key) {
            return Ok(found.clone());
        }
        let (subject, text) = key;
        let avro =
            parse(&text).map_err(|e| DataError::new(format!("invalid Avro schema {text}: {e}")))?;
        let id = if self.config.auto_register_schemas {
            self.registry.register(&subject, &text)?
        } else {
            self.registry.lookup(&subject, &text)?
        };
        let writer = Arc::new(WriterSchema {
            id,
            avro,
            resolve: false,
        });
        insert_bounded(&self.written, (subject, text), writer.clone());
        Ok(writer)
    }

    fn deserialize(&self, bytes: Option<&[u8]>) -> Result<Option<Data>, Failure> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let (header, body) = bytes.split_at_checked(HEADER_LEN).ok_or_else(|| {
            DataError::new(format!(
                "{} bytes are too few for the Schema Registry wire format (magic byte 0, \
                 4-byte schema id, Avro body)",
                bytes.len()
            ))
        })?;
        if header[0] != MAGIC_BYTE {
            return Err(Failure::Data(DataError::new(format!(
                "unknown magic byte {}: expected {MAGIC_BYTE} (Schema Registry wire format); \
                 was this written by another converter?",
                header[0]
            ))));
        }
        let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let reader = self.reader_schema(id)?;
        let avro_value = codec::decode(&reader.avro, body)
            .map_err(|e| DataError::new(format!("invalid Avro data for schema id {id}: {e}")))?;
        let value = value::to_connect(&reader.connect, avro_value)?;
        Ok(Some(Data::new(Some(reader.connect.clone()), value)))
    }

    fn reader_schema(&self, id: u32) -> Result<Arc<ReaderSchema>, Failure> {
        if let Some(found) = lock(&self.read).get(&id) {
            return Ok(found.clone());
        }
        let text = self.registry.schema_by_id(id)?;
        let invalid = |e: String| {
            Failure::Data(DataError::new(format!(
                "schema id {id} is not a usable Avro schema: {e}"
            )))
        };
        let avro = parse(&text).map_err(invalid)?;
        let json: Json = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let connect = schema::ToConnect::default()
            .convert(&json)
            .map_err(|e| invalid(e.to_string()))?;
        let reader = Arc::new(ReaderSchema { avro, connect });
        insert_bounded(&self.read, id, reader.clone());
        Ok(reader)
    }
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(cache: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut cache = lock(cache);
    if cache.len() >= MAX_CACHED_SCHEMAS {
        cache.clear();
    }
    cache.insert(key, value);
}

fn parse(text: &str) -> Result<AvroSchema, String> {
    AvroSchema::parse_str(text).map_err(|e| e.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The caches hold no invariants a panic elsewhere could break.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A conversion failure before it is given its topic.
enum Failure {
    Data(DataError),
    Registry(RegistryError),
}

impl From<DataError> for Failure {
    fn from(err: DataError) -> Self {
        Self::Data(err)
    }
}

impl From<RegistryError> for Failure {
    fn from(err: RegistryError) -> Self {
        Self::Registry(err)
    }
}

impl Converter for AvroConverter {
    fn from_connect(
        &self,
        topic: &str,
        data: Option<&Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.serialize(topic, data)
            .map_err(|failure| match failure {
                Failure::Data(source) => ConvertError::FromConnect {
                    converter: NAME,
                    topic: topic.to_string(),
                    source,
                },
                Failure::Registry(source) => ConvertError::SchemaRegistry {
                    converter: NAME,
                    topic: topic.to_string(),
                    source: Box::new(source),
                },
            })
    }

    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, ConvertError> {
        self.deserialize(bytes).map_err(|failure| match failure {
            Failure::Data(source) => ConvertError::ToConnect {
                converter: NAME,
                topic: topic.to_string(),
                source,
            },
            Failure::Registry(source) => ConvertError::SchemaRegistry {
                converter: NAME,
                topic: topic.to_string(),
                source: Box::new(source),
            },
        })
    }
}
