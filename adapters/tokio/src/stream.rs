//! Streamed answers (`streamGenerateContent?alt=sse`) read as the frames arrive.

use std::collections::VecDeque;
use std::time::SystemTime;

use codeassist_core::flow::request::MAX_STREAM;
use codeassist_core::flow::{Request, TransportError, TransportErrorKind};
use codeassist_core::inference::{EventReader, StreamReader};
use codeassist_core::{ApiError, Error};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::AsyncDriver;
use crate::driver::Opening;

/// A streamed answer: [`AsyncResponseStream::next`] gives items in arrival order
/// (Gemini's [`StreamItem`](codeassist_core::inference::StreamItem)s by default, or
/// what another [`EventReader`] makes of the events), then, when the stream stopped
/// before its end (or the connection broke), one error.
#[derive(Debug)]
pub struct AsyncResponseStream<R: EventReader = StreamReader> {
    body: Incoming,
    /// The longest wait for the next bytes.
    idle: std::time::Duration,
    reader: R,
    pending: VecDeque<R::Item>,
    received: usize,
    ended: bool,
}

fn broken(detail: String) -> Error {
    ApiError::from_transport(&TransportError::new(TransportErrorKind::Reset, detail)).into()
}

impl<R: EventReader> AsyncResponseStream<R> {
    /// The next item, or `None` after the end.
    pub async fn next(&mut self) -> Option<Result<R::Item, Error>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.ended {
                return None;
            }
            let frame = match tokio::time::timeout(self.idle, self.body.frame()).await {
                Ok(frame) => frame,
                Err(_) => {
                    self.ended = true;
                    return Some(Err(ApiError::from_transport(&TransportError::new(
                        TransportErrorKind::Timeout,
                        format!("the stream was silent for {:?}", self.idle),
                    ))
                    .into()));
                }
            };
            match frame {
                None => {
                    self.ended = true;
                    if let Err(truncated) = self.reader.finish() {
                        return Some(Err(truncated));
                    }
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    self.received += data.len();
                    if self.received > MAX_STREAM {
                        self.ended = true;
                        return Some(Err(ApiError::from_transport(&TransportError::new(
                            TransportErrorKind::BodyTooLarge,
                            format!("the stream passed {MAX_STREAM} bytes"),
                        ))
                        .into()));
                    }
                    self.pending
                        .extend(self.reader.push(&data, SystemTime::now()));
                }
                Some(Err(error)) => {
                    self.ended = true;
                    return Some(Err(broken(error.to_string())));
                }
            }
        }
    }
}

impl AsyncResponseStream {
    pub(crate) fn new(body: Incoming, idle: std::time::Duration) -> Self {
        Self {
            body,
            idle,
            reader: StreamReader::new(),
            pending: VecDeque::new(),
            received: 0,
            ended: false,
        }
    }
}

impl<R: EventReader> AsyncResponseStream<R> {
    /// The same stream read with another reader (before anything was read).
    pub fn read_with<R2: EventReader>(self) -> AsyncResponseStream<R2> {
        AsyncResponseStream {
            body: self.body,
            idle: self.idle,
            reader: R2::default(),
            pending: VecDeque::new(),
            received: self.received,
            ended: self.ended,
        }
    }
}

impl AsyncDriver {
    /// Sends a streaming request once (see `codeassist_core::inference`) and returns
    /// its events as they arrive; a non-2xx answer is read whole and returned as the
    /// classified error. [`Client::stream`](crate::Client::stream) adds the token,
    /// retries of the opening exchange and 401 → refresh.
    pub async fn stream(&self, request: Request) -> Result<AsyncResponseStream, Error> {
        match self.open(request).await {
            Opening::Opened(_, stream) => Ok(stream),
            Opening::Answered(Ok(response)) => {
                Err(ApiError::from_response(&response, SystemTime::now()).into())
            }
            Opening::Answered(Err(failure)) => Err(ApiError::from_transport(&failure).into()),
        }
    }
}
