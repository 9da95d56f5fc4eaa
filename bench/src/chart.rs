//! SVG line charts of a scaling group: cost (y) against size (x), one line per series.
//!
//! The scaling groups (many partners, long histories, the directory) measure the same figure at
//! several sizes and draw it with [`Chart::write`] into `docs/charts/<name>.svg`, which
//! `docs/benchmarks.md` shows. The file is plain SVG 1.1 with no script and no external font,
//! so it renders on GitHub and in any browser. Sizes usually grow tenfold, so the x axis is
//! logarithmic when every x is positive and the largest is at least 100 times the smallest.

use std::fmt::Write as _;
use std::path::Path;

/// One measured line: a name for the legend and (size, cost) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A chart with a title, axis labels and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

impl Chart {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            series: Vec::new(),
        }
    }

    /// Adds a line.
    pub fn line(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series {
            name: name.to_string(),
            points,
        });
        self
    }

    /// Writes the SVG, creating the folder if needed.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_svg())
    }

    fn points(&self) -> impl Iterator<Item = &(f64, f64)> {
        self.series.iter().flat_map(|s| s.points.iter())
    }

    fn log_x(&self) -> bool {
        let (lo, hi) = bounds(self.points().map(|p| p.0));
        lo > 0.0 && hi / lo >= 100.0
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        let log_x = self.log_x();
        let fx = |x: f64| if log_x { x.log10() } else { x };
        let (x_lo, x_hi) = bounds(self.points().map(|p| fx(p.0)));
        let (_, y_hi) = bounds(self.points().map(|p| p.1));
        let (x_lo, x_hi) = if x_hi > x_lo {
            (x_lo, x_hi)
        } else {
            (x_lo - 1.0, x_hi + 1.0)
        };
        let y_top = nice_ceiling(y_hi.max(f64::MIN_POSITIVE));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |x: f64| LEFT + (fx(x) - x_lo) / (x_hi - x_lo) * plot_w;
        let py = |y: f64| TOP + plot_h - y / y_top * plot_h;

        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            LEFT + plot_w / 2.0,
            escape(&self.title)
        );
        // Axes, grid and ticks.
        for i in 0..=4 {
            let y = y_top * f64::from(i) / 4.0;
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                py(y) + 4.0,
                short(y),
                py = py(y),
            );
        }
        for x in self.x_ticks(log_x) {
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 16.0,
                short(x),
                px = px(x),
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label),
            if log_x { " (log scale)" } else { "" }
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        // Lines, points and legend.
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let path: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                path.join(" ")
            );
            for &(x, y) in &series.points {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: {} → {}</title></circle>"#,
                    px(x),
                    py(y),
                    escape(&series.name),
                    short(x),
                    short(y)
                );
            }
            let ly = TOP + 10.0 + 18.0 * i as f64;
            let lx = LEFT + plot_w + 12.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
                lx + 18.0,
                lx + 24.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// The distinct x values measured (sizes are what the reader looks for).
    fn x_ticks(&self, log_x: bool) -> Vec<f64> {
        let mut xs: Vec<f64> = self
            .points()
            .map(|p| p.0)
            .filter(|x| !log_x || *x > 0.0)
            .collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc: Option<(f64, f64)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .unwrap_or((0.0, 1.0))
}

/// 1, 2 or 5 times a power of ten, at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * power)
}

/// A short label: 1000 → "1k", 1000000 → "1M", 0.25 → "0.25".
fn short(v: f64) -> String {
    let a = v.abs();
    let (value, unit) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    format!("{text}{unit}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenfold_scaling_chart_has_a_log_axis_one_line_per_series_and_every_point() {
        let chart = Chart::new("Start-up", "messages", "ms")
            .line("ochat", vec![(1e4, 12.0), (1e5, 40.0), (1e6, 310.0)])
            .line("raw sled", vec![(1e4, 5.0), (1e5, 20.0), (1e6, 150.0)]);
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("(log scale)"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains(">1M<"), "the largest size is labelled");
        assert!(svg.contains(">500<"), "y axis rounded up to 500: {svg}");
    }

    #[test]
    fn titles_are_escaped_and_a_single_point_still_draws() {
        let svg = Chart::new("a < b & c", "x", "y")
            .line("one", vec![(5.0, 1.0)])
            .to_svg();
        assert!(svg.contains("a &lt; b &amp; c"));
        assert!(!svg.contains("NaN"));
        assert!(!svg.contains("(log scale)"));
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short(1_000_000.0), "1M");
        assert_eq!(short(100_000.0), "100k");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(nice_ceiling(310.0), 500.0);
        assert_eq!(nice_ceiling(0.8), 1.0);
    }
}
