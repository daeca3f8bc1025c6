//! Streamed answers (`streamGenerateContent?alt=sse`) read as the frames arrive.

use std::collections::VecDeque;
use std::time::SystemTime;

use bytes::Bytes;
use codeassist_core::flow::{Request, Response, TransportError, TransportErrorKind};
use codeassist_core::inference::{StreamItem, StreamReader};
use codeassist_core::retry::{AttemptState, Decision, RetryPolicy};
use codeassist_core::{ApiError, Error, SplitMix64};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::AsyncDriver;

/// The largest streamed answer read, in bytes.
pub const MAX_STREAM: usize = 256 * 1024 * 1024;

/// A streamed answer: [`AsyncResponseStream::next`] gives [`StreamItem`]s in arrival
/// order, then, when the stream stopped before a finish reason (or the connection
/// broke), one error.
#[derive(Debug)]
pub struct AsyncResponseStream {
    body: Incoming,
    reader: StreamReader,
    pending: VecDeque<StreamItem>,
    received: usize,
    ended: bool,
}

fn broken(detail: String) -> Error {
    ApiError::from_transport(&TransportError::new(TransportErrorKind::Reset, detail)).into()
}

impl AsyncResponseStream {
    /// The next item, or `None` after the end.
    pub async fn next(&mut self) -> Option<Result<StreamItem, Error>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.ended {
                return None;
            }
            match self.body.frame().await {
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

impl AsyncDriver {
    /// Sends a streaming request (see `codeassist_core::inference`) and returns its
    /// events as they arrive. A non-2xx answer is read whole and returned as the
    /// classified error.
    pub async fn stream(&self, request: Request) -> Result<AsyncResponseStream, Error> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let response = self
            .client()
            .request(request)
            .await
            .map_err(|error| broken(error.to_string()))?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            let collected = Limited::new(body, crate::DEFAULT_MAX_BODY)
                .collect()
                .await
                .map_err(|error| broken(error.to_string()))?;
            let response = Response::from_parts(parts, collected.to_bytes().to_vec());
            return Err(ApiError::from_response(&response, SystemTime::now()).into());
        }
        Ok(AsyncResponseStream {
            body,
            reader: StreamReader::new(),
            pending: VecDeque::new(),
            received: 0,
            ended: false,
        })
    }

    /// [`AsyncDriver::stream`], with the opening exchange retried under `policy`
    /// (a 429 or 503 before the first byte waits as Google asks and tries again).
    /// Errors inside the stream are items, for the host to act on.
    pub async fn stream_with_retry(
        &self,
        request: Request,
        policy: &RetryPolicy,
    ) -> Result<AsyncResponseStream, Error> {
        let started = std::time::Instant::now();
        let mut random = SplitMix64::seeded_from(&mut crate::os_random());
        let mut state = AttemptState::default();
        loop {
            let error = match self.stream(request.clone()).await {
                Ok(stream) => return Ok(stream),
                Err(error) => error,
            };
            let Some(api) = error.api() else {
                return Err(error);
            };
            state.attempts += 1;
            state.elapsed = started.elapsed();
            match policy.decide(api, state, &mut random) {
                Decision::RetryAfter(wait) => tokio::time::sleep(wait).await,
                _ => return Err(error),
            }
        }
    }
}
