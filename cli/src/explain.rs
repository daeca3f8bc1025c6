//! `codeassist explain-error`: reads a failed response and says what it means.

use std::time::SystemTime;

use codeassist_core::ApiError;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The largest input read from stdin; the parser looks at no more than this anyway.
pub const MAX_INPUT: u64 = 8 * 1024 * 1024;
/// The most header lines read from one block (a real response has a few dozen).
pub const MAX_HEADERS: usize = 1000;

/// A response as `curl -i` prints it, split into its parts.
#[derive(Debug, PartialEq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers of the final response.
    pub headers: HeaderMap,
    /// The body, untouched.
    pub body: Vec<u8>,
}

/// Splits `curl -i` output: one or more header blocks (`HTTP/1.1 100 Continue`, proxy
/// `200 Connection established`), each a status line and headers ending with a blank
/// line, then the body. The last block is the response.
pub fn parse_curl_output(input: &[u8]) -> Result<RawResponse, String> {
    let mut rest = input;
    let mut response = None;
    while let Some(status) = status_line(rest) {
        let (head, body) = split_head(rest);
        let mut headers = HeaderMap::new();
        for line in head.split(|b| *b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some((name, value)) = split_header(line) {
                if headers.len() >= MAX_HEADERS {
                    return Err(format!(
                        "the input has more than {MAX_HEADERS} header lines; that is not a response"
                    ));
                }
                headers.append(name, value);
            }
        }
        response = Some((status, headers));
        rest = body;
    }
    let (status, headers) = response.ok_or_else(|| {
        "the input does not start with an HTTP status line (such as `HTTP/1.1 429 Too Many Requests`); \
         pass --status N to give the body alone"
            .to_owned()
    })?;
    Ok(RawResponse {
        status,
        headers,
        body: rest.to_vec(),
    })
}

fn status_line(input: &[u8]) -> Option<u16> {
    let start = input.iter().position(|b| !b.is_ascii_whitespace())?;
    let input = &input[start..];
    let line_end = input
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(input.len());
    let line = std::str::from_utf8(&input[..line_end]).ok()?;
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let code: u16 = words.next()?.parse().ok()?;
    (100..=599).contains(&code).then_some(code)
}

/// The head of a block (from its status line to the blank line) and what follows.
fn split_head(input: &[u8]) -> (&[u8], &[u8]) {
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let input = &input[start..];
    let mut at = 0;
    while let Some(newline) = input[at..].iter().position(|b| *b == b'\n') {
        let line_start = at + newline + 1;
        let rest = &input[line_start..];
        if rest.starts_with(b"\r\n") {
            return (&input[..line_start], &rest[2..]);
        }
        if rest.starts_with(b"\n") {
            return (&input[..line_start], &rest[1..]);
        }
        at = line_start;
    }
    (input, &[])
}

/// Parses `Name: value`; anything unreadable is skipped.
pub fn split_header(line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = HeaderName::from_bytes(line[..colon].trim_ascii()).ok()?;
    let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
    Some((name, value))
}

/// Parses, classifies and renders: the human line, or the JSON summary.
pub fn explain(response: &RawResponse, now: SystemTime, json: bool) -> String {
    let error = ApiError::from_parts(response.status, &response.headers, &response.body, now);
    if json {
        serde_json::to_string(&error.summary()).unwrap_or_else(|_| "{}".to_owned())
    } else {
        error.message().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_curl_i_output() {
        let input = b"HTTP/2 429 \r\ncontent-type: application/json\r\nretry-after: 7\r\n\r\n{\"error\": {}}";
        let parsed = parse_curl_output(input).unwrap();
        assert_eq!(parsed.status, 429);
        assert_eq!(parsed.headers["retry-after"], "7");
        assert_eq!(parsed.body, b"{\"error\": {}}");
    }

    #[test]
    fn the_last_header_block_wins() {
        let input = b"HTTP/1.1 100 Continue\n\nHTTP/1.1 503 Service Unavailable\nX-A: b\n\n<html>down</html>\n";
        let parsed = parse_curl_output(input).unwrap();
        assert_eq!(parsed.status, 503);
        assert_eq!(parsed.headers["x-a"], "b");
        assert_eq!(parsed.body, b"<html>down</html>\n");
    }

    #[test]
    fn headers_only_and_garbage() {
        let parsed = parse_curl_output(b"HTTP/1.1 404 Not Found\r\n").unwrap();
        assert_eq!(parsed.status, 404);
        assert!(parsed.body.is_empty());
        assert!(parse_curl_output(b"{\"error\": 1}").is_err());
        assert!(parse_curl_output(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_curl_output(b"").is_err());
    }
}
