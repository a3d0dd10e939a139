//! [`LineReader`]: reads complete lines from a file that may not exist yet and may still be
//! growing, tracking the byte offset after each line. Knows nothing of records or the host.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// How much to read from the file at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Reads lines the way Kafka's `FileStreamSourceTask` does: a line ends at `\n`, `\r\n` or a
/// lone `\r` (a `\r` at the end of what has been read waits for the next byte, which decides);
/// the terminator is not part of the line; a last line without terminator is held until it gets
/// one. Unlike Kafka, which counts UTF-16 characters, positions are byte offsets. Invalid UTF-8
/// is replaced with U+FFFD, as Java's decoder does.
#[derive(Debug)]
pub struct LineReader {
    path: PathBuf,
    file: Option<File>,
    /// Bytes read from the file and not yet returned as lines; `buffer[start]` is at `position`.
    buffer: Vec<u8>,
    start: usize,
    /// Where the next line starts in the file.
    position: u64,
    /// How far into `buffer[start..]` is known to hold no line end.
    scanned: usize,
    /// Whether the last attempt to open the file found none.
    missing: bool,
}

impl LineReader {
    /// A reader of `path` that will start at byte `position`. Nothing is opened yet.
    pub fn new(path: impl Into<PathBuf>, position: u64) -> Self {
        Self {
            path: path.into(),
            file: None,
            buffer: Vec::new(),
            start: 0,
            position,
            scanned: 0,
            missing: false,
        }
    }

    /// Where the next line starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether the last read found no file. (Between reads the file is closed at its end, to
    /// see later appends, so "not open" does not mean "missing".)
    pub fn is_missing(&self) -> bool {
        self.missing
    }

    /// Opens the file and seeks past what was already read, if not open. Returns false if the
    /// file does not exist (yet).
    fn ensure_open(&mut self) -> io::Result<bool> {
        if self.file.is_some() {
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(mut file) => {
                let read_up_to = self.position + (self.buffer.len() - self.start) as u64;
                if read_up_to > 0 {
                    file.seek(SeekFrom::Start(read_up_to))?;
                }
                self.file = Some(file);
                self.missing = false;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.missing = true;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Up to `max` complete lines, each with the byte offset just after it. Empty when the file
    /// does not exist yet or has no complete line beyond what was returned; call again later.
    pub fn read_lines(&mut self, max: usize) -> io::Result<Vec<(String, u64)>> {
        let mut lines = Vec::new();
        if max == 0 || !self.ensure_open()? {
            return Ok(lines);
        }
        let mut eof = false;
        while lines.len() < max {
            match self.next_line() {
                Some(line) => lines.push(line),
                None if eof => break,
                None => eof = self.fill()? == 0,
            }
        }
        // Drop what was returned, so the buffer holds only the unfinished tail.
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        if eof {
            // Under WASI a file's read stream stays at end-of-file once it got there, so data
            // appended later would never be seen: reopen on the next call instead.
            self.file = None;
        }
        Ok(lines)
    }

    /// Reads one more chunk; returns how many bytes were read (0 at the current end).
    fn fill(&mut self) -> io::Result<usize> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let old = self.buffer.len();
        self.buffer.resize(old + READ_CHUNK, 0);
        let read = loop {
            match file.read(&mut self.buffer[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buffer.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buffer.truncate(old + read);
        Ok(read)
    }

    /// The next complete line in the buffer, if any.
    fn next_line(&mut self) -> Option<(String, u64)> {
        let pending = &self.buffer[self.start..];
        let mut i = self.scanned;
        let (end, next) = loop {
            match pending.get(i)? {
                b'\n' => break (i, i + 1),
                b'\r' => match pending.get(i + 1) {
                    Some(b'\n') => break (i, i + 2),
                    Some(_) => break (i, i + 1),
                    None => {
                        // Wait for the next byte to tell `\r` from `\r\n`.
                        self.scanned = i;
                        return None;
                    }
                },
                _ => i += 1,
            }
        };
        let line = match String::from_utf8(pending[..end].to_vec()) {
            Ok(line) => line,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        self.start += next;
        self.scanned = 0;
        self.position += next as u64;
        Some((line, self.position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(reader: &mut LineReader, max: usize) -> Vec<(String, u64)> {
        reader.read_lines(max).unwrap()
    }

    fn owned(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
        expected
            .iter()
            .map(|(l, p)| ((*l).to_owned(), *p))
            .collect()
    }

    #[test]
    fn reads_complete_lines_with_byte_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "one\ntwo\r\nthree\rfour\nhalf").unwrap();
        let mut reader = LineReader::new(&path, 0);
        assert_eq!(
            lines(&mut reader, 10),
            owned(&[("one", 4), ("two", 9), ("three", 15), ("four", 20)])
        );
        // The unfinished line is held until its newline arrives.
        assert_eq!(lines(&mut reader, 10), []);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b" done\n").unwrap();
        assert_eq!(lines(&mut reader, 10), owned(&[("half done", 30)]));
    }

    #[test]
    fn respects_the_batch_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        let mut reader = LineReader::new(&path, 0);
        assert_eq!(lines(&mut reader, 2), owned(&[("a", 2), ("b", 4)]));
        assert_eq!(lines(&mut reader, 2), owned(&[("c", 6)]));
    }

    #[test]
    fn resumes_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\nbb\nccc\n").unwrap();
        let mut reader = LineReader::new(&path, 2);
        assert_eq!(lines(&mut reader, 10), owned(&[("bb", 5), ("ccc", 9)]));
    }

    #[test]
    fn waits_for_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.txt");
        let mut reader = LineReader::new(&path, 0);
        assert_eq!(lines(&mut reader, 10), []);
        assert!(reader.is_missing());
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(lines(&mut reader, 10), owned(&[("x", 2)]));
        // At the end of the file it is closed, but not missing.
        assert_eq!(lines(&mut reader, 10), []);
        assert!(!reader.is_missing());
    }

    #[test]
    fn a_trailing_carriage_return_waits_for_the_next_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\r").unwrap();
        let mut reader = LineReader::new(&path, 0);
        assert_eq!(lines(&mut reader, 10), []);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"\nb\n").unwrap();
        assert_eq!(lines(&mut reader, 10), owned(&[("a", 3), ("b", 5)]));
    }

    #[test]
    fn long_files_span_many_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let line = "x".repeat(1000);
        let content: String = (0..500).map(|_| format!("{line}\n")).collect();
        std::fs::write(&path, &content).unwrap();
        let mut reader = LineReader::new(&path, 0);
        let mut total = 0;
        loop {
            let batch = lines(&mut reader, 64);
            if batch.is_empty() {
                break;
            }
            assert!(batch.iter().all(|(l, _)| *l == line));
            total += batch.len();
        }
        assert_eq!(total, 500);
        assert_eq!(reader.position(), content.len() as u64);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, b"a\xffb\n").unwrap();
        let mut reader = LineReader::new(&path, 0);
        assert_eq!(lines(&mut reader, 10), owned(&[("a\u{fffd}b", 4)]));
    }
}
