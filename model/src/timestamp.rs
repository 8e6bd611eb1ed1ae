//! `Timestamp`: a UTC instant with millisecond precision, stored as `TIMESTAMPTZ(3)` on
//! PostgreSQL and as fixed-width ISO-8601 text (`2026-01-02T03:04:05.678Z`) on SQLite, so that
//! text order is time order and SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ')` defaults agree.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// A UTC instant truncated to milliseconds. In JSON it is always written with three
/// fraction digits (`2026-11-25T10:00:00.000Z`), so every timestamp of the API has one
/// shape; what `Timestamp::parse` reads is read (any RFC 3339 text, and the UTC forms a
/// database column may hold), truncated to milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.fixed_text() {
            Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => serializer.serialize_str(&self.to_sqlite_text()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    /// The instant as a chrono value.
    pub fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self)
    }

    /// This instant moved by `delta`, saturating at the ends of the representable range.
    pub fn plus(self, delta: TimeDelta) -> Self {
        match self.0.checked_add_signed(delta) {
            Some(t) => Self(t),
            None => Self::limit(delta >= TimeDelta::zero()),
        }
    }

    /// This instant moved back by `delta`, saturating at the ends of the representable range
    /// (never falling back to this instant: an age too long to subtract reaches back to the
    /// earliest instant, not to now).
    pub fn minus(self, delta: TimeDelta) -> Self {
        match self.0.checked_sub_signed(delta) {
            Some(t) => Self(t),
            None => Self::limit(delta < TimeDelta::zero()),
        }
    }

    /// The latest (`true`) or earliest representable instant, in whole milliseconds.
    fn limit(latest: bool) -> Self {
        let bound = if latest {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        };
        Self::from_unix_millis(bound.timestamp_millis()).expect("the bound itself is in range")
    }

    /// The SQLite text form, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_sqlite_text(self) -> String {
        match self.fixed_text() {
            Some(text) => String::from_utf8_lossy(&text).into_owned(),
            None => {
                use chrono::{Datelike, Timelike};
                let t = self.0;
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                    t.timestamp_subsec_millis().min(999)
                )
            }
        }
    }

    /// The SQLite text form written digit by digit, for years 0 to 9999 (None otherwise):
    /// timestamps are written a dozen times per execution recorded and three times per
    /// execution listed, and the formatting machinery cost more than the digits.
    fn fixed_text(self) -> Option<[u8; 24]> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: u32| {
            for slot in text[at..at + width].iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        put(20, 3, t.timestamp_subsec_millis().min(999));
        Some(text)
    }

    /// Reads the SQLite text form exactly (`YYYY-MM-DDTHH:MM:SS.mmmZ`), the form nearly
    /// every stored timestamp has, without a general parser; None for any other text.
    fn parse_fixed(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let shape = b.len() == 24
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z';
        if !shape {
            return None;
        }
        let number = |from: usize, to: usize| {
            b[from..to].iter().try_fold(0u32, |n, c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(number(0, 4)?).ok()?,
            number(5, 7)?,
            number(8, 10)?,
        )?;
        let time = date.and_hms_milli_opt(
            number(11, 13)?,
            number(14, 16)?,
            number(17, 19)?,
            number(20, 23)?,
        )?;
        Some(Self(time.and_utc()))
    }

    /// Parses the forms SQLite may hold: RFC 3339 (any offset) or `YYYY-MM-DD HH:MM:SS[.fff]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(at) = Self::parse_fixed(text) {
            return Ok(at);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::from(dt.with_timezone(&Utc)));
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(Self::from(naive.and_utc()));
            }
        }
        Err(format!("`{text}` is not a timestamp"))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.trunc_subsecs(3))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sqlite_text())
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut SqliteArgumentsBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.to_sqlite_text(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self::parse(text)?)
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self::from(<DateTime<Utc> as Decode<Postgres>>::decode(
            value,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_past_the_range_saturates_instead_of_staying_put() {
        let now = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
        let far_back = now.minus(TimeDelta::MAX);
        assert!(far_back < now.minus(TimeDelta::days(36_500 * 1000)));
        assert_eq!(far_back, now.plus(TimeDelta::MIN));
        let far_ahead = now.plus(TimeDelta::MAX);
        assert!(far_ahead > now.plus(TimeDelta::days(36_500 * 1000)));
        assert_eq!(far_ahead, now.minus(TimeDelta::MIN));
        assert_eq!(far_ahead.unix_millis() % 1000, 999, "whole milliseconds");
        assert_eq!(now.minus(TimeDelta::days(1)).plus(TimeDelta::days(1)), now);
    }

    #[test]
    fn sqlite_text_is_fixed_width_and_sorts_as_time() {
        let a = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
        let b = a.plus(TimeDelta::milliseconds(5));
        let c = a.plus(TimeDelta::seconds(1));
        assert_eq!(a.to_sqlite_text(), "2023-11-14T22:13:20.000Z");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"2023-11-14T22:13:20.000Z\"",
            "whole seconds keep their fraction in JSON"
        );
        let back: Timestamp = serde_json::from_str("\"2023-11-14T22:13:20Z\"").unwrap();
        assert_eq!(back, a);
        assert_eq!(b.to_sqlite_text(), "2023-11-14T22:13:20.005Z");
        assert!(a.to_sqlite_text() < b.to_sqlite_text());
        assert!(b.to_sqlite_text() < c.to_sqlite_text());
    }

    #[test]
    fn parses_every_form_sqlite_may_hold() {
        let expected = Timestamp::from_unix_millis(1_700_000_000_123).unwrap();
        for text in [
            "2023-11-14T22:13:20.123Z",
            "2023-11-14T22:13:20.123+00:00",
            "2023-11-14 22:13:20.123",
            "2023-11-14T23:13:20.123+01:00",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap(), expected, "{text}");
        }
        assert!(Timestamp::parse("yesterday").is_err());
        // JSON reads the same forms, truncated like a column.
        let read: Timestamp = serde_json::from_str("\"2023-11-14T23:13:20.123999+01:00\"").unwrap();
        assert_eq!(read, expected);
        let read: Timestamp = serde_json::from_str("\"2023-11-14 22:13:20.123\"").unwrap();
        assert_eq!(read, expected);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        // The fixed form read digit by digit refuses what the general parser refuses.
        for bad in [
            "2023-13-14T22:13:20.123Z",
            "2023-02-30T22:13:20.123Z",
            "2023-11-14T24:13:20.123Z",
            "2023-11-14T22:13:2x.123Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn years_past_four_digits_are_written_in_full() {
        let far = Timestamp::from(
            chrono::NaiveDate::from_ymd_opt(12_345, 6, 7)
                .unwrap()
                .and_hms_milli_opt(8, 9, 10, 11)
                .unwrap()
                .and_utc(),
        );
        assert_eq!(far.to_sqlite_text(), "12345-06-07T08:09:10.011Z");
        let ancient = Timestamp::from_unix_millis(-62_198_755_200_000).unwrap();
        assert!(ancient.to_sqlite_text().starts_with('-'), "{ancient}");
        let text = serde_json::to_string(&far).unwrap();
        assert_eq!(text, "\"12345-06-07T08:09:10.011Z\"");
    }

    #[test]
    fn truncates_to_milliseconds() {
        let dt = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(Timestamp::from(dt).unix_millis(), 1_700_000_000_123);
    }
}
