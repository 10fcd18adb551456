//! Reading one value written as text (a CSV field, a Parquet string) as its column's type.
//!
//! The rules, also in `docs/formats.md`: strings are taken byte for byte (no trimming, no case
//! folding) and an empty string is an empty value. Every other type ignores surrounding ASCII
//! whitespace, and a blank field is an empty value. Integers are decimal digits with an optional
//! sign, within 64 bits. Decimals are digits with an optional sign and point, no exponent, with
//! at most `scale` digits after the point (further digits only if they are zeros) and 18 digits
//! in all. Booleans are `true`/`false` in any case, or `1`/`0`. Timestamps are RFC 3339 with a
//! UTC offset (`2026-03-01T12:00:00.25Z`; a space for the `T` is accepted), or seconds since
//! the Unix epoch with up to six digits after the point; both at most microsecond precision.

use sealroom_core::schema::{Column, ColumnType};
use sealroom_tables::payload::DECIMAL_PRECISION;

/// A value read as its column's type: integers, decimals (in units of 10^-scale) and timestamps
/// (microseconds since the epoch) as `Number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A string value.
    Text(&'a str),
    /// An integer, decimal or timestamp.
    Number(i64),
    /// A boolean.
    Bool(bool),
    /// An empty value.
    Empty,
}

/// What a column holds, for error messages ("is not …").
pub fn expected(column: &Column) -> String {
    match column.kind {
        ColumnType::String => "a string".into(),
        ColumnType::Integer => "an integer".into(),
        ColumnType::Decimal => format!(
            "a decimal with at most {} digits after the point",
            column.scale.unwrap_or(0)
        ),
        ColumnType::Boolean => "a boolean (true, false, 1 or 0)".into(),
        ColumnType::Timestamp => {
            "a timestamp (RFC 3339 with an offset, or epoch seconds; at most microseconds)".into()
        }
    }
}

/// Reads `text` as a value of `column`; `None` when it is not one.
pub fn parse<'a>(column: &Column, text: &'a str) -> Option<Parsed<'a>> {
    if column.kind == ColumnType::String {
        return Some(if text.is_empty() {
            Parsed::Empty
        } else {
            Parsed::Text(text)
        });
    }
    let trimmed = text.trim_ascii();
    if trimmed.is_empty() {
        return Some(Parsed::Empty);
    }
    match column.kind {
        ColumnType::String => unreachable!("handled above"),
        ColumnType::Integer => trimmed.parse::<i64>().ok().map(Parsed::Number),
        ColumnType::Decimal => {
            parse_fixed(trimmed, column.scale.unwrap_or(0), DECIMAL_PRECISION).map(Parsed::Number)
        }
        ColumnType::Boolean => parse_bool(trimmed).map(Parsed::Bool),
        ColumnType::Timestamp => parse_timestamp(trimmed).map(Parsed::Number),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text == "1" || text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text == "0" || text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `text` as a fixed-point number in units of 10^-scale, exactly, with at most `digits`
/// significant digits in all.
pub fn parse_fixed(text: &str, scale: u8, digits: u8) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (unsigned, ""),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = usize::from(scale);
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale));
    if dropped.bytes().any(|b| b != b'0') {
        return None;
    }
    let mut value: i128 = 0;
    let mut significant = 0u8;
    let padding = std::iter::repeat_n(b'0', scale - kept.len());
    for b in whole.bytes().chain(kept.bytes()).chain(padding) {
        value = value * 10 + i128::from(b - b'0');
        if value != 0 {
            significant += 1;
            if significant > digits {
                return None;
            }
        }
    }
    i64::try_from(if negative { -value } else { value }).ok()
}

/// `text` as microseconds since the Unix epoch: RFC 3339, or epoch seconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.')
    {
        return parse_fixed(text, 6, 18);
    }
    if let Some(fast) = fast_rfc3339(text.as_bytes()) {
        return fast;
    }
    sealroom_core::clock::rfc3339_micros(text)
}

