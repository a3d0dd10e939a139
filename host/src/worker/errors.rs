//! Kafka Connect's error handling for the record stages (KIP-298): retrying a failed
//! converter or transform within `errors.retry.timeout` (300 ms doubling up to
//! `errors.retry.delay.max.ms`), then tolerating it under `errors.tolerance=all` or failing the
//! task, and logging it as `errors.log.enable` and `errors.log.include.messages` say.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{TaskFailure, errant::Stage};
use crate::{
    config::connector::{ErrorHandling, ErrorTolerance, RetryTimeout},
    runtime::LogBudget,
};

impl StageError for crate::transforms::TransformError {
    fn stage(&self) -> Stage {
        Stage::Transformation
    }

    fn class(&self) -> String {
        self.class_name()
    }
}

/// The first retry delay; each further one doubles (Kafka's `RetryWithToleranceOperator`).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(300);

/// What a stage gave after retries.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    /// Failed, and tolerated: skip the record (and report it to the dead letter queue).
    Skipped {
        stage: Stage,
        /// The class that was executing.
        class: String,
        error: String,
    },
}

impl<T> Outcome<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Done(value) => Outcome::Done(f(value)),
            Self::Skipped {
                stage,
                class,
                error,
            } => Outcome::Skipped {
                stage,
                class,
                error,
            },
        }
    }
}

/// An error that knows the stage it happened in and the class executing it.
pub trait StageError: std::error::Error {
    fn stage(&self) -> Stage;
    fn class(&self) -> String;
}

/// Retries and tolerates failures of one task's record stages.
pub struct ErrorOperator {
    config: ErrorHandling,
    /// `<connector>-<task>`, for logs.
    task: String,
    shutdown: CancellationToken,
    /// The task's log budget, which failure logs count against.
    log: Option<Arc<LogBudget>>,
    /// Where failures, retries, skips and logged errors are counted (`task-error-metrics`).
    metrics: Option<Arc<super::TaskMetrics>>,
}

