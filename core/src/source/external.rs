//! Workload identity federation (`type: external_account`): a token the workload
//! already holds (the subject token: an OIDC ID token, a SAML assertion, or an AWS
//! signed request) is exchanged at Google's Security Token Service (RFC 8693) for a
//! Google access token, which may then buy a service account's token
//! ([`super::impersonate`]).
//!
//! ```text
//!  subject token ◀── file (text | JSON field)       Action::Read, on every refresh
//!                ◀── url (headers, text | JSON)      Action::Send
//!                ◀── executable (allowed by GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1)
//!                      output_file still valid? ── yes ─▶ its token
//!                      │ no: Action::Run (timeout) ─▶ its stdout (or output_file)
//!                ◀── aws ([`super::aws`])
//!        │
//!        ▼
//!  POST token_url (grant_type token-exchange, audience, scope, subject_token…)
//!        │ access token
//!        ▼
//!  service_account_impersonation_url? ── no ──▶ Done
//!        │ yes
//!        ▼
//!  POST …:generateAccessToken (Bearer: the STS token) ──▶ Done
//! ```
//!
//! Every Google URL the file names must be on Google's hosts (or under the base URL
//! that replaces them); the check is made before anything is read, run or sent. The
//! subject token's own URL (`credential_source.url`) is the workload's and may point
//! anywhere, such as a local identity endpoint.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use super::aws::{
    AWS_SUBJECT_TOKEN_TYPE, AwsCredentials, DEFAULT_VERIFICATION_URL, aws_subject_token,
    is_aws_metadata_url,
};
use super::impersonate::{Impersonation, check_google_url};
use super::{CLOUD_PLATFORM_SCOPE, Environment, Origin, SourceError};
use crate::client::{Command, Input, Next};
use crate::flow::request::{USER_AGENT, form_post};
use crate::flow::{Call, Request, Response};
use crate::oauth::{Credentials, MAX_ID_TOKEN_LEN, TokenResponse, check_token, unix_seconds};
use crate::{Error, Secret};

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type asked of STS.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The variable that allows executable-sourced credentials (`1`).
pub const ALLOW_EXECUTABLES_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";
/// The AWS variables read for an AWS subject.
pub const AWS_VARS: [&str; 5] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];
/// How long an executable may run when the file does not say: 30 s.
pub const DEFAULT_EXECUTABLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest and longest timeouts a file may set for an executable.
pub const EXECUTABLE_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(5), Duration::from_secs(120));

/// How a subject token is read from what a file or URL holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectFormat {
    /// The whole content (surrounding whitespace removed).
    Text,
    /// One string field of a JSON object.
    Json {
        /// The field (`subject_token_field_name`).
        field: String,
    },
}

/// Where the subject token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectSource {
    /// A file, read again on every refresh (the workload's platform rotates it).
    File {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: SubjectFormat,
    },
    /// A URL of the workload's platform.
    Url {
        /// The URL.
        url: String,
        /// Headers to send with the request (values kept secret: they may carry a
        /// credential of the workload's own).
        headers: Vec<(String, Secret)>,
        /// The answer's format.
        format: SubjectFormat,
    },
    /// A program that prints the token (Google's executable response format).
    Executable {
        /// The command line (split as a POSIX shell would, never run by one).
        command: Vec<String>,
        /// The longest it may run.
        timeout: Duration,
        /// Where it also writes its response, read first as a cache.
        output_file: Option<PathBuf>,
    },
    /// AWS: a signed `GetCallerIdentity` request.
    Aws {
        /// Where the region is read when the environment has none.
        region_url: Option<String>,
        /// Where the role name and its credentials are read.
        credentials_url: Option<String>,
        /// Where an IMDSv2 session token is asked for (`PUT`), when named.
        session_token_url: Option<String>,
        /// The `GetCallerIdentity` URL, `{region}` replaced.
        verification_url: String,
    },
}

