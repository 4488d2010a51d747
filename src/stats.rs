//! Rates and exact binomial confidence bounds.
//!
//! A zero count is reported with its exact one-sided 95% Clopper–Pearson
//! upper bound (for n trials: 1 − 0.05^(1/n) ≈ 3/n); a non-zero count with the
//! exact two-sided 95% interval. Both come from quantiles of the Beta
//! distribution (statrs).

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

/// Confidence level used throughout torn.
pub const CONFIDENCE: f64 = 0.95;

/// A count out of `n` trials with its exact bound(s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub count: u64,
    pub n: u64,
    /// count / n (0 when n = 0).
    pub rate: f64,
    /// Lower end of the two-sided 95% interval (0 for a zero count).
    pub low: f64,
    /// For a zero count, the one-sided 95% upper bound; otherwise the upper
    /// end of the two-sided 95% interval. 1 when n = 0 (nothing is known).
    pub high: f64,
}

impl Estimate {
    pub fn new(count: u64, n: u64) -> Self {
        let (low, high) = clopper_pearson(count, n);
        let rate = if n == 0 { 0.0 } else { count as f64 / n as f64 };
        Self {
            count,
            n,
            rate,
            low,
            high,
        }
    }
}

/// The exact Clopper–Pearson bounds for `k` events in `n` trials at
/// [`CONFIDENCE`]: one-sided upper bound when `k == 0`, two-sided otherwise.
pub fn clopper_pearson(k: u64, n: u64) -> (f64, f64) {
    let alpha = 1.0 - CONFIDENCE;
    if n == 0 {
        return (0.0, 1.0);
    }
    assert!(k <= n, "count {k} exceeds trials {n}");
    if k == 0 {
        // Solve (1 - p)^n = alpha; ln_1p keeps precision for large n.
        return (0.0, -(alpha.ln() / n as f64).exp_m1());
    }
    let (kf, nf) = (k as f64, n as f64);
    let low = beta_quantile(alpha / 2.0, kf, nf - kf + 1.0);
    let high = if k == n {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, kf + 1.0, nf - kf)
    };
    (low, high)
}

fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    Beta::new(a, b).expect("positive shape parameters").inverse_cdf(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        ((a - b) / b).abs() < rel
    }

    #[test]
    fn zero_count_bound_is_the_rule_of_three() {
        let (lo, hi) = clopper_pearson(0, 1_000_000);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 2.9957e-6, 1e-3), "{hi}");
        // Exact: (1 - hi)^n == 0.05.
        assert!(close((1.0 - hi).powf(1e6), 0.05, 1e-6));
    }

    #[test]
    fn two_sided_interval_matches_reference_values() {
        // Reference: binom.test(5, 100)$conf.int in R = 0.01643187 0.11283491
        let (lo, hi) = clopper_pearson(5, 100);
        assert!(close(lo, 0.016_431_87, 1e-4), "{lo}");
        assert!(close(hi, 0.112_834_91, 1e-4), "{hi}");
        // binom.test(1, 10) = 0.002528579 0.445016117
        let (lo, hi) = clopper_pearson(1, 10);
        assert!(close(lo, 0.002_528_579, 1e-4), "{lo}");
        assert!(close(hi, 0.445_016_117, 1e-4), "{hi}");
    }

    #[test]
    fn all_events_and_no_trials() {
        assert_eq!(clopper_pearson(10, 10).1, 1.0);
        assert_eq!(clopper_pearson(0, 0), (0.0, 1.0));
        assert_eq!(Estimate::new(0, 0).rate, 0.0);
    }
}
