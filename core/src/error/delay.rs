//! Reading retry delays: protobuf `Duration` JSON, `Retry-After`, and "retry in 5s"
//! phrases in messages.
//!
//! Every reader refuses negative, non-finite and absurd values (more than
//! [`MAX_PLAUSIBLE_DELAY`]) by returning `None`: a host is better served by its own
//! backoff than by a nonsense wait.

use std::time::{Duration, SystemTime};

use serde_json::Value;

/// The longest delay taken at face value: 30 days. Anything longer is treated as
/// garbage and reported as no delay.
pub const MAX_PLAUSIBLE_DELAY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Reads a protobuf `Duration` as JSON: `"3.5s"`, `"0.000500s"`, `"30s"`; also
/// `"900ms"`, bare numbers (seconds) and the `{"seconds": 3, "nanos": 5}` object form.
pub fn parse_protobuf_duration(value: &Value) -> Option<Duration> {
    match value {
        Value::String(text) => parse_delay_text(text),
        Value::Number(number) => seconds(number.as_f64()?),
        Value::Object(object) => {
            let whole = object.get("seconds").map_or(Some(0.0), |v| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })?;
            let nanos = object.get("nanos").and_then(Value::as_f64).unwrap_or(0.0);
            seconds(whole + nanos / 1e9)
        }
        _ => None,
    }
}

/// Reads a delay written as text: `"3.5s"`, `"900.2ms"`, `"45"` (seconds).
pub fn parse_delay_text(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, millis) = if let Some(number) = text.strip_suffix("ms") {
        (number, true)
    } else {
        (text.strip_suffix('s').unwrap_or(text), false)
    };
    let (whole, nanos) = decimal(number.trim())?;
    let delay = if millis {
        // The whole part in milliseconds, the fraction of one in nanoseconds.
        Duration::from_millis(whole).checked_add(Duration::from_nanos(u64::from(nanos) / 1000))?
    } else {
        Duration::new(whole, nanos)
    };
    (delay <= MAX_PLAUSIBLE_DELAY).then_some(delay)
}

/// A plain decimal number (`3.5`, `0.000500`, `12`, `.5`, `7.`): its whole part and
/// its fraction in billionths (digits past the ninth are dropped). Exact, unlike a
/// float, and refuses what `f64::from_str` would also take ("inf", "NaN", "1e9",
/// "-1").
fn decimal(number: &str) -> Option<(u64, u32)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |nanos, digit| nanos * 10 + u32::from(digit - b'0'));
    Some((whole, nanos))
}

/// Reads a `Retry-After` header value: delta-seconds, or an HTTP-date taken relative
/// to `now` (a date in the past means "now": zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return parse_delay_text(value);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let delay = when.duration_since(now).unwrap_or(Duration::ZERO);
    (delay <= MAX_PLAUSIBLE_DELAY).then_some(delay)
}

/// Finds a delay announced in a message: "Please retry in 5s", "retry in 900.2ms",
/// "retry after 3 seconds".
pub fn delay_in_message(message: &str) -> Option<Duration> {
    delay_in_lowered(&message.to_ascii_lowercase())
}

/// A Go duration, as Google writes quota reset delays: `25h20m26.18s`,
/// `539.477544ms`, `9h22m20s`, `1m`, `300us`. `None` unless the whole text is one.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let (scale, unit_len) = [
            ("ms", 1e-3),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ns", 1e-9),
            ("h", 3600.0),
            ("m", 60.0),
            ("s", 1.0),
        ]
        .iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .map(|(unit, scale)| (*scale, unit.len()))?;
        total += number * scale;
        rest = &rest[unit_len..];
    }
    seconds(total)
}