/// What of the environment an external account uses, captured at discovery.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExternalEnvironment {
    /// `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`.
    pub allow_executables: bool,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub aws_region: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
    pub aws_credentials: Option<AwsCredentials>,
}

impl ExternalEnvironment {
    /// What `env` holds of it.
    pub fn from_environment(env: &Environment) -> Self {
        let aws_credentials = match (env.get(AWS_VARS[2]), env.get(AWS_VARS[3])) {
            (Some(id), Some(secret)) => Some(AwsCredentials::new(
                id,
                Secret::new(secret),
                env.get(AWS_VARS[4]).map(Secret::new),
            )),
            _ => None,
        };
        Self {
            allow_executables: env.get(ALLOW_EXECUTABLES_VAR) == Some("1"),
            aws_region: env
                .get(AWS_VARS[0])
                .or_else(|| env.get(AWS_VARS[1]))
                .map(str::to_owned),
            aws_credentials,
        }
    }
}

/// A workload identity federation credential (`type: external_account`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExternalAccount {
    /// The workload identity pool provider (or workforce pool provider).
    pub audience: String,
    /// The subject token's type.
    pub subject_token_type: String,
    /// Google's STS (`token_url`).
    pub token_url: String,
    /// Where the subject token comes from.
    pub subject: SubjectSource,
    /// A service account to impersonate with the STS token.
    pub impersonation: Option<Impersonation>,
    /// The project billed for a workforce pool's calls.
    pub workforce_pool_user_project: Option<String>,
    /// The OAuth client STS is called with (basic authentication), when named.
    pub client_id: Option<String>,
    /// That client's secret.
    pub client_secret: Option<Secret>,
    /// `quota_project_id` from the file.
    pub quota_project_id: Option<String>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// What of the environment is used.
    pub environment: ExternalEnvironment,
    /// The file, and the variable that named it.
    pub origin: Origin,
}

#[derive(Deserialize)]
struct ExternalFile {
    audience: String,
    subject_token_type: String,
    #[serde(default)]
    token_url: Option<String>,
    credential_source: Value,
    #[serde(default)]
    service_account_impersonation_url: Option<String>,
    #[serde(default)]
    service_account_impersonation: Option<ImpersonationOptions>,
    #[serde(default)]
    workforce_pool_user_project: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    quota_project_id: Option<String>,
}

#[derive(Deserialize)]
struct ImpersonationOptions {
    #[serde(default)]
    token_lifetime_seconds: Option<u64>,
}

/// Google's STS, where a file names no `token_url`.
pub const GOOGLE_STS_URL: &str = "https://sts.googleapis.com/v1/token";

