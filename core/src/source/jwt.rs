//! The JWT-bearer grant (RFC 7523 §2.1) for service accounts: an RS256 assertion with
//! `iss` = `sub` = the account, `aud` = the token endpoint, the scopes, `iat` and
//! `exp` (one hour at most), and the key id in the header.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::{ServiceAccount, SourceError};
use crate::flow::request::form_post;
use crate::flow::{Call, Map, Response};
use crate::oauth::{Credentials, TokenRequest, TokenResponse, unix_seconds};
use crate::{Error, Secret};

/// The grant type of RFC 7523.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The longest an assertion may live: Google refuses more than one hour.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// The header and claims of the assertion, base64url-encoded and joined: the bytes
/// that are signed.
pub(crate) fn signing_input(account: &ServiceAccount, audience: &str, now: SystemTime) -> String {
    let iat = unix_seconds(now);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": account.private_key_id});
    let claims = json!({
        "iss": account.client_email,
        "sub": account.client_email,
        "aud": audience,
        "scope": account.scopes.join(" "),
        "iat": iat,
        "exp": iat.saturating_add(MAX_ASSERTION_LIFETIME.as_secs() as i64),
    });
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The signed assertion for `account` at `now`, for `audience`.
pub(crate) fn assertion(
    account: &ServiceAccount,
    audience: &str,
    now: SystemTime,
) -> Result<Secret, SourceError> {
    let input = signing_input(account, audience, now);
    let signature = account.signer.sign(input.as_bytes()).map_err(|why| {
        SourceError::new(
            "service account key",
            &account.origin,
            format!("signing failed: {why}"),
        )
    })?;
    Ok(Secret::new(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Asks `audience` (the token endpoint) for an access token for `account`, with a
/// fresh assertion signed at `now`. Output: `current` with the new token applied.
pub fn jwt_bearer(
    account: &ServiceAccount,
    audience: &str,
    mut current: Credentials,
    now: SystemTime,
) -> Result<TokenRequest, Error> {
    let assertion = assertion(account, audience, now)?;
    let request = form_post(
        audience,
        &[
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", assertion.expose()),
        ],
    )?;
    Ok(Map::new(
        Call::new(request),
        move |response: Response, now| {
            let tokens =
                TokenResponse::parse(response.body()).map_err(|detail| Error::InvalidResponse {
                    what: "the token endpoint",
                    detail,
                })?;
            current.apply(tokens, now);
            Ok(current)
        },
    ))
}
