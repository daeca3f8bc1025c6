//! Streamed answers (`streamGenerateContent?alt=sse`) read as the bytes arrive.

use std::collections::VecDeque;
use std::io::Read;
use std::time::{Instant, SystemTime};

use codeassist_core::flow::{Request, Response, TransportError, TransportErrorKind};
use codeassist_core::inference::{StreamItem, StreamReader};
use codeassist_core::retry::{AttemptState, Decision, RetryPolicy};
use codeassist_core::{ApiError, Error, SplitMix64};

use crate::BlockingDriver;

/// The largest streamed answer read, in bytes.
pub const MAX_STREAM: u64 = 256 * 1024 * 1024;

/// A streamed answer: an iterator of [`StreamItem`]s in arrival order, then, when the
/// stream stopped before a finish reason (or the connection broke), one error.
pub struct ResponseStream {
    body: Box<dyn Read + Send>,
    reader: StreamReader,
    pending: VecDeque<StreamItem>,
    ended: bool,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("pending", &self.pending.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Iterator for ResponseStream {
    type Item = Result<StreamItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.ended {
                return None;
            }
            match self.body.read(&mut buffer) {
                Ok(0) => {
                    self.ended = true;
                    if let Err(truncated) = self.reader.finish() {
                        return Some(Err(truncated));
                    }
                }
                Ok(read) => self
                    .pending
                    .extend(self.reader.push(&buffer[..read], SystemTime::now())),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.ended = true;
                    let failure = TransportError::new(TransportErrorKind::Reset, error.to_string());
                    return Some(Err(ApiError::from_transport(&failure).into()));
                }
            }
        }
    }
}

impl BlockingDriver {
    /// Sends a streaming request (see `codeassist_core::inference`) and returns its
    /// events as they arrive. A non-2xx answer is read whole and returned as the
    /// classified error.
    pub fn stream(&self, request: Request) -> Result<ResponseStream, Error> {
        let response = self.agent().run(request).map_err(|error| {
            Error::from(ApiError::from_transport(&crate::transport_error(&error)))
        })?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            let bytes = body
                .into_with_config()
                .limit(crate::DEFAULT_MAX_BODY)
                .read_to_vec()
                .map_err(|error| {
                    Error::from(ApiError::from_transport(&crate::transport_error(&error)))
                })?;
            let response = Response::from_parts(parts, bytes);
            return Err(ApiError::from_response(&response, SystemTime::now()).into());
        }
        let body = body.into_with_config().limit(MAX_STREAM).reader();
        Ok(ResponseStream {
            body: Box::new(body),
            reader: StreamReader::new(),
            pending: VecDeque::new(),
            ended: false,
        })
    }

    /// [`BlockingDriver::stream`], with the opening exchange retried under `policy`
    /// (a 429 or 503 before the first byte waits as Google asks and tries again).
    /// Errors inside the stream are items, for the host to act on.
    pub fn stream_with_retry(
        &self,
        request: Request,
        policy: &RetryPolicy,
    ) -> Result<ResponseStream, Error> {
        let started = Instant::now();
        let mut random = SplitMix64::seeded_from(&mut crate::os_random());
        let mut state = AttemptState::default();
        loop {
            let error = match self.stream(request.clone()) {
                Ok(stream) => return Ok(stream),
                Err(error) => error,
            };
            let Some(api) = error.api() else {
                return Err(error);
            };
            state.attempts += 1;
            state.elapsed = started.elapsed();
            match policy.decide(api, state, &mut random) {
                Decision::RetryAfter(wait) => std::thread::sleep(wait),
                _ => return Err(error),
            }
        }
    }
}
