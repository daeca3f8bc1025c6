//! The quick scan: what the classifier needs, read straight from a JSON error body.
//!
//! Routing needs the class and the retry delay, not the whole envelope. This pass
//! reads the common shape (`{"error": {...}}` with string fields, object details, a
//! message that is not itself an envelope) in one walk over the bytes, borrows every
//! string it looks at and keeps none, so it allocates nothing unless a string it reads
//! holds an escape. The full [`Envelope`](super::Envelope) is parsed later by
//! serde_json, if anyone asks for it.
//!
//! It is a strict reader of a subset of JSON: anything it is not sure to read exactly
//! as the full parser does stops it, and the caller falls back to the full parse.
//! That covers syntax errors, `\u` escapes, numbers with a fraction or an exponent,
//! deep nesting, fields of an unexpected JSON type, a repeated `error` or `details`
//! key, keys with spaces around them, long lists and nested envelopes. Whatever it
//! accepts, serde_json accepts too and the full parse yields the same signals; a test
//! and a fuzz target hold it to that.
//!
//! Why not serde_json here: its visitors cost about three times a bare validation of
//! the same bytes, and this pass runs on every failed request a host routes.

use std::borrow::Cow;

use super::class::{DetailSignals, QuotaPeriod, ReasonSet, Signals, names_a_model};
use super::delay::parse_delay_text;
use super::envelope::capped;

/// Bodies up to this size are scanned quickly and kept for a full parse on demand;
/// larger ones are parsed in full at once.
pub(crate) const MAX_DEFERRED_BODY: usize = 64 * 1024;

/// Arrays and objects longer than this stop the scan (the full parser caps lists and
/// maps at 32, and a capped list is one it cannot mirror item by item).
const MAX_SCANNED_ITEMS: usize = 16;

/// Nesting deeper than this stops the scan (serde_json refuses beyond 128).
const MAX_DEPTH: usize = 64;

/// The JSON document in `body` and its signals, when the quick scan can read it.
pub(crate) fn quick(body: &[u8]) -> Option<(&[u8], Signals<'_>)> {
    if body.len() > MAX_DEFERRED_BODY {
        return None;
    }
    // Trimmed as the full parser trims: byte order marks first, then spaces.
    let mut json = body;
    while let Some(rest) = json.strip_prefix("\u{feff}".as_bytes()) {
        json = rest;
    }
    let json = json.trim_ascii();
    if json.first() != Some(&b'{') {
        return None;
    }
    let text = std::str::from_utf8(json).ok()?;
    scan(text).map(|signals| (json, signals))
}

/// The signals of a JSON document, or `None` when the scan cannot read it exactly.
pub(crate) fn scan(json: &str) -> Option<Signals<'_>> {
    let mut cursor = Cursor {
        text: json,
        bytes: json.as_bytes(),
        at: 0,
        depth: 0,
    };
    cursor.ws();
    let signals = cursor.top()?;
    cursor.ws();
    (cursor.at == json.len()).then_some(signals)
}

