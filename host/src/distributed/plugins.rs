//! Distributed mode's shared uploads: a component uploaded to any worker is admitted there,
//! then written to the cluster topic, content-addressed, in chunks (`plugin-chunk-<hex>-<n>`,
//! raw bytes of at most [`CHUNK_BYTES`], under the default 1 MiB record limit) followed by its
//! manifest (`plugin-<hex>`: `{"digest","bytes","chunks","owner"}`). Every worker, including
//! one started later, reads them back, checks the digest and admits the component itself, so
//! it survives the loss of the worker that received it. A deletion writes tombstones, and every
//! worker forgets it.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{coordinator::PluginShare, storage::topic::InternalTopic};

/// The largest chunk of a component in one record.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// What a worker learned from the cluster topic about shared uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginEvent {
    /// Every chunk of a component arrived, and its bytes match its digest.
    Install {
        digest: String,
        owner: Option<String>,
        bytes: Vec<u8>,
    },
    Remove {
        digest: String,
    },
}

/// Chunks and manifests read so far, until each component is complete.
#[derive(Debug, Default)]
pub struct PluginChunks {
    chunks: BTreeMap<String, BTreeMap<u32, Vec<u8>>>,
    manifests: BTreeMap<String, (u32, Option<String>)>,
    /// Chunk counts of components installed, for the tombstones of a deletion.
    counts: BTreeMap<String, u32>,
}

impl PluginChunks {
    /// Takes one record of the cluster topic whose key starts with `plugin-`; an event once
    /// a component is complete or removed.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Option<PluginEvent> {
        if let Some(rest) = key.strip_prefix("plugin-chunk-") {
            let (hex, index) = rest.rsplit_once('-')?;
            let index: u32 = index.parse().ok()?;
            match value {
                Some(bytes) => {
                    self.chunks
                        .entry(hex.to_owned())
                        .or_default()
                        .insert(index, bytes.to_vec());
                }
                None => {
                    if let Some(chunks) = self.chunks.get_mut(hex) {
                        chunks.remove(&index);
                    }
                }
            }
            return self.complete(hex);
        }
        let hex = key.strip_prefix("plugin-")?;
        match value.and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok()) {
            Some(manifest) => {
                let chunks = u32::try_from(manifest.get("chunks")?.as_u64()?).ok()?;
                let owner = manifest
                    .get("owner")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.manifests.insert(hex.to_owned(), (chunks, owner));
                self.complete(hex)
            }
            None => {
                self.manifests.remove(hex);
                self.chunks.remove(hex);
                self.counts.remove(hex);
                Some(PluginEvent::Remove {
                    digest: format!("sha256:{hex}"),
                })
            }
        }
    }

    fn complete(&mut self, hex: &str) -> Option<PluginEvent> {
        let (count, owner) = self.manifests.get(hex)?.clone();
        let chunks = self.chunks.get(hex)?;
        if (0..count).any(|index| !chunks.contains_key(&index)) {
            return None;
        }
        let chunks = self.chunks.remove(hex)?;
        self.manifests.remove(hex);
        let bytes: Vec<u8> = chunks.into_values().flatten().collect();
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        if actual != hex {
            tracing::warn!(
                digest = hex,
                actual,
                "A shared plugin's chunks do not match its digest; ignoring it."
            );
            return None;
        }
        self.counts.insert(hex.to_owned(), count);
        Some(PluginEvent::Install {
            digest: format!("sha256:{hex}"),
            owner,
            bytes,
        })
    }

    fn count(&self, hex: &str) -> u32 {
        self.counts.get(hex).copied().unwrap_or(0)
    }
}

/// Writes shared uploads to the cluster topic.
pub struct SharedPlugins {
    pub topic: Arc<InternalTopic>,
    pub chunks: Arc<Mutex<PluginChunks>>,
}

#[async_trait::async_trait]
impl PluginShare for SharedPlugins {
    async fn publish(&self, digest: &str, bytes: &[u8], owner: Option<&str>) -> Result<(), String> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let chunks: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            self.topic
                .send(
                    format!("plugin-chunk-{hex}-{index}").as_bytes(),
                    Some(chunk),
                )
                .await
                .map_err(|error| error.to_string())?;
        }
        let manifest = json!({
            "digest": digest,
            "bytes": bytes.len(),
            "chunks": chunks.len(),
            "owner": owner,
        });
        self.topic
            .send(
                format!("plugin-{hex}").as_bytes(),
                Some(manifest.to_string().as_bytes()),
            )
            .await
            .map_err(|error| error.to_string())?;
        Ok(())
    }

    async fn retract(&self, digest: &str) -> Result<(), String> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let count = self
            .chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .count(hex);
        self.topic
            .send(format!("plugin-{hex}").as_bytes(), None)
            .await
            .map_err(|error| error.to_string())?;
        for index in 0..count {
            self.topic
                .send(format!("plugin-chunk-{hex}-{index}").as_bytes(), None)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_installed_once_every_chunk_arrived_and_matches_its_digest() {
        let bytes: Vec<u8> = (0..(CHUNK_BYTES + 10)).map(|i| i as u8).collect();
        let hex = hex::encode(sha2::Sha256::digest(&bytes));
        let mut chunks = PluginChunks::default();
        let manifest = json!({"chunks": 2, "owner": "acme"}).to_string();
        // The manifest first (a reader may see records in any order after compaction).
        assert_eq!(
            chunks.apply(&format!("plugin-{hex}"), Some(manifest.as_bytes())),
            None
        );
        assert_eq!(
            chunks.apply(
                &format!("plugin-chunk-{hex}-1"),
                Some(&bytes[CHUNK_BYTES..])
            ),
            None
        );
        let event = chunks.apply(
            &format!("plugin-chunk-{hex}-0"),
            Some(&bytes[..CHUNK_BYTES]),
        );
        assert_eq!(
            event,
            Some(PluginEvent::Install {
                digest: format!("sha256:{hex}"),
                owner: Some("acme".into()),
                bytes: bytes.clone(),
            })
        );
        assert_eq!(chunks.count(&hex), 2);
        assert_eq!(
            chunks.apply(&format!("plugin-{hex}"), None),
            Some(PluginEvent::Remove {
                digest: format!("sha256:{hex}")
            })
        );
        // Chunks whose bytes do not hash to the digest are ignored.
        let manifest = json!({"chunks": 1}).to_string();
        chunks.apply("plugin-00ff", Some(manifest.as_bytes()));
        assert_eq!(chunks.apply("plugin-chunk-00ff-0", Some(b"not it")), None);
    }
}
