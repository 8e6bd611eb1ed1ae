//! Human durations as written in the CLI and config: `500ms`, `30s`, `5m`, `12h`, `30d`, `2w`.

use chrono::TimeDelta;

use crate::Timestamp;

/// A duration that could not be parsed; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {reason} (write e.g. 500ms, 30s, 5m, 12h, 30d, 2w)")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl DurationError {
    /// Why the text is not a duration, without the text itself.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// An instant as a user writes it that cannot be read (the caller shows the text with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    /// Neither a time, nor a date, nor an age.
    #[error(
        "is not a time: write RFC 3339 (2026-03-01T10:00:00Z), a date (2026-03-01) or an age \
         (30m, 24h, 7d)"
    )]
    NotATime,
    /// Written as an age, but not a valid one.
    #[error("is not an age: {0} (write e.g. 30m, 24h, 7d)")]
    BadAge(&'static str),
    /// A time outside the years both databases store and compare alike.
    #[error("is outside the years 1 to 9999")]
    OutOfRange,
}

/// Reads an instant as written on the command line or in the API: RFC 3339
/// (`2026-03-01T10:00:00Z`), a date (`2026-03-01`, midnight UTC), or an age (`24h`, `7d`:
/// that long before `now`). Every command and endpoint that takes a time reads it here.
pub fn parse_instant(text: &str, now: Timestamp) -> Result<Timestamp, InstantError> {
    let text = text.trim();
    let at = if text.starts_with(|c: char| c.is_ascii_digit())
        && text.ends_with(|c: char| c.is_ascii_alphabetic())
        && !text.contains(['-', ':'])
    {
        let age = parse_duration(text).map_err(|e| InstantError::BadAge(e.reason()))?;
        now.minus(age)
    } else if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Timestamp::from(date.and_time(chrono::NaiveTime::MIN).and_utc())
    } else {
        Timestamp::parse(text).map_err(|_| InstantError::NotATime)?
    };
    if !in_year_range(at) {
        return Err(InstantError::OutOfRange);
    }
    Ok(at)
}

/// Whether both backends can store and compare `at` (years 1 to 9999).
pub fn in_year_range(at: Timestamp) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.as_datetime().year())
}

/// The longest duration accepted: 100 years (36,500 days). An age this long reaches back to
/// before any result a monitor holds, and every instant it is subtracted from stays in the
/// range both databases store (PostgreSQL's timestamps begin in 4713 BC).
pub const MAX_DURATION_DAYS: i64 = 36_500;

/// Parses a positive duration made of one number and one unit (ms, s, m, h, d, w), at most
/// `MAX_DURATION_DAYS` days.
pub fn parse_duration(input: &str) -> Result<TimeDelta, DurationError> {
    let err = |reason| DurationError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| err("missing unit"))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(err("missing number"));
    }
    let n: i64 = number.parse().map_err(|_| err("number too large"))?;
    if n == 0 {
        return Err(err("must be greater than zero"));
    }
    let millis_per_unit: i64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return Err(err("unknown unit")),
    };
    let delta = n
        .checked_mul(millis_per_unit)
        .and_then(TimeDelta::try_milliseconds)
        .ok_or_else(|| err("number too large"))?;
    if delta > TimeDelta::days(MAX_DURATION_DAYS) {
        return Err(err("longer than 100 years (36500d)"));
    }
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(
            parse_duration("500ms").unwrap(),
            TimeDelta::milliseconds(500)
        );
        assert_eq!(parse_duration("30s").unwrap(), TimeDelta::seconds(30));
        assert_eq!(parse_duration("5m").unwrap(), TimeDelta::minutes(5));
        assert_eq!(parse_duration("12h").unwrap(), TimeDelta::hours(12));
        assert_eq!(parse_duration("30d").unwrap(), TimeDelta::days(30));
        assert_eq!(parse_duration(" 2w ").unwrap(), TimeDelta::weeks(2));
        assert_eq!(parse_duration("36500d").unwrap(), TimeDelta::days(36_500));
    }

    #[test]
    fn instants_are_times_dates_or_ages() {
        let now = Timestamp::parse("2026-03-10T12:00:00Z").unwrap();
        let at = |text| parse_instant(text, now).map(|t| t.to_string());
        assert_eq!(at("24h").unwrap(), "2026-03-09T12:00:00.000Z");
        assert_eq!(at(" 2026-03-01 ").unwrap(), "2026-03-01T00:00:00.000Z");
        assert_eq!(
            at("2026-03-01T10:00:00+01:00").unwrap(),
            "2026-03-01T09:00:00.000Z"
        );
        assert_eq!(at("36500d").unwrap(), "1926-04-04T12:00:00.000Z");
        assert_eq!(
            at("99999999999d"),
            Err(InstantError::BadAge("longer than 100 years (36500d)"))
        );
        assert_eq!(at("7x"), Err(InstantError::BadAge("unknown unit")));
        assert_eq!(at("yesterday"), Err(InstantError::NotATime));
        assert_eq!(at("12"), Err(InstantError::NotATime));
        assert_eq!(
            at("0001-01-01T00:00:00Z").unwrap(),
            "0001-01-01T00:00:00.000Z"
        );
        assert!(at("10000-01-01").is_err());
        assert_eq!(at("0000-12-31T00:00:00Z"), Err(InstantError::OutOfRange));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        for (input, reason) in [
            ("30", "missing unit"),
            ("d", "missing number"),
            ("0d", "greater than zero"),
            ("30x", "unknown unit"),
            ("-5d", "missing number"),
            ("99999999999999999999d", "too large"),
            ("99999999999d", "longer than 100 years"),
            ("36501d", "longer than 100 years"),
            ("5215w", "longer than 100 years"),
        ] {
            let message = parse_duration(input).unwrap_err().to_string();
            assert!(message.contains(reason), "{input}: {message}");
            assert!(message.contains(input.trim()), "{message}");
        }
    }
}
