//! Kubernetes resource quantities (`100m`, `1Gi`, `2`, `1e3`, `0.5`), parsed exactly enough
//! to compare them.

use std::cmp::Ordering;

/// The message upstream gives for a string that is not a quantity at all.
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A parsed quantity, held as a count of nano-units (saturating at the i128 range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    /// The value times 10^9, rounded up as upstream rounds to nano precision.
    pub nanos: i128,
}

/// Why a quantity failed to parse (upstream's three errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Does not match the quantity regular expression.
    #[error("{}", QUANTITY_FORMAT_ERROR)]
    Format,
    /// The suffix is not one of the known ones.
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The number part is malformed.
    #[error("unable to parse numeric value")]
    Numeric,
}

impl Quantity {
    /// Whether the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
    /// Compare two quantities.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

/// Parse a quantity string.
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(num_end);
    if num.is_empty() {
        return Err(QuantityError::Format);
    }
    // The suffix must match [eEinumkKMGTP]*[-+]?[0-9]*.
    let letters_end = suffix
        .find(|c: char| !"eEinumkKMGTP".contains(c))
        .unwrap_or(suffix.len());
    let tail = &suffix[letters_end..];
    let tail_digits = tail.strip_prefix(['+', '-']).unwrap_or(tail);
    if !tail_digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Format);
    }
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(QuantityError::Numeric);
    }
    // (exp10, exp2) of the suffix.
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let e = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Suffix)?;
            let n: i32 = e.parse().map_err(|_| QuantityError::Suffix)?;
            (n, 0)
        }
    };
    // mantissa = int_part frac_part as one integer, scaled by 10^-len(frac).
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut mantissa: i128 = 0;
    let mut saturated = false;
    for b in digits.bytes() {
        match mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
        {
            Some(m) => mantissa = m,
            None => {
                saturated = true;
                break;
            }
        }
    }
    let frac_len = i32::try_from(frac_part.len()).map_err(|_| QuantityError::Numeric)?;
    let scale10 = 9 + exp10 - frac_len;
    let mut nanos = if saturated {
        i128::MAX
    } else if scale10 >= 0 {
        pow(10, scale10.unsigned_abs())
            .and_then(|p| mantissa.checked_mul(p))
            .and_then(|v| v.checked_mul(pow(2, exp2)?))
            .unwrap_or(i128::MAX)
    } else {
        let with2 = pow(2, exp2)
            .and_then(|p| mantissa.checked_mul(p))
            .unwrap_or(i128::MAX);
        match pow(10, scale10.unsigned_abs()) {
            // Round up to nano precision.
            Some(d) => with2 / d + i128::from(with2 % d != 0),
            None => i128::from(with2 != 0),
        }
    };
    if negative {
        nanos = -nanos;
    }
    Ok(Quantity { nanos })
}
