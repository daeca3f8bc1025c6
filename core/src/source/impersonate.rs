//! Service account impersonation: a token of one credential (the source) buys a token
//! of a service account from IAM Credentials' `generateAccessToken`. Used by
//! `impersonated_service_account` files (`gcloud auth application-default login
//! --impersonate-service-account`) and by workload identity federation files that
//! name a `service_account_impersonation_url`.
//!
//! ```text
//!  source token ─▶ POST …/serviceAccounts/{email}:generateAccessToken
//!                   Authorization: Bearer <source token>
//!                   {"delegates": […], "scope": […], "lifetime": "3600s"}
//!               ◀─ {"accessToken": "…", "expireTime": "2026-12-04T12:00:00Z"}
//! ```

use std::time::{Duration, SystemTime};

use super::{Origin, SourceError};
use crate::client::Next;
use crate::flow::request::{bearer_request, is_google_api_url, same_origin};
use crate::flow::{Call, Response};
use crate::oauth::{Credentials, MAX_TOKEN_LEN, check_token, unix_seconds};
use crate::{Error, Secret};

/// The scope a service-account key asks for when it is only the source of an
/// impersonation (as google-auth asks).
pub const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";
/// The lifetime asked for when the file names none: one hour.
pub const DEFAULT_IMPERSONATION_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime IAM grants (with the organisation's leave): 12 hours.
pub const MAX_IMPERSONATION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Who is impersonated, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Impersonation {
    /// The `generateAccessToken` URL.
    pub url: String,
    /// The service account impersonated (from the URL).
    pub target: String,
    /// The chain of service accounts between the source and the target.
    pub delegates: Vec<String>,
    /// The scopes of the impersonated token.
    pub scopes: Vec<String>,
    /// The lifetime asked for.
    pub lifetime: Duration,
}

impl Impersonation {
    /// The impersonation `url` names, checked: the target is the email between
    /// `serviceAccounts/` and `:generateAccessToken`.
    pub fn from_url(url: &str, origin: &Origin) -> Result<Self, SourceError> {
        let fail =
            |problem: String| SourceError::new("service account impersonation", origin, problem);
        let target = url
            .rsplit_once("/serviceAccounts/")
            .and_then(|(_, rest)| rest.strip_suffix(":generateAccessToken"))
            .filter(|email| crate::text::is_email(email))
            .ok_or_else(|| {
                fail(format!(
                    "service_account_impersonation_url {} does not end in \
                     serviceAccounts/EMAIL:generateAccessToken",
                    crate::text::sanitize(url, 120)
                ))
            })?;
        crate::flow::request::secure_uri(url).map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            url: url.to_owned(),
            target: target.to_owned(),
            delegates: Vec::new(),
            scopes: vec![super::CLOUD_PLATFORM_SCOPE.to_owned()],
            lifetime: DEFAULT_IMPERSONATION_LIFETIME,
        })
    }

    /// `lifetime` in seconds, checked (1 s to 12 h).
    pub(crate) fn with_lifetime(
        mut self,
        seconds: Option<u64>,
        origin: &Origin,
    ) -> Result<Self, SourceError> {
        if let Some(seconds) = seconds {
            let lifetime = Duration::from_secs(seconds);
            if seconds == 0 || lifetime > MAX_IMPERSONATION_LIFETIME {
                return Err(SourceError::new(
                    "service account impersonation",
                    origin,
                    format!("token_lifetime_seconds {seconds} is not between 1 and 43200"),
                ));
            }
            self.lifetime = lifetime;
        }
        Ok(self)
    }

    /// Refuses a URL that is neither on Google's hosts nor under the base URL that
    /// replaces them (`endpoint`), before the source token is sent to it.
    pub(crate) fn check_host(&self, endpoint: &str, origin: &Origin) -> Result<(), SourceError> {
        check_google_url(
            "service_account_impersonation_url",
            &self.url,
            endpoint,
            origin,
        )
    }

    /// The step that trades `source_token` for the target's token, applied to
    /// `current`.
    pub(crate) fn exchange(
        &self,
        source_token: &Secret,
        mut current: Credentials,
        now: SystemTime,
    ) -> Result<Next<Credentials>, Error> {
        let body = serde_json::json!({
            "delegates": self.delegates,
            "scope": self.scopes,
            "lifetime": format!("{}s", self.lifetime.as_secs()),
        });
        let request = bearer_request(
            http::Method::POST,
            &self.url,
            source_token,
            body.to_string().into_bytes(),
        )?;
        Next::flow(Call::new(request), now, move |response: Response, _now| {
            let (token, expires_at) = parse_generated_token(response.body())?;
            current.access_token = Some(token);
            current.expires_at = Some(expires_at);
            current.token_type = Some("Bearer".into());
            Ok(Next::Done(current))
        })
    }
}

/// `generateAccessToken`'s answer: the token and its end in Unix seconds.
pub fn parse_generated_token(body: &[u8]) -> Result<(Secret, i64), Error> {
    let invalid = |detail: &str| Error::InvalidResponse {
        what: "IAM Credentials (generateAccessToken)",
        detail: detail.to_owned(),
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| invalid("not JSON"))?;
    let token = value
        .get("accessToken")
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid("no accessToken"))?;
    check_token("accessToken", token, MAX_TOKEN_LEN).map_err(|why| invalid(&why))?;
    let expires = value
        .get("expireTime")
        .and_then(|v| v.as_str())
        .and_then(crate::rfc3339::parse_rfc3339)
        .ok_or_else(|| invalid("no readable expireTime"))?;
    Ok((Secret::new(token), unix_seconds(expires)))
}

/// Refuses a URL a credential file names when it is neither on Google's hosts nor
/// under the base URL that replaces them (`endpoint`): nothing is sent to it.
pub(crate) fn check_google_url(
    field: &str,
    url: &str,
    endpoint: &str,
    origin: &Origin,
) -> Result<(), SourceError> {
    if is_google_api_url(url) || same_origin(url, endpoint) {
        return Ok(());
    }
    Err(SourceError::new(
        "credential file",
        origin,
        format!(
            "{field} {} is not one of Google's hosts (https://*.googleapis.com); nothing \
             was sent to it",
            crate::text::sanitize(url, 100)
        ),
    ))
}
