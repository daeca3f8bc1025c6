//! The OAuth exchanges as flows: code exchange, refresh, userinfo, revoke, and the
//! token source that refreshes only when it must.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::config::OAuthClient;
use super::credentials::{Credentials, DEFAULT_REFRESH_WINDOW, TokenResponse};
use crate::Error;
use crate::error::{ApiError, sanitize};
use crate::flow::request::{bearer_request, form_post};
use crate::flow::{Call, Flow, Map, Misuse, Response, Step, TransportError};
use crate::secret::Secret;

/// Exchanges an authorization code for credentials. Output: new [`Credentials`].
pub type ExchangeCode = Map<Call, Credentials>;
/// Refreshes an access token. Output: the updated [`Credentials`].
pub type RefreshToken = Map<Call, Credentials>;
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
) -> Result<ExchangeCode, Error> {
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
) -> Result<RefreshToken, Error> {
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

/// A valid access token, and the credentials it came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FreshToken {
    /// The bearer token to send.
    pub access_token: Secret,
    /// The credentials, updated if a refresh happened.
    pub credentials: Credentials,
    /// True when the credentials changed and must be saved.
    pub refreshed: bool,
}

impl FreshToken {
    /// The token held by `credentials`, when they hold one; `refreshed` says whether
    /// they changed and must be saved.
    pub fn from_credentials(credentials: Credentials, refreshed: bool) -> Option<Self> {
        let access_token = credentials.access_token.clone().filter(|t| !t.is_empty())?;
        Some(Self {
            access_token,
            credentials,
            refreshed,
        })
    }
}

/// The token source: returns the stored access token while more than `window` (5
/// minutes by default) of validity remains, and refreshes first otherwise.
///
/// [`FreshToken::refreshed`] tells the caller to persist the new credentials. When a
/// refresh fails transiently (network, 5xx, rate limit) while the current token has
/// not yet expired, the current token is returned: a failed refresh never takes away
/// a token that still works. `invalid_grant` always fails.
#[derive(Debug)]
pub struct AccessToken {
    state: TokenState,
    token_endpoint: String,
    window: Duration,
}

#[derive(Debug)]
enum TokenState {
    Start(Box<Credentials>),
    Refreshing(Box<RefreshToken>, Box<Credentials>),
    Finished,
}

impl AccessToken {
    /// A token source for `credentials`, refreshing at `token_endpoint` when fewer than
    /// 5 minutes remain.
    pub fn new(credentials: Credentials, token_endpoint: impl Into<String>) -> Self {
        Self {
            state: TokenState::Start(Box::new(credentials)),
            token_endpoint: token_endpoint.into(),
            window: DEFAULT_REFRESH_WINDOW,
        }
    }

    /// The same source with another refresh window.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
}

impl Flow for AccessToken {
    type Output = FreshToken;
    type Error = Error;

    fn poll(&mut self, now: SystemTime) -> Result<Step<FreshToken>, Error> {
        match std::mem::replace(&mut self.state, TokenState::Finished) {
            TokenState::Start(credentials) => {
                if let Some(token) = credentials.valid_access_token(now, self.window) {
                    return Ok(Step::Done(FreshToken {
                        access_token: token.clone(),
                        credentials: *credentials,
                        refreshed: false,
                    }));
                }
                let refresh = refresh_token(&credentials, &self.token_endpoint)?;
                self.state = TokenState::Refreshing(Box::new(refresh), credentials);
                self.poll(now)
            }
            TokenState::Refreshing(mut refresh, current) => {
                let step = match refresh.poll(now) {
                    Ok(step) => step,
                    // A transient failure never replaces a token that still works: the
                    // caller keeps going, and the next call refreshes again.
                    Err(error)
                        if error.api().is_some_and(ApiError::retryable)
                            && current.remaining(now) > Duration::ZERO =>
                    {
                        tracing::warn!(error = %error, "token refresh failed; the current token is still valid");
                        return Ok(Step::Done(
                            FreshToken::from_credentials(*current, false).ok_or(error)?,
                        ));
                    }
                    Err(error) => return Err(error),
                };
                if !matches!(step, Step::Done(_)) {
                    self.state = TokenState::Refreshing(refresh, current);
                }
                Ok(step.map(|credentials| FreshToken {
                    access_token: credentials.access_token.clone().unwrap_or_default(),
                    credentials,
                    refreshed: true,
                }))
            }
            TokenState::Finished => Err(Misuse("polled after the flow finished").into()),
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        match &mut self.state {
            TokenState::Refreshing(refresh, _) => refresh.handle_response(response, now),
            // The refresh flow reports the misuse; without one, remember nothing to send.
            _ => self.state = TokenState::Finished,
        }
    }
}
