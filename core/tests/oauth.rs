//! OAuth flows driven with scripted responses.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{VirtualClock, drive};
use codeassist_core::oauth::{
    Credentials, OAuthClient, OAuthEndpoints, exchange_code, fetch_email, parse_callback,
    refresh_token, revoke_token,
};
use codeassist_core::{Error, Secret};

/// A counter as a "random" source: deterministic and distinct per draw.
struct Counter(u8);
impl rand_core::TryRng for Counter {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0 = self.0.wrapping_add(1);
        dst.fill(self.0);
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Counter {}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn ok(body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn client() -> OAuthClient {
    OAuthClient::new("client-1.apps.googleusercontent.com", "GOCSPX-secret")
}

#[test]
fn authorization_url_carries_every_parameter() {
    let request = client().authorization_request(&mut Counter(0)).unwrap();
    let url = url::Url::parse(&request.url).unwrap();
    assert_eq!(
        url.origin().ascii_serialization(),
        "https://accounts.google.com"
    );
    assert_eq!(url.path(), "/o/oauth2/v2/auth");
    let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], "client-1.apps.googleusercontent.com");
    assert_eq!(
        params["redirect_uri"],
        "http://localhost:8085/oauth2callback"
    );
    assert_eq!(params["response_type"], "code");
    assert_eq!(
        params["scope"],
        "openid email https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email"
    );
    assert_eq!(params["code_challenge"], request.pkce.challenge());
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["state"], request.state.expose());
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(request.state.expose().len(), 43);
    assert_ne!(
        request.state.expose(),
        request.pkce.verifier().expose(),
        "state and verifier are independent draws"
    );
    // The callback with that state is accepted, another is not.
    let callback = format!(
        "http://localhost:8085/oauth2callback?code=4/abc&state={}",
        request.state.expose()
    );
    assert_eq!(
        parse_callback(
            &callback,
            request.state.expose(),
            &client().endpoints.issuers
        )
        .unwrap()
        .expose(),
        "4/abc"
    );
}

#[test]
fn one_base_url_replaces_googles_hosts() {
    let client = client().with_endpoints(OAuthEndpoints::under("http://127.0.0.1:4000/"));
    let request = client.authorization_request(&mut Counter(0)).unwrap();
    assert!(
        request
            .url
            .starts_with("http://127.0.0.1:4000/o/oauth2/v2/auth?"),
        "{}",
        request.url
    );
    assert_eq!(client.endpoints.token, "http://127.0.0.1:4000/token");
}

