//! Gemini Code Assist's control plane (`cloudcode-pa.googleapis.com`), without I/O.
//!
//! [`resolve_project`] finds the project a person's requests go to:
//!
//! ```text
//!  configured id ──┐
//!  GOOGLE_CLOUD_PROJECT (passed in) ─┤  (a project *number* is refused before any request)
//!                                  ▼
//!   loadCodeAssist on prod ──fail──▶ next fallback endpoint ──fail──▶ … ──▶ error (last cause)
//!        │  VPC-SC refusal: standard-tier with the caller's project (or "set GOOGLE_CLOUD_PROJECT")
//!        ▼
//!   has a tier? ──yes──▶ project = configured, else Google's; none: "set GOOGLE_CLOUD_PROJECT"
//!        │ no
//!        ▼
//!   onboardUser(default allowed tier, else legacy-tier; free tier sends no project)
//!        │ done: false
//!        ▼
//!   Wait 5 s, GET /v1internal/{operation} … at most 12 polls, else "did not finish in 60 s"
//! ```
//!
//! Every request goes through the [retry policy](crate::retry): a 429 with
//! `RetryInfo` on loadCodeAssist waits as asked and continues; what still fails moves
//! on to the next endpoint, or ends the flow with the classified error.
//!
//! [`retrieve_user_quota`] reads the per-model quota buckets.

mod model;
mod quota;
mod resolve;

pub use model::{IneligibleTier, LoadResponse, Tier, is_project_id};
pub use quota::{Quota, QuotaBucket, RetrieveQuota, retrieve_user_quota};
pub use resolve::{ProjectContext, ProjectSource, ResolveProject, resolve_project};

use std::time::Duration;

use crate::retry::RetryPolicy;

/// Google's production endpoint.
pub const PRODUCTION_ENDPOINT: &str = "https://cloudcode-pa.googleapis.com";
/// Endpoints tried, in order, when production fails during discovery.
pub const FALLBACK_ENDPOINTS: [&str; 2] = [
    "https://daily-cloudcode-pa.sandbox.googleapis.com",
    "https://autopush-cloudcode-pa.sandbox.googleapis.com",
];
/// The free tier: Google manages the project; onboarding sends none.
pub const FREE_TIER: &str = "free-tier";
/// The legacy tier: needs no project either.
pub const LEGACY_TIER: &str = "legacy-tier";
/// The tier assumed under VPC Service Controls.
pub const STANDARD_TIER: &str = "standard-tier";
/// The environment variable people set to name their project.
pub const PROJECT_ENV_VAR: &str = "GOOGLE_CLOUD_PROJECT";

/// google-auth's second project variable, read when [`PROJECT_ENV_VAR`] is unset.
pub const GCLOUD_PROJECT_VAR: &str = "GCLOUD_PROJECT";

/// The project the environment names, as google-auth reads it: `GOOGLE_CLOUD_PROJECT`;
/// else `GCLOUD_PROJECT`, unless `GOOGLE_CLOUD_PROJECT` is set but empty (a way to say
/// "no project"). `read` is the environment (`std::env::var` in a runtime). With the
/// variable it came from.
pub fn project_from_env(read: impl Fn(&str) -> Option<String>) -> Option<(String, &'static str)> {
    let clean =
        |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match read(PROJECT_ENV_VAR) {
        Some(value) if value.is_empty() => None,
        Some(value) => clean(Some(value)).map(|v| (v, PROJECT_ENV_VAR)),
        None => clean(read(GCLOUD_PROJECT_VAR)).map(|v| (v, GCLOUD_PROJECT_VAR)),
    }
}

/// Where the control plane is and how patiently to talk to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeAssistConfig {
    /// Endpoints in the order discovery tries them; the first is also used for quota.
    pub endpoints: Vec<String>,
    /// Time between operation polls.
    pub poll_interval: Duration,
    /// Most operation polls before onboarding is declared unfinished.
    pub max_polls: u32,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
}

impl Default for CodeAssistConfig {
    fn default() -> Self {
        let mut endpoints = vec![PRODUCTION_ENDPOINT.to_owned()];
        endpoints.extend(FALLBACK_ENDPOINTS.iter().map(|e| (*e).to_owned()));
        Self {
            endpoints,
            poll_interval: Duration::from_secs(5),
            max_polls: 12,
            retry: RetryPolicy::default(),
        }
    }
}

impl CodeAssistConfig {
    /// A configuration whose only endpoint is `base` (the emulator, a proxy).
    pub fn with_endpoint(base: impl Into<String>) -> Self {
        Self {
            endpoints: vec![base.into().trim_end_matches('/').to_owned()],
            ..Self::default()
        }
    }
}

