//! The result table: one [`Row`] per figure, printed as an aligned text table and written as
//! JSON so that runs can be compared.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// One figure of one group: ours, the baseline measured in the same run, and the target.
#[derive(Serialize, Debug, Clone)]
pub struct Row {
    /// "federation", "crypto", "reports", …
    pub group: String,
    /// "messages/s, 16 in flight"
    pub figure: String,
    /// "msg/s", "ms", "KiB", "s"
    pub unit: String,
    /// Our figure.
    pub ours: f64,
    /// The baseline's figure.
    pub baseline: f64,
    /// Whether a larger figure is better (throughput) or worse (latency, memory).
    pub higher_is_better: bool,
    /// ours / baseline
    pub ratio: f64,
    /// p50/p99 of ours and of the baseline, in ms.
    pub latency: Option<Latency>,
    /// "≥ 1.0×"
    pub target: String,
    /// Whether the target is met.
    pub met: bool,
}

/// Latency percentiles of ours and of the baseline, in milliseconds.
#[derive(Serialize, Debug, Clone)]
pub struct Latency {
    /// Our median.
    pub ours_p50: f64,
    /// Our 99th percentile.
    pub ours_p99: f64,
    /// The baseline's median.
    pub base_p50: f64,
    /// The baseline's 99th percentile.
    pub base_p99: f64,
}

/// What a figure must show.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// ratio ≥ x
    AtLeast(f64),
    /// ratio ≤ x
    AtMost(f64),
    /// ours ≤ baseline + x (in the row's unit)
    WithinPlus(f64),
}

impl Target {
    /// The target as shown in the table.
    pub fn text(&self, unit: &str) -> String {
        match self {
            Target::AtLeast(x) => format!("≥ {x:.1}×"),
            Target::AtMost(x) => format!("≤ {x:.1}×"),
            Target::WithinPlus(x) => format!("≤ base + {x} {unit}"),
        }
    }

    /// Whether `ours` against `baseline` meets the target.
    pub fn met(&self, ours: f64, baseline: f64) -> bool {
        let ratio = ratio(ours, baseline);
        match self {
            Target::AtLeast(x) => ratio >= *x,
            Target::AtMost(x) => ratio <= *x,
            Target::WithinPlus(x) => ours <= baseline + x,
        }
    }
}

fn ratio(ours: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        f64::INFINITY
    } else {
        ours / baseline
    }
}

impl Row {
    /// A row whose `met` follows from `target`.
    pub fn new(
        group: &str,
        figure: &str,
        unit: &str,
        higher_is_better: bool,
        (ours, baseline): (f64, f64),
        target: Target,
    ) -> Self {
        Row {
            group: group.to_string(),
            figure: figure.to_string(),
            unit: unit.to_string(),
            ours,
            baseline,
            higher_is_better,
            ratio: ratio(ours, baseline),
            latency: None,
            target: target.text(unit),
            met: target.met(ours, baseline),
        }
    }

    /// A row shown for information: no target, always "met".
    pub fn informative(
        group: &str,
        figure: &str,
        unit: &str,
        higher_is_better: bool,
        values: (f64, f64),
    ) -> Self {
        let mut row = Row::new(
            group,
            figure,
            unit,
            higher_is_better,
            values,
            Target::AtMost(f64::INFINITY),
        );
        row.target = "(informative)".into();
        row
    }

    /// The same row with latency percentiles.
    pub fn with_latency(mut self, latency: Latency) -> Self {
        self.latency = Some(latency);
        self
    }
}

fn number(x: f64) -> String {
    if !x.is_finite() {
        "-".to_string()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// The table as text: one line per row, columns aligned.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "group",
        "figure",
        "unit",
        "ours",
        "baseline",
        "ratio",
        "p50/p99 ours",
        "p50/p99 base",
        "target",
        "met",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let (lo, lb) = match &r.latency {
            Some(l) => (
                format!("{}/{}", number(l.ours_p50), number(l.ours_p99)),
                format!("{}/{}", number(l.base_p50), number(l.base_p99)),
            ),
            None => ("".into(), "".into()),
        };
        cells.push(vec![
            r.group.clone(),
            r.figure.clone(),
            r.unit.clone(),
            number(r.ours),
            number(r.baseline),
            format!("{:.2}×", r.ratio),
            lo,
            lb,
            r.target.clone(),
            if r.met { "yes" } else { "NO" }.to_string(),
        ]);
    }
    let mut widths = vec![0usize; header.len()];
    for line in &cells {
        for (w, c) in widths.iter_mut().zip(line) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, line) in cells.iter().enumerate() {
        let mut text = String::from("|");
        for (w, c) in widths.iter().zip(line) {
            let pad = w - c.chars().count();
            let _ = write!(text, " {c}{} |", " ".repeat(pad));
        }
        out.push_str(&text);
        out.push('\n');
        if i == 0 {
            let mut sep = String::from("|");
            for w in &widths {
                let _ = write!(sep, "{}|", "-".repeat(w + 2));
            }
            out.push_str(&sep);
            out.push('\n');
        }
    }
    out
}

/// Writes the rows as a JSON array to `path`.
pub fn write_json(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(rows)?;
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_throughput_row_meets_an_at_least_target_only_when_the_ratio_is_reached() {
        let good = Row::new(
            "g",
            "f",
            "msg/s",
            true,
            (110.0, 100.0),
            Target::AtLeast(1.0),
        );
        let bad = Row::new("g", "f", "msg/s", true, (90.0, 100.0), Target::AtLeast(1.0));
        assert!(good.met);
        assert!(!bad.met);
        assert!((bad.ratio - 0.9).abs() < 1e-9);
        let table = render(&[good, bad]);
        assert_eq!(table.lines().count(), 4);
        assert!(table.contains("| NO "));
    }

    #[test]
    fn a_recovery_row_allows_half_a_second_over_the_baseline() {
        let row = Row::new("s", "r", "s", false, (0.9, 0.5), Target::WithinPlus(0.5));
        assert!(row.met);
        let row = Row::new("s", "r", "s", false, (1.1, 0.5), Target::WithinPlus(0.5));
        assert!(!row.met);
    }
}
