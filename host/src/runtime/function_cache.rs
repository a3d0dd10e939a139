//! The compiled-function cache that compiles share: Cranelift's incremental cache, kept on
//! disk as one pack per compiled component, so a component whose functions some earlier
//! component had (every Python component carries the same CPython, every JavaScript one the
//! same engine) compiles only what is new in it.
//!
//! A function's key is the SHA-256 Cranelift takes of its whole intermediate form and the
//! target's settings, so an entry can only ever stand for the code compiled from exactly that
//! function. Packs are written once (a temporary file, then a rename) and never changed, so
//! workers that share `cache.dir` share packs without locks. Entries are held in memory only
//! while some compile runs; the packs on disk are bounded by `cache.functions.max.bytes`, the
//! least recently useful removed first.

use std::{
    borrow::Cow,
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use wasmtime::CacheStore;

/// Cranelift's cache keys are SHA-256 digests.
type Key = [u8; 32];

/// A pack's format; a pack of another version is ignored (and eventually evicted).
const PACK_VERSION: u32 = 1;

/// What one pack file holds: the functions one compile added.
#[derive(Serialize, Deserialize)]
struct Pack {
    version: u32,
    entries: Vec<(Key, Vec<u8>)>,
}

/// The cache of one engine. Handed to wasmtime as its [`CacheStore`]; [`Self::session`]
/// brackets each compile.
pub(crate) struct FunctionCache {
    /// `<cache.dir>/functions`.
    dir: PathBuf,
    /// Packs are named `<component sha256>-<engine hash>.pack`; only this engine's are read.
    /// Set once the engine exists (the engine is made with this cache).
    suffix: std::sync::OnceLock<String>,
    /// Bound on the bytes of all packs in `dir`.
    max_bytes: u64,
    state: Mutex<State>,
    reused: AtomicU64,
    compiled: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Compiles running; the entries are loaded while this is above zero.
    sessions: usize,
    /// Every loaded or added entry, with the pack it came from (`None`: added by a running
    /// compile, not yet written).
    entries: HashMap<Key, (Option<usize>, Arc<[u8]>)>,
    /// The loaded packs' paths, indexed by the entries, and whether a compile used them.
    packs: Vec<(PathBuf, bool)>,
    /// Keys added since the last pack was written.
    fresh: Vec<Key>,
}

/// Functions a compile took from the cache and compiled itself.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FunctionCounts {
    pub reused: u64,
    pub compiled: u64,
}

impl FunctionCache {
    pub(crate) fn new(cache_dir: &Path, max_bytes: u64) -> Self {
        Self {
            dir: cache_dir.join("functions"),
            suffix: std::sync::OnceLock::new(),
            max_bytes,
            state: Mutex::new(State::default()),
            reused: AtomicU64::new(0),
            compiled: AtomicU64::new(0),
        }
    }

    /// Names the engine whose packs this cache reads and writes.
    pub(crate) fn set_engine_hash(&self, engine_hash: &str) {
        let _ = self.suffix.set(format!("-{engine_hash}.pack"));
    }

    fn suffix(&self) -> &str {
        self.suffix.get().map_or(".pack", String::as_str)
    }

    /// Functions reused and compiled since the process started.
    pub(crate) fn counts(&self) -> FunctionCounts {
        FunctionCounts {
            reused: self.reused.load(Ordering::Relaxed),
            compiled: self.compiled.load(Ordering::Relaxed),
        }
    }

