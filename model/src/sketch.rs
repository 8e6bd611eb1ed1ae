//! `DurationSketch`: a mergeable percentile sketch of durations in milliseconds, the one kept
//! in every rollup row (`workflow_rollups.duration_sketch`).
//!
//! Durations are counted in logarithmic buckets: bucket `i` holds the values in
//! `(γ^(i-1), γ^i]` with `γ = (1 + α) / (1 - α)` and `α = 1%`, and a bucket is read back as
//! `2γ^i / (γ + 1)`, which is within 1% of every value in it (the DDSketch construction).
//! Durations below 1 ms are counted apart as zeros. Merging two sketches adds their bucket
//! counts, so a sketch of a month is the exact merge of its hours, and a quantile read from it
//! is within 1% of a value whose rank is the quantile's.
//!
//! Stored as JSON `{"v":1,"z":<zeros>,"b":"<buckets>"}`, where `<buckets>` lists the non-empty
//! buckets in increasing order as `<index step>[*<count>]` separated by commas: the first step
//! is the index itself, each next step the distance from the previous index, and a count of 1
//! is left out. An hour of one-minute runs takes a few hundred bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize as _;

/// Relative accuracy of a quantile read from a sketch.
pub const SKETCH_RELATIVE_ACCURACY: f64 = 0.01;

/// The version tag of the stored form.
const FORMAT_VERSION: u64 = 1;

fn gamma() -> f64 {
    (1.0 + SKETCH_RELATIVE_ACCURACY) / (1.0 - SKETCH_RELATIVE_ACCURACY)
}

/// A stored sketch that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration sketch: {0}")]
pub struct SketchError(String);

/// Counts of durations in logarithmic buckets; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DurationSketch {
    zeros: u64,
    buckets: BTreeMap<i32, u64>,
}

impl DurationSketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket index of a duration of at least 1 ms.
    fn index(millis: f64) -> i32 {
        (millis.ln() / gamma().ln()).ceil() as i32
    }

    /// Counts one duration (negative durations count as zero).
    pub fn add(&mut self, millis: i64) {
        self.add_n(millis, 1);
    }

    /// Counts `n` durations of the same value.
    pub fn add_n(&mut self, millis: i64, n: u64) {
        if n == 0 {
            return;
        }
        if millis < 1 {
            self.zeros += n;
        } else {
            *self.buckets.entry(Self::index(millis as f64)).or_insert(0) += n;
        }
    }

    /// Adds every count of `other` to this sketch.
    pub fn merge(&mut self, other: &DurationSketch) {
        self.zeros += other.zeros;
        for (index, count) in &other.buckets {
            *self.buckets.entry(*index).or_insert(0) += count;
        }
    }

    /// How many counted durations were at most `millis`, counting a duration in the bucket
    /// of `millis` as at most it (so within 1% of `millis`, either way).
    pub fn count_at_most(&self, millis: i64) -> u64 {
        if millis < 0 {
            return 0;
        }
        if millis < 1 {
            return self.zeros;
        }
        let limit = Self::index(millis as f64);
        self.zeros + self.buckets.range(..=limit).map(|(_, c)| c).sum::<u64>()
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.zeros + self.buckets.values().sum::<u64>()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The `q` quantile (`q` in [0, 1]; 0.95 for p95) in milliseconds, interpolated like
    /// `percentile_cont`: between the values of ranks `⌊q·(n-1)⌋` and `⌈q·(n-1)⌉` among the
    /// counted durations, each read within 1%. None when empty or `q` is outside [0, 1] or
    /// not a number.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * (n - 1) as f64;
        let low = self.value_at(rank.floor() as u64)?;
        let high = self.value_at(rank.ceil() as u64)?;
        Some(low + (rank - rank.floor()) * (high - low))
    }

    /// The value of the duration of rank `rank` (from 0), within 1%.
    fn value_at(&self, rank: u64) -> Option<f64> {
        if rank < self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        let g = gamma();
        for (index, count) in &self.buckets {
            seen += count;
            if seen > rank {
                return Some(2.0 * g.powi(*index) / (g + 1.0));
            }
        }
        None
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        let mut text = String::new();
        let mut previous = 0i32;
        for (n, (index, count)) in self.buckets.iter().enumerate() {
            if n > 0 {
                text.push(',');
            }
            let step = if n == 0 { *index } else { index - previous };
            let _ = write!(text, "{step}");
            if *count != 1 {
                let _ = write!(text, "*{count}");
            }
            previous = *index;
        }
        serde_json::json!({"v": FORMAT_VERSION, "z": self.zeros, "b": text})
    }

    /// Reads the stored JSON form.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, SketchError> {
        let stored =
            Stored::deserialize(value).map_err(|e| SketchError(format!("{e} in {value}")))?;
        stored
            .decode()
            .map_err(|what| SketchError(format!("{what} in {value}")))
    }

    /// Reads the stored JSON form from its text (what a database returns for the column).
    pub fn from_json_text(text: &str) -> Result<Self, SketchError> {
        let stored: Stored =
            serde_json::from_str(text).map_err(|e| SketchError(format!("{e} in {text}")))?;
        stored
            .decode()
            .map_err(|what| SketchError(format!("{what} in {text}")))
    }
}

