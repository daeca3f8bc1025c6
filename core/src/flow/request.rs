//! Building the requests flows emit: where bearer tokens and secrets may go, and the
//! headers every request carries.

use http::{HeaderValue, Uri, header};

use super::Request;
use crate::Error;
use crate::secret::Secret;

/// The `User-Agent` this library sends.
pub const USER_AGENT: &str = concat!(
    "codeassist/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/codeassist-rs/codeassist)"
);

/// The largest response body a runtime reads by default: 10 MiB.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
/// The largest streamed answer a runtime reads: 256 MiB.
pub const MAX_STREAM: usize = 256 * 1024 * 1024;

/// The longest a runtime may take over one request, set by the flow that made it (a
/// request extension). A runtime honours it as a total deadline for the exchange,
/// within its own limits; a request without one gets the runtime's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub std::time::Duration);

/// Parses `url` and checks it may receive a secret (a bearer token, a client secret, a
/// refresh token): `https://` anywhere, `http://` only to loopback (`127.0.0.1`,
/// `[::1]`, `localhost`), which the emulator and tests use.
pub fn secure_uri(url: &str) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::Config(format!("not a URL: {}", crate::text::sanitize(url, 120))))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost") => Ok(uri),
        _ => Err(Error::InsecureEndpoint(crate::text::sanitize(url, 120))),
    }
}

/// True when `url` is an `https://` URL on one of Google's API hosts: `googleapis.com`
/// or any name under it (regional and Private Service Connect names such as
/// `oauth2-myendpoint.p.googleapis.com` included).
pub fn is_google_api_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    uri.scheme_str() == Some("https")
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && (host == "googleapis.com" || host.ends_with(".googleapis.com"))
}

/// True when `url` is on the same scheme, host and port as `base`: a URL under the
/// base URL a host configured to replace Google's hosts (an emulator, a gateway).
pub fn same_origin(url: &str, base: &str) -> bool {
    match (url.parse::<Uri>(), base.parse::<Uri>()) {
        (Ok(url), Ok(base)) => {
            url.scheme() == base.scheme()
                && url.host().map(str::to_ascii_lowercase)
                    == base.host().map(str::to_ascii_lowercase)
                && url.port_u16() == base.port_u16()
                && url.host().is_some()
        }
        _ => false,
    }
}

/// A `POST` of an `application/x-www-form-urlencoded` body to `url` (checked with
/// [`secure_uri`]).
pub fn form_post(url: &str, fields: &[(&str, &str)]) -> Result<Request, Error> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes();
    let request = http::Request::post(secure_uri(url)?)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, USER_AGENT)
        .body(body)
        .map_err(|e| Error::Config(format!("could not build a request: {e}")))?;
    Ok(request)
}

/// A request with a bearer token to `url` (checked with [`secure_uri`]).
pub fn bearer_request(
    method: http::Method,
    url: &str,
    token: &Secret,
    body: Vec<u8>,
) -> Result<Request, Error> {
    let mut authorization =
        HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
            Error::Config("the access token holds characters a header cannot".to_owned())
        })?;
    authorization.set_sensitive(true);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(secure_uri(url)?)
        .header(header::AUTHORIZATION, authorization)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, USER_AGENT);
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(body)
        .map_err(|e| Error::Config(format!("could not build a request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_only_to_https_or_loopback() {
        for ok in [
            "https://oauth2.googleapis.com/token",
            "http://127.0.0.1:8085/token",
            "http://localhost/token",
            "http://[::1]:9/x",
        ] {
            assert!(secure_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://oauth2.googleapis.com/token",
            "http://10.0.0.1/x",
            "ftp://x/y",
            "token",
            "https:///x",
            "",
        ] {
            assert!(secure_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_headers_are_sensitive() {
        let request = bearer_request(
            http::Method::GET,
            "https://x.test/",
            &Secret::new("t"),
            Vec::new(),
        )
        .unwrap();
        assert!(request.headers()[header::AUTHORIZATION].is_sensitive());
        assert!(request.headers().get(header::CONTENT_TYPE).is_none());
    }
}
