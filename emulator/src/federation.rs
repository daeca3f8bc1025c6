//! Workload identity federation and impersonation as Google serves them, with the
//! workload's side played too:
//!
//! | request | plays |
//! |---|---|
//! | `POST /v1/token` | Google's Security Token Service (RFC 8693 token exchange) |
//! | `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken` | IAM Credentials |
//! | `PUT /latest/api/token`, `GET /latest/meta-data/…` | AWS's instance metadata service (IMDSv2 only) |
//!
//! STS checks what Google checks: the grant type, the requested token type, a
//! workload or workforce pool provider as the audience, a supported subject token
//! type, the subject token itself ([`SUBJECT_TOKEN`], or for AWS a signed
//! `GetCallerIdentity` request naming the audience), `options.userProject` only for a
//! workforce pool, and the client when one authenticates. IAM Credentials checks the
//! caller's token, the target account, the scopes, the lifetime and the delegates.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    Answer, CLIENT_ID, CLIENT_SECRET, METADATA_EMAIL, SERVICE_ACCOUNT_EMAIL, State, authorized,
    form, google_error, json_answer, oauth_error, respond,
};

/// The subject token the emulated STS accepts for OIDC and SAML subjects (what a
/// workload's identity provider would issue).
pub const SUBJECT_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlbXVsYXRvci13b3JrbG9hZCJ9.c2lnbmF0dXJl";
/// The AWS role the emulated instance metadata service hands out.
pub const AWS_ROLE: &str = "emulator-role";
/// That role's access key id.
pub const AWS_ACCESS_KEY_ID: &str = "ASIAEMULATOREXAMPLE";
/// That role's secret key (it protects nothing).
pub const AWS_SECRET_ACCESS_KEY: &str = "emulator/secret/access/key/0000000000000";
/// That role's session token.
pub const AWS_SESSION_TOKEN: &str = "emulator-aws-session-token";
/// The availability zone the emulated instance runs in.
pub const AWS_ZONE: &str = "us-east-2b";

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TYPES: [&str; 4] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:aws:token-type:aws4_request",
];

/// The service accounts IAM Credentials lets a caller impersonate.
fn known_account(email: &str) -> bool {
    email == SERVICE_ACCOUNT_EMAIL || email == METADATA_EMAIL
}

fn is_workforce(audience: &str) -> bool {
    audience.starts_with("//iam.googleapis.com/locations/")
        && audience.contains("/workforcePools/")
        && audience.contains("/providers/")
}

fn is_workload(audience: &str) -> bool {
    audience.starts_with("//iam.googleapis.com/projects/")
        && audience.contains("/locations/global/workloadIdentityPools/")
        && audience.contains("/providers/")
}

/// `POST /v1/token`: the token exchange.
pub(crate) fn sts(state: &mut State, request: &http::Request<Vec<u8>>, now: SystemTime) -> Answer {
    let fields = form(request.body());
    let get = |key: &str| fields.get(key).map(String::as_str).unwrap_or("");
    if get("grant_type") != TOKEN_EXCHANGE {
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type.");
    }
    if get("requested_token_type") != ACCESS_TOKEN_TYPE {
        return oauth_error(
            400,
            "invalid_request",
            "Invalid requested_token_type: expected urn:ietf:params:oauth:token-type:access_token.",
        );
    }
    let audience = get("audience");
    if !is_workload(audience) && !is_workforce(audience) {
        return oauth_error(
            400,
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid.",
        );
    }
    if let Some(authorization) = request.headers().get("authorization") {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if authorization.as_bytes() != expected.as_bytes() {
            return oauth_error(401, "invalid_client", "The OAuth client was not found.");
        }
    }
    if let Some(options) = fields.get("options") {
        let user_project = serde_json::from_str::<Value>(options)
            .ok()
            .and_then(|o| o.get("userProject").cloned());
        if user_project.is_none() || !is_workforce(audience) {
            return oauth_error(
                400,
                "invalid_request",
                "userProject is only valid for workforce pool providers.",
            );
        }
    }
    if get("scope").trim().is_empty() {
        return oauth_error(400, "invalid_scope", "A scope is required.");
    }
    let subject_type = get("subject_token_type");
    if !SUBJECT_TYPES.contains(&subject_type) {
        return oauth_error(400, "invalid_request", "Invalid subject_token_type.");
    }
    let subject = get("subject_token");
    let valid = match subject_type {
        "urn:ietf:params:aws:token-type:aws4_request" => aws_request_is_valid(subject, audience),
        _ => subject == SUBJECT_TOKEN,
    };
    if !valid {
        return oauth_error(
            400,
            "invalid_grant",
            "The subject token is invalid or does not match the provider.",
        );
    }
    let (access, lifetime) = super::new_access_token(state, now);
    json_answer(
        200,
        json!({"access_token": access, "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer", "expires_in": lifetime}),
    )
}