/// A position in the document. Every method returns `None` to stop the scan.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// An object, handing each key to `field` with the cursor on its value; `field`
    /// must consume the value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.sequence(b'{', b'}', |cursor| {
            let key = cursor.string(true)?;
            cursor.ws();
            cursor.eat(b':')?;
            cursor.ws();
            field(cursor, &key)
        })
    }

    /// An array, calling `element` with the cursor on each element; `element` must
    /// consume it.
    fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.sequence(b'[', b']', element)
    }

    /// `open`, at most [`MAX_SCANNED_ITEMS`] items separated by commas, `close`.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.enter()?;
        self.ws();
        if self.eat(close).is_none() {
            let mut count = 0;
            loop {
                count += 1;
                if count > MAX_SCANNED_ITEMS {
                    return None;
                }
                item(self)?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    byte if byte == close => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A string. With `decode`, its content (borrowed unless it has escapes);
    /// without, only checked and skipped (the result is empty).
    fn string(&mut self, decode: bool) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        let mut end = start + plain_len(&self.bytes[start..]);
        if self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Some(Cow::Borrowed(if decode {
                self.text.get(start..end)?
            } else {
                ""
            }));
        }
        let mut decoded = String::new();
        if decode {
            decoded.push_str(self.text.get(start..end)?);
        }
        loop {
            match self.bytes.get(end)? {
                b'"' => {
                    self.at = end + 1;
                    return Some(Cow::Owned(decoded));
                }
                b'\\' => {
                    let unescaped = match self.bytes.get(end + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        // `\u` (and surrogates) are left to serde_json.
                        _ => return None,
                    };
                    let from = end + 2;
                    end = from + plain_len(&self.bytes[from..]);
                    if decode {
                        decoded.push(unescaped);
                        decoded.push_str(self.text.get(from..end)?);
                    }
                }
                // A control character, which JSON forbids inside strings.
                _ => return None,
            }
        }
    }

    /// A string value, capped as the full parser caps it; any other type stops.
    fn capped_string(&mut self) -> Option<Cow<'a, str>> {
        Some(match self.string(true)? {
            Cow::Borrowed(text) => Cow::Borrowed(capped(text)),
            Cow::Owned(text) => Cow::Owned(capped(&text).to_owned()),
        })
    }

    /// An integer: `Some(value)` when it is non-negative and fits, `None` inside for a
    /// negative one. Fractions, exponents and long numbers stop the scan.
    fn integer(&mut self) -> Option<Option<u64>> {
        let negative = self.eat(b'-').is_some();
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = self.text.get(start..self.at)?;
        let well_formed = match digits.len() {
            0 => false,
            1 => true,
            len => len <= 18 && !digits.starts_with('0'),
        };
        if !well_formed || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        Some((!negative).then_some(value))
    }

    /// Checks and skips one value of any type.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(false).map(drop),
            b'{' => self.object(|cursor, key| cursor.skip_field(key)),
            b'[' => self.array(Self::skip_value),
            b'-' | b'0'..=b'9' => self.integer().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => None,
        }
    }

    /// Skips the value of a key the scan does not read, unless the full parser would
    /// read the key as another after trimming it.
    fn skip_field(&mut self, key: &str) -> Option<()> {
        if may_need_trim(key) {
            return None;
        }
        self.skip_value()
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        rest.starts_with(word.as_bytes())
            .then(|| self.at += word.len())
    }

    /// The document: an object whose `error` is an object.
    fn top(&mut self) -> Option<Signals<'a>> {
        let mut signals = None;
        self.object(|cursor, key| match key {
            "error" if signals.is_some() => None,
            "error" => {
                signals = Some(cursor.error_object()?);
                Some(())
            }
            _ => cursor.skip_field(key),
        })?;
        signals
    }

    /// The `error` object.
    fn error_object(&mut self) -> Option<Signals<'a>> {
        let mut signals = Signals::default();
        let mut saw_details = false;
        self.object(|cursor, key| {
            match key {
                "code" => {
                    signals.code = cursor
                        .integer()?
                        .and_then(|code| u16::try_from(code).ok())
                        .filter(|code| (100..=599).contains(code));
                }
                "status" => signals.grpc = cursor.capped_string()?,
                "message" => signals.text = cursor.capped_string()?,
                "details" if saw_details => return None,
                "details" => {
                    saw_details = true;
                    signals.details = cursor.details()?;
                }
                _ => cursor.skip_field(key)?,
            }
            Some(())
        })?;
        // A message holding another envelope is unwrapped by the full parser.
        if signals.text.trim_start().starts_with(['{', '[']) {
            return None;
        }
        Some(signals)
    }

    /// `error.details`: a short list of objects.
    fn details(&mut self) -> Option<DetailSignals> {
        let mut signals = DetailSignals::default();
        self.array(|cursor| {
            signals = signals.then(cursor.detail()?);
            Some(())
        })?;
        Some(signals)
    }

    /// One detail object: its fields are read whatever their order, and count once its
    /// `@type` is known. As in the full parser, a repeated key replaces the earlier one.
    fn detail(&mut self) -> Option<DetailSignals> {
        let mut kind = DetailType::Other;
        let mut reasons = ReasonSet::default();
        let mut model_in_metadata = false;
        let mut retry_delay = None;
        let mut quota = QuotaPeriod::default();
        self.object(|cursor, key| {
            match key {
                "@type" => kind = DetailType::of(&cursor.string(true)?),
                "reason" => reasons = ReasonSet::of(&cursor.capped_string()?),
                "metadata" => model_in_metadata = cursor.metadata()?,
                "retryDelay" => retry_delay = parse_delay_text(&cursor.string(true)?),
                "violations" | "links" | "fieldViolations" => quota = cursor.entries()?,
                _ => cursor.skip_field(key)?,
            }
            Some(())
        })?;
        Some(match kind {
            DetailType::ErrorInfo => DetailSignals {
                reasons,
                model_in_metadata,
                ..DetailSignals::default()
            },
            DetailType::RetryInfo => DetailSignals {
                retry_info: retry_delay,
                ..DetailSignals::default()
            },
            DetailType::QuotaFailure => DetailSignals {
                quota,
                ..DetailSignals::default()
            },
            DetailType::Other => DetailSignals::default(),
        })
    }

    /// ErrorInfo `metadata`: whether it names a model (`model`, else `modelId`).
    fn metadata(&mut self) -> Option<bool> {
        let (mut model, mut model_id) = (None, None);
        self.object(|cursor, key| {
            match key {
                "model" => model = Some(names_a_model(&cursor.capped_string()?)),
                "modelId" => model_id = Some(names_a_model(&cursor.capped_string()?)),
                _ => cursor.skip_field(key)?,
            }
            Some(())
        })?;
        Some(model.or(model_id).unwrap_or(false))
    }

    /// A list of violations or links: the periods their `quotaId`s name.
    fn entries(&mut self) -> Option<QuotaPeriod> {
        let mut period = QuotaPeriod::default();
        self.array(|cursor| {
            let mut entry = QuotaPeriod::default();
            cursor.object(|cursor, key| match key {
                "quotaId" => {
                    entry = QuotaPeriod::of(&cursor.capped_string()?);
                    Some(())
                }
                _ => cursor.skip_field(key),
            })?;
            period = period.union(entry);
            Some(())
        })?;
        Some(period)
    }
}

