//! An incremental server-sent-events decoder (the WHATWG event-stream format).
//!
//! Fed byte chunks split anywhere (inside a UTF-8 sequence, between `\r` and `\n`),
//! it yields the same events as if the whole stream had arrived at once. Comments
//! (`:`), `id:` and `retry:` are ignored; `data:` lines are joined with `\n`; lines and
//! events are bounded.
//!
//! ```text
//!  bytes ──▶ line buffer ──CR / LF / CRLF──▶ field ──"data"──▶ event data (+ "\n")
//!              │ over MAX_LINE: skip to the      │ empty line: dispatch the event
//!              │ line's end (one error)          │ (if it has data), then start anew
//!              ▼                                 ▼
//!           skipping_line                 over MAX_EVENT: skip the event's
//!                                          remaining data (one error) until dispatch
//! ```

use std::fmt;

/// The longest line accepted, in bytes.
pub const MAX_LINE: usize = 1024 * 1024;
/// The most data one event may carry, in bytes.
pub const MAX_EVENT: usize = 8 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SseEvent {
    /// The `event:` field, when one was given (the spec's default is `message`).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// A stream that broke the decoder's bounds. The decoder skips the offending line or
/// event and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line longer than [`MAX_LINE`].
    #[error("an event-stream line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// An event with more than [`MAX_EVENT`] bytes of data.
    #[error("an event carries more than {MAX_EVENT} bytes of data")]
    EventTooLarge,
}

/// The decoder's state between chunks.
#[derive(Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` opening the next one belongs to it.
    after_cr: bool,
    /// The current line is over the limit and is being skipped.
    skipping_line: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    skipping_event: bool,
}

impl fmt::Debug for SseDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseDecoder")
            .field("buffered_line", &self.line.len())
            .field("buffered_data", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk; every event it completes is pushed to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        let mut rest = chunk;
        if rest.is_empty() {
            // An empty chunk must not forget a `\r` that ended the previous one.
            return;
        }
        if self.after_cr {
            self.after_cr = false;
            if let [b'\n', tail @ ..] = rest {
                rest = tail;
            }
        }
        while let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.end_line(&rest[..end], out);
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => rest = &rest[end + 2..],
                    Some(_) => rest = &rest[end + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[end + 1..];
            }
        }
        self.push_bytes(rest, out);
    }

    /// True when the stream stopped in the middle of an event (data was buffered but
    /// never dispatched by a blank line).
    pub fn is_mid_event(&self) -> bool {
        self.has_data || !self.line.is_empty()
    }

    fn push_bytes(&mut self, bytes: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        if self.skipping_line || bytes.is_empty() {
            return;
        }
        if self.line.len() + bytes.len() > MAX_LINE {
            self.line.clear();
            self.skipping_line = true;
            out.push(Err(SseError::LineTooLong));
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    /// Ends the current line, whose last bytes are `tail`.
    fn end_line(&mut self, tail: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        if self.line.is_empty() && !self.skipping_line {
            // The common case: the whole line is in this chunk; no copy.
            self.process_line(tail, out);
            return;
        }
        self.push_bytes(tail, out);
        if std::mem::take(&mut self.skipping_line) {
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.process_line(&line, out);
        // Keep the buffer's allocation for the next split line.
        self.line = line;
        self.line.clear();
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Result<SseEvent, SseError>>) {
        if line.len() > MAX_LINE {
            out.push(Err(SseError::LineTooLong));
            return;
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = crate::error::lossy_utf8(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" if !self.skipping_event => {
                if self.data.len() + value.len() + 1 > MAX_EVENT {
                    self.data.clear();
                    self.has_data = false;
                    self.skipping_event = true;
                    out.push(Err(SseError::EventTooLarge));
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            // `id`, `retry` and unknown fields are ignored, as the spec says.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Result<SseEvent, SseError>>) {
        self.skipping_event = false;
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(Ok(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<Result<SseEvent, SseError>> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out);
        }
        out
    }

    fn data(events: &[Result<SseEvent, SseError>]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .map(|e| e.data.clone())
            .collect()
    }

    #[test]
    fn the_spec_basics() {
        let events = decode(&[b": comment\nid: 1\nretry: 10\nevent: add\ndata: a\ndata:b\ndata\n\ndata: c\r\n\r\ndata: d\r\rdata: e\n"]);
        assert_eq!(data(&events), ["a\nb\n", "c", "d"]);
        assert_eq!(events[0].as_ref().unwrap().event.as_deref(), Some("add"));
        assert_eq!(events[1].as_ref().unwrap().event, None);
    }

    #[test]
    fn splits_anywhere() {
        let whole = "data: {\"a\": \"é\"}\r\n\r\ndata: x\n\n".as_bytes();
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(
                data(&decode(&[a, b])),
                ["{\"a\": \"é\"}", "x"],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf_changes_nothing() {
        // Found by fuzzing: the empty chunk used to forget the pending `\r`.
        let events = decode(&[b"data: a\r", b"", b"\ndata: b\n"]);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(data(&decode(&[b"data: a\r", b"", b"\n\n"])), ["a"]);
    }

    #[test]
    fn bounds_skip_and_recover() {
        let long = vec![b'x'; MAX_LINE + 1];
        let mut stream = b"data: ".to_vec();
        stream.extend_from_slice(&long);
        stream.extend_from_slice(b"\n\ndata: ok\n\n");
        let events = decode(&[&stream]);
        assert_eq!(events[0], Err(SseError::LineTooLong));
        assert_eq!(data(&events), ["ok"]);
    }

    #[test]
    fn an_unfinished_event_is_noticed() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder.feed(b"data: partial\n", &mut out);
        assert!(out.is_empty());
        assert!(decoder.is_mid_event());
        decoder.feed(b"\n", &mut out);
        assert!(!decoder.is_mid_event());
        assert_eq!(data(&out), ["partial"]);
    }
}
