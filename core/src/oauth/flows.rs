//! The OAuth exchanges as flows: code exchange, refresh, userinfo, revoke. When to
//! refresh, and what to do when a refresh fails, is decided by the token operation in
//! [`crate::client`].

use serde_json::Value;

use super::config::OAuthClient;
use super::credentials::{Credentials, TokenResponse};
use crate::Error;
use crate::error::sanitize;
use crate::flow::request::{bearer_request, form_post};
use crate::flow::{Call, Map, Response};
use crate::secret::Secret;

/// One request to the token endpoint (a code exchange or a refresh). Output: the new
/// or updated [`Credentials`].
pub type TokenRequest = Map<Call, Credentials>;
/// Asks who is signed in. Output: the email address.
pub type FetchEmail = Map<Call, String>;
/// Revokes a token. Output: nothing.
pub type RevokeToken = Map<Call, ()>;

fn invalid(what: &'static str, detail: impl AsRef<str>) -> Error {
    Error::InvalidResponse {
        what,
        detail: sanitize(detail.as_ref(), 200),
    }
}

/// The code exchange: `code` from the callback, `verifier` from the PKCE pair, and the
/// `redirect_uri` the authorization URL used.
pub fn exchange_code(
    client: &OAuthClient,
    code: &Secret,
    verifier: &Secret,
    redirect_uri: &str,
) -> Result<TokenRequest, Error> {
    let request = form_post(
        &client.endpoints.token,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", redirect_uri),
            ("client_id", &client.client_id),
            ("client_secret", client.client_secret.expose()),
            ("code_verifier", verifier.expose()),
        ],
    )?;
    let client_id = client.client_id.clone();
    let client_secret = Some(client.client_secret.clone()).filter(|s| !s.is_empty());
    Ok(Map::new(
        Call::new(request),
        move |response: Response, now| {
            let tokens = TokenResponse::parse(response.body())
                .map_err(|e| invalid("the token endpoint", e))?;
            let refresh_token = tokens.refresh_token.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
            invalid(
                "the token endpoint",
                "no refresh_token in the code exchange; remove the app's access in your Google account and sign in again",
            )
        })?;
            let mut credentials = Credentials::new(client_id, client_secret, refresh_token);
            credentials.apply(tokens, now);
            Ok(credentials)
        },
    ))
}

/// A refresh of `credentials` at `token_endpoint`. `invalid_grant` fails with the
/// `auth_permanent` class: the person must sign in again.
pub fn refresh_token(
    credentials: &Credentials,
    token_endpoint: &str,
) -> Result<TokenRequest, Error> {
    let secret = credentials
        .client_secret
        .as_ref()
        .map(Secret::expose)
        .unwrap_or("");
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", credentials.refresh_token.expose()),
        ("client_id", credentials.client_id.as_str()),
    ];
    if !secret.is_empty() {
        fields.push(("client_secret", secret));
    }
    let request = form_post(token_endpoint, &fields)?;
    let mut updated = credentials.clone();
    Ok(Map::new(
        Call::new(request),
        move |response: Response, now| {
            let tokens = TokenResponse::parse(response.body())
                .map_err(|e| invalid("the token endpoint", e))?;
            updated.apply(tokens, now);
            Ok(updated)
        },
    ))
}

/// Asks `userinfo_endpoint` for the signed-in person's email.
pub fn fetch_email(access_token: &Secret, userinfo_endpoint: &str) -> Result<FetchEmail, Error> {
    let request = bearer_request(
        http::Method::GET,
        userinfo_endpoint,
        access_token,
        Vec::new(),
    )?;
    Ok(Map::new(Call::new(request), |response: Response, _now| {
        let value: Value = serde_json::from_slice(response.body())
            .map_err(|e| invalid("userinfo", e.to_string()))?;
        value
            .get("email")
            .and_then(Value::as_str)
            .filter(|email| !email.is_empty() && email.len() <= 320)
            .map(str::to_owned)
            .ok_or_else(|| invalid("userinfo", "no email in the answer"))
    }))
}

/// Revokes `token` (a refresh token revokes the whole grant) at `revoke_endpoint`.
pub fn revoke_token(token: &Secret, revoke_endpoint: &str) -> Result<RevokeToken, Error> {
    let request = form_post(revoke_endpoint, &[("token", token.expose())])?;
    Ok(Map::new(Call::new(request), |_response: Response, _now| {
        Ok(())
    }))
}