    /// Starts a compile: loads the packs on disk unless another compile already did.
    /// [`Session::finish`] writes what the compile added.
    pub(crate) fn session(self: &Arc<Self>) -> Session {
        let mut state = self.lock();
        if state.sessions == 0 {
            self.load(&mut state);
        }
        state.sessions += 1;
        Session {
            cache: self.clone(),
            counts_before: self.counts(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads every pack of this engine; a pack that cannot be read is removed.
    fn load(&self, state: &mut State) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in listing.flatten() {
            let path = entry.path();
            let is_ours = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(self.suffix()));
            if !is_ours {
                continue;
            }
            match read_pack(&path) {
                Ok(pack) => {
                    let index = state.packs.len();
                    state.packs.push((path, false));
                    for (key, value) in pack.entries {
                        state.entries.insert(key, (Some(index), value.into()));
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        path = %path.display(),
                        error = %format!("{error:#}"),
                        "Removing an unreadable pack of the compiled-function cache."
                    );
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    /// Writes the entries added since the last write as the pack `name`, marks the packs a
    /// compile used as recently useful, and removes the oldest packs beyond the bound.
    fn write(&self, name: &str) -> anyhow::Result<()> {
        let (pack, used) = {
            let mut state = self.lock();
            let fresh = std::mem::take(&mut state.fresh);
            let entries: Vec<(Key, Vec<u8>)> = fresh
                .iter()
                .filter_map(|key| {
                    let (_, value) = state.entries.get(key)?;
                    Some((*key, value.to_vec()))
                })
                .collect();
            let used: Vec<PathBuf> = state
                .packs
                .iter_mut()
                .filter(|(_, used)| *used)
                .map(|(path, used)| {
                    *used = false;
                    path.clone()
                })
                .collect();
            (
                Pack {
                    version: PACK_VERSION,
                    entries,
                },
                used,
            )
        };
        let now = SystemTime::now();
        for path in used {
            // Best effort: the mtime orders eviction.
            let _ = std::fs::File::options()
                .append(true)
                .open(&path)
                .and_then(|f| f.set_modified(now));
        }
        if !pack.entries.is_empty() {
            let bytes = postcard::to_allocvec(&pack).context("cannot encode a function pack")?;
            let path = self.dir.join(format!("{name}{}", self.suffix()));
            super::engine::write_atomically(&self.dir, &path, &bytes)?;
        }
        self.evict()
    }

    /// Removes the least recently useful packs (of any engine) until all fit `max_bytes`.
    fn evict(&self) -> anyhow::Result<()> {
        let listing = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot list `{}`", self.dir.display()))?;
        let mut packs: Vec<(SystemTime, u64, PathBuf)> = listing
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = packs.iter().map(|(_, len, _)| len).sum();
        packs.sort();
        for (_, len, path) in packs {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        Ok(())
    }
}

fn read_pack(path: &Path) -> anyhow::Result<Pack> {
    let bytes = std::fs::read(path).context("cannot read it")?;
    let pack: Pack = postcard::from_bytes(&bytes).context("it is not a function pack")?;
    anyhow::ensure!(
        pack.version == PACK_VERSION,
        "its format is version {}, this worker reads {PACK_VERSION}",
        pack.version
    );
    Ok(pack)
}

impl std::fmt::Debug for FunctionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionCache")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let key: &Key = key.try_into().ok()?;
        let mut state = self.lock();
        let State { entries, packs, .. } = &mut *state;
        let (pack, value) = entries.get(key)?;
        if let Some(pack) = pack {
            packs[*pack].1 = true;
        }
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(Cow::Owned(value.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.compiled.fetch_add(1, Ordering::Relaxed);
        let Ok(key) = Key::try_from(key) else {
            return false;
        };
        let mut state = self.lock();
        // Outside a session (never, as compiles go through one) nothing is kept.
        if state.sessions == 0 {
            return false;
        }
        if state
            .entries
            .insert(key, (None, value.into()))
            .is_none_or(|(pack, _)| pack.is_some())
        {
            state.fresh.push(key);
        }
        true
    }
}

/// One compile's use of the cache; dropping it without [`Session::finish`] keeps nothing new
/// on disk.
pub(crate) struct Session {
    cache: Arc<FunctionCache>,
    counts_before: FunctionCounts,
}

impl Session {
    /// Writes what this compile added as the pack `name` (the component's digest) and
    /// returns the functions it reused and compiled (with those of compiles running beside
    /// it).
    pub(crate) fn finish(self, name: &str) -> FunctionCounts {
        if let Err(error) = self.cache.write(name) {
            tracing::warn!(
                dir = %self.cache.dir.display(),
                error = %format!("{error:#}"),
                "Could not keep the compiled functions for later compiles."
            );
        }
        let now = self.cache.counts();
        FunctionCounts {
            reused: now.reused - self.counts_before.reused,
            compiled: now.compiled - self.counts_before.compiled,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        state.sessions -= 1;
        if state.sessions == 0 {
            // Free the entries between compiles; the packs stay on disk.
            *state = State::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn cache(dir: &Path, max_bytes: u64) -> Arc<FunctionCache> {
        let cache = Arc::new(FunctionCache::new(dir, max_bytes));
        cache.set_engine_hash("e1");
        cache
    }

    fn key(n: u8) -> Key {
        [n; 32]
    }

    fn pack_path(dir: &Path, name: &str) -> PathBuf {
        dir.join("functions").join(format!("{name}-e1.pack"))
    }

    fn set_age(path: &Path, seconds_ago: u64) {
        let when = SystemTime::now() - Duration::from_secs(seconds_ago);
        std::fs::File::options()
            .append(true)
            .open(path)
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
    }

    #[test]
    fn a_later_compile_reuses_what_an_earlier_one_kept() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let first = cache(dir.path(), u64::MAX);
        let session = first.session();
        assert!(first.get(&key(1)).is_none(), "nothing is cached yet");
        assert!(first.insert(&key(1), b"one".to_vec()));
        assert!(first.insert(&key(2), b"two".to_vec()));
        assert_eq!(
            session.finish("a"),
            FunctionCounts {
                reused: 0,
                compiled: 2
            }
        );
        assert!(pack_path(dir.path(), "a").is_file());

        // Another process (a new cache on the same directory) reads the pack.
        let second = cache(dir.path(), u64::MAX);
        let session = second.session();
        assert_eq!(second.get(&key(1)).as_deref(), Some(&b"one"[..]));
        assert!(second.get(&key(3)).is_none());
        assert!(second.insert(&key(3), b"three".to_vec()));
        assert_eq!(
            session.finish("b"),
            FunctionCounts {
                reused: 1,
                compiled: 1
            }
        );
        // The second pack holds only what the second compile added.
        let pack = read_pack(&pack_path(dir.path(), "b")).expect("pack b");
        assert_eq!(pack.entries, vec![(key(3), b"three".to_vec())]);

        // Between compiles nothing is held in memory.
        assert!(second.lock().entries.is_empty());
        // Another engine's packs are not read.
        let other = Arc::new(FunctionCache::new(dir.path(), u64::MAX));
        other.set_engine_hash("e2");
        let _session = other.session();
        assert!(other.get(&key(1)).is_none());
    }

    #[test]
    fn the_least_recently_useful_packs_go_first() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cache = cache(dir.path(), u64::MAX);
        for (name, n) in [("a", 1), ("b", 2)] {
            let session = cache.session();
            cache.insert(&key(n), vec![n; 1000]);
            session.finish(name);
        }
        let (a, b) = (pack_path(dir.path(), "a"), pack_path(dir.path(), "b"));
        set_age(&a, 200);
        set_age(&b, 100);
        // A compile that reuses `a`'s function makes `a` the most recently useful.
        let session = cache.session();
        assert!(cache.get(&key(1)).is_some());
        session.finish("c");
        assert!(
            !pack_path(dir.path(), "c").exists(),
            "a compile that added nothing writes no pack"
        );
        let one_pack = std::fs::metadata(&a).expect("a").len();
        let bounded = Arc::new(FunctionCache::new(dir.path(), one_pack));
        bounded.set_engine_hash("e1");
        bounded.evict().expect("evict");
        assert!(a.is_file(), "the pack a compile just used stays");
        assert!(!b.exists(), "the older, unused pack is removed");
    }

    #[test]
    fn an_unreadable_pack_is_removed_and_the_rest_still_load() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cache = cache(dir.path(), u64::MAX);
        let session = cache.session();
        cache.insert(&key(1), b"one".to_vec());
        session.finish("good");
        let bad = pack_path(dir.path(), "bad");
        std::fs::write(&bad, b"\xff\xff\xff\xff not a pack").expect("write");
        let _session = cache.session();
        assert!(!bad.exists());
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"one"[..]));
    }

    #[test]
    fn a_cache_bound_below_one_pack_keeps_nothing() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cache = cache(dir.path(), 10);
        let session = cache.session();
        cache.insert(&key(1), vec![1; 1000]);
        session.finish("a");
        assert!(!pack_path(dir.path(), "a").exists());
    }
}