/// How many bytes at the start of `bytes` can be inside a string as they are: up to
/// the first quote, backslash or control character (or the end). Eight bytes at a
/// time, the way serde_json skips strings.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // The high bit of each byte of `word` below `n` (n <= 128). Bits above the first
    // such byte may be wrong; the lowest one is exact.
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let special = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if special != 0 {
            // Little-endian: the lowest set bit marks the first special byte.
            return at + special.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    let tail = bytes.get(at..).unwrap_or_default();
    at + tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(tail.len())
}

/// True when `key` starts or ends with a byte that could begin or end whitespace
/// (ASCII space and controls, or any non-ASCII character): the full parser trims keys.
fn may_need_trim(key: &str) -> bool {
    let suspicious = |byte: &u8| *byte <= b' ' || !byte.is_ascii();
    key.as_bytes().first().is_some_and(suspicious) || key.as_bytes().last().is_some_and(suspicious)
}

/// The `@type`s the classifier reads.
#[derive(Clone, Copy, PartialEq)]
enum DetailType {
    ErrorInfo,
    RetryInfo,
    QuotaFailure,
    Other,
}

impl DetailType {
    fn of(type_url: &str) -> Self {
        match type_url {
            "type.googleapis.com/google.rpc.ErrorInfo" => return Self::ErrorInfo,
            "type.googleapis.com/google.rpc.RetryInfo" => return Self::RetryInfo,
            "type.googleapis.com/google.rpc.QuotaFailure" => return Self::QuotaFailure,
            _ => {}
        }
        let type_url = capped(type_url);
        match type_url.rsplit('/').next().unwrap_or(type_url).trim() {
            "google.rpc.ErrorInfo" => Self::ErrorInfo,
            "google.rpc.RetryInfo" => Self::RetryInfo,
            "google.rpc.QuotaFailure" => Self::QuotaFailure,
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;

    const CAPACITY: &str = r#"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com", "metadata": {"model": "gemini-2.5-pro"}}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.5s"}]}}"#;

    /// Asserts that the quick scan agrees with the full parse, and whether it read it.
    fn agrees(body: &str) -> bool {
        ApiError::check_quick_scan(429, body.as_bytes())
            .unwrap_or_else(|difference| panic!("{body}\n{difference}"))
    }

    #[test]
    fn reads_the_common_shapes() {
        let read = [
            CAPACITY,
            r#"{"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}"#,
            r#"{"error": {}}"#,
            r#"{"error": {"message": "line one\nline \"two\" \\ \/ \t"}}"#,
            r#"  {"error": {"code": 404, "message": "models/gemini-9 is not found"}}  "#,
            "\u{feff}{\"error\": {\"code\": 503, \"status\": \"UNAVAILABLE\"}}",
            r#"{"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                "quotaDimensions": {"model": "gemini-2.5-pro", "location": "global"}}]}]}}"#,
            r#"{"error": {"details": [{"@type": "google.rpc.ErrorInfo ", "reason": " quota_exhausted "}]}}"#,
            r#"{"error": {"code": 7000, "details": [], "extra": [1, -2, true, false, null, {"a": [[]]}]}, "other": 0}"#,
            r#"{"error": {"code": 404, "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "metadata": {"model": " ", "modelId": "gemini"}}]}}"#,
            r#"{"error": {"code": 429, "message": "a", "message": "limit: 0", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s", "retryDelay": "400s"}]}}"#,
        ];
        for body in read {
            assert!(agrees(body), "not read: {body}");
        }
    }

    #[test]
    fn leaves_the_unusual_to_the_full_parser() {
        let left = [
            r#"{"error": "invalid_grant", "error_description": "Bad Request"}"#,
            r#"[{"error": {"code": 429}}]"#,
            r#"{"error": {"code": 429}, "error": {"code": 500}}"#,
            r#"{"error": {"details": [], "details": []}}"#,
            r#"{" error": {"code": 429}}"#,
            r#"{"error": {"code": 429, "message": "\u0041"}}"#,
            r#"{"error": {"code": 429, "x": "\ud800"}}"#,
            r#"{"error": {"code": 429.0}}"#,
            r#"{"error": {"code": "429"}}"#,
            r#"{"error": {"code": 429, "x": 1e999}}"#,
            r#"{"error": {"code": 429, "x": 01}}"#,
            r#"{"error": {"code": 429, "message": 5}}"#,
            r#"{"error": {"code": 429, "message": " {\"error\": {\"code\": 503}}"}}"#,
            r#"{"error": {"code": 429, "details": {}}}"#,
            r#"{"error": {"code": 429, "details": [1]}}"#,
            r#"{"error": {"code": 429}"#,
            r#"{"error": {"code": 429}} x"#,
            r#"{"error": {"code": 429,}}"#,
            r#"{"error": {"code": 429, "x": tru}}"#,
            r#"{"error": {"code": 429, "message": "tab	inside"}}"#,
            r#"{"code": 429}"#,
        ];
        for body in left {
            assert!(!agrees(body), "read: {body}");
        }
        let deep = format!(
            "{{\"error\": {{\"x\": {}{}}}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(!agrees(&deep));
        let long_list = format!(
            "{{\"error\": {{\"details\": [{}]}}}}",
            vec!["{}"; 17].join(",")
        );
        assert!(!agrees(&long_list));
        assert!(!agrees(&format!("{CAPACITY}\u{a0}")));
    }

    #[test]
    fn caps_what_it_reads_like_the_full_parser() {
        let long_reason = format!(
            r#"{{"error": {{"code": 429, "details": [{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "{}QUOTA_EXHAUSTED"}}]}}}}"#,
            " ".repeat(2040)
        );
        assert!(agrees(&long_reason));
        let long_message = format!(
            r#"{{"error": {{"code": 429, "message": "{}é daily"}}}}"#,
            "x".repeat(2045)
        );
        assert!(agrees(&long_message));
    }

    #[test]
    fn string_scanning_finds_every_special_byte() {
        for special in [b'"', b'\\', 0x00, 0x1f] {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = special;
                assert_eq!(plain_len(&bytes), at, "byte {special:#x} at {at}");
            }
        }
        assert_eq!(plain_len(&[b'a'; 19]), 19);
        assert_eq!(plain_len("ééé€€ 🙂\"".as_bytes()), "ééé€€ 🙂".len());
    }
}