/// An AWS subject token: the URL-encoded JSON of a signed `GetCallerIdentity` POST
/// whose headers name the audience, a date, and the emulated role's key in a
/// Signature Version 4 `Authorization` for the URL's region and `sts`.
fn aws_request_is_valid(subject: &str, audience: &str) -> bool {
    let decoded: String =
        url::form_urlencoded::parse(format!("t={}", subject.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    let Ok(value) = serde_json::from_str::<Value>(&decoded) else {
        return false;
    };
    let header = |name: &str| {
        value["headers"].as_array().and_then(|headers| {
            headers
                .iter()
                .find(|h| {
                    h["key"]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case(name))
                })
                .and_then(|h| h["value"].as_str())
        })
    };
    let url = value["url"].as_str().unwrap_or("");
    let region = url
        .strip_prefix("https://sts.")
        .and_then(|rest| rest.split(".amazonaws.com").next())
        .unwrap_or("");
    let date = header("x-amz-date").unwrap_or("");
    let scope = format!(
        "Credential={AWS_ACCESS_KEY_ID}/{}/{region}/sts/aws4_request",
        date.get(..8).unwrap_or("")
    );
    value["method"] == "POST"
        && url.contains("Action=GetCallerIdentity")
        && !region.is_empty()
        && date.len() == 16
        && header("x-goog-cloud-target-resource") == Some(audience)
        && header("Authorization").is_some_and(|a| {
            a.starts_with("AWS4-HMAC-SHA256 ") && a.contains(&scope) && a.contains("Signature=")
        })
}

/// `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`.
pub(crate) fn generate_access_token(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    now: SystemTime,
) -> Answer {
    if !authorized(state, request, now) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            json!([]),
        );
    }
    let email = path
        .rsplit_once("/serviceAccounts/")
        .and_then(|(_, rest)| rest.strip_suffix(":generateAccessToken"))
        .unwrap_or("");
    if !known_account(email) {
        return google_error(
            404,
            "NOT_FOUND",
            &format!("Not found; Gaia id not found for email {email}"),
            json!([]),
        );
    }
    let body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
    let scopes_ok = body["scope"]
        .as_array()
        .is_some_and(|s| !s.is_empty() && s.iter().all(Value::is_string));
    if !scopes_ok {
        return google_error(400, "INVALID_ARGUMENT", "Scope required.", json!([]));
    }
    let delegates_ok = match &body["delegates"] {
        Value::Null => true,
        Value::Array(delegates) => delegates.iter().all(|d| {
            d.as_str()
                .and_then(|d| d.strip_prefix("projects/-/serviceAccounts/"))
                .is_some_and(known_account)
        }),
        _ => false,
    };
    if !delegates_ok {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "Delegates must be projects/-/serviceAccounts/EMAIL of known accounts.",
            json!([]),
        );
    }
    let lifetime = match body["lifetime"].as_str() {
        None => 3600,
        Some(text) => match text.strip_suffix('s').and_then(|s| s.parse::<u64>().ok()) {
            Some(seconds) if (1..=43_200).contains(&seconds) => seconds,
            _ => {
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The lifetime must be a number of seconds between 1s and 43200s.",
                    json!([]),
                );
            }
        },
    };
    state.next_id += 1;
    let token = format!("ya29.emu-impersonated-{}", state.next_id);
    let expires = now + Duration::from_secs(lifetime);
    state.access_tokens.insert(token.clone(), expires);
    json_answer(
        200,
        json!({"accessToken": token, "expireTime": rfc3339(expires)}),
    )
}

/// `2026-12-04T12:00:00Z`.
fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// AWS's instance metadata service, IMDSv2 only: a session token from `PUT
/// /latest/api/token` must come with every read.
pub(crate) fn aws_metadata(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
) -> Answer {
    if request.method() == http::Method::PUT && path == "/latest/api/token" {
        let ttl = request
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if !ttl.is_some_and(|ttl| (1..=21_600).contains(&ttl)) {
            return respond(400, "text/plain", b"Missing or invalid TTL".to_vec());
        }
        state.next_id += 1;
        let token = format!("imds-session-{}", state.next_id);
        state.imds_sessions.push(token.clone());
        return respond(200, "text/plain", token.into_bytes());
    }
    let session = request
        .headers()
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !state.imds_sessions.iter().any(|s| s == session) {
        return respond(401, "text/plain", b"Unauthorized".to_vec());
    }
    let role_path = format!("/latest/meta-data/iam/security-credentials/{AWS_ROLE}");
    match path {
        "/latest/meta-data/placement/availability-zone" => {
            respond(200, "text/plain", AWS_ZONE.as_bytes().to_vec())
        }
        "/latest/meta-data/iam/security-credentials"
        | "/latest/meta-data/iam/security-credentials/" => {
            respond(200, "text/plain", AWS_ROLE.as_bytes().to_vec())
        }
        p if p == role_path => json_answer(
            200,
            json!({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": AWS_ACCESS_KEY_ID,
                "SecretAccessKey": AWS_SECRET_ACCESS_KEY, "Token": AWS_SESSION_TOKEN}),
        ),
        _ => respond(404, "text/plain", b"Not Found".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_of_known_instants() {
        let at = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(super::rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339(at(1_709_164_800)), "2024-02-29T00:00:00Z");
    }
}
