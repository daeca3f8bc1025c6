//! Stored credentials and Google's token responses.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;

/// The default refresh window: refresh when fewer than 5 minutes remain.
pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(300);
/// The lifetime assumed when a token response has no usable `expires_in` (Google's
/// access tokens live one hour).
pub const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime believed; larger `expires_in` values are cut to this.
pub const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The longest access or refresh token accepted, from the network or from a file.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The longest ID token accepted.
pub const MAX_ID_TOKEN_LEN: usize = 64 * 1024;

/// Checks a token from the network or a file: non-empty, printable ASCII only (no
/// spaces, no control characters: it goes into an HTTP header and onto terminals),
/// at most `max` bytes. The error names the field, never the value.
pub fn check_token(name: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("an empty {name}"));
    }
    if value.len() > max {
        return Err(format!(
            "a {name} of {} bytes (at most {max} are accepted)",
            value.len()
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "a {name} holding characters a token cannot (spaces, control characters or non-ASCII)"
        ));
    }
    Ok(())
}

/// What a signed-in person's credential file holds. Serde JSON is the on-disk
/// format; fields this version does not know are kept and written back unchanged.
///
/// `Debug` redacts every secret, and shows only the names of unknown fields (their
/// values could be secrets this version does not know of).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Credentials {
    /// The OAuth client the tokens belong to.
    pub client_id: String,
    /// That client's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// The long-lived refresh token.
    pub refresh_token: Secret,
    /// The current access token, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    /// When the access token expires, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The signed-in person's email, when known (read from a file, an email that is
    /// not one, such as one holding terminal controls, counts as unknown).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "clean_email"
    )]
    pub email: Option<String>,
    /// The scopes granted, space separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The token type (`Bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Code Assist projects resolved for this account: a cache, dropped with the
    /// credentials (see [`crate::client`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<crate::client::CachedProject>,
    /// Fields written by other versions, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An email read from a file, kept only when it is one ([`crate::text::is_email`]).
fn clean_email<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let email = <Option<String> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(email.filter(|email| crate::text::is_email(email)))
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("refresh_token", &self.refresh_token)
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("email", &self.email)
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .field("projects", &self.projects.len())
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// Credentials holding only a refresh token (the access token comes on first use).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Option<Secret>,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            refresh_token: refresh_token.into(),
            access_token: None,
            expires_at: None,
            email: None,
            scope: None,
            token_type: None,
            projects: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Checks every token held (see [`check_token`]): what a reader of a credential
    /// file runs before trusting it.
    ///
    /// A record without a refresh token is accepted when it holds an access token: it
    /// is a cached token of another credential source (see
    /// [`ClientConfig::cache_source_tokens`](crate::client::ClientConfig::cache_source_tokens)).
    pub fn check_tokens(&self) -> Result<(), String> {
        let cached_only = self.refresh_token.is_empty() && self.access_token.is_some();
        if !cached_only {
            check_token("refresh_token", self.refresh_token.expose(), MAX_TOKEN_LEN)?;
        }
        if let Some(access) = &self.access_token {
            check_token("access_token", access.expose(), MAX_TOKEN_LEN)?;
        }
        Ok(())
    }

    /// The access token, if it is valid for more than `window` after `now`.
    pub fn valid_access_token(&self, now: SystemTime, window: Duration) -> Option<&Secret> {
        let token = self.access_token.as_ref().filter(|t| !t.is_empty())?;
        let expires_at = self.expires_at?;
        let now = unix_seconds(now);
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        (expires_at.saturating_sub(now) > window).then_some(token)
    }

    /// The time left on the access token at `now` (zero when expired or unknown).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        let left = self
            .expires_at
            .unwrap_or(0)
            .saturating_sub(unix_seconds(now));
        Duration::from_secs(u64::try_from(left).unwrap_or(0))
    }

    /// Applies a token response received at `now`: new access token and expiry; a new
    /// refresh token replaces the old one, an absent one keeps it.
    pub fn apply(&mut self, response: TokenResponse, now: SystemTime) {
        self.expires_at = Some(response.expires_at(now));
        self.access_token = Some(response.access_token);
        if let Some(refresh_token) = response.refresh_token.filter(|t| !t.is_empty()) {
            self.refresh_token = refresh_token;
        }
        if response.scope.is_some() {
            self.scope = response.scope;
        }
        if response.token_type.is_some() {
            self.token_type = response.token_type;
        }
    }
}

