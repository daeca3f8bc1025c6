//! The metadata server of Compute Engine, Cloud Run, GKE and Cloud Shell: tokens for
//! the instance's service account, its email and the project id. Every request carries
//! `Metadata-Flavor: Google` and every answer must carry it back (anything else is not
//! the metadata server). The server speaks plain HTTP on a link-local address by
//! design; it receives no secret.

use http::header;

use super::{MetadataServer, Origin, SourceError};
use crate::Error;
use crate::flow::request::{RequestTimeout, USER_AGENT};
use crate::flow::{Call, Map, Request, Response};
use crate::oauth::{Credentials, TokenRequest, TokenResponse};

/// The metadata server's name.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
/// Its fixed address, tried when the name does not resolve.
pub const FALLBACK_METADATA_HOST: &str = "169.254.169.254";
/// The header (and value) the metadata server asks for and answers with.
pub const METADATA_FLAVOR: (&str, &str) = ("metadata-flavor", "Google");
/// How long one detection probe may take (two hosts fit in one second).
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest any metadata request may take.
pub const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A `GET` of `path` (with `query`) on the metadata server at `host`.
pub(crate) fn metadata_get(
    host: &str,
    path: &str,
    query: Option<&str>,
    timeout: std::time::Duration,
) -> Result<Request, Error> {
    let origin = Origin(format!("metadata server {host}"));
    if host.is_empty()
        || host
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
    {
        return Err(SourceError::new(
            "metadata server",
            &origin,
            "not a host name (GCE_METADATA_HOST takes a host and an optional port)",
        )
        .into());
    }
    let url = match query {
        Some(query) => format!("http://{host}{path}?{query}"),
        None => format!("http://{host}{path}"),
    };
    let mut request = http::Request::get(url)
        .header(METADATA_FLAVOR.0, METADATA_FLAVOR.1)
        .header(header::USER_AGENT, USER_AGENT)
        .body(Vec::new())
        .map_err(|e| Error::Config(format!("could not build a metadata request: {e}")))?;
    request.extensions_mut().insert(RequestTimeout(timeout));
    Ok(request)
}

/// Checks that an answer came from the metadata server.
pub(crate) fn check_flavor(response: &Response, host: &str) -> Result<(), SourceError> {
    let flavored = response
        .headers()
        .get(METADATA_FLAVOR.0)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == METADATA_FLAVOR.1);
    if flavored {
        return Ok(());
    }
    Err(SourceError::new(
        "metadata server",
        &Origin(format!("metadata server {host}")),
        "answered without Metadata-Flavor: Google, so it is not the metadata server \
         (a proxy or another service holds that address)",
    ))
}

/// The probe discovery sends: the server's root, within [`PROBE_TIMEOUT`].
pub(crate) fn probe(host: &str) -> Result<Request, Error> {
    metadata_get(host, "/", None, PROBE_TIMEOUT)
}

/// A token for the instance's default service account. Output: `current` with the
/// token applied.
pub fn metadata_token(
    server: &MetadataServer,
    mut current: Credentials,
) -> Result<TokenRequest, Error> {
    let scopes = server.scopes.join(",");
    let query = (!scopes.is_empty()).then(|| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("scopes", &scopes)
            .finish()
    });
    let request = metadata_get(
        &server.host,
        "/computeMetadata/v1/instance/service-accounts/default/token",
        query.as_deref(),
        METADATA_TIMEOUT,
    )?;
    let host = server.host.clone();
    Ok(Map::new(
        Call::new(request),
        move |response: Response, now| {
            check_flavor(&response, &host)?;
            let tokens =
                TokenResponse::parse(response.body()).map_err(|detail| Error::InvalidResponse {
                    what: "the metadata server",
                    detail,
                })?;
            current.apply(tokens, now);
            Ok(current)
        },
    ))
}

/// A one-line text value of the metadata server (`path`), checked.
fn metadata_text(
    server: &MetadataServer,
    path: &str,
    what: &'static str,
) -> Result<Map<Call, String>, Error> {
    let request = metadata_get(&server.host, path, None, METADATA_TIMEOUT)?;
    let host = server.host.clone();
    Ok(Map::new(
        Call::new(request),
        move |response: Response, _now| {
            check_flavor(&response, &host)?;
            let text = std::str::from_utf8(response.body()).unwrap_or("").trim();
            // One word: no control, whitespace or bidirectional control (a U+202E in
            // an account's email would make it read backwards on a terminal).
            if text.len() > 320 || !crate::text::is_one_word(text) {
                return Err(Error::InvalidResponse {
                    what,
                    detail: "not a single value".into(),
                });
            }
            Ok(text.to_owned())
        },
    ))
}

/// The email of the instance's default service account.
pub fn metadata_email(server: &MetadataServer) -> Result<Map<Call, String>, Error> {
    metadata_text(
        server,
        "/computeMetadata/v1/instance/service-accounts/default/email",
        "the metadata server (email)",
    )
}

/// The id of the project the instance runs in.
pub fn metadata_project_id(server: &MetadataServer) -> Result<Map<Call, String>, Error> {
    metadata_text(
        server,
        "/computeMetadata/v1/project/project-id",
        "the metadata server (project id)",
    )
}
