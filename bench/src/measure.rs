//! Alternating measurement: a warm-up of each side, then rounds of ours and the baseline in
//! turn (A B A B A B) in the same process, so that both see the same machine state. Latencies
//! are recorded in microseconds in HdrHistograms and reported in milliseconds.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

use crate::opts::Opts;
use crate::table::Latency;

/// One round's result: the figure, and the latencies it saw (if it is a latency figure).
#[derive(Debug, Clone)]
pub struct Sample {
    /// The figure of this round (msg/s, ms, …).
    pub value: f64,
    /// Latencies of the round, in µs.
    pub hist: Option<Histogram<u64>>,
}

impl Sample {
    /// A figure without latencies.
    pub fn value(value: f64) -> Self {
        Sample { value, hist: None }
    }

    /// `count` operations done in `elapsed`: operations per second.
    pub fn rate(count: usize, elapsed: Duration) -> Self {
        Sample::value(count as f64 / elapsed.as_secs_f64().max(1e-9))
    }
}

/// A histogram of latencies in µs, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // constant, valid bounds
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Records `d` in `h` (saturating at the histogram's bounds).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_micros().clamp(1, 60_000_000) as u64);
}

/// Times one future, in µs into `h`.
pub async fn timed<T>(h: &mut Histogram<u64>, f: impl Future<Output = Result<T>>) -> Result<T> {
    let start = Instant::now();
    let out = f.await?;
    record(h, start.elapsed());
    Ok(out)
}

/// Both sides' samples.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Ours, one per round.
    pub ours: Vec<Sample>,
    /// The baseline, one per round.
    pub base: Vec<Sample>,
}

/// Runs one warm-up round of each, then `opts.rounds()` rounds of ours and the baseline in turn.
pub async fn alternate<A, B>(opts: &Opts, mut ours: A, mut base: B) -> Result<Pair>
where
    A: AsyncFnMut() -> Result<Sample>,
    B: AsyncFnMut() -> Result<Sample>,
{
    ours().await?;
    base().await?;
    let mut pair = Pair {
        ours: Vec::new(),
        base: Vec::new(),
    };
    for _ in 0..opts.rounds() {
        pair.ours.push(ours().await?);
        pair.base.push(base().await?);
    }
    Ok(pair)
}

/// Runs jobs `0..count` on `lanes` tasks at once: lane `l` does jobs `l`, `l + lanes`, … one
/// after the other, so at most `lanes` are in flight. The handle ends when every lane has, with
/// the first error of any.
pub fn lanes<F, Fut>(lanes: usize, count: usize, job: F) -> tokio::task::JoinHandle<Result<()>>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let tasks: Vec<_> = (0..lanes)
        .map(|lane| {
            let job = job.clone();
            tokio::spawn(async move {
                let mut n = lane;
                while n < count {
                    job(n).await?;
                    n += lanes;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    tokio::spawn(async move {
        for t in tasks {
            t.await??;
        }
        Ok(())
    })
}

/// The median of the values.
pub fn median(samples: &[Sample]) -> f64 {
    let mut v: Vec<f64> = samples.iter().map(|s| s.value).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn merged(samples: &[Sample]) -> Histogram<u64> {
    let mut all = histogram();
    for h in samples.iter().filter_map(|s| s.hist.as_ref()) {
        let _ = all.add(h);
    }
    all
}

/// (p50, p99) in ms of all rounds' latencies together.
pub fn percentiles(samples: &[Sample]) -> (f64, f64) {
    let h = merged(samples);
    (
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
    )
}

impl Pair {
    /// (median of ours, median of the baseline).
    pub fn medians(&self) -> (f64, f64) {
        (median(&self.ours), median(&self.base))
    }

    /// p50/p99 of both sides.
    pub fn latency(&self) -> Latency {
        let (ours_p50, ours_p99) = percentiles(&self.ours);
        let (base_p50, base_p99) = percentiles(&self.base);
        Latency {
            ours_p50,
            ours_p99,
            base_p50,
            base_p99,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn rounds_alternate_after_one_warm_up_of_each() {
        let order = std::sync::Mutex::new(Vec::new());
        let opts = Opts { quick: false };
        let pair = alternate(
            &opts,
            async || {
                order.lock().unwrap().push('A');
                Ok(Sample::value(2.0))
            },
            async || {
                order.lock().unwrap().push('B');
                Ok(Sample::value(1.0))
            },
        )
        .await
        .unwrap();
        let order: String = order.into_inner().unwrap().into_iter().collect();
        assert_eq!(order, "ABABABAB");
        assert_eq!(pair.ours.len(), 3);
        assert_eq!(pair.medians(), (2.0, 1.0));
    }

    #[test]
    fn percentiles_come_from_every_round_in_milliseconds() {
        let mut h = histogram();
        for us in 1..=1000u64 {
            h.record(us * 10).unwrap();
        }
        let s = Sample {
            value: 0.0,
            hist: Some(h),
        };
        let (p50, p99) = percentiles(&[s]);
        assert!((p50 - 5.0).abs() < 0.05, "{p50}");
        assert!((p99 - 9.9).abs() < 0.05, "{p99}");
    }
}
