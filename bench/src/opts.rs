//! Options every group gets.

/// How a group should run.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// A short smoke run: fewer rounds and smaller loads (figures are noisier).
    pub quick: bool,
}

impl Opts {
    /// Measured rounds of each side (after one warm-up round of each).
    pub fn rounds(&self) -> usize {
        if self.quick { 1 } else { 3 }
    }

    /// `full` scaled down for quick runs.
    pub fn scale(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(1) } else { full }
    }
}
