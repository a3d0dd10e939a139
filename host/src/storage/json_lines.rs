//! The file format of the standalone stores: a log of JSON lines after a header line, appended
//! and fsynced per change, and replaced atomically (temporary file, fsync, rename, fsync of the
//! directory) when compacted. A crash in the middle of an append leaves a torn last line,
//! which reading drops; that change was never acknowledged.

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Read as _, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::Value;

/// A log smaller than this is never compacted.
pub const MIN_COMPACTION_BYTES: u64 = 1 << 20;

/// What a store's file held.
#[derive(Debug)]
pub enum Contents {
    /// The lines after the header, with their line numbers, up to any torn tail.
    Lines {
        lines: Vec<(usize, Value)>,
        /// Bytes of the header and the lines kept.
        bytes: u64,
        /// Whether anything was dropped (a torn tail or header): rewrite before appending.
        torn: bool,
    },
    /// One JSON document that is no log: a file of an earlier format, for the store to read.
    Document(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Corrupt(String),
}

/// Reads the log at `path` whose first line is `header` (a missing file is an empty log).
pub fn read(path: &Path, header: &str) -> Result<Contents, ReadError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Contents::Lines {
                lines: Vec::new(),
                bytes: 0,
                torn: false,
            });
        }
        Err(error) => return Err(error.into()),
    };
    let expected: Value = serde_json::from_str(header).expect("headers are JSON");
    let mut reader = BufReader::new(file);
    let mut text = String::new();
    let read = reader.read_line(&mut text)?;
    let complete = text.ends_with('\n');
    match serde_json::from_str::<Value>(text.trim_end()).ok() {
        Some(json) if json == expected && complete => {}
        // Empty. (The header is never torn: a log is created by an atomic rewrite.)
        _ if read == 0 => {
            return Ok(Contents::Lines {
                lines: Vec::new(),
                bytes: 0,
                torn: false,
            });
        }
        Some(json) if json != expected => return Ok(Contents::Document(json)),
        _ => {
            // Perhaps one document over several lines.
            reader.read_to_string(&mut text)?;
            return match serde_json::from_str::<Value>(&text) {
                Ok(json) => Ok(Contents::Document(json)),
                Err(_) => Err(ReadError::Corrupt(format!(
                    "the first line is not {header} but `{}`",
                    crate::text::bounded(text.lines().next().unwrap_or_default(), 200)
                ))),
            };
        }
    }
    let mut bytes = read as u64;
    let mut lines = Vec::new();
    // The first line that did not parse: a torn tail if nothing after it parses.
    let mut torn: Option<(usize, String)> = None;
    let mut number = 1usize;
    loop {
        text.clear();
        let read = reader.read_line(&mut text)?;
        if read == 0 {
            break;
        }
        number += 1;
        match serde_json::from_str::<Value>(text.trim_end()) {
            Ok(json) if text.ends_with('\n') => {
                if let Some((line, error)) = torn.take() {
                    return Err(ReadError::Corrupt(format!(
                        "line {line} is not JSON (`{error}`), yet later lines are"
                    )));
                }
                lines.push((number, json));
                bytes += read as u64;
            }
            _ => {
                torn.get_or_insert((number, crate::text::bounded(text.trim_end(), 80)));
            }
        }
    }
    Ok(Contents::Lines {
        lines,
        bytes,
        torn: torn.is_some(),
    })
}

/// The log file, written on blocking threads; the caller serializes writes.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    header: &'static str,
    /// Bytes of the file as last written (header and every line, live or not).
    bytes: AtomicU64,
}

impl LogFile {
    /// The log at `path`, which holds `bytes` bytes now (0: none yet).
    pub fn new(path: &Path, header: &'static str, bytes: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            header,
            bytes: AtomicU64::new(bytes),
        }
    }

    /// Bytes of the file as last written.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Whether appending `appended` bytes should rather rewrite the log, whose live lines are
    /// `live` bytes: it would hold more than twice what is live, and at least
    /// [`MIN_COMPACTION_BYTES`].
    pub fn due_compaction(&self, appended: u64, live: u64) -> bool {
        let after = self.bytes() + appended;
        after >= MIN_COMPACTION_BYTES && after > 2 * (live + self.header.len() as u64 + 1)
    }

    /// Appends `lines` and fsyncs; writes the header first when there is no log yet.
    pub fn append(&self, lines: &[String]) -> std::io::Result<()> {
        if self.bytes() == 0 {
            return self.rewrite(lines);
        }
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        let mut file = OpenOptions::new().append(true).open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        self.bytes.fetch_add(text.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// Appends `lines`, or replaces the log with them when `compact`, on a blocking thread.
    pub async fn write(self: &Arc<Self>, lines: Vec<String>, compact: bool) -> std::io::Result<()> {
        let file = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if compact {
                file.rewrite(&lines)
            } else {
                file.append(&lines)
            }
        })
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))?
    }

    /// Replaces the log with its header and `lines`, atomically.
    pub fn rewrite(&self, lines: &[String]) -> std::io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
        let mut bytes = self.header.len() as u64 + 1;
        {
            let mut writer = std::io::BufWriter::new(&mut temp);
            writeln!(writer, "{}", self.header)?;
            for line in lines {
                writeln!(writer, "{line}")?;
                bytes += line.len() as u64 + 1;
            }
            writer.flush()?;
        }
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|error| error.error)?;
        File::open(&dir)?.sync_all()?;
        self.bytes.store(bytes, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"version":2}"#;

    fn lines(contents: Contents) -> (Vec<Value>, u64, bool) {
        match contents {
            Contents::Lines { lines, bytes, torn } => {
                (lines.into_iter().map(|(_, l)| l).collect(), bytes, torn)
            }
            Contents::Document(json) => panic!("a document: {json}"),
        }
    }

    #[test]
    fn appends_and_rewrites_read_back_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = LogFile::new(&path, HEADER, 0);
        log.append(&[r#"{"a":1}"#.into()]).unwrap();
        log.append(&[r#"{"b":2}"#.into(), r#"{"c":3}"#.into()])
            .unwrap();
        let (got, bytes, torn) = lines(read(&path, HEADER).unwrap());
        assert_eq!(got.len(), 3);
        assert_eq!(bytes, log.bytes());
        assert!(!torn);
        // A crash in the middle of an append.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"d":"#)
            .unwrap();
        let (got, bytes, torn) = lines(read(&path, HEADER).unwrap());
        assert_eq!((got.len(), bytes, torn), (3, log.bytes(), true));
        log.rewrite(&[r#"{"e":5}"#.into()]).unwrap();
        let (got, _, torn) = lines(read(&path, HEADER).unwrap());
        assert_eq!((got, torn), (vec![serde_json::json!({"e": 5})], false));
    }

    #[test]
    fn a_bad_line_before_good_ones_is_corruption_and_other_documents_are_handed_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, format!("{HEADER}\n{{\"a\":\n{{\"b\":2}}\n")).unwrap();
        let error = read(&path, HEADER).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        std::fs::write(&path, "{\n  \"version\": 1,\n  \"x\": []\n}").unwrap();
        assert!(
            matches!(read(&path, HEADER).unwrap(), Contents::Document(json) if json["x"] == serde_json::json!([]))
        );
        std::fs::write(&path, "{").unwrap();
        let error = read(&path, HEADER).unwrap_err().to_string();
        assert!(error.contains("the first line is not"), "{error}");
        // An empty file is an empty log.
        std::fs::write(&path, "").unwrap();
        let (got, bytes, torn) = lines(read(&path, HEADER).unwrap());
        assert_eq!((got.len(), bytes, torn), (0, 0, false));
    }
}