#[test]
fn code_exchange_sends_the_form_and_builds_credentials() {
    let client = client();
    let flow = exchange_code(
        &client,
        &Secret::new("4/code"),
        &Secret::new("verifier"),
        "http://localhost:8085/oauth2callback",
    )
    .unwrap();
    let mut clock = VirtualClock::new(now());
    let (credentials, id_token) = drive(flow, &mut clock, |request, _| {
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "https://oauth2.googleapis.com/token");
        assert_eq!(request.headers()["content-type"], "application/x-www-form-urlencoded");
        let fields = form(request.body());
        assert_eq!(fields["grant_type"], "authorization_code");
        assert_eq!(fields["code"], "4/code");
        assert_eq!(fields["redirect_uri"], "http://localhost:8085/oauth2callback");
        assert_eq!(fields["client_id"], "client-1.apps.googleusercontent.com");
        assert_eq!(fields["client_secret"], "GOCSPX-secret");
        assert_eq!(fields["code_verifier"], "verifier");
        Ok(ok(r#"{"access_token": "ya29.a", "expires_in": 3599, "refresh_token": "1//r", "scope": "s", "token_type": "Bearer", "id_token": "x.y.z"}"#))
    })
    .unwrap();
    assert_eq!(credentials.access_token.unwrap().expose(), "ya29.a");
    assert_eq!(credentials.refresh_token.expose(), "1//r");
    assert_eq!(credentials.expires_at, Some(1_700_003_599));
    assert_eq!(credentials.client_secret.unwrap().expose(), "GOCSPX-secret");
    assert_eq!(credentials.token_type.as_deref(), Some("Bearer"));
    assert_eq!(id_token.unwrap().expose(), "x.y.z");
}

#[test]
fn code_exchange_without_refresh_token_is_an_error() {
    let flow = exchange_code(
        &client(),
        &Secret::new("c"),
        &Secret::new("v"),
        "http://localhost:8085/oauth2callback",
    )
    .unwrap();
    let error = drive(flow, &mut VirtualClock::new(now()), |_, _| {
        Ok(ok(r#"{"access_token": "a", "expires_in": 10}"#))
    })
    .unwrap_err();
    assert!(matches!(error, Error::NoRefreshToken), "{error:?}");
    let said = error.to_string();
    assert!(
        said.contains("no refresh token") && !said.contains("[redacted]"),
        "{said}"
    );
}

#[test]
fn refresh_keeps_or_replaces_the_refresh_token() {
    let credentials = Credentials::new("id", Some(Secret::new("cs")), "1//old");
    let flow = refresh_token(&credentials, "https://oauth2.googleapis.com/token").unwrap();
    let updated = drive(flow, &mut VirtualClock::new(now()), |request, _| {
        let fields = form(request.body());
        assert_eq!(fields["grant_type"], "refresh_token");
        assert_eq!(fields["refresh_token"], "1//old");
        assert_eq!(fields["client_id"], "id");
        assert_eq!(fields["client_secret"], "cs");
        Ok(ok(r#"{"access_token": "a2", "expires_in": "3600"}"#))
    })
    .unwrap();
    assert_eq!(updated.refresh_token.expose(), "1//old");
    assert_eq!(updated.expires_at, Some(1_700_003_600));

    let flow = refresh_token(&credentials, "https://oauth2.googleapis.com/token").unwrap();
    let updated = drive(flow, &mut VirtualClock::new(now()), |_, _| {
        Ok(ok(
            r#"{"access_token": "a3", "expires_in": 3600, "refresh_token": "1//rotated"}"#,
        ))
    })
    .unwrap();
    assert_eq!(updated.refresh_token.expose(), "1//rotated");
}

#[test]
fn invalid_grant_says_sign_in_again() {
    let credentials = Credentials::new("id", None, "1//revoked");
    let flow = refresh_token(&credentials, "https://oauth2.googleapis.com/token").unwrap();
    let error = drive(flow, &mut VirtualClock::new(now()), |_, _| {
        Ok(http::Response::builder()
            .status(400)
            .body(br#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#.to_vec())
            .unwrap())
    })
    .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.class(), ErrorClass::AuthPermanent);
    assert!(error.needs_sign_in());
}

#[test]
fn userinfo_and_revoke() {
    let token = Secret::new("ya29.t");
    let email = drive(
        fetch_email(&token, "https://www.googleapis.com/oauth2/v2/userinfo").unwrap(),
        &mut VirtualClock::new(now()),
        |request, _| {
            assert_eq!(request.headers()["authorization"], "Bearer ya29.t");
            Ok(ok(
                r#"{"id": "1", "email": "person@example.com", "verified_email": true}"#,
            ))
        },
    )
    .unwrap();
    assert_eq!(email, "person@example.com");

    let error = drive(
        fetch_email(&token, "https://www.googleapis.com/oauth2/v2/userinfo").unwrap(),
        &mut VirtualClock::new(now()),
        |_, _| Ok(ok(r#"{"id": "1"}"#)),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidResponse { .. }));

    // Revocation authenticates as the client, as at the token endpoint (RFC 7009 §2.1).
    let confidential = Credentials::new("cid", Some(Secret::new("cs")), "1//r");
    drive(
        revoke_token(&confidential, "https://oauth2.googleapis.com/revoke").unwrap(),
        &mut VirtualClock::new(now()),
        |request, _| {
            let fields = form(request.body());
            assert_eq!(fields["token"], "1//r");
            assert_eq!(fields["token_type_hint"], "refresh_token");
            assert_eq!(fields["client_id"], "cid");
            assert_eq!(fields["client_secret"], "cs");
            Ok(ok(""))
        },
    )
    .unwrap();
    let public = Credentials::new("cid", None, "1//r");
    drive(
        revoke_token(&public, "https://oauth2.googleapis.com/revoke").unwrap(),
        &mut VirtualClock::new(now()),
        |request, _| {
            let fields = form(request.body());
            assert_eq!(fields["client_id"], "cid");
            assert!(!fields.contains_key("client_secret"));
            Ok(ok(""))
        },
    )
    .unwrap();
}

#[test]
fn secrets_never_go_to_plain_http_hosts() {
    let token = Secret::new("ya29.t");
    assert!(matches!(
        fetch_email(&token, "http://evil.example/userinfo"),
        Err(Error::InsecureEndpoint(_))
    ));
    let credentials = Credentials::new("id", None, "1//r");
    assert!(matches!(
        refresh_token(&credentials, "http://oauth2.googleapis.com/token"),
        Err(Error::InsecureEndpoint(_))
    ));
    assert!(fetch_email(&token, "http://127.0.0.1:9/userinfo").is_ok());
}

/// A token endpoint that echoes what it was sent, without the keys that would mark
/// the values as secrets (the client secret in prose, the code form-encoded): none of
/// it reaches the error's line, its `Display` or its summary.
#[test]
fn what_was_sent_never_comes_back_in_the_error() {
    let credentials = Credentials::new(
        "id",
        Some(Secret::new("hunter2-client-words")),
        "opaque-refresh-value",
    );
    let flow = refresh_token(&credentials, "https://oauth2.googleapis.com/token").unwrap();
    let error = drive(flow, &mut VirtualClock::new(now()), |_, _| {
        Ok(http::Response::builder()
            .status(503)
            .body(
                br#"{"error": "temporarily_unavailable", "error_description": "client hunter2-client-words with opaque-refresh-value: try later"}"#
                    .to_vec(),
            )
            .unwrap())
    })
    .unwrap_err();
    let api = error.api().unwrap();
    let shown = format!(
        "{error} | {} | {:?} | {:?}",
        api.message(),
        api.summary(),
        api
    );
    for secret in ["hunter2-client-words", "opaque-refresh-value"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("[redacted]"), "{shown}");

    let client = OAuthClient::new("id", "hunter2-client-words");
    let flow = exchange_code(
        &client,
        &Secret::new("4/0AQlEd8-the-code"),
        &Secret::new("verifier-value-0123456789"),
        "http://127.0.0.1:1/oauth2callback",
    )
    .unwrap();
    let error = drive(flow, &mut VirtualClock::new(now()), |request, _| {
        // The form echoed back as it was sent: form-encoded.
        let echoed = String::from_utf8_lossy(request.body()).into_owned();
        Ok(http::Response::builder()
            .status(500)
            .body(format!("internal error handling {echoed}").into_bytes())
            .unwrap())
    })
    .unwrap_err();
    let shown = format!("{error}");
    for leaked in ["hunter2", "0AQlEd8", "verifier-value"] {
        assert!(!shown.contains(leaked), "{leaked} in {shown}");
    }
}

/// An email is kept and shown only when it is one: UserInfo's answer holding terminal
/// controls or a bidi override is refused, and such an email in a credential file
/// counts as unknown.
#[test]
fn emails_with_controls_are_neither_kept_nor_shown() {
    let token = Secret::new("ya29.t");
    for hostile in [
        "person@example.com\u{1b}[2J",
        "person@exa\u{202e}moc.elpmaxe",
        "person@example.com\nroot",
        "no-at-sign",
    ] {
        let body = serde_json::json!({"email": hostile}).to_string();
        let error = drive(
            fetch_email(&token, "https://www.googleapis.com/oauth2/v2/userinfo").unwrap(),
            &mut VirtualClock::new(now()),
            |_, _| Ok(ok(&body)),
        )
        .unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains("not an email address"), "{shown}");
        assert!(!shown.contains(['\u{1b}', '\u{202e}', '\n']), "{shown:?}");

        let file =
            serde_json::json!({"client_id": "id", "refresh_token": "1//r", "email": hostile});
        let credentials: Credentials = serde_json::from_value(file).unwrap();
        assert_eq!(credentials.email, None, "{hostile:?}");
    }
}
