//! Kafka's windowed statistics (`SampledStat`): values recorded into `metrics.num.samples`
//! samples of `metrics.sample.window.ms` each, and read as a rate per second, an average or a
//! maximum over the samples still current, as Kafka Connect's `*-rate`, `*-avg` and `*-max`
//! attributes are.

use std::{
    collections::VecDeque,
    sync::Mutex,
    time::{Duration, Instant},
};

/// `metrics.sample.window.ms` and `metrics.num.samples`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSettings {
    pub window: Duration,
    pub samples: usize,
}

impl Default for WindowSettings {
    /// Kafka's defaults: two samples of 30 s.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            samples: 2,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    max: f64,
}

/// One windowed statistic. Recording takes a short lock; callers record once per batch.
#[derive(Debug)]
pub struct Windowed {
    settings: WindowSettings,
    samples: Mutex<VecDeque<Sample>>,
}

impl Windowed {
    pub fn new(settings: WindowSettings) -> Self {
        Self {
            settings: WindowSettings {
                window: settings.window.max(Duration::from_millis(1)),
                samples: settings.samples.max(1),
            },
            samples: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(&self, value: f64) {
        self.record_at(value, Instant::now());
    }

    pub fn record_at(&self, value: f64, now: Instant) {
        let mut samples = self.lock();
        let current = samples
            .back_mut()
            .filter(|sample| now.saturating_duration_since(sample.start) < self.settings.window);
        match current {
            Some(sample) => {
                sample.count += 1;
                sample.sum += value;
                sample.max = sample.max.max(value);
            }
            None => {
                samples.push_back(Sample {
                    start: now,
                    count: 1,
                    sum: value,
                    max: value,
                });
                while samples.len() > self.settings.samples {
                    samples.pop_front();
                }
            }
        }
    }

    /// The samples not older than the whole window (`samples × window`) at `now`.
    fn current(&self, now: Instant) -> Vec<Sample> {
        let span = self.settings.window * self.settings.samples as u32;
        self.lock()
            .iter()
            .filter(|sample| now.saturating_duration_since(sample.start) < span)
            .copied()
            .collect()
    }

    /// The sum of the values per second over the current samples, as Kafka's `Rate`: divided by
    /// the time since the oldest sample began, but at least `samples − 1` windows.
    pub fn rate_at(&self, now: Instant) -> f64 {
        let samples = self.current(now);
        let Some(oldest) = samples.first() else {
            return 0.0;
        };
        let elapsed = now
            .saturating_duration_since(oldest.start)
            .max(self.settings.window * (self.settings.samples as u32).saturating_sub(1))
            .max(Duration::from_millis(1));
        samples.iter().map(|s| s.sum).sum::<f64>() / elapsed.as_secs_f64()
    }

    /// The sum of the values over the current samples.
    pub fn sum_at(&self, now: Instant) -> f64 {
        self.current(now).iter().map(|s| s.sum).sum()
    }

    /// The average value over the current samples (NaN when none, as Kafka reports).
    pub fn avg_at(&self, now: Instant) -> f64 {
        let samples = self.current(now);
        let count: u64 = samples.iter().map(|s| s.count).sum();
        if count == 0 {
            return f64::NAN;
        }
        samples.iter().map(|s| s.sum).sum::<f64>() / count as f64
    }

    /// The largest value over the current samples (NaN when none).
    pub fn max_at(&self, now: Instant) -> f64 {
        self.current(now)
            .iter()
            .map(|s| s.max)
            .fold(f64::NAN, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Windowed {
        Windowed::new(WindowSettings {
            window: Duration::from_secs(10),
            samples: 2,
        })
    }

    #[test]
    fn avg_and_max_cover_the_current_samples_only() {
        let stat = window();
        let start = Instant::now();
        assert!(stat.avg_at(start).is_nan() && stat.max_at(start).is_nan());
        stat.record_at(4.0, start);
        stat.record_at(8.0, start + Duration::from_secs(1));
        stat.record_at(3.0, start + Duration::from_secs(12));
        let now = start + Duration::from_secs(13);
        assert_eq!(stat.avg_at(now), 5.0);
        assert_eq!(stat.max_at(now), 8.0);
        // 20 s after the first sample began it is obsolete; only the second remains.
        let later = start + Duration::from_secs(21);
        assert_eq!((stat.avg_at(later), stat.max_at(later)), (3.0, 3.0));
        // And a third sample pushes out the first even before that.
        stat.record_at(1.0, start + Duration::from_secs(25));
        assert_eq!(stat.max_at(start + Duration::from_secs(25)), 3.0);
    }

    #[test]
    fn a_rate_is_per_second_over_at_least_one_window() {
        let stat = window();
        let start = Instant::now();
        stat.record_at(50.0, start);
        // Only 1 s has passed, but the rate is over at least (2 − 1) × 10 s.
        assert_eq!(stat.rate_at(start + Duration::from_secs(1)), 5.0);
        stat.record_at(150.0, start + Duration::from_secs(15));
        // Both samples, over the 16 s since the first began.
        assert_eq!(stat.rate_at(start + Duration::from_secs(16)), 12.5);
        // The first is obsolete 20 s after it began: 150 over the 10 s floor.
        assert_eq!(stat.rate_at(start + Duration::from_secs(20)), 15.0);
        assert_eq!(stat.rate_at(start + Duration::from_secs(60)), 0.0);
    }
}
