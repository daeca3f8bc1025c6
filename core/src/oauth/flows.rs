//! The OAuth exchanges as flows: code exchange, refresh, userinfo, revoke. When to
//! refresh, and what to do when a refresh fails, is decided by the token operation in
//! [`crate::client`].

use serde_json::Value;

use super::config::OAuthClient;
use super::credentials::{Credentials, TokenResponse};
use crate::Error;
use crate::flow::request::{bearer_request, form_post};
use crate::flow::{Call, Map, Response};
use crate::secret::Secret;
use crate::text::sanitize;

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

/// `fields` followed by the client's credentials in the body (RFC 6749 §2.3.1):
/// `client_id`, and `client_secret` when the client has one.
fn with_client_auth<'a>(
    credentials: &'a Credentials,
    mut fields: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    fields.push(("client_id", credentials.client_id.as_str()));
    if let Some(secret) = credentials.client_secret.as_ref().filter(|s| !s.is_empty()) {
        fields.push(("client_secret", secret.expose()));
    }
    fields
}

/// The code exchange. Output: the new [`Credentials`], and the ID token when the
/// server sent one (for the caller to read the email from).
pub type CodeExchange = Map<Call, (Credentials, Option<Secret>)>;

/// The code exchange: `code` from the callback, `verifier` from the PKCE pair, and the
/// `redirect_uri` the authorization URL used. A response without a refresh token
/// fails with [`Error::NoRefreshToken`]: nothing half-done is kept.
pub fn exchange_code(
    client: &OAuthClient,
    code: &Secret,
    verifier: &Secret,
    redirect_uri: &str,
) -> Result<CodeExchange, Error> {
    let client_secret = Some(client.client_secret.clone()).filter(|s| !s.is_empty());
    let identity = Credentials::new(client.client_id.clone(), client_secret, "");
    let request = form_post(
        &client.endpoints.token,
        &with_client_auth(
            &identity,
            vec![
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose()),
            ],
        ),
    )?;
    Ok(Map::new(
        Call::new(request),
        move |response: Response, now| {
            let tokens = TokenResponse::parse(response.body())
                .map_err(|e| invalid("the token endpoint", e))?;
            let refresh_token = tokens
                .refresh_token
                .clone()
                .filter(|t| !t.is_empty())
                .ok_or(Error::NoRefreshToken)?;
            let id_token = tokens.id_token.clone();
            let mut credentials = identity;
            credentials.refresh_token = refresh_token;
            credentials.apply(tokens, now);
            Ok((credentials, id_token))
        },
    ))
}

/// A refresh of `credentials` at `token_endpoint`. `invalid_grant` fails with the
/// `auth_permanent` class: the person must sign in again.
pub fn refresh_token(
    credentials: &Credentials,
    token_endpoint: &str,
) -> Result<TokenRequest, Error> {
    let request = form_post(
        token_endpoint,
        &with_client_auth(
            credentials,
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", credentials.refresh_token.expose()),
            ],
        ),
    )?;
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
            .ok_or_else(|| invalid("userinfo", "no email in the answer"))
            .and_then(|email| match crate::text::is_email(email) {
                true => Ok(email.to_owned()),
                false => Err(invalid(
                    "userinfo",
                    format!("{:?} is not an email address", sanitize(email, 60)),
                )),
            })
    }))
}

/// Revokes the grant of `credentials` (its refresh token) at `revoke_endpoint`,
/// authenticating as the client that holds it, as at the token endpoint (RFC 7009
/// §2.1 with RFC 6749 §2.3: `client_id`, and `client_secret` when the client has one).
pub fn revoke_token(
    credentials: &Credentials,
    revoke_endpoint: &str,
) -> Result<RevokeToken, Error> {
    let request = form_post(
        revoke_endpoint,
        &with_client_auth(
            credentials,
            vec![
                ("token", credentials.refresh_token.expose()),
                ("token_type_hint", "refresh_token"),
            ],
        ),
    )?;
    Ok(Map::new(Call::new(request), |_response: Response, _now| {
        Ok(())
    }))
}
