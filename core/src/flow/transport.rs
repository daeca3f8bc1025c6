//! The failure a transport reports when no HTTP response arrived at all.

use std::fmt;

/// Why a request got no response: what an adapter reports in place of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host name did not resolve.
    Dns,
    /// The connection could not be established.
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// Connecting or reading took longer than the configured timeout.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// The response body was larger than the configured cap.
    BodyTooLarge,
    /// The answer was not valid HTTP.
    Malformed,
    /// The request was refused before sending (for example a bearer token to a
    /// plain-`http` host that is not loopback).
    Refused,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// A lower-case name for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Reset => "reset",
            Self::BodyTooLarge => "body too large",
            Self::Malformed => "malformed",
            Self::Refused => "refused",
            Self::Other => "other",
        }
    }
}

/// A request that got no HTTP response: the kind of failure and a short detail.
///
/// The detail is for people; route on [`TransportError::kind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    kind: TransportErrorKind,
    detail: String,
}

impl TransportError {
    /// Longest detail kept, in bytes.
    const MAX_DETAIL: usize = 200;

    /// A failure of `kind`, described by `detail` (cut to 200 bytes).
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > Self::MAX_DETAIL {
            let mut cut = Self::MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        Self { kind, detail }
    }

    /// What kind of failure this was.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// A short human description.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{} failure", self.kind.as_str())
        } else {
            write!(f, "{} failure: {}", self.kind.as_str(), self.detail)
        }
    }
}

impl std::error::Error for TransportError {}
