//! The log budget of one task: how many lines and bytes it may make the worker log per second
//! (`sandbox.log.lines.per.second`, `sandbox.log.bytes.per.second`). Guest log lines (the
//! `logging` import, stdout and stderr) of every instance of the task, and the host's own
//! per-record lines about the task (errant records, records the log refused), share it.
//!
//! A per-call cap alone does not bound a task over time: a guest returning after each of many
//! short calls could still write hundreds of MiB a second. Lines over the budget are dropped;
//! once a second with drops is over, one summary line says how many lines and bytes of the
//! task were dropped and which settings raise the budget.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// How long one budget window lasts.
const WINDOW: Duration = Duration::from_secs(1);

/// One task's log budget. Share it with `Arc`.
#[derive(Debug)]
pub struct LogBudget {
    connector: String,
    task: Option<u32>,
    lines_per_second: u32,
    bytes_per_second: u64,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    lines: u32,
    bytes: u64,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl LogBudget {
    pub fn new(
        connector: impl Into<String>,
        task: Option<u32>,
        lines_per_second: u32,
        bytes_per_second: u64,
    ) -> Self {
        Self {
            connector: connector.into(),
            task,
            lines_per_second,
            bytes_per_second,
            window: Mutex::new(Window {
                start: Instant::now(),
                lines: 0,
                bytes: 0,
                dropped_lines: 0,
                dropped_bytes: 0,
            }),
        }
    }

    /// Whether a line of `bytes` may be logged now. Counts it either way; when a window in
    /// which lines were dropped has ended, logs the summary of that window first.
    pub fn admit(&self, bytes: usize) -> bool {
        let bytes = bytes as u64;
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(window.start) >= WINDOW {
            self.summarize(&mut window);
            window.start = now;
            window.lines = 0;
            window.bytes = 0;
        }
        if window.lines >= self.lines_per_second
            || window.bytes.saturating_add(bytes) > self.bytes_per_second
        {
            window.dropped_lines += 1;
            window.dropped_bytes = window.dropped_bytes.saturating_add(bytes);
            return false;
        }
        window.lines += 1;
        window.bytes += bytes;
        true
    }

    /// Lines dropped since the last summary.
    pub fn dropped(&self) -> u64 {
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped_lines
    }

    fn summarize(&self, window: &mut Window) {
        if window.dropped_lines == 0 {
            return;
        }
        tracing::warn!(
            target: "connector",
            connector = %self.connector,
            task = self.task,
            dropped_lines = window.dropped_lines,
            dropped_bytes = window.dropped_bytes,
            "Dropped {} log lines ({} bytes) of this task over its log budget \
             (sandbox.log.lines.per.second={}, sandbox.log.bytes.per.second={}).",
            window.dropped_lines,
            window.dropped_bytes,
            self.lines_per_second,
            self.bytes_per_second,
        );
        window.dropped_lines = 0;
        window.dropped_bytes = 0;
    }
}

impl Drop for LogBudget {
    fn drop(&mut self) {
        // The last window's drops, when the task ends.
        let window = self
            .window
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut window = std::mem::replace(
            window,
            Window {
                start: Instant::now(),
                lines: 0,
                bytes: 0,
                dropped_lines: 0,
                dropped_bytes: 0,
            },
        );
        self.summarize(&mut window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_over_either_budget_are_dropped_and_counted() {
        let budget = LogBudget::new("c", Some(0), 3, 100);
        assert!(budget.admit(10));
        assert!(budget.admit(10));
        assert!(budget.admit(10));
        // The fourth line of the second is over the line budget.
        assert!(!budget.admit(1));
        assert_eq!(budget.dropped(), 1);

        let bytes = LogBudget::new("c", Some(0), 1000, 100);
        assert!(bytes.admit(60));
        // 60 + 50 > 100.
        assert!(!bytes.admit(50));
        assert!(bytes.admit(40));
        assert_eq!(bytes.dropped(), 1);
    }

    #[test]
    fn a_new_window_admits_again_and_resets_the_drop_count() {
        let budget = LogBudget::new("c", None, 1, 1000);
        assert!(budget.admit(1));
        assert!(!budget.admit(1));
        budget.window.lock().unwrap().start -= WINDOW;
        assert!(budget.admit(1));
        assert_eq!(budget.dropped(), 0);
    }
}
