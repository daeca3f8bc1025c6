//! The email in an OpenID Connect ID token received straight from the token endpoint.
//!
//! OIDC Core §3.1.3.7: an ID token received directly from the token endpoint over TLS
//! needs no signature check; its `aud` must be this client and its `iss` an issuer the
//! client accepts. Only the payload is read, and only the claims used here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The longest email kept (RFC 5321's path limit).
const MAX_EMAIL: usize = 320;

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The email an ID token names, after checking it is for `client_id` and from one of
/// `issuers`. `Ok(None)` when the token carries no (verified) email; `Err` says why the
/// token itself is not acceptable.
pub fn id_token_email(
    id_token: &str,
    client_id: &str,
    issuers: &[String],
) -> Result<Option<String>, String> {
    let mut parts = id_token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the ID token is not a JWT (three dot-separated parts)".to_owned());
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the ID token's payload is not base64url".to_owned())?;
    let claims: Claims = serde_json::from_slice(&payload)
        .map_err(|_| "the ID token's payload is not the expected JSON".to_owned())?;
    let issuer = claims.iss.unwrap_or_default();
    if !issuers.iter().any(|accepted| accepted == &issuer) {
        return Err(format!(
            "the ID token comes from an issuer this client does not accept ({})",
            crate::text::sanitize(&issuer, 80)
        ));
    }
    let for_us = match &claims.aud {
        Some(Audience::One(aud)) => aud == client_id,
        Some(Audience::Many(auds)) => auds.iter().any(|aud| aud == client_id),
        None => false,
    };
    if !for_us {
        return Err("the ID token was issued to another client".to_owned());
    }
    let verified = !matches!(claims.email_verified, Some(serde_json::Value::Bool(false)))
        && !matches!(&claims.email_verified, Some(serde_json::Value::String(s)) if s == "false");
    Ok(claims
        .email
        .filter(|email| verified && email.len() <= MAX_EMAIL && crate::text::is_email(email)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn google() -> Vec<String> {
        vec![
            "https://accounts.google.com".to_owned(),
            "accounts.google.com".to_owned(),
        ]
    }

    #[test]
    fn reads_the_email_when_the_token_is_for_this_client() {
        let token = jwt(
            r#"{"iss": "https://accounts.google.com", "aud": "cid", "email": "p@example.com", "email_verified": true}"#,
        );
        assert_eq!(
            id_token_email(&token, "cid", &google()).unwrap().as_deref(),
            Some("p@example.com")
        );
        let many =
            jwt(r#"{"iss": "accounts.google.com", "aud": ["x", "cid"], "email": "p@example.com"}"#);
        assert!(id_token_email(&many, "cid", &google()).unwrap().is_some());
    }

    #[test]
    fn refuses_other_clients_issuers_and_shapes() {
        let other = jwt(
            r#"{"iss": "https://accounts.google.com", "aud": "someone-else", "email": "p@e.com"}"#,
        );
        assert!(id_token_email(&other, "cid", &google()).is_err());
        let issuer = jwt(r#"{"iss": "https://evil.example", "aud": "cid", "email": "p@e.com"}"#);
        assert!(id_token_email(&issuer, "cid", &google()).is_err());
        for bad in [
            "",
            "a.b",
            "a.!!!.c",
            "a.b.c.d",
            &format!("x.{}.y", URL_SAFE_NO_PAD.encode("[1]")),
        ] {
            assert!(id_token_email(bad, "cid", &google()).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_email_or_an_unverified_one_is_none() {
        let none = jwt(r#"{"iss": "accounts.google.com", "aud": "cid"}"#);
        assert_eq!(id_token_email(&none, "cid", &google()).unwrap(), None);
        let unverified = jwt(
            r#"{"iss": "accounts.google.com", "aud": "cid", "email": "p@e.com", "email_verified": false}"#,
        );
        assert_eq!(id_token_email(&unverified, "cid", &google()).unwrap(), None);
    }
}