/// The stored form's fields.
#[derive(serde::Deserialize)]
struct Stored {
    v: u64,
    z: u64,
    b: String,
}

impl Stored {
    fn decode(self) -> Result<DurationSketch, &'static str> {
        if self.v != FORMAT_VERSION {
            return Err("unknown version");
        }
        let mut buckets = BTreeMap::new();
        let mut index = 0i32;
        for (n, item) in self.b.split(',').filter(|s| !s.is_empty()).enumerate() {
            let (step, count) = match item.split_once('*') {
                Some((step, count)) => (step, count.parse::<u64>().ok()),
                None => (item, Some(1)),
            };
            let step: i32 = step.parse().map_err(|_| "a bad bucket index")?;
            let count = count.filter(|c| *c > 0).ok_or("a bad bucket count")?;
            if n > 0 && step <= 0 {
                return Err("buckets out of order");
            }
            index = if n == 0 { step } else { index + step };
            buckets.insert(index, count);
        }
        Ok(DurationSketch {
            zeros: self.z,
            buckets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interpolated quantile, as `percentile_cont` computes it.
    fn exact(sorted: &[i64], q: f64) -> f64 {
        let rank = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (sorted[rank.floor() as usize], sorted[rank.ceil() as usize]);
        lo as f64 + (rank - rank.floor()) * (hi - lo) as f64
    }

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_rank() {
        let mut seed = 42u64;
        let mut values = Vec::new();
        let mut sketch = DurationSketch::new();
        for _ in 0..5000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = 1 + ((seed >> 33) % 120_000) as i64;
            values.push(v);
            sketch.add(v);
        }
        values.sort_unstable();
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let want = exact(&values, q);
            let got = sketch.quantile(q).unwrap();
            assert!(
                (got - want).abs() <= want * SKETCH_RELATIVE_ACCURACY + 1e-9,
                "q={q}: sketch {got}, exact {want}"
            );
        }
    }

    #[test]
    fn merging_equals_counting_everything_in_one() {
        let mut a = DurationSketch::new();
        let mut b = DurationSketch::new();
        let mut all = DurationSketch::new();
        for v in [0, 3, 250, 251, 9000] {
            a.add(v);
            all.add(v);
        }
        for v in [0, 250, 70_000] {
            b.add(v);
            all.add(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.count(), 8);
        assert_eq!(a.quantile(0.0), Some(0.0));
    }

    #[test]
    fn the_stored_form_is_compact_and_round_trips() {
        let mut sketch = DurationSketch::new();
        for v in [120, 120, 121, 130, 0, 5000] {
            sketch.add(v);
        }
        let stored = sketch.to_json();
        assert_eq!(stored["z"], 1);
        let text = stored["b"].as_str().unwrap();
        // 120, 120 and 121 share bucket 240; 130 is 4 buckets up; 5000 is bucket 426.
        assert_eq!(text, "240*3,4,182");
        assert_eq!(DurationSketch::from_json(&stored).unwrap(), sketch);
        assert_eq!(sketch.count_at_most(125), 4, "0, 120, 120 and 121");
        assert_eq!(sketch.count_at_most(5000), 6);
        assert_eq!(sketch.count_at_most(-1), 0);
        let empty = DurationSketch::new();
        assert_eq!(DurationSketch::from_json(&empty.to_json()).unwrap(), empty);
        assert_eq!(empty.quantile(0.5), None);
    }

    #[test]
    fn bad_stored_forms_are_refused() {
        for bad in [
            serde_json::json!({"v": 2, "z": 0, "b": ""}),
            serde_json::json!({"v": 1, "b": ""}),
            serde_json::json!({"v": 1, "z": 0, "b": "5,x"}),
            serde_json::json!({"v": 1, "z": 0, "b": "5,0"}),
            serde_json::json!({"v": 1, "z": 0, "b": "5*0"}),
        ] {
            assert!(DurationSketch::from_json(&bad).is_err(), "{bad}");
        }
    }
}
