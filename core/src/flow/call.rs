//! The smallest flow: one request, one response.
//!
//! ```text
//!  Ready ──poll──▶ Send(request) ──▶ Sent ──handle_response──▶ Answered ──poll──▶ Done / error
//!                                     │ poll before the answer: misuse
//! ```

use std::time::SystemTime;

use super::{Flow, Misuse, Request, Response, Step, TransportError};
use crate::Error;
use crate::error::ApiError;
use crate::secret::Secret;

/// Sends one request; a `2xx` response is the output, anything else becomes a
/// classified [`ApiError`].
///
/// What the request carried as a credential (the `Authorization` and
/// `x-goog-api-key` headers; a form's client secret, refresh token, code, verifier,
/// assertion or subject token) never comes back inside the error: a server that
/// echoes it, plain or form-encoded and in any words, has it replaced by
/// `[redacted]` before the body is read.
///
/// Useful on its own for calls this crate has no dedicated flow for, and as the
/// example flow in tests and docs.
#[derive(Debug)]
pub struct Call {
    state: State,
    /// The credentials the request carried, to keep out of its error.
    sent: Vec<Secret>,
}

/// Form fields whose values are credentials.
const SECRET_FIELDS: [&str; 8] = [
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "assertion",
    "subject_token",
    "actor_token",
    "password",
];

/// Shorter values are not searched for: they could match ordinary words.
const LEAST_SECRET: usize = 6;

/// The credentials `request` carries, as sent and, for form fields, form-encoded.
fn credentials_in(request: &Request) -> Vec<Secret> {
    let mut sent = Vec::new();
    for name in ["authorization", "x-goog-api-key"] {
        for value in request.headers().get_all(name) {
            if let Ok(value) = value.to_str() {
                let value = value.strip_prefix("Bearer ").unwrap_or(value).trim();
                sent.push(value.to_owned());
            }
        }
    }
    let is_form = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        for (name, value) in url::form_urlencoded::parse(request.body()) {
            if SECRET_FIELDS.contains(&name.as_ref()) {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
                sent.push(value.into_owned());
                sent.push(encoded);
            }
        }
    }
    sent.retain(|value| value.len() >= LEAST_SECRET);
    sent.sort();
    sent.dedup();
    sent.into_iter().map(Secret::new).collect()
}

/// `body` with every occurrence of the `sent` credentials replaced, when it holds any.
fn without_sent(body: &[u8], sent: &[Secret]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    // Longest first, so a form-encoded value is found before a shorter plain one.
    let mut sent: Vec<&[u8]> = sent.iter().map(|s| s.expose().as_bytes()).collect();
    sent.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in sent {
        let current = out.as_deref().unwrap_or(body);
        if memchr::memmem::find(current, secret).is_none() {
            continue;
        }
        let mut replaced = Vec::with_capacity(current.len());
        let mut rest = current;
        while let Some(at) = memchr::memmem::find(rest, secret) {
            replaced.extend_from_slice(&rest[..at]);
            replaced.extend_from_slice(b"[redacted]");
            rest = &rest[at + secret.len()..];
        }
        replaced.extend_from_slice(rest);
        out = Some(replaced);
    }
    out
}

#[derive(Debug)]
enum State {
    Ready(Request),
    Sent,
    Answered(Result<Response, Error>),
    Finished,
    Misused(&'static str),
}

impl Call {
    /// A flow that sends `request` once.
    pub fn new(request: Request) -> Self {
        Self {
            sent: credentials_in(&request),
            state: State::Ready(request),
        }
    }
}

impl Flow for Call {
    type Output = Response;
    type Error = Error;

    fn poll(&mut self, _now: SystemTime) -> Result<Step<Response>, Error> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Ready(request) => {
                self.state = State::Sent;
                Ok(Step::Send(request))
            }
            State::Sent => {
                self.state = State::Sent;
                Err(Misuse("polled before the response was handled").into())
            }
            State::Answered(Ok(response)) => Ok(Step::Done(response)),
            State::Answered(Err(error)) => Err(error),
            State::Finished => Err(Misuse("polled after the flow finished").into()),
            State::Misused(what) => Err(Misuse(what).into()),
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        if !matches!(self.state, State::Sent) {
            self.state = State::Misused("response handled while no request was outstanding");
            return;
        }
        self.state = State::Answered(match response {
            Ok(response) if response.status().is_success() => Ok(response),
            Ok(response) => match without_sent(response.body(), &self.sent) {
                Some(body) => {
                    let (parts, _) = response.into_parts();
                    let cleaned = Response::from_parts(parts, body);
                    Err(ApiError::from_response(&cleaned, now).into())
                }
                None => Err(ApiError::from_response(&response, now).into()),
            },
            Err(failure) => Err(ApiError::from_transport(&failure).into()),
        });
    }
}
