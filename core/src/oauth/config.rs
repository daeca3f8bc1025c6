//! Who the client is and where Google's OAuth endpoints are.

use rand_core::CryptoRng;
use url::Url;

use super::pkce::{Pkce, random_token};
use crate::secret::Secret;

/// Google's OAuth endpoints, or an emulator's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthEndpoints {
    /// Where the person's browser is sent to consent.
    pub authorize: String,
    /// Code exchange and refresh.
    pub token: String,
    /// Token revocation.
    pub revoke: String,
    /// The signed-in person's email.
    pub userinfo: String,
    /// The issuers accepted in ID tokens and in a callback's `iss` (RFC 9207).
    pub issuers: Vec<String>,
}

/// The issuer names Google uses.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

impl OAuthEndpoints {
    /// Google's production endpoints.
    pub fn google() -> Self {
        Self {
            authorize: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token: "https://oauth2.googleapis.com/token".to_owned(),
            revoke: "https://oauth2.googleapis.com/revoke".to_owned(),
            userinfo: "https://www.googleapis.com/oauth2/v2/userinfo".to_owned(),
            issuers: GOOGLE_ISSUERS.iter().map(|i| (*i).to_owned()).collect(),
        }
    }

    /// Every endpoint under one base URL, with Google's paths: for the emulator, tests
    /// and servers configured with Google's paths (`http://127.0.0.1:PORT` gives
    /// `http://127.0.0.1:PORT/token`, …). Google's issuers and the base's origin are
    /// accepted.
    pub fn under(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        let mut issuers: Vec<String> = GOOGLE_ISSUERS.iter().map(|i| (*i).to_owned()).collect();
        issuers.push(base.to_owned());
        if let Ok(url) = Url::parse(base) {
            let origin = url.origin().ascii_serialization();
            if !issuers.contains(&origin) {
                issuers.push(origin);
            }
        }
        Self {
            authorize: format!("{base}/o/oauth2/v2/auth"),
            token: format!("{base}/token"),
            revoke: format!("{base}/revoke"),
            userinfo: format!("{base}/oauth2/v2/userinfo"),
            issuers,
        }
    }
}

impl Default for OAuthEndpoints {
    fn default() -> Self {
        Self::google()
    }
}

/// The scopes asked for by default: `openid email` (the token endpoint's ID token then
/// names the person, with no further request) and what Code Assist needs.
pub const DEFAULT_SCOPES: [&str; 4] = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

/// The redirect URI Google's installed-app clients use by default.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8085/oauth2callback";

/// An installed-app OAuth client: its id and secret (from configuration or the
/// environment, never baked in), its redirect URI, scopes and endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthClient {
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret. Google treats installed-app secrets as non-confidential,
    /// but it is still never shown.
    pub client_secret: Secret,
    /// Where Google sends the browser back to.
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Where the endpoints are.
    pub endpoints: OAuthEndpoints,
}

impl OAuthClient {
    /// A client with the default redirect URI, scopes and Google's endpoints.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: DEFAULT_REDIRECT_URI.to_owned(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            endpoints: OAuthEndpoints::google(),
        }
    }

    /// The same client with another redirect URI (a listener on another port).
    pub fn with_redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = redirect_uri.into();
        self
    }

    /// The same client with other endpoints.
    pub fn with_endpoints(mut self, endpoints: OAuthEndpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// Starts a sign-in: a fresh PKCE pair and `state` from `rng`, and the URL to
    /// open in the person's browser.
    pub fn authorization_request<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<AuthorizationRequest, crate::Error> {
        let pkce = Pkce::generate(rng);
        let state = random_token(rng);
        let url = self.authorization_url(&pkce, state.expose())?;
        Ok(AuthorizationRequest {
            url,
            state,
            pkce,
            redirect_uri: self.redirect_uri.clone(),
        })
    }

    /// The authorization URL for a given PKCE pair and state.
    pub fn authorization_url(&self, pkce: &Pkce, state: &str) -> Result<String, crate::Error> {
        let scope = self.scopes.join(" ");
        let url = Url::parse_with_params(
            &self.endpoints.authorize,
            [
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("response_type", "code"),
                ("scope", scope.as_str()),
                ("code_challenge", pkce.challenge()),
                ("code_challenge_method", "S256"),
                ("state", state),
                ("access_type", "offline"),
                ("prompt", "consent"),
            ],
        )
        .map_err(|error| {
            crate::Error::Config(format!("the authorize endpoint is not a URL: {error}"))
        })?;
        Ok(url.into())
    }
}

/// A sign-in in progress: the URL to open, and what the callback is checked against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// Open this in the person's browser.
    pub url: String,
    /// The expected `state` of the callback.
    pub state: Secret,
    /// The PKCE pair; the verifier goes with the code exchange.
    pub pkce: Pkce,
    /// The redirect URI in the URL; the code exchange must repeat it.
    pub redirect_uri: String,
}