impl ErrorOperator {
    pub fn new(
        config: ErrorHandling,
        connector: &str,
        task: u32,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            task: format!("{connector}-{task}"),
            shutdown,
            log: None,
            metrics: None,
        }
    }

    /// Counts failures, retries, skips and logged errors in the task's metrics.
    pub fn with_metrics(mut self, metrics: Arc<super::TaskMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, counter: impl Fn(&super::TaskMetrics) -> &std::sync::atomic::AtomicU64) {
        if let Some(metrics) = &self.metrics {
            counter(metrics).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn count_failure(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.record_failed();
        }
    }

    /// Counts failure logs against the task's log budget.
    pub fn with_log_budget(mut self, log: Arc<LogBudget>) -> Self {
        self.log = Some(log);
        self
    }

    /// Runs `op`, converter or transform stages (which tolerate any error), retrying it
    /// within the retry budget. `record` describes the record for the log, with its contents
    /// when given true (called only when logging). A failure that is not tolerated fails the
    /// task with a trace naming the stage, the class and the error.
    pub async fn execute<T, E>(
        &self,
        record: impl Fn(bool) -> String,
        mut op: impl FnMut() -> Result<T, E>,
    ) -> Result<Outcome<T>, TaskFailure>
    where
        E: StageError,
    {
        // Read the clock only once something failed: this runs for every record.
        let mut start = None;
        let mut attempt: u32 = 0;
        let (stage, class, error) = loop {
            let (stage, class, error) = match op() {
                Ok(value) => return Ok(Outcome::Done(value)),
                Err(error) => (error.stage(), error.class(), crate::error_chain(&error)),
            };
            let start = *start.get_or_insert_with(Instant::now);
            self.count_failure();
            attempt += 1;
            let Some(delay) = self.retry_delay(start, attempt) else {
                break (stage, class, error);
            };
            self.count(|m| &m.retries);
            tracing::debug!(
                stage = stage.name(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                error,
                "Retrying a failed stage."
            );
            tokio::select! {
                () = self.shutdown.cancelled() => break (stage, class, error),
                () = tokio::time::sleep(delay) => {}
            }
        };
        self.settle(stage, class, error, attempt, record)
    }

    /// Whether [`Self::execute`] may call its operation more than once.
    pub fn retries(&self) -> bool {
        self.config.retry_timeout != RetryTimeout::None
    }

    /// Whether failures are logged with the record's contents.
    pub fn logs_records(&self) -> bool {
        self.config.log_enable && self.config.log_include_messages
    }

    /// Handles a failure of a stage that was run once, without [`Self::execute`] (when
    /// [`Self::retries`] is false): logs it, then tolerates it or fails the task.
    pub fn failed<T, E: StageError>(
        &self,
        error: &E,
        record: impl Fn(bool) -> String,
    ) -> Result<Outcome<T>, TaskFailure> {
        self.count_failure();
        self.settle(
            error.stage(),
            error.class(),
            crate::error_chain(error),
            1,
            record,
        )
    }

    fn settle<T>(
        &self,
        stage: Stage,
        class: String,
        error: String,
        attempt: u32,
        record: impl Fn(bool) -> String,
    ) -> Result<Outcome<T>, TaskFailure> {
        self.count(|m| &m.record_errors);
        if self.config.log_enable {
            self.count(|m| &m.errors_logged);
        }
        log_failure(
            &self.config,
            self.log.as_deref(),
            &self.task,
            stage,
            &class,
            &error,
            record,
        );
        match self.config.tolerance {
            ErrorTolerance::All => Ok({
                self.count(|m| &m.records_skipped);
                Outcome::Skipped {
                    stage,
                    class,
                    error,
                }
            }),
            ErrorTolerance::None => Err(TaskFailure::new(format!(
                "Tolerance exceeded in error handler: {} (class {class}) failed{}: {error}",
                stage.name(),
                if attempt > 1 {
                    format!(" after {attempt} attempts")
                } else {
                    String::new()
                },
            ))),
        }
    }

    /// The delay before retry number `attempt` (1-based), or None when the budget is spent.
    fn retry_delay(&self, start: Instant, attempt: u32) -> Option<Duration> {
        let remaining = match self.config.retry_timeout {
            RetryTimeout::None => return None,
            RetryTimeout::Infinite => Duration::MAX,
            RetryTimeout::Within(timeout) => {
                let remaining = timeout.checked_sub(start.elapsed())?;
                if remaining.is_zero() {
                    return None;
                }
                remaining
            }
        };
        Some(backoff(attempt, self.config.retry_delay_max).min(remaining))
    }
}

/// Logs a failed record stage as Kafka Connect's log reporter does: only under
/// `errors.log.enable`, with the record under `errors.log.include.messages`, and within the
/// task's log budget when given.
pub fn log_failure(
    config: &ErrorHandling,
    budget: Option<&LogBudget>,
    task: &str,
    stage: Stage,
    class: &str,
    error: &str,
    record: impl Fn(bool) -> String,
) {
    if !config.log_enable {
        return;
    }
    let record = record(config.log_include_messages);
    if budget.is_some_and(|budget| !budget.admit(error.len() + record.len())) {
        return;
    }
    tracing::error!(
        task = %task,
        stage = stage.name(),
        class,
        error = %error,
        "Error encountered in task {}. Executing stage '{}' with class '{}'{}.",
        task,
        stage.name(),
        class,
        record,
    );
}

/// Kafka Connect's retry delay: 300 ms × 2^(attempt-1); once that passes `max`, a uniformly
/// random delay in [0, max).
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let doubled = FIRST_RETRY_DELAY.saturating_mul(
        1_u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX),
    );
    if doubled <= max {
        return doubled;
    }
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = max.as_nanos().min(u64::MAX as u128) as u64;
    Duration::from_nanos(random_below(nanos))
}

