//! Turning a flow's output into another value once it is done.

use std::fmt;
use std::time::SystemTime;

use super::{Flow, Response, Step, TransportError};

type Finish<I, T, E> = Box<dyn FnOnce(I, SystemTime) -> Result<T, E> + Send>;

/// A flow whose output is passed through `finish` (given the time it finished) before
/// it is returned: how the one-request flows of this crate turn a response into a
/// typed value.
pub struct Map<F: Flow, T> {
    inner: F,
    finish: Option<Finish<F::Output, T, F::Error>>,
}

impl<F: Flow, T> Map<F, T> {
    /// Wraps `inner`; `finish` turns its output into this flow's output.
    pub fn new(
        inner: F,
        finish: impl FnOnce(F::Output, SystemTime) -> Result<T, F::Error> + Send + 'static,
    ) -> Self {
        Self {
            inner,
            finish: Some(Box::new(finish)),
        }
    }
}

impl<F: Flow + fmt::Debug, T> fmt::Debug for Map<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F, T> Flow for Map<F, T>
where
    F: Flow,
    F::Error: From<super::Misuse>,
{
    type Output = T;
    type Error = F::Error;

    fn poll(&mut self, now: SystemTime) -> Result<Step<T>, F::Error> {
        match self.inner.poll(now)? {
            Step::Send(request) => Ok(Step::Send(request)),
            Step::Wait(duration) => Ok(Step::Wait(duration)),
            Step::Done(output) => match self.finish.take() {
                Some(finish) => finish(output, now).map(Step::Done),
                None => Err(super::Misuse("polled after the flow finished").into()),
            },
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        self.inner.handle_response(response, now);
    }
}
