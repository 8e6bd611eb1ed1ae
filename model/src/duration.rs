//! Human durations as written in the CLI and config: `500ms`, `30s`, `5m`, `12h`, `30d`, `2w`.

use chrono::TimeDelta;

/// A duration that could not be parsed; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {reason} (write e.g. 500ms, 30s, 5m, 12h, 30d, 2w)")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

/// Parses a positive duration made of one number and one unit (ms, s, m, h, d, w).
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
    n.checked_mul(millis_per_unit)
        .and_then(TimeDelta::try_milliseconds)
        .ok_or_else(|| err("number too large"))
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
        ] {
            let message = parse_duration(input).unwrap_err().to_string();
            assert!(message.contains(reason), "{input}: {message}");
            assert!(message.contains(input.trim()), "{message}");
        }
    }
}
