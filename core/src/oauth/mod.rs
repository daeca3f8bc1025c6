//! Google OAuth 2.0 for installed apps (Authorization Code + PKCE), without I/O.
//!
//! A sign-in, step by step:
//! 1. [`OAuthClient::authorization_request`] makes a PKCE pair, a `state` and the URL
//!    to open in the person's browser (with `access_type=offline` and
//!    `prompt=consent`, so Google returns a refresh token);
//! 2. the callback (or what the person pastes) goes through [`parse_callback`], which
//!    checks `state` in constant time and types Google's `error` values;
//! 3. [`exchange_code`] trades the code for [`Credentials`];
//! 4. [`fetch_email`] names who signed in.
//!
//! Afterwards [`refresh_token`] renews the access token and [`revoke_token`] signs out
//! at Google; when to refresh, under which lock, and what to do when the token
//! endpoint is down is decided by [`crate::client`]. A refresh that answers
//! `invalid_grant` fails with [`ErrorClass::AuthPermanent`](crate::ErrorClass): sign in
//! again.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use codeassist_core::flow::{drive, VirtualClock};
//! use codeassist_core::oauth::{Credentials, refresh_token};
//!
//! let credentials = Credentials::new("client-id", None, "refresh-token");
//! let flow = refresh_token(&credentials, "https://oauth2.googleapis.com/token").unwrap();
//! let mut clock = VirtualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let refreshed = drive(flow, &mut clock, |request, _| {
//!     assert_eq!(request.uri(), "https://oauth2.googleapis.com/token");
//!     let body = br#"{"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"}"#;
//!     Ok(http::Response::builder().status(200).body(body.to_vec()).unwrap())
//! })
//! .unwrap();
//! assert_eq!(refreshed.access_token.unwrap().expose(), "ya29.new");
//! assert_eq!(refreshed.expires_at, Some(1_700_003_599));
//! assert_eq!(refreshed.refresh_token.expose(), "refresh-token");
//! ```

mod callback;
mod config;
mod credentials;
mod flows;
mod id_token;
mod login;
mod pkce;

pub use callback::{
    CALLBACK_PATH, CALLBACK_READ_DEADLINE, CallbackError, CallbackReply, MAX_CALLBACK_HEAD,
    MAX_CALLBACK_INPUT, callback_http_response, callback_reply, head_complete, parse_callback,
    reply_to_head, sign_in_page,
};
pub use config::{
    AuthorizationRequest, DEFAULT_REDIRECT_URI, DEFAULT_SCOPES, GOOGLE_ISSUERS, OAuthClient,
    OAuthEndpoints,
};
pub use credentials::{
    ASSUMED_LIFETIME, Credentials, DEFAULT_REFRESH_WINDOW, MAX_ID_TOKEN_LEN, MAX_LIFETIME,
    MAX_TOKEN_LEN, TokenResponse, check_token, unix_seconds,
};
pub use flows::{
    CodeExchange, FetchEmail, RevokeToken, TokenRequest, exchange_code, fetch_email, refresh_token,
    revoke_token,
};
pub use id_token::id_token_email;
pub use login::{
    DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, Logout, MAX_CALLBACK_CONNECTIONS, judge_paste,
};
pub use pkce::{Pkce, random_token};
