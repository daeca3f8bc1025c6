//! AWS as a workload identity federation subject (`credential_source.environment_id`
//! `aws1`): the region and role credentials (from the environment, else the instance
//! metadata service with an IMDSv2 session token), and the subject token itself, a
//! Signature Version 4 signed `GetCallerIdentity` request that Google's STS replays to
//! AWS.
//!
//! ```text
//!  region and keys in the environment? ── yes ─────────────────────────────┐
//!        │ no                                                              │
//!  PUT imdsv2_session_token_url (when named) ─▶ GET region_url ─▶ GET url ─▶ GET url/role
//!                                                                          ▼
//!                             sign POST GetCallerIdentity (SigV4) ─▶ subject token
//! ```
//!
//! Signing is HMAC-SHA-256 chained over the canonical request, written here over the
//! `hmac` and `sha2` crates: the `aws-sigv4` crate would bring the Smithy runtime and
//! its types into a core that does no I/O, for the sixty lines below. It is checked
//! against AWS's published Signature Version 4 test vectors.

use std::time::SystemTime;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{Origin, SourceError};
use crate::Secret;

/// The instance metadata service's addresses (IPv4 and IPv6).
pub const AWS_METADATA_HOSTS: [&str; 2] = ["169.254.169.254", "[fd00:ec2::254]"];
/// The verification URL when a file names none.
pub const DEFAULT_VERIFICATION_URL: &str =
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15";
/// The subject token type of an AWS signed request.
pub const AWS_SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:aws:token-type:aws4_request";

/// AWS security credentials: from the environment or the instance's role.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
}

impl AwsCredentials {
    /// Credentials from their three parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token,
        }
    }

    /// The role credentials the metadata service answers with
    /// (`AccessKeyId`, `SecretAccessKey`, `Token`).
    pub(crate) fn from_metadata(body: &[u8], origin: &Origin) -> Result<Self, SourceError> {
        let fail = |problem: &str| SourceError::new("AWS credentials", origin, problem);
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| fail("the role credentials are not JSON"))?;
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let key_id = text("AccessKeyId").ok_or_else(|| fail("no AccessKeyId"))?;
        let secret = text("SecretAccessKey").ok_or_else(|| fail("no SecretAccessKey"))?;
        for (name, value) in [("AccessKeyId", &key_id), ("SecretAccessKey", &secret)] {
            crate::oauth::check_token(name, value, 1024).map_err(|why| fail(&why))?;
        }
        Ok(Self::new(
            key_id,
            Secret::new(secret),
            text("Token").filter(|t| !t.is_empty()).map(Secret::new),
        ))
    }
}

/// A request signed with Signature Version 4, as Google's STS wants it described.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedRequest {
    /// The URL, as given.
    pub url: String,
    /// The method.
    pub method: String,
    /// The headers to send: `Authorization`, `host`, `x-amz-date` and, with temporary
    /// credentials, `x-amz-security-token`.
    pub headers: Vec<(String, String)>,
    /// The hex signature (the end of the `Authorization` header).
    pub signature: String,
}

/// `YYYYMMDDTHHMMSSZ` of `now`.
pub fn amz_date(now: SystemTime) -> String {
    crate::rfc3339::format_rfc3339(now).replace(['-', ':'], "")
}