/// True when `audience` names a workforce pool (people, not workloads).
pub fn is_workforce_audience(audience: &str) -> bool {
    let Some(rest) = audience.strip_prefix("//iam.googleapis.com/locations/") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() >= 5
        && parts[1] == "workforcePools"
        && parts[3] == "providers"
        && parts.iter().all(|p| !p.is_empty())
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn parse_format(
    source: &Value,
    fail: &dyn Fn(String) -> SourceError,
) -> Result<SubjectFormat, SourceError> {
    let Some(format) = source.get("format") else {
        return Ok(SubjectFormat::Text);
    };
    match text_of(format, "type").as_deref() {
        None | Some("text") => Ok(SubjectFormat::Text),
        Some("json") => match text_of(format, "subject_token_field_name") {
            Some(field) => Ok(SubjectFormat::Json { field }),
            None => Err(fail(
                "credential_source.format of type json needs subject_token_field_name".into(),
            )),
        },
        Some(other) => Err(fail(format!(
            "credential_source.format type {:?} is not text or json",
            crate::text::sanitize(other, 40)
        ))),
    }
}

fn parse_subject(
    source: &Value,
    fail: &dyn Fn(String) -> SourceError,
) -> Result<SubjectSource, SourceError> {
    if !source.is_object() {
        return Err(fail("credential_source is not an object".into()));
    }
    if let Some(environment) = text_of(source, "environment_id") {
        if !environment.starts_with("aws") {
            return Err(fail(format!(
                "credential_source.environment_id {:?} is not supported (aws1 is)",
                crate::text::sanitize(&environment, 40)
            )));
        }
        if environment != "aws1" {
            return Err(fail(format!(
                "aws version {:?} is not supported (aws1 is)",
                crate::text::sanitize(&environment, 40)
            )));
        }
        let metadata_url = |key: &str| -> Result<Option<String>, SourceError> {
            match text_of(source, key) {
                Some(url) if !is_aws_metadata_url(&url) => Err(fail(format!(
                    "credential_source.{key} {} is not the AWS instance metadata service \
                     (169.254.169.254 or fd00:ec2::254)",
                    crate::text::sanitize(&url, 100)
                ))),
                other => Ok(other),
            }
        };
        return Ok(SubjectSource::Aws {
            region_url: metadata_url("region_url")?,
            credentials_url: metadata_url("url")?,
            session_token_url: metadata_url("imdsv2_session_token_url")?,
            verification_url: text_of(source, "regional_cred_verification_url")
                .unwrap_or_else(|| DEFAULT_VERIFICATION_URL.to_owned()),
        });
    }
    if let Some(executable) = source.get("executable") {
        let command = text_of(executable, "command")
            .ok_or_else(|| fail("credential_source.executable has no command".into()))?;
        let command = shlex::split(&command)
            .filter(|words| !words.is_empty())
            .ok_or_else(|| {
                fail("credential_source.executable.command cannot be split into words".into())
            })?;
        let timeout = match executable.get("timeout_millis").and_then(Value::as_u64) {
            None => DEFAULT_EXECUTABLE_TIMEOUT,
            Some(millis) => {
                let timeout = Duration::from_millis(millis);
                let (least, most) = EXECUTABLE_TIMEOUT_RANGE;
                if timeout < least || timeout > most {
                    return Err(fail(
                        "executable timeout_millis must be between 5000 and 120000".into(),
                    ));
                }
                timeout
            }
        };
        return Ok(SubjectSource::Executable {
            command,
            timeout,
            output_file: text_of(executable, "output_file").map(PathBuf::from),
        });
    }
    let format = parse_format(source, fail)?;
    if let Some(path) = text_of(source, "file") {
        return Ok(SubjectSource::File {
            path: PathBuf::from(path),
            format,
        });
    }
    if let Some(url) = text_of(source, "url") {
        let mut headers = Vec::new();
        if let Some(map) = source.get("headers").and_then(Value::as_object) {
            for (name, value) in map {
                let value = value
                    .as_str()
                    .ok_or_else(|| fail(format!("credential_source.headers.{name} is not text")))?;
                if http::HeaderName::try_from(name.as_str()).is_err()
                    || http::HeaderValue::try_from(value).is_err()
                {
                    return Err(fail(
                        "credential_source.headers holds a header that cannot be sent".into(),
                    ));
                }
                headers.push((name.clone(), Secret::new(value)));
            }
        }
        if url
            .parse::<http::Uri>()
            .map(|u| u.host().is_none())
            .unwrap_or(true)
        {
            return Err(fail("credential_source.url is not a URL".into()));
        }
        return Ok(SubjectSource::Url {
            url,
            headers,
            format,
        });
    }
    if source.get("certificate").is_some() {
        return Err(fail(
            "credential_source.certificate (X.509 workload identity federation) is not supported"
                .into(),
        ));
    }
    Err(fail(
        "credential_source names no file, url, executable or aws environment".into(),
    ))
}

impl ExternalAccount {
    /// Parses an `external_account` file read from `origin`.
    pub(crate) fn parse(bytes: &[u8], origin: &Origin) -> Result<Self, SourceError> {
        let fail =
            |problem: String| SourceError::new("workload identity federation", origin, problem);
        let file: ExternalFile = serde_json::from_slice(bytes)
            .map_err(|e| fail(format!("unreadable external_account file ({e})")))?;
        let audience = file.audience.trim().to_owned();
        if audience.is_empty() || audience.len() > 1024 {
            return Err(fail("audience is empty or too long".into()));
        }
        let subject_token_type = file.subject_token_type.trim().to_owned();
        if subject_token_type.is_empty() || !crate::text::is_one_word(&subject_token_type) {
            return Err(fail("subject_token_type is empty or not one word".into()));
        }
        let token_url = file
            .token_url
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| GOOGLE_STS_URL.to_owned());
        crate::flow::request::secure_uri(&token_url)
            .map_err(|e| fail(format!("token_url: {e}")))?;
        let subject = parse_subject(&file.credential_source, &fail)?;
        if matches!(subject, SubjectSource::Aws { .. })
            && subject_token_type != AWS_SUBJECT_TOKEN_TYPE
        {
            return Err(fail(format!(
                "an aws credential_source needs subject_token_type {AWS_SUBJECT_TOKEN_TYPE}"
            )));
        }
        let workforce_pool_user_project = file
            .workforce_pool_user_project
            .filter(|p| !p.trim().is_empty());
        if workforce_pool_user_project.is_some() && !is_workforce_audience(&audience) {
            return Err(fail(
                "workforce_pool_user_project is only valid with a workforce pool audience".into(),
            ));
        }
        let impersonation = match file
            .service_account_impersonation_url
            .filter(|url| !url.trim().is_empty())
        {
            Some(url) => Some(
                Impersonation::from_url(&url, origin)?.with_lifetime(
                    file.service_account_impersonation
                        .and_then(|options| options.token_lifetime_seconds),
                    origin,
                )?,
            ),
            None => None,
        };
        Ok(Self {
            audience,
            subject_token_type,
            token_url,
            subject,
            impersonation,
            workforce_pool_user_project,
            client_id: file.client_id.filter(|id| !id.trim().is_empty()),
            client_secret: file
                .client_secret
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            quota_project_id: file.quota_project_id.filter(|p| !p.trim().is_empty()),
            scopes: vec![CLOUD_PLATFORM_SCOPE.to_owned()],
            environment: ExternalEnvironment::default(),
            origin: origin.clone(),
        })
    }

    fn error(&self, problem: impl Into<String>) -> Error {
        SourceError::new("workload identity federation", &self.origin, problem).into()
    }

    /// The steps that mint a new token for `current` at `now`; `token_endpoint` is the
    /// configured token endpoint, whose origin stands in for Google's hosts.
    pub(crate) fn mint(
        &self,
        current: Credentials,
        token_endpoint: &str,
        now: SystemTime,
    ) -> Result<Next<Credentials>, Error> {
        check_google_url("token_url", &self.token_url, token_endpoint, &self.origin)?;
        if let Some(impersonation) = &self.impersonation {
            impersonation.check_host(token_endpoint, &self.origin)?;
        }
        let account = self.clone();
        self.subject_token(now, move |subject, now| {
            account.exchange(subject, current, now)
        })
    }

    /// Reads the subject token, then goes on with `then`.
    fn subject_token(
        &self,
        now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        let account = self.clone();
        match &self.subject {
            SubjectSource::File { path, format } => {
                let format = format.clone();
                let shown = path.display().to_string();
                Ok(Next::Read(
                    path.clone(),
                    Box::new(move |input, now| {
                        let bytes = match input {
                            Input::Read(Ok(Some(bytes))) => bytes,
                            Input::Read(Ok(None)) => {
                                return Err(account.error(format!(
                                    "the subject token file {} does not exist",
                                    crate::text::sanitize(&shown, 200)
                                )));
                            }
                            Input::Read(Err(why)) => {
                                return Err(account.error(format!(
                                    "the subject token file {}: {why}",
                                    crate::text::sanitize(&shown, 200)
                                )));
                            }
                            _ => {
                                return Err(crate::flow::Misuse(
                                    "a file step was fed another answer",
                                )
                                .into());
                            }
                        };
                        let token = account.read_subject(&bytes, &format)?;
                        then(token, now)
                    }),
                ))
            }
            SubjectSource::Url {
                url,
                headers,
                format,
            } => {
                let mut request =
                    http::Request::get(url.as_str()).header(http::header::USER_AGENT, USER_AGENT);
                for (name, value) in headers {
                    request = request.header(name.as_str(), value.expose());
                }
                let request = request
                    .body(Vec::new())
                    .map_err(|_| account.error("credential_source.url cannot be requested"))?;
                let format = format.clone();
                Ok(workload_request(
                    request,
                    account.origin.clone(),
                    "the subject token URL",
                    move |body, now| {
                        let token = account.read_subject(&body, &format)?;
                        then(token, now)
                    },
                ))
            }
            SubjectSource::Executable { .. } => self.executable_token(now, then),
            SubjectSource::Aws { .. } => self.aws_token(now, then),
        }
    }

    /// The subject token in what a file or URL held.
    fn read_subject(&self, bytes: &[u8], format: &SubjectFormat) -> Result<Secret, Error> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.error("the subject token is not UTF-8"))?;
        let token = match format {
            SubjectFormat::Text => text.trim().to_owned(),
            SubjectFormat::Json { field } => {
                let value: Value = serde_json::from_str(text)
                    .map_err(|_| self.error("the subject token source is not JSON"))?;
                value
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        self.error(format!(
                            "the subject token source has no text field {:?}",
                            crate::text::sanitize(field, 60)
                        ))
                    })?
            }
        };
        check_token("subject token", &token, MAX_ID_TOKEN_LEN)
            .map_err(|why| self.error(format!("the source holds {why}")))?;
        Ok(Secret::new(token))
    }

    /// The STS exchange, then the impersonation when the file names one.
    fn exchange(
        &self,
        subject: Secret,
        current: Credentials,
        now: SystemTime,
    ) -> Result<Next<Credentials>, Error> {
        let request = self.sts_request(&subject)?;
        let impersonation = self.impersonation.clone();
        Next::flow(Call::new(request), now, move |response: Response, now| {
            let tokens =
                TokenResponse::parse(response.body()).map_err(|detail| Error::InvalidResponse {
                    what: "the Security Token Service",
                    detail,
                })?;
            let mut exchanged = current;
            match impersonation {
                None => {
                    exchanged.apply(tokens, now);
                    Ok(Next::Done(exchanged))
                }
                Some(impersonation) => impersonation.exchange(&tokens.access_token, exchanged, now),
            }
        })
    }

    /// The RFC 8693 exchange request.
    pub fn sts_request(&self, subject: &Secret) -> Result<Request, Error> {
        let scope = self.scopes.join(" ");
        let options = self
            .workforce_pool_user_project
            .as_ref()
            .filter(|_| self.client_id.is_none())
            .map(|project| serde_json::json!({"userProject": project}).to_string());
        let mut fields = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("audience", self.audience.as_str()),
            ("scope", scope.as_str()),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
            ("subject_token", subject.expose()),
            ("subject_token_type", self.subject_token_type.as_str()),
        ];
        if let Some(options) = &options {
            fields.push(("options", options.as_str()));
        }
        let mut request = form_post(&self.token_url, &fields)?;
        if let Some(client_id) = &self.client_id {
            use base64::Engine;
            let secret = self
                .client_secret
                .as_ref()
                .map(Secret::expose)
                .unwrap_or("");
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
            let mut value = http::HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| self.error("client_id holds characters a header cannot"))?;
            value.set_sensitive(true);
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// An executable's token: its output file when still valid, else a run.
    fn executable_token(
        &self,
        now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        let SubjectSource::Executable { output_file, .. } = &self.subject else {
            return Err(crate::flow::Misuse("not an executable source").into());
        };
        if !self.environment.allow_executables {
            return Err(self.error(format!(
                "credential_source.executable runs a program; set {ALLOW_EXECUTABLES_VAR}=1 to \
                 allow it"
            )));
        }
        let account = self.clone();
        match output_file.clone() {
            Some(path) => Ok(Next::Read(
                path,
                Box::new(move |input, now| {
                    // A cached response still valid is used; a missing, failed or
                    // expired one means running the program. A malformed one is an
                    // error, as in google-auth.
                    if let Input::Read(Ok(Some(bytes))) = input
                        && let Some(token) = account.executable_response(&bytes, now, true)?
                    {
                        return then(token, now);
                    }
                    account.run_executable(now, then)
                }),
            )),
            None => self.run_executable(now, then),
        }
    }

    fn run_executable(
        &self,
        _now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        let SubjectSource::Executable {
            command,
            timeout,
            output_file,
        } = &self.subject
        else {
            return Err(crate::flow::Misuse("not an executable source").into());
        };
        let mut env = vec![
            (
                "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE".to_owned(),
                self.audience.clone(),
            ),
            (
                "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE".to_owned(),
                self.subject_token_type.clone(),
            ),
            (
                "GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE".to_owned(),
                "0".to_owned(),
            ),
            ("GOOGLE_EXTERNAL_ACCOUNT_REVOKE".to_owned(), "0".to_owned()),
        ];
        if let Some(impersonation) = &self.impersonation {
            env.push((
                "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL".to_owned(),
                impersonation.target.clone(),
            ));
        }
        if let Some(path) = output_file {
            env.push((
                "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE".to_owned(),
                path.display().to_string(),
            ));
        }
        let mut run = Command::new(command[0].clone(), command[1..].to_vec(), *timeout);
        run.env = env;
        let account = self.clone();
        let output_file = output_file.clone();
        Ok(Next::Run(
            run,
            Box::new(move |input, now| {
                let output = match input {
                    Input::Ran(Ok(output)) => output,
                    Input::Ran(Err(why)) => {
                        return Err(account.error(format!("the executable: {why}")));
                    }
                    _ => {
                        return Err(crate::flow::Misuse("a run step was fed another answer").into());
                    }
                };
                if output.code != Some(0) {
                    return Err(account.error(format!(
                        "the executable ended with {}: {}",
                        output
                            .code
                            .map_or("a signal".to_owned(), |c| format!("exit code {c}")),
                        crate::text::redact_secrets(&crate::text::sanitize(
                            &String::from_utf8_lossy(&output.output),
                            200
                        ))
                    )));
                }
                if output.output.iter().all(u8::is_ascii_whitespace)
                    && let Some(path) = output_file
                {
                    // It wrote its response to the output file only.
                    return Ok(Next::Read(
                        path,
                        Box::new(move |input, now| match input {
                            Input::Read(Ok(Some(bytes))) => {
                                match account.executable_response(&bytes, now, false)? {
                                    Some(token) => then(token, now),
                                    None => {
                                        Err(account
                                            .error("the executable's response is not usable"))
                                    }
                                }
                            }
                            _ => Err(account
                                .error("the executable printed nothing and wrote no output file")),
                        }),
                    ));
                }
                match account.executable_response(&output.output, now, false)? {
                    Some(token) => then(token, now),
                    None => Err(account.error("the executable's response is not usable")),
                }
            }),
        ))
    }

    /// The token in an executable's response (Google's format, version 1). `cached`:
    /// read from the output file, where an unsuccessful, expired or undated response
    /// means "run the program" (`Ok(None)`) rather than an error.
    fn executable_response(
        &self,
        bytes: &[u8],
        now: SystemTime,
        cached: bool,
    ) -> Result<Option<Secret>, Error> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|_| self.error("the executable's response is not JSON"))?;
        let version = value
            .get("version")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.error("the executable's response has no version"))?;
        if version > 1 {
            return Err(self.error(format!(
                "the executable's response is version {version}; version 1 is supported"
            )));
        }
        let success = value
            .get("success")
            .and_then(Value::as_bool)
            .ok_or_else(|| self.error("the executable's response has no success field"))?;
        if !success {
            if cached {
                return Ok(None);
            }
            let field = |key: &str| match value.get(key) {
                Some(Value::String(s)) => Some(crate::text::sanitize(s, 200)),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            return match (field("code"), field("message")) {
                (Some(code), Some(message)) => {
                    Err(self.error(format!("the executable failed: {code}: {message}")))
                }
                _ => Err(self.error("the executable failed without a code and message")),
            };
        }
        let expiration = value.get("expiration_time").and_then(Value::as_i64);
        match expiration {
            Some(at) if at < unix_seconds(now) => {
                if cached {
                    return Ok(None);
                }
                return Err(self.error("the executable's token has already expired"));
            }
            None if cached => return Ok(None),
            _ => {}
        }
        let token_type = value
            .get("token_type")
            .and_then(Value::as_str)
            .ok_or_else(|| self.error("the executable's response has no token_type"))?;
        let field = match token_type {
            "urn:ietf:params:oauth:token-type:jwt"
            | "urn:ietf:params:oauth:token-type:id_token" => "id_token",
            "urn:ietf:params:oauth:token-type:saml2" => "saml_response",
            _ => return Err(self.error("the executable returned an unsupported token_type")),
        };
        let token = value
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| self.error(format!("the executable's response has no {field}")))?;
        check_token(field, token, MAX_ID_TOKEN_LEN)
            .map_err(|why| self.error(format!("the executable returned {why}")))?;
        Ok(Some(Secret::new(token)))
    }

    /// AWS: region, credentials, then the signed request.
    fn aws_token(
        &self,
        now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        let session_token_url = self.aws_urls()?.session_token;
        let needs_metadata =
            self.environment.aws_region.is_none() || self.environment.aws_credentials.is_none();
        let account = self.clone();
        match session_token_url {
            Some(url) if needs_metadata => {
                let request = http::Request::put(url)
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "300")
                    .body(Vec::new())
                    .map_err(|_| self.error("imdsv2_session_token_url cannot be requested"))?;
                Ok(workload_request(
                    request,
                    self.origin.clone(),
                    "the AWS session token URL",
                    move |body, now| {
                        let token = trimmed_text(body);
                        check_token("AWS session token", &token, 4096)
                            .map_err(|why| account.error(why))?;
                        account.aws_region(Some(Secret::new(token)), now, then)
                    },
                ))
            }
            _ => account.aws_region(None, now, then),
        }
    }

    /// The AWS source's URLs, read in one place for every AWS step (which only an AWS
    /// source reaches).
    fn aws_urls(&self) -> Result<AwsUrls<'_>, Error> {
        match &self.subject {
            SubjectSource::Aws {
                region_url,
                credentials_url,
                session_token_url,
                verification_url,
            } => Ok(AwsUrls {
                region: region_url.as_deref(),
                credentials: credentials_url.as_deref(),
                session_token: session_token_url.as_deref(),
                verification: verification_url,
            }),
            _ => Err(crate::flow::Misuse("not an aws source").into()),
        }
    }

    fn aws_get(&self, url: &str, session: &Option<Secret>) -> Result<Request, Error> {
        let mut request = http::Request::get(url);
        if let Some(session) = session {
            request = request.header("X-aws-ec2-metadata-token", session.expose());
        }
        request
            .body(Vec::new())
            .map_err(|_| self.error("the AWS metadata URL cannot be requested"))
    }

    fn aws_region(
        &self,
        session: Option<Secret>,
        now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        if let Some(region) = self.environment.aws_region.clone() {
            return self.aws_credentials(session, region, now, then);
        }
        let url = self.aws_urls()?.region.ok_or_else(|| {
            self.error("the AWS region is unknown: set AWS_REGION or name region_url")
        })?;
        let request = self.aws_get(url, &session)?;
        let account = self.clone();
        Ok(workload_request(
            request,
            self.origin.clone(),
            "the AWS region URL",
            move |body, now| {
                // The availability zone (`us-east-1b`) less its last letter.
                let zone = trimmed_text(body);
                let region = zone
                    .get(..zone.len().saturating_sub(1))
                    .filter(|r| {
                        !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
                    .ok_or_else(|| account.error("the AWS availability zone is not one"))?
                    .to_owned();
                account.aws_credentials(session, region, now, then)
            },
        ))
    }

    fn aws_credentials(
        &self,
        session: Option<Secret>,
        region: String,
        now: SystemTime,
        then: impl FnOnce(Secret, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
    ) -> Result<Next<Credentials>, Error> {
        if let Some(credentials) = self.environment.aws_credentials.clone() {
            let token = self.aws_sign(&credentials, &region, now)?;
            return then(token, now);
        }
        let url = self
            .aws_urls()?
            .credentials
            .map(str::to_owned)
            .ok_or_else(|| {
                self.error(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or name url",
            )
            })?;
        let request = self.aws_get(&url, &session)?;
        let account = self.clone();
        Ok(workload_request(
            request,
            self.origin.clone(),
            "the AWS role URL",
            move |body, _now| {
                let role = trimmed_text(body);
                if role.is_empty()
                    || !role
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
                {
                    return Err(account.error("the AWS role name is not one"));
                }
                let request =
                    account.aws_get(&format!("{}/{role}", url.trim_end_matches('/')), &session)?;
                let origin = account.origin.clone();
                Ok(workload_request(
                    request,
                    origin,
                    "the AWS credentials URL",
                    move |body, now| {
                        let credentials = AwsCredentials::from_metadata(&body, &account.origin)?;
                        let token = account.aws_sign(&credentials, &region, now)?;
                        then(token, now)
                    },
                ))
            },
        ))
    }

    fn aws_sign(
        &self,
        credentials: &AwsCredentials,
        region: &str,
        now: SystemTime,
    ) -> Result<Secret, Error> {
        let verification_url = self.aws_urls()?.verification;
        aws_subject_token(credentials, region, verification_url, &self.audience, now)
            .map(Secret::new)
            .map_err(|why| self.error(why))
    }
}

/// The URLs of an AWS subject source.
struct AwsUrls<'a> {
    region: Option<&'a str>,
    credentials: Option<&'a str>,
    session_token: Option<&'a str>,
    verification: &'a str,
}

/// A short text answer of the workload's platform, trimmed (not UTF-8: empty).
fn trimmed_text(body: Vec<u8>) -> String {
    String::from_utf8(body)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A request to the workload's own platform (an identity endpoint, AWS's metadata
/// service): a 2xx body goes to `then`; anything else is an error naming `what`.
fn workload_request(
    request: Request,
    origin: Origin,
    what: &'static str,
    then: impl FnOnce(Vec<u8>, SystemTime) -> Result<Next<Credentials>, Error> + Send + 'static,
) -> Next<Credentials> {
    Next::Send(
        request,
        Box::new(move |input, now| match input {
            Input::Response(Ok(response)) if response.status().is_success() => {
                then(response.into_body(), now)
            }
            Input::Response(Ok(response)) => Err(SourceError::new(
                "workload identity federation",
                &origin,
                format!(
                    "{what} answered {}: {}",
                    response.status(),
                    crate::text::redact_secrets(&crate::text::sanitize(
                        &String::from_utf8_lossy(response.body()),
                        200
                    ))
                ),
            )
            .into()),
            Input::Response(Err(failure)) => {
                Err(crate::error::ApiError::from_transport(&failure).into())
            }
            _ => Err(crate::flow::Misuse("a request step was fed another answer").into()),
        }),
    )
}
