//! `tls_days_left`: days until the server certificate expires, read from the certificate's
//! DER. Only `notAfter` is needed, so a small reader of the certificate's first fields does
//! (the certificate was already parsed and checked by rustls during the handshake).

use chrono::{DateTime, NaiveDate, Utc};

/// Whole days from `now` until the certificate's `notAfter` (negative once expired), or
/// `None` when the DER is not a certificate this reader understands.
pub(crate) fn days_left(certificate_der: &[u8], now: DateTime<Utc>) -> Option<i64> {
    let not_after = not_after(certificate_der)?;
    Some((not_after - now).num_seconds().div_euclid(86_400))
}

/// The certificate's `notAfter`.
pub(crate) fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
    //   serialNumber INTEGER, signature SEQUENCE, issuer SEQUENCE,
    //   validity SEQUENCE { notBefore Time, notAfter Time }, ... }, ... }
    let (tag, certificate, _) = tlv(der)?;
    (tag == SEQUENCE).then_some(())?;
    let (tag, tbs, _) = tlv(certificate)?;
    (tag == SEQUENCE).then_some(())?;
    let mut rest = tbs;
    let (tag, _, after) = tlv(rest)?;
    if tag == VERSION {
        rest = after;
    }
    for expected in [INTEGER, SEQUENCE, SEQUENCE] {
        let (tag, _, after) = tlv(rest)?;
        (tag == expected).then_some(())?;
        rest = after;
    }
    let (tag, validity, _) = tlv(rest)?;
    (tag == SEQUENCE).then_some(())?;
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, time, _) = tlv(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER tag-length-value: (tag, content, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(tag: u8, text: &str) -> Option<DateTime<Utc>> {
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        UTC_TIME if digits.len() == 12 => {
            let yy: i32 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        GENERALIZED_TIME if digits.len() == 14 => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| rest.get(i..i + 2)?.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(year, field(0)?, field(2)?)?
        .and_hms_opt(field(4)?, field(6)?, field(8)?)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(not_after: (i32, u8, u8)) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        // rcgen writes UTCTime before 2050 and GeneralizedTime from 2050 on.
        let der = certificate((2030, 6, 15));
        let expected = NaiveDate::from_ymd_opt(2030, 6, 15)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        assert_eq!(not_after(&der), Some(expected));
        let now = expected - chrono::TimeDelta::hours(36);
        assert_eq!(days_left(&der, now), Some(1));
        assert_eq!(
            days_left(&der, expected + chrono::TimeDelta::hours(1)),
            Some(-1)
        );
        let later = certificate((2051, 1, 2));
        assert_eq!(
            not_after(&later).map(|t| t.to_rfc3339()),
            Some("2051-01-02T00:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
        assert_eq!(parse_time(UTC_TIME, "2913"), None);
    }
}