/// Percent-encodes all but RFC 3986's unreserved characters (and `/` when `keep_slash`).
fn aws_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The canonical query: pairs decoded, re-encoded, sorted by name then value; pairs
/// without a value are left out (as google-auth's `parse_qs` does).
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (aws_encode(&name, false), aws_encode(&value, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs `method url` with an empty body for `service` in `region` at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`). The URL must be `https://` with a host.
pub fn sign_v4(
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    method: &str,
    url: &str,
    amz_date: &str,
) -> Result<SignedRequest, String> {
    let parsed = url::Url::parse(url).map_err(|_| "the AWS URL is not a URL".to_owned())?;
    let host = match parsed.host_str() {
        Some(host) if parsed.scheme() == "https" => host.to_owned(),
        _ => return Err("the AWS URL is not an https:// URL with a host".into()),
    };
    let date_stamp = amz_date.get(..8).ok_or("the signing date is malformed")?;
    let path = match parsed.path() {
        "" => "/",
        path => path,
    };
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.clone()),
        ("x-amz-date".into(), amz_date.to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.expose().to_owned()));
    }
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        aws_encode(path, true).replace("%25", "%"),
        canonical_query(parsed.query().unwrap_or("")),
        hex(&Sha256::digest(b"")),
    );
    let scope = format!("{date_stamp}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = format!("AWS4{}", credentials.secret_access_key.expose()).into_bytes();
    for part in [date_stamp, region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    let mut sent = vec![
        ("Authorization".to_owned(), authorization),
        ("host".to_owned(), host),
        ("x-amz-date".to_owned(), amz_date.to_owned()),
    ];
    if let Some(token) = &credentials.session_token {
        sent.push(("x-amz-security-token".into(), token.expose().to_owned()));
    }
    Ok(SignedRequest {
        url: url.to_owned(),
        method: method.to_owned(),
        headers: sent,
        signature,
    })
}

/// The subject token for Google's STS: the signed `GetCallerIdentity` request with the
/// pool provider (`audience`) added as `x-goog-cloud-target-resource`, as JSON and
/// then percent-encoded (as google-auth writes it).
pub fn aws_subject_token(
    credentials: &AwsCredentials,
    region: &str,
    verification_url: &str,
    audience: &str,
    now: SystemTime,
) -> Result<String, String> {
    let url = verification_url.replace("{region}", region);
    let host = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .ok_or("regional_cred_verification_url is not a URL")?;
    let first = host.split('.').next().unwrap_or("");
    let service = first.strip_suffix("-fips").unwrap_or(first);
    let signed = sign_v4(credentials, region, service, "POST", &url, &amz_date(now))?;
    let mut headers: Vec<serde_json::Value> = signed
        .headers
        .iter()
        .map(|(key, value)| serde_json::json!({"key": key, "value": value}))
        .collect();
    headers.push(serde_json::json!({"key": "x-goog-cloud-target-resource", "value": audience}));
    let body = serde_json::json!({"headers": headers, "method": "POST", "url": url});
    Ok(aws_encode(&body.to_string(), true))
}

/// True when `url` may be asked for AWS credentials or the region: the instance
/// metadata service's own addresses, or loopback (an emulator or a local stand-in).
pub fn is_aws_metadata_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        None => return false,
    };
    matches!(parsed.scheme(), "http" | "https")
        && (AWS_METADATA_HOSTS.contains(&host.as_str())
            || matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> AwsCredentials {
        AwsCredentials::new(
            "AKIDEXAMPLE",
            Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            None,
        )
    }

    /// AWS's Signature Version 4 test suite (`aws-sig-v4-test-suite`): region
    /// us-east-1, service `service`, 2015-08-30T12:36:00Z.
    #[test]
    fn published_test_vectors() {
        for (method, url, signature) in [
            (
                "GET",
                "https://example.amazonaws.com/",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "GET",
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "POST",
                "https://example.amazonaws.com/",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "POST",
                "https://example.amazonaws.com/?Param1=value1",
                "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
            ),
        ] {
            let signed = sign_v4(
                &example(),
                "us-east-1",
                "service",
                method,
                url,
                "20150830T123600Z",
            )
            .unwrap();
            assert_eq!(signed.signature, signature, "{method} {url}");
            assert_eq!(
                signed.headers[0].1,
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
                )
            );
        }
    }

    #[test]
    fn a_session_token_is_signed_and_sent() {
        let mut credentials = example();
        credentials.session_token = Some(Secret::new("session"));
        let signed = sign_v4(
            &credentials,
            "us-east-1",
            "sts",
            "POST",
            "https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
            "20150830T123600Z",
        )
        .unwrap();
        assert!(
            signed.headers[0]
                .1
                .contains("SignedHeaders=host;x-amz-date;x-amz-security-token")
        );
        assert_eq!(
            signed.headers[3],
            ("x-amz-security-token".into(), "session".into())
        );
    }

    #[test]
    fn the_subject_token_is_the_encoded_request() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let token = aws_subject_token(
            &example(),
            "us-east-2",
            DEFAULT_VERIFICATION_URL,
            "//iam.googleapis.com/pool",
            now,
        )
        .unwrap();
        let decoded: serde_json::Value = serde_json::from_str(
            &url::form_urlencoded::parse(format!("t={token}").as_bytes())
                .next()
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(
            decoded["url"],
            "https://sts.us-east-2.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
        );
        assert_eq!(decoded["method"], "POST");
        let headers = decoded["headers"].as_array().unwrap();
        assert_eq!(headers[1]["value"], "sts.us-east-2.amazonaws.com");
        assert_eq!(headers[2]["value"], "20150830T123600Z");
        assert_eq!(headers[3]["key"], "x-goog-cloud-target-resource");
        assert!(
            headers[0]["value"]
                .as_str()
                .unwrap()
                .contains("/20150830/us-east-2/sts/aws4_request")
        );
        assert!(!token.contains(['{', '"', ' ']));
    }

    #[test]
    fn only_the_metadata_service_or_loopback_is_asked() {
        assert!(is_aws_metadata_url(
            "http://169.254.169.254/latest/meta-data/iam/security-credentials"
        ));
        assert!(is_aws_metadata_url(
            "http://[fd00:ec2::254]/latest/api/token"
        ));
        assert!(is_aws_metadata_url("http://127.0.0.1:8080/latest"));
        assert!(!is_aws_metadata_url("http://attacker.example/latest"));
        assert!(!is_aws_metadata_url("file:///etc/passwd"));
    }
}
