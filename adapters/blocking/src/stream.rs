//! Streamed answers (`streamGenerateContent?alt=sse`) read as the bytes arrive.

use std::collections::VecDeque;
use std::io::Read;
use std::time::SystemTime;

use codeassist_core::flow::{Request, TransportError, TransportErrorKind};
use codeassist_core::inference::{EventReader, StreamReader};
use codeassist_core::{ApiError, Error};

use crate::BlockingDriver;
use crate::driver::Opening;

/// A streamed answer: an iterator of items in arrival order (Gemini's
/// [`StreamItem`](codeassist_core::inference::StreamItem)s by default, or what another
/// [`EventReader`] makes of the events), then, when the stream stopped before its end
/// (or the connection broke), one error.
pub struct ResponseStream<R: EventReader = StreamReader> {
    body: Box<dyn Read + Send>,
    reader: R,
    pending: VecDeque<R::Item>,
    ended: bool,
}

impl<R: EventReader> std::fmt::Debug for ResponseStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("pending", &self.pending.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<R: EventReader> Iterator for ResponseStream<R> {
    type Item = Result<R::Item, Error>;

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
                    // ureq reports its own failures (an idle timeout, say) inside the
                    // io error: typed as the driver types them.
                    let failure = match error
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<ureq::Error>())
                    {
                        Some(inner) => crate::driver::transport_error(inner),
                        None if error.kind() == std::io::ErrorKind::TimedOut => {
                            TransportError::new(TransportErrorKind::Timeout, error.to_string())
                        }
                        None => TransportError::new(TransportErrorKind::Reset, error.to_string()),
                    };
                    return Some(Err(ApiError::from_transport(&failure).into()));
                }
            }
        }
    }
}

impl ResponseStream {
    pub(crate) fn new(body: Box<dyn Read + Send>) -> Self {
        Self {
            body,
            reader: StreamReader::new(),
            pending: VecDeque::new(),
            ended: false,
        }
    }
}

impl<R: EventReader> ResponseStream<R> {
    /// The same stream read with another reader (before anything was read).
    pub fn read_with<R2: EventReader>(self) -> ResponseStream<R2> {
        ResponseStream {
            body: self.body,
            reader: R2::default(),
            pending: VecDeque::new(),
            ended: self.ended,
        }
    }
}

impl BlockingDriver {
    /// Sends a streaming request once (see `codeassist_core::inference`) and returns
    /// its events as they arrive; a non-2xx answer is read whole and returned as the
    /// classified error. [`Client::stream`](crate::Client::stream) adds the token,
    /// retries of the opening exchange and 401 → refresh.
    pub fn stream(&self, request: Request) -> Result<ResponseStream, Error> {
        match self.open(request) {
            Opening::Opened(_, stream) => Ok(stream),
            Opening::Answered(Ok(response)) => {
                Err(ApiError::from_response(&response, SystemTime::now()).into())
            }
            Opening::Answered(Err(failure)) => Err(ApiError::from_transport(&failure).into()),
        }
    }
}
