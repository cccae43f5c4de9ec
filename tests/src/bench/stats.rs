//! Medians and spreads of repeated measurements.
use serde::Serialize;

/// What the report shows of a series of samples.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub median: f64,
    /// Nearest-rank 10th and 90th percentiles.
    pub p10: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no samples.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Summary {
            count: n,
            median,
            p10: nearest_rank(&sorted, 0.10),
            p90: nearest_rank(&sorted, 0.90),
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

fn nearest_rank(sorted: &[f64], quantile: f64) -> f64 {
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_ten_samples() {
        let samples: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let summary = Summary::of(&samples).unwrap();
        assert_eq!(summary.count, 10);
        assert_eq!(summary.median, 5.5);
        assert_eq!((summary.p10, summary.p90), (1.0, 9.0));
        assert_eq!((summary.min, summary.max), (1.0, 10.0));
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[3.0]).unwrap().p90, 3.0);
    }
}
