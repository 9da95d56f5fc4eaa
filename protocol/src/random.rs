//! The one place that asks the operating system for random bytes.

use thiserror::Error;

/// The operating system could not provide randomness.
#[derive(Debug, Error)]
#[error("the operating system random generator failed: {0}")]
pub struct RandomError(String);

/// Fills an array with random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| RandomError(e.to_string()))?;
    Ok(out)
}