/// RFC 3339 in its common shape, `YYYY-MM-DD(T| )HH:MM:SS[.fraction](Z|±HH:MM)`, read directly:
/// the general parser costs more per value than the rest of sealing a row, and files hold
/// millions. `None` when the text has another shape (the general parser then decides, so both
/// paths accept and refuse the same texts; a test compares them); `Some(None)` when it has
/// this shape but is not a valid instant at microsecond precision.
fn fast_rfc3339(b: &[u8]) -> Option<Option<i64>> {
    fn digits(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let (kept, finer) = fraction[..n].split_at(n.min(6));
        if finer.iter().any(|&d| d != b'0') {
            return Some(None);
        }
        micros = digits(kept)? * 10_i64.pow(6 - kept.len() as u32);
        rest = &fraction[n..];
    }
    let offset_seconds = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3600 + m * 60;
            if *sign == b'-' { -s } else { s }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day > month_days[(month - 1) as usize] {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil" method).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(
        seconds
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(micros)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn decimals_are_exact_and_refuse_what_would_be_rounded() {
        let two = |t| parse_fixed(t, 2, 18);
        assert_eq!(two("12.34"), Some(1234));
        assert_eq!(two("-0.5"), Some(-50));
        assert_eq!(two("+7"), Some(700));
        assert_eq!(two(".25"), Some(25));
        assert_eq!(two("3."), Some(300));
        assert_eq!(two("1.230"), Some(123));
        assert_eq!(two("1.234"), None);
        for bad in ["", ".", "-", "1e3", "1,5", "12.3.4", " 1", "0x10", "--1"] {
            assert_eq!(two(bad), None, "{bad:?}");
        }
        assert_eq!(two("9999999999999999.99"), Some(999_999_999_999_999_999));
        assert_eq!(two("10000000000000000.00"), None);
        assert_eq!(parse_fixed("0000000000000000000000001", 0, 18), Some(1));
    }

    #[test]
    fn timestamps_are_utc_microseconds_from_either_form() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:01.000002Z"),
            Some(1_000_002)
        );
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(
            parse_timestamp("1700000000.25"),
            Some(1_700_000_000_250_000)
        );
        assert_eq!(parse_timestamp("-1"), Some(-1_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.0000001Z"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("1700000000.1234567"), None);
        // Beyond nine fraction digits the general parser would drop digits: refused, not cut.
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.0000010009Z"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.0000010000Z"), Some(1));
    }

    /// The general parser, for comparing the fast path with.
    fn general(text: &str) -> Option<i64> {
        let with_t = text.replacen(' ', "T", 1);
        let nanos = OffsetDateTime::parse(&with_t, &Rfc3339)
            .ok()?
            .unix_timestamp_nanos();
        (nanos % 1000 == 0).then(|| i64::try_from(nanos / 1000).ok())?
    }

    #[test]
    fn the_fast_rfc3339_path_agrees_with_the_general_parser() {
        use rand_core::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut pick = |n: u32| rng.next_u32() % n;
        let mut checked = 0;
        for _ in 0..200_000 {
            let fraction = match pick(4) {
                0 => String::new(),
                1 => format!(".{:06}", pick(1_000_000)),
                2 => format!(".{}", pick(10)),
                _ => format!(".{:09}", pick(1_000_000_000)),
            };
            let offset = match pick(3) {
                0 => "Z".to_string(),
                1 => format!("+{:02}:{:02}", pick(25), pick(61)),
                _ => format!("-{:02}:{:02}", pick(24), pick(60)),
            };
            let text = format!(
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}{fraction}{offset}",
                [1, 1600, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999][pick(10) as usize],
                pick(14),
                pick(33),
                ["T", " ", "t"][pick(3) as usize],
                pick(25),
                pick(61),
                pick(61),
            );
            let fast = fast_rfc3339(text.as_bytes());
            if let Some(fast) = fast {
                assert_eq!(fast, general(&text), "{text}");
                checked += 1;
            } else {
                assert_eq!(parse_timestamp(&text), general(&text), "{text}");
            }
        }
        assert!(checked > 50_000, "the fast path took only {checked}");
        for text in [
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2000-02-29T23:59:59.999999Z",
        ] {
            assert_eq!(parse_timestamp(text), general(text), "{text}");
        }
    }

    #[test]
    fn strings_are_kept_byte_for_byte_and_blank_numbers_are_empty() {
        let s = Column::new("s", ColumnType::String);
        assert_eq!(parse(&s, " a "), Some(Parsed::Text(" a ")));
        assert_eq!(parse(&s, ""), Some(Parsed::Empty));
        let n = Column::new("n", ColumnType::Integer);
        assert_eq!(parse(&n, " 42 "), Some(Parsed::Number(42)));
        assert_eq!(parse(&n, "  "), Some(Parsed::Empty));
        assert_eq!(parse(&n, "4.2"), None);
        let b = Column::new("b", ColumnType::Boolean);
        assert_eq!(parse(&b, "TRUE"), Some(Parsed::Bool(true)));
        assert_eq!(parse(&b, "0"), Some(Parsed::Bool(false)));
        assert_eq!(parse(&b, "yes"), None);
    }
}