/// [`delay_in_message`] on a message already lower-cased.
pub(crate) fn delay_in_lowered(lower: &str) -> Option<Duration> {
    for marker in ["retry in ", "retry after ", "try again in "] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(marker) {
            let start = from + found + marker.len();
            from = start;
            let rest = &lower[start..];
            let number_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.')
                .count();
            if number_len == 0 {
                continue;
            }
            let number = rest[..number_len].trim_end_matches('.');
            let unit = rest[number_len..].trim_start();
            let scale = if unit.starts_with("ms") || unit.starts_with("millisecond") {
                1e-3
            } else if unit.starts_with("min") {
                60.0
            } else if unit.starts_with('h') {
                3600.0
            } else {
                1.0
            };
            if let Some(delay) = number.parse::<f64>().ok().and_then(|n| seconds(n * scale)) {
                return Some(delay);
            }
        }
    }
    // Then "Resets in 9h22m20s", "Your quota will reset after 8h44m7s": Go durations.
    for marker in ["resets in ", "reset in ", "reset after "] {
        if let Some(found) = lower.find(marker) {
            let rest = &lower[found + marker.len()..];
            let word: &str = rest
                .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')'))
                .next()
                .unwrap_or("")
                .trim_end_matches('.');
            if let Some(delay) = parse_go_duration(word) {
                return Some(delay);
            }
        }
    }
    None
}

fn seconds(value: f64) -> Option<Duration> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|delay| *delay <= MAX_PLAUSIBLE_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    #[test]
    fn protobuf_durations() {
        let cases = [
            (json!("3.5s"), Some(Duration::from_millis(3500))),
            (json!("0.000500s"), Some(Duration::from_micros(500))),
            (json!("30s"), Some(Duration::from_secs(30))),
            (json!("1.000340s"), Some(Duration::from_micros(1_000_340))),
            (json!("900ms"), Some(Duration::from_millis(900))),
            (json!("12"), Some(Duration::from_secs(12))),
            (json!(2.5), Some(Duration::from_millis(2500))),
            (
                json!({"seconds": 3, "nanos": 500_000_000}),
                Some(Duration::from_millis(3500)),
            ),
            (json!({"seconds": "7"}), Some(Duration::from_secs(7))),
            (json!("-1s"), None),
            (json!("NaNs"), None),
            (json!("infs"), None),
            (json!("1e9s"), None),
            (json!("1.2.3s"), None),
            (json!("."), None),
            (json!("+3s"), None),
            (json!(".5s"), Some(Duration::from_millis(500))),
            (json!("7.s"), Some(Duration::from_secs(7))),
            (json!("41.837485162s"), Some(Duration::new(41, 837_485_162))),
            (json!("1.0000000019s"), Some(Duration::new(1, 1))),
            (json!("900.25ms"), Some(Duration::from_micros(900_250))),
            (json!("99999999999999999999999s"), None),
            (json!("99999999999s"), None),
            (json!("s"), None),
            (json!(""), None),
            (json!(null), None),
            (json!(-3), None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_protobuf_duration(&value), expected, "{value}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("45", now), Some(Duration::from_secs(45)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(
            parse_retry_after("Fri, 21 Oct 2095 07:28:00 GMT", now),
            None
        );
    }

    #[test]
    fn phrases_in_messages() {
        assert_eq!(
            delay_in_message("You have exhausted your capacity. Please retry in 5s."),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            delay_in_message("Quota exceeded, retry in 900.2ms"),
            Some(Duration::from_micros(900_200))
        );
        assert_eq!(
            delay_in_message("retry after 2 minutes"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(delay_in_message("retry in a while"), None);
        assert_eq!(
            delay_in_message("You exceeded your quota. Resets in 9h22m20s."),
            Some(Duration::from_secs(9 * 3600 + 22 * 60 + 20))
        );
        assert_eq!(
            delay_in_message("Your quota will reset after 8h44m7s"),
            Some(Duration::from_secs(8 * 3600 + 44 * 60 + 7))
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("25h20m26.18s"),
            Some(Duration::from_secs_f64(25.0 * 3600.0 + 20.0 * 60.0 + 26.18))
        );
        assert_eq!(
            parse_go_duration("539.477544ms"),
            Some(Duration::from_secs_f64(0.539477544))
        );
        for bad in ["", "5", "h", "5x", "1h-2m", "9999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        assert_eq!(delay_in_message("nothing to see"), None);
    }
}