/// A cheap random number in [0, bound), enough for jitter.
fn random_below(bound: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(bound);
    hasher.finish() % bound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handling(tolerance: ErrorTolerance, retry: RetryTimeout) -> ErrorHandling {
        ErrorHandling {
            tolerance,
            retry_timeout: retry,
            retry_delay_max: Duration::from_millis(60_000),
            log_enable: true,
            log_include_messages: false,
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("boom {0}")]
    struct Boom(u32);

    impl StageError for Boom {
        fn stage(&self) -> Stage {
            Stage::Transformation
        }
        fn class(&self) -> String {
            "Cast$Value".into()
        }
    }

    #[test]
    fn backoff_doubles_from_300_ms_then_jitters_below_the_cap() {
        let max = Duration::from_millis(1_000);
        assert_eq!(backoff(1, max), Duration::from_millis(300));
        assert_eq!(backoff(2, max), Duration::from_millis(600));
        for attempt in [3, 4, 40, u32::MAX] {
            assert!(backoff(attempt, max) < max, "attempt {attempt}");
        }
        assert_eq!(backoff(5, Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_stage_succeeds() {
        let operator = ErrorOperator::new(
            handling(
                ErrorTolerance::None,
                RetryTimeout::Within(Duration::from_secs(10)),
            ),
            "c",
            0,
            CancellationToken::new(),
        );
        let mut calls = 0;
        let start = Instant::now();
        let outcome = operator
            .execute(
                |_| String::new(),
                || {
                    calls += 1;
                    if calls < 3 {
                        Err(Boom(calls))
                    } else {
                        Ok(calls)
                    }
                },
            )
            .await
            .unwrap_or_else(|failure| panic!("{}", failure.trace));
        assert!(matches!(outcome, Outcome::Done(3)));
        // 300 ms + 600 ms of (virtual) waiting.
        assert_eq!(start.elapsed(), Duration::from_millis(900));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_retry_timeout_and_fails_under_tolerance_none() {
        let operator = ErrorOperator::new(
            handling(
                ErrorTolerance::None,
                RetryTimeout::Within(Duration::from_millis(1_000)),
            ),
            "c",
            0,
            CancellationToken::new(),
        );
        let mut calls = 0;
        let start = Instant::now();
        let failure = operator
            .execute(
                |_| String::new(),
                || {
                    calls += 1;
                    Err::<(), _>(Boom(calls))
                },
            )
            .await
            .expect_err("never succeeds");
        // Tries at 0, 300, 900 ms, then at 1000 ms (the last delay is cut to the deadline).
        assert_eq!(calls, 4);
        assert_eq!(start.elapsed(), Duration::from_millis(1_000));
        assert!(
            failure.trace.contains("TRANSFORMATION"),
            "{}",
            failure.trace
        );
        assert!(failure.trace.contains("Cast$Value"), "{}", failure.trace);
        assert!(failure.trace.contains("boom 4"), "{}", failure.trace);
    }

    #[tokio::test]
    async fn no_retries_by_default_and_all_tolerates() {
        let operator = ErrorOperator::new(
            handling(ErrorTolerance::All, RetryTimeout::None),
            "c",
            0,
            CancellationToken::new(),
        );
        let mut calls = 0;
        let outcome = operator
            .execute(
                |_| String::new(),
                || {
                    calls += 1;
                    Err::<(), _>(Boom(calls))
                },
            )
            .await
            .unwrap_or_else(|failure| panic!("{}", failure.trace));
        assert_eq!(calls, 1);
        match outcome {
            Outcome::Skipped {
                stage,
                class,
                error,
            } => {
                assert_eq!(error, "boom 1");
                assert_eq!(stage, Stage::Transformation);
                assert_eq!(class, "Cast$Value");
            }
            Outcome::Done(()) => panic!("the stage failed"),
        }
    }
}
