//! Durations in the configuration: a decimal number followed by `ms` or `s`, nothing else.
//!
//! `"100ms"`, `"1s"`, `"2.5s"`, `"0s"`, `"0.5ms"`. No sign, no spaces, no exponent, no other
//! unit, no bare number: a duration without its unit is the classic v2-seconds / v3-centiseconds
//! mix-up this daemon is careful about.
use std::{fmt, time::Duration};

/// Why a duration string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// The string is empty.
    Empty,
    /// It starts with `-`.
    Negative,
    /// It contains a space or another white-space character.
    Whitespace,
    /// The number is missing or malformed (`"ms"`, `".5s"`, `"1.s"`, `"1.2.3s"`, `"+1s"`).
    BadNumber,
    /// A number with no unit after it.
    MissingUnit,
    /// A unit other than `ms` or `s`.
    UnknownUnit(String),
    /// More decimals than a nanosecond resolves.
    TooPrecise,
    /// More than `u64::MAX` nanoseconds (about 584 years).
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("it is empty"),
            DurationError::Negative => f.write_str("it is negative"),
            DurationError::Whitespace => f.write_str("it contains spaces"),
            DurationError::BadNumber => f.write_str("it does not start with a decimal number"),
            DurationError::MissingUnit => f.write_str("the unit is missing"),
            DurationError::UnknownUnit(unit) => write!(f, "unknown unit {unit:?}"),
            DurationError::TooPrecise => f.write_str("it is finer than a nanosecond"),
            DurationError::TooLarge => f.write_str("it is too large"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses `"<decimal>ms"` or `"<decimal>s"` exactly (no floating point on the way).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if text.contains(char::is_whitespace) {
        return Err(DurationError::Whitespace);
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    // Decimal places one unit resolves to the nanosecond, and nanoseconds per unit.
    let (places, nanos_per_unit): (usize, u64) = match unit {
        "s" => (9, 1_000_000_000),
        "ms" => (6, 1_000_000),
        _ if number.is_empty() => return Err(DurationError::BadNumber),
        "" => return Err(DurationError::MissingUnit),
        other => return Err(DurationError::UnknownUnit(other.to_owned())),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => {
            if fraction.is_empty() || fraction.contains('.') {
                return Err(DurationError::BadNumber);
            }
            (whole, fraction)
        }
        None => (number, ""),
    };
    if whole.is_empty() {
        return Err(DurationError::BadNumber);
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > places {
        return Err(DurationError::TooPrecise);
    }
    let whole: u64 = whole.parse().map_err(|_| DurationError::TooLarge)?;
    let fraction_nanos: u64 = if fraction.is_empty() {
        0
    } else {
        // At most 9 digits: fits; scaled up to the unit's resolution.
        let digits: u64 = fraction.parse().map_err(|_| DurationError::BadNumber)?;
        digits * 10u64.pow((places - fraction.len()) as u32)
    };
    let nanos = whole
        .checked_mul(nanos_per_unit)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or(DurationError::TooLarge)?;
    Ok(Duration::from_nanos(nanos))
}
