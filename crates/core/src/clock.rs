//! Time, injected so that expiry is testable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds since the Unix epoch, written as RFC 3339 UTC (`2026-11-21T08:00:00Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses an RFC 3339 date-time.
    pub fn parse(text: &str) -> Result<Self, String> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(|t| Self(t.unix_timestamp()))
            .map_err(|e| format!("{text:?} is not an RFC 3339 date-time: {e}"))
    }

    /// This time plus `seconds`.
    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

/// An RFC 3339 date-time with an offset (a space for the `T` is accepted) as microseconds since
/// the Unix epoch; `None` if it is not one, or is finer than a microsecond.
pub fn rfc3339_micros(text: &str) -> Option<i64> {
    // The parser reads a long fraction but keeps nine digits: anything finer than a microsecond
    // is refused here, before it could be dropped.
    if let Some(fraction) = text.get(19..).and_then(|rest| rest.strip_prefix('.')) {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit);
        if digits.skip(6).any(|d| d != b'0') {
            return None;
        }
    }
    let parsed = if text.as_bytes().get(10) == Some(&b' ') {
        let mut with_t = text.to_owned();
        with_t.replace_range(10..11, "T");
        OffsetDateTime::parse(&with_t, &Rfc3339)
    } else {
        OffsetDateTime::parse(text, &Rfc3339)
    }
    .ok()?;
    let nanos = parsed.unix_timestamp_nanos();
    if nanos % 1000 != 0 {
        return None;
    }
    i64::try_from(nanos / 1000).ok()
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// The current time in milliseconds since the Unix epoch (for ordering an owner's envelopes).
    fn now_millis(&self) -> u64 {
        u64::try_from(self.now().0)
            .unwrap_or(0)
            .saturating_mul(1000)
    }

    /// The current time in microseconds since the Unix epoch (for ordering an owner's decisions).
    fn now_micros(&self) -> u64 {
        self.now_millis().saturating_mul(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp())
    }

    fn now_millis(&self) -> u64 {
        u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    fn now_micros(&self) -> u64 {
        u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_as_rfc3339() {
        let t = Timestamp::parse("2026-11-21T08:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-21T08:00:00Z");
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