/// Unix seconds of a time (negative before 1970).
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A successful token-endpoint answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The new access token.
    pub access_token: Secret,
    /// Its lifetime as sent (`expires_in`), cut to [`MAX_LIFETIME`]; `None` when absent
    /// or unreadable.
    pub expires_in: Option<Duration>,
    /// A refresh token: always on exchange, sometimes on refresh.
    pub refresh_token: Option<Secret>,
    /// The scopes granted.
    pub scope: Option<String>,
    /// The token type.
    pub token_type: Option<String>,
    /// The OpenID Connect ID token, when sent.
    pub id_token: Option<Secret>,
}

impl TokenResponse {
    /// Parses a token-endpoint body. Tolerates extra fields, `expires_in` as a string,
    /// and absurd numbers; refuses a body without a usable `access_token`, and tokens
    /// that are not printable ASCII or are too long (see [`check_token`]).
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let access_token = text("access_token").ok_or("no access_token")?;
        check_token("access_token", &access_token, MAX_TOKEN_LEN)?;
        let refresh_token = text("refresh_token").filter(|t| !t.is_empty());
        if let Some(refresh_token) = &refresh_token {
            check_token("refresh_token", refresh_token, MAX_TOKEN_LEN)?;
        }
        let id_token = text("id_token").filter(|t| !t.is_empty());
        if let Some(id_token) = &id_token {
            check_token("id_token", id_token, MAX_ID_TOKEN_LEN)?;
        }
        let expires_in = object.get("expires_in").and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        });
        let expires_in = expires_in
            .filter(|secs| secs.is_finite())
            .map(|secs| Duration::from_secs_f64(secs.clamp(0.0, MAX_LIFETIME.as_secs_f64())));
        // A token that is expired as it arrives can only fail the call it is for.
        if expires_in.is_some_and(|lifetime| lifetime < Duration::from_secs(1)) {
            return Err("the access token has already expired (expires_in is not positive)".into());
        }
        // RFC 6749 §7.1: a client must not use a token type it does not understand.
        // Every token here is sent as `Authorization: Bearer`, so only that type is
        // taken (in any case, RFC 6750 §4); a server that names none means Bearer.
        let token_type = text("token_type").map(|s| crate::text::sanitize(&s, 64));
        if let Some(token_type) = token_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(format!(
                "the token type is {token_type:?}, not Bearer: it cannot be used"
            ));
        }
        Ok(Self {
            access_token: Secret::new(access_token),
            expires_in,
            refresh_token: refresh_token.map(Secret::new),
            scope: text("scope").map(|s| crate::text::sanitize(&s, 2048)),
            token_type,
            id_token: id_token.map(Secret::new),
        })
    }

    /// The absolute expiry in Unix seconds, for a response received at `now`.
    pub fn expires_at(&self, now: SystemTime) -> i64 {
        let lifetime = self.expires_in.unwrap_or(ASSUMED_LIFETIME);
        unix_seconds(now).saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn token_response_edge_cases() {
        let parsed = TokenResponse::parse(br#"{"access_token": "a", "expires_in": 3599, "scope": "s", "token_type": "Bearer", "id_token": "j", "new_field": [1]}"#).unwrap();
        assert_eq!(parsed.access_token.expose(), "a");
        assert_eq!(parsed.expires_in, Some(Duration::from_secs(3599)));
        assert_eq!(parsed.expires_at(at(1000)), 4599);
        assert_eq!(parsed.refresh_token, None);
        assert_eq!(parsed.id_token.unwrap().expose(), "j");

        let as_string =
            TokenResponse::parse(br#"{"access_token": "a", "expires_in": " 120 "}"#).unwrap();
        assert_eq!(as_string.expires_in, Some(Duration::from_secs(120)));

        let huge = TokenResponse::parse(br#"{"access_token": "a", "expires_in": 1e300}"#).unwrap();
        assert_eq!(huge.expires_in, Some(MAX_LIFETIME));
        for expired in ["-5", "0", "0.5", "\"0\""] {
            let body = format!(r#"{{"access_token": "a", "expires_in": {expired}}}"#);
            let error = TokenResponse::parse(body.as_bytes()).unwrap_err();
            assert!(error.contains("already expired"), "{expired}: {error}");
        }
        for bearer in ["Bearer", "bearer", "BEARER"] {
            let body = format!(r#"{{"access_token": "a", "token_type": "{bearer}"}}"#);
            assert!(TokenResponse::parse(body.as_bytes()).is_ok(), "{bearer}");
        }
        for other in ["MAC", "DPoP", "N_A", ""] {
            let body = format!(r#"{{"access_token": "a", "token_type": "{other}"}}"#);
            let error = TokenResponse::parse(body.as_bytes()).unwrap_err();
            assert!(error.contains("not Bearer"), "{other}: {error}");
        }
        let missing = TokenResponse::parse(br#"{"access_token": "a"}"#).unwrap();
        assert_eq!(missing.expires_at(at(0)), 3600);
        let garbage =
            TokenResponse::parse(br#"{"access_token": "a", "expires_in": {"x": 1}}"#).unwrap();
        assert_eq!(garbage.expires_in, None);

        let long = format!(r#"{{"access_token": "{}"}}"#, "a".repeat(MAX_TOKEN_LEN + 1));
        for bad in [
            &br#"{"expires_in": 5}"#[..],
            br#"{"access_token": ""}"#,
            br#"{"access_token": "ya29.a\r\nX-Injected: 1"}"#,
            br#"{"access_token": "ya29.\u001b[31m"}"#,
            br#"{"access_token": "two words"}"#,
            br#"{"access_token": "ok", "refresh_token": "1//\n"}"#,
            long.as_bytes(),
            br#"{"access_token": 5}"#,
            b"[]",
            b"<html>",
            b"",
        ] {
            assert!(
                TokenResponse::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn refresh_tokens_are_kept_or_replaced() {
        let mut credentials = Credentials::new("id", None, "old-refresh");
        credentials.apply(
            TokenResponse::parse(br#"{"access_token": "a1", "expires_in": 3600}"#).unwrap(),
            at(100),
        );
        assert_eq!(credentials.refresh_token.expose(), "old-refresh");
        assert_eq!(credentials.expires_at, Some(3700));
        credentials.apply(
            TokenResponse::parse(
                br#"{"access_token": "a2", "expires_in": 3600, "refresh_token": "new-refresh"}"#,
            )
            .unwrap(),
            at(200),
        );
        assert_eq!(credentials.refresh_token.expose(), "new-refresh");
        assert_eq!(credentials.access_token.as_ref().unwrap().expose(), "a2");
    }

    #[test]
    fn the_refresh_window() {
        let mut credentials = Credentials::new("id", None, "r");
        assert!(
            credentials
                .valid_access_token(at(0), DEFAULT_REFRESH_WINDOW)
                .is_none()
        );
        credentials.access_token = Some(Secret::new("a"));
        credentials.expires_at = Some(1000);
        assert!(
            credentials
                .valid_access_token(at(699), DEFAULT_REFRESH_WINDOW)
                .is_some()
        );
        assert!(
            credentials
                .valid_access_token(at(700), DEFAULT_REFRESH_WINDOW)
                .is_none()
        );
        assert_eq!(credentials.remaining(at(400)), Duration::from_secs(600));
        assert_eq!(credentials.remaining(at(4000)), Duration::ZERO);
    }

    #[test]
    fn on_disk_format_round_trips_and_keeps_unknown_fields() {
        let json = r#"{"client_id":"id","client_secret":"cs","refresh_token":"r","access_token":"a","expires_at":1700000000,"email":"p@example.com","scope":"s","token_type":"Bearer","future":{"x":"hidden-value"}}"#;
        let credentials: Credentials = serde_json::from_str(json).unwrap();
        assert_eq!(credentials.email.as_deref(), Some("p@example.com"));
        assert_eq!(
            credentials.extra["future"],
            serde_json::json!({"x": "hidden-value"})
        );
        let back: Value =
            serde_json::from_str(&serde_json::to_string(&credentials).unwrap()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
        let debug = format!("{credentials:?}");
        assert!(
            debug.contains("future") && !debug.contains("hidden-value"),
            "{debug}"
        );
        for secret in ["\"cs\"", "\"r\"", "\"a\""] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