/// Why Code Assist could not give a project.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeAssistError {
    /// The account needs a Google Cloud project and none was configured.
    #[error("{}", project_required_message(tier.as_deref(), reasons, *vpc_service_controls))]
    ProjectRequired {
        /// The tier that needs it, when known.
        tier: Option<String>,
        /// Why Google will not pick one (from `ineligibleTiers`).
        reasons: Vec<IneligibleTier>,
        /// True when VPC Service Controls refused discovery.
        vpc_service_controls: bool,
    },
    /// A project number (all digits) was given where a project id is needed.
    #[error(
        "{0:?} is a project number, not a project id: use the id (such as my-project-123), shown in the Cloud console"
    )]
    ProjectNumber(String),
    /// Onboarding did not finish within the polls allowed.
    #[error("onboarding to {tier} did not finish in {} seconds ({polls} polls); try again later", waited.as_secs())]
    OnboardingTimedOut {
        /// The tier being onboarded to.
        tier: String,
        /// Polls made.
        polls: u32,
        /// Time spent waiting between polls.
        waited: Duration,
    },
    /// No endpoint was configured.
    #[error("no Code Assist endpoint is configured")]
    NoEndpoint,
    /// Google lists the tier onboarding would pick among the account's ineligible
    /// tiers, so onboarding was not attempted. Google's reason is carried whole.
    #[error("{}", ineligible_message(.0))]
    Ineligible(IneligibleTier),
}

/// Google's `reasonCode` for clients it no longer serves on Code Assist for
/// individuals (since 2026-06).
pub const UNSUPPORTED_CLIENT: &str = "UNSUPPORTED_CLIENT";

fn ineligible_message(tier: &IneligibleTier) -> String {
    let name = tier.tier_id.as_deref().unwrap_or("the offered tier");
    let code = tier.reason_code.as_deref().unwrap_or("no reason code");
    let mut message = if tier.reason_code.as_deref() == Some(UNSUPPORTED_CLIENT) {
        format!(
            "Google no longer serves this OAuth client for Gemini Code Assist for individuals ({name}, {code}); \
             use a Code Assist Standard or Enterprise project (set {PROJECT_ENV_VAR}), the Gemini API \
             (an API key in GEMINI_API_KEY), or Vertex AI (a Google Cloud credential with a project, \
             or an Express API key)"
        )
    } else {
        format!("this account cannot use {name} ({code})")
    };
    if let Some(reason) = &tier.reason_message {
        message.push_str(&format!(": Google says {reason:?}"));
    }
    if let Some(url) = &tier.validation_url {
        message.push_str(&format!("; verify the account at {url}"));
    }
    message
}

fn project_required_message(tier: Option<&str>, reasons: &[IneligibleTier], vpc: bool) -> String {
    let mut message = match (vpc, tier) {
        (true, _) => "VPC Service Controls block project discovery".to_owned(),
        (false, Some(tier)) => format!("the {tier} tier needs a Google Cloud project"),
        (false, None) => "this account needs a Google Cloud project".to_owned(),
    };
    message.push_str(&format!(": set {PROJECT_ENV_VAR} or pass a project id"));
    for reason in reasons {
        let what = reason
            .reason_message
            .as_deref()
            .or(reason.reason_code.as_deref())
            .unwrap_or("not eligible");
        message.push_str(&format!(
            "; {}: {what}",
            reason.tier_id.as_deref().unwrap_or("a tier")
        ));
        if let Some(url) = &reason.validation_url {
            message.push_str(&format!(" (verify at {url})"));
        }
    }
    message
}

/// True for an id made only of digits: a project number.
pub(crate) fn is_project_number(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// The client metadata Google's own tools send; unrecognised values may be refused.
pub(crate) fn client_metadata(project: Option<&str>) -> serde_json::Value {
    let mut metadata = serde_json::json!({
        "ideType": "IDE_UNSPECIFIED",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    });
    if let Some(project) = project {
        metadata["duetProject"] = serde_json::Value::String(project.to_owned());
    }
    metadata
}

/// A control-plane request: bearer token, JSON, this library's User-Agent and a fresh
/// `x-activity-request-id`. `path` is `:method` or `/operations/…`.
pub(crate) fn control_request(
    method: http::Method,
    endpoint: &str,
    path: &str,
    token: &crate::Secret,
    body: Option<&serde_json::Value>,
    ids: &mut crate::SplitMix64,
) -> Result<crate::flow::Request, crate::Error> {
    let url = format!("{}/v1internal{path}", endpoint.trim_end_matches('/'));
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut request = crate::flow::request::bearer_request(method, &url, token, body)?;
    let id = http::HeaderValue::from_str(&ids.uuid_v4())
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    request.headers_mut().insert("x-activity-request-id", id);
    Ok(request)
}
