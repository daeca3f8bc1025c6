//! Where inference goes: Code Assist (through the resolved project), the Gemini API
//! (`generativelanguage.googleapis.com`, with an API key or a Bearer token), or Vertex
//! AI (`{location}-aiplatform.googleapis.com`, a project and a location). One request
//! and response model for all three: the caller's Gemini `GenerateContentRequest` as
//! JSON in, [`Chunk`]s out, the same stream reader and error classification.

use serde_json::Value;

use super::Chunk;
use crate::flow::request::{USER_AGENT, secure_uri};
use crate::flow::{Call, Map, Request, Response};
use crate::retry::{Retry, RetryPolicy};
use crate::text::sanitize;
use crate::{Error, Secret};

/// The Gemini API's base URL.
pub const GEMINI_API_BASE: &str = "https://generativelanguage.googleapis.com/v1beta";
/// Vertex AI's host for the `global` location.
pub const VERTEX_GLOBAL_BASE: &str = "https://aiplatform.googleapis.com";
/// The variables an API key is read from, in order.
pub const API_KEY_VARS: [&str; 2] = ["GEMINI_API_KEY", "GOOGLE_API_KEY"];
/// The variable naming Vertex AI's location.
pub const LOCATION_VAR: &str = "GOOGLE_CLOUD_LOCATION";
/// Vertex AI's location when none is configured.
pub const DEFAULT_LOCATION: &str = "global";
/// The scope OAuth access to the Gemini API needs beside `cloud-platform`.
pub const GENERATIVE_LANGUAGE_SCOPE: &str =
    "https://www.googleapis.com/auth/generative-language.retriever";
/// The header an API key travels in.
pub const API_KEY_HEADER: &str = "x-goog-api-key";
/// The most pages `models.list` is read for.
pub const MAX_MODEL_PAGES: usize = 20;

/// Which target, by name (`code-assist`, `gemini-api`, `vertex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TargetKind {
    /// Gemini Code Assist.
    #[default]
    CodeAssist,
    /// The Gemini API.
    GeminiApi,
    /// Vertex AI.
    Vertex,
}

impl TargetKind {
    /// Every kind, by its name.
    pub const ALL: [(&'static str, TargetKind); 3] = [
        ("code-assist", TargetKind::CodeAssist),
        ("gemini-api", TargetKind::GeminiApi),
        ("vertex", TargetKind::Vertex),
    ];

    /// The kind's name.
    pub fn name(self) -> &'static str {
        crate::named::name_of(&Self::ALL, self)
    }
}

impl std::str::FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::named::parse_name(&Self::ALL, s, "target")
    }
}

/// Where a model call goes.
///
/// | target | generate | auth |
/// |---|---|---|
/// | Code Assist | `POST …/v1internal:generateContent` (wrapped with the project) | Bearer |
/// | Gemini API | `POST {base}/models/{m}:generateContent` | `x-goog-api-key`, or Bearer (+ quota project) |
/// | Vertex AI | `POST https://{host}/v1/projects/{p}/locations/{loc}/publishers/google/models/{m}:generateContent` | Bearer |
/// | Vertex AI Express | `POST https://aiplatform.googleapis.com/v1/publishers/google/models/{m}:generateContent` | `x-goog-api-key` |
///
/// Vertex AI's host follows the location: `global` is `aiplatform.googleapis.com`,
/// the multi-regions `us` and `eu` are `aiplatform.{us,eu}.rep.googleapis.com`, any
/// other location `{location}-aiplatform.googleapis.com`
/// ([`vertex_host`]). The Gemini API is called at `v1beta` (thinking and tools) unless
/// [`Target::with_api_version`] says `v1`.
///
/// Streams add `:streamGenerateContent?alt=sse`; `:countTokens` counts. An API key goes
/// in a header marked sensitive, never in the URL.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Target {
    /// Code Assist, in the resolved project.
    CodeAssist,
    /// The Gemini API at `base`, with an API key or (without one) a Bearer token.
    GeminiApi {
        /// The base URL (default [`GEMINI_API_BASE`]).
        base: String,
        /// The API key, when one is used instead of a token.
        api_key: Option<Secret>,
    },
    /// Vertex AI Express: an API key and no project.
    VertexExpress {
        /// A base URL replacing Google's hosts (tests, emulators); `None` for Google.
        base: Option<String>,
        /// The API key (sent as `x-goog-api-key`).
        api_key: Secret,
    },
    /// Vertex AI: `project` in `location`.
    Vertex {
        /// A base URL replacing Google's hosts (tests, emulators); `None` for Google.
        base: Option<String>,
        /// The project id.
        project: String,
        /// The location (`global`, `us-central1`, …).
        location: String,
    },
}

/// Which model method a request calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelMethod {
    /// `generateContent`.
    Generate,
    /// `streamGenerateContent?alt=sse`.
    Stream,
    /// `countTokens`.
    CountTokens,
}

impl ModelMethod {
    fn suffix(self) -> &'static str {
        match self {
            ModelMethod::Generate => ":generateContent",
            ModelMethod::Stream => ":streamGenerateContent?alt=sse",
            ModelMethod::CountTokens => ":countTokens",
        }
    }
}

/// A model name safe in a path: `models/` prefix dropped; letters, digits, `.`, `-`
/// and `_` only.
pub fn check_model(model: &str) -> Result<&str, Error> {
    let model = model.trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    let fine = !model.is_empty()
        && model.len() <= 128
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    match fine {
        true => Ok(model),
        false => Err(Error::Config(format!(
            "not a model name: {:?}",
            sanitize(model, 80)
        ))),
    }
}

/// The Gemini API's versions: `v1beta` has thinking and tools first; `v1` is what
/// google-genai 3.x calls by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `v1beta` (the default).
    #[default]
    V1Beta,
    /// `v1`.
    V1,
}

impl ApiVersion {
    /// The path segment.
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1Beta => "v1beta",
            ApiVersion::V1 => "v1",
        }
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "v1beta" => Ok(ApiVersion::V1Beta),
            "v1" => Ok(ApiVersion::V1),
            other => Err(format!(
                "unknown Gemini API version {:?}: use v1beta or v1",
                sanitize(other, 20)
            )),
        }
    }
}

/// Where calls go when the host names no target, and why (for `-v`):
///
/// 1. an API key → the Gemini API;
/// 2. a credential other than this library's own sign-in (an injected token, an ADC
///    file, a service account, the metadata server) with a known project → Vertex AI;
/// 3. this library's own sign-in → Code Assist (which serves licensed organisations;
///    individual accounts are refused there, and its message names the other roads).
pub fn default_target(
    has_api_key: bool,
    own_sign_in: bool,
    has_project: bool,
) -> (TargetKind, &'static str) {
    match (has_api_key, own_sign_in, has_project) {
        (true, _, _) => (TargetKind::GeminiApi, "an API key is set"),
        (false, false, true) => (
            TargetKind::Vertex,
            "a Google Cloud credential with a project",
        ),
        (false, false, false) => (
            TargetKind::CodeAssist,
            "a Google Cloud credential without a project (Vertex AI needs one)",
        ),
        (false, true, _) => (TargetKind::CodeAssist, "this library's own sign-in"),
    }
}

/// Vertex AI's host for `location`: `aiplatform.googleapis.com` for `global`,
/// `aiplatform.us.rep.googleapis.com` / `aiplatform.eu.rep.googleapis.com` for the
/// multi-regions `us` and `eu`, else `{location}-aiplatform.googleapis.com`.
pub fn vertex_host(location: &str) -> String {
    match location {
        "global" => "aiplatform.googleapis.com".to_owned(),
        "us" | "eu" => format!("aiplatform.{location}.rep.googleapis.com"),
        other => format!("{other}-aiplatform.googleapis.com"),
    }
}

impl Target {
    /// The Gemini API at Google, with `api_key` (or a token when `None`).
    pub fn gemini_api(api_key: Option<Secret>) -> Self {
        Target::GeminiApi {
            base: GEMINI_API_BASE.to_owned(),
            api_key,
        }
    }

    /// Vertex AI at Google, for `project` in `location`.
    pub fn vertex(project: impl Into<String>, location: impl Into<String>) -> Self {
        Target::Vertex {
            base: None,
            project: project.into(),
            location: location.into(),
        }
    }

    /// Vertex AI Express at Google: an API key, no project.
    pub fn vertex_express(api_key: Secret) -> Self {
        Target::VertexExpress {
            base: None,
            api_key,
        }
    }

    /// The same Gemini API target at another API version (other targets are left as
    /// they are).
    pub fn with_api_version(self, version: ApiVersion) -> Self {
        match self {
            Target::GeminiApi { base, api_key } => {
                let root = base
                    .trim_end_matches('/')
                    .trim_end_matches("/v1beta")
                    .trim_end_matches("/v1")
                    .to_owned();
                Target::GeminiApi {
                    base: format!("{root}/{}", version.segment()),
                    api_key,
                }
            }
            other => other,
        }
    }

    /// The same target with every Google host replaced by `base`, Google's paths kept
    /// (`CODEASSIST_GOOGLE_BASE_URL`); a Gemini API target keeps its API version.
    pub fn under(self, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        match self {
            Target::CodeAssist => Target::CodeAssist,
            Target::GeminiApi { api_key, base: old } => {
                let version = match old.trim_end_matches('/').ends_with("/v1") {
                    true => "v1",
                    false => "v1beta",
                };
                Target::GeminiApi {
                    base: format!("{base}/{version}"),
                    api_key,
                }
            }
            Target::VertexExpress { api_key, .. } => Target::VertexExpress {
                base: Some(base.to_owned()),
                api_key,
            },
            Target::Vertex {
                project, location, ..
            } => Target::Vertex {
                base: Some(base.to_owned()),
                project,
                location,
            },
        }
    }

    /// The kind of target.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::CodeAssist => TargetKind::CodeAssist,
            Target::GeminiApi { .. } => TargetKind::GeminiApi,
            Target::Vertex { .. } | Target::VertexExpress { .. } => TargetKind::Vertex,
        }
    }

    /// True when calls need an access token (everything but an API key).
    pub fn uses_token(&self) -> bool {
        !matches!(
            self,
            Target::GeminiApi {
                api_key: Some(_),
                ..
            } | Target::VertexExpress { .. }
        )
    }

    /// The URL of `method` on `model`; Code Assist's go through its project instead.
    pub fn model_url(&self, model: &str, method: ModelMethod) -> Result<String, Error> {
        let model = check_model(model)?;
        let suffix = method.suffix();
        match self {
            Target::CodeAssist => Err(Error::Config(
                "Code Assist calls go through the resolved project".to_owned(),
            )),
            Target::GeminiApi { base, .. } => Ok(format!(
                "{}/models/{model}{suffix}",
                base.trim_end_matches('/')
            )),
            Target::VertexExpress { base, .. } => {
                let host = match base {
                    Some(base) => base.trim_end_matches('/').to_owned(),
                    None => VERTEX_GLOBAL_BASE.to_owned(),
                };
                Ok(format!(
                    "{host}/v1/publishers/google/models/{model}{suffix}"
                ))
            }
            Target::Vertex {
                base,
                project,
                location,
            } => {
                let segment_ok = |s: &str| {
                    !s.is_empty()
                        && s.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
                        })
                };
                if !segment_ok(project) || !segment_ok(location) {
                    return Err(Error::Config(format!(
                        "not a Vertex AI project and location: {:?} in {:?}",
                        sanitize(project, 60),
                        sanitize(location, 40)
                    )));
                }
                let host = match base {
                    Some(base) => base.trim_end_matches('/').to_owned(),
                    None => format!("https://{}", vertex_host(location)),
                };
                Ok(format!(
                    "{host}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}{suffix}"
                ))
            }
        }
    }

    /// A request to this target: `method` on `model` with the Gemini request `body`,
    /// authenticated with the API key or `token`.
    pub fn model_request(
        &self,
        model: &str,
        method: ModelMethod,
        body: &Value,
        token: Option<&Secret>,
    ) -> Result<Request, Error> {
        let url = self.model_url(model, method)?;
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::Config(format!("the request is not JSON: {e}")))?;
        let mut request = self.authorized(http::Method::POST, &url, token, body)?;
        if method == ModelMethod::Stream {
            request.headers_mut().insert(
                http::header::ACCEPT,
                http::HeaderValue::from_static("text/event-stream"),
            );
        }
        Ok(request)
    }

    /// `GET {base}/models` (one page): the Gemini API only.
    pub fn list_models_request(
        &self,
        page_token: Option<&str>,
        token: Option<&Secret>,
    ) -> Result<Request, Error> {
        let Target::GeminiApi { base, .. } = self else {
            return Err(Error::Config(
                "listing models is a Gemini API call".to_owned(),
            ));
        };
        let mut url = url::Url::parse(&format!("{}/models", base.trim_end_matches('/')))
            .map_err(|e| Error::Config(format!("not a URL: {e}")))?;
        url.query_pairs_mut().append_pair("pageSize", "1000");
        if let Some(page) = page_token.filter(|p| !p.is_empty()) {
            url.query_pairs_mut().append_pair("pageToken", page);
        }
        self.authorized(http::Method::GET, url.as_str(), token, Vec::new())
    }

    fn authorized(
        &self,
        method: http::Method,
        url: &str,
        token: Option<&Secret>,
        body: Vec<u8>,
    ) -> Result<Request, Error> {
        let api_key = match self {
            Target::GeminiApi {
                api_key: Some(key), ..
            }
            | Target::VertexExpress { api_key: key, .. } => Some(key),
            _ => None,
        };
        let (name, value) = match (api_key, token) {
            (Some(key), _) => (API_KEY_HEADER, key.expose().to_owned()),
            (None, Some(token)) => (
                http::header::AUTHORIZATION.as_str(),
                format!("Bearer {}", token.expose()),
            ),
            (None, None) => {
                return Err(Error::Config(
                    "this target needs an access token or an API key".to_owned(),
                ));
            }
        };
        let mut value = http::HeaderValue::from_str(&value).map_err(|_| {
            Error::Config("the credential holds characters a header cannot".to_owned())
        })?;
        value.set_sensitive(true);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(secure_uri(url)?)
            .header(name, value)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, USER_AGENT);
        if !body.is_empty() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(body)
            .map_err(|e| Error::Config(format!("could not build a request: {e}")))
    }
}

/// A non-streamed call to a target as a flow, under a retry policy.
pub type TargetGenerate = Retry<Map<Call, Chunk>>;

/// `generateContent` on `target` as a flow with retries.
pub fn target_generate<R: rand_core::Rng + ?Sized>(
    target: &Target,
    model: &str,
    body: &Value,
    token: Option<&Secret>,
    policy: RetryPolicy,
    random: &mut R,
) -> Result<TargetGenerate, Error> {
    let request = target.model_request(model, ModelMethod::Generate, body, token)?;
    let flow = Map::new(Call::new(request), |response: Response, _now| {
        serde_json::from_slice::<Value>(response.body())
            .map(Chunk::from_value)
            .map_err(|error| Error::InvalidResponse {
                what: "generateContent",
                detail: sanitize(&error.to_string(), 200),
            })
    });
    Ok(Retry::new(flow, policy, random))
}

/// `countTokens` on `target`: the total.
pub fn count_tokens(
    target: &Target,
    model: &str,
    body: &Value,
    token: Option<&Secret>,
) -> Result<Map<Call, u64>, Error> {
    let request = target.model_request(model, ModelMethod::CountTokens, body, token)?;
    Ok(Map::new(Call::new(request), |response: Response, _now| {
        serde_json::from_slice::<Value>(response.body())
            .ok()
            .and_then(|value| value.get("totalTokens").and_then(Value::as_u64))
            .ok_or_else(|| Error::InvalidResponse {
                what: "countTokens",
                detail: "no totalTokens in the answer".to_owned(),
            })
    }))
}

/// One model as `models.list` describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ModelInfo {
    /// The model's id, without `models/`.
    pub name: String,
    /// The most input tokens.
    pub input_token_limit: Option<u64>,
    /// The most output tokens.
    pub output_token_limit: Option<u64>,
    /// The methods it supports (`generateContent`, `countTokens`, …).
    pub methods: Vec<String>,
}

impl ModelInfo {
    /// A model known by name only, offered for `generateContent` and `countTokens`
    /// (what a target without `models.list` is said to offer).
    pub fn known(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            input_token_limit: None,
            output_token_limit: None,
            methods: vec!["generateContent".into(), "countTokens".into()],
        }
    }
}

/// One page of `models.list`: the models and the next page's token.
pub fn read_models_page(body: &[u8]) -> Result<(Vec<ModelInfo>, Option<String>), Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Error::InvalidResponse {
        what: "models.list",
        detail: sanitize(&e.to_string(), 200),
    })?;
    let models = value
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|model| {
            let name = model.get("name")?.as_str()?;
            let name = name.strip_prefix("models/").unwrap_or(name);
            Some(ModelInfo {
                name: sanitize(name, 128),
                input_token_limit: model.get("inputTokenLimit").and_then(Value::as_u64),
                output_token_limit: model.get("outputTokenLimit").and_then(Value::as_u64),
                methods: model
                    .get("supportedGenerationMethods")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .take(32)
                    .map(|m| sanitize(m, 64))
                    .collect(),
            })
        })
        .take(10_000)
        .collect();
    let next = value
        .get("nextPageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 1024)
        .map(str::to_owned);
    Ok((models, next))
}

/// `models.list` on the Gemini API, every page (at most [`MAX_MODEL_PAGES`]).
#[derive(Debug)]
pub struct ListModels {
    target: Target,
    token: Option<Secret>,
    call: Call,
    models: Vec<ModelInfo>,
    pages: usize,
}

impl ListModels {
    /// The listing on `target`, authenticated with its API key or `token`.
    pub fn new(target: &Target, token: Option<&Secret>) -> Result<Self, Error> {
        let request = target.list_models_request(None, token)?;
        Ok(Self {
            target: target.clone(),
            token: token.cloned(),
            call: Call::new(request),
            models: Vec::new(),
            pages: 1,
        })
    }
}

impl crate::flow::Flow for ListModels {
    type Output = Vec<ModelInfo>;
    type Error = Error;

    fn poll(
        &mut self,
        now: std::time::SystemTime,
    ) -> Result<crate::flow::Step<Vec<ModelInfo>>, Error> {
        use crate::flow::Step;
        match self.call.poll(now)? {
            Step::Done(response) => {
                let (models, next) = read_models_page(response.body())?;
                self.models.extend(models);
                match next {
                    Some(page) if self.pages < MAX_MODEL_PAGES => {
                        self.pages += 1;
                        let request = self
                            .target
                            .list_models_request(Some(&page), self.token.as_ref())?;
                        self.call = Call::new(request);
                        self.call.poll(now).map(|step| match step {
                            Step::Send(request) => Step::Send(request),
                            _ => Step::Done(std::mem::take(&mut self.models)),
                        })
                    }
                    _ => Ok(Step::Done(std::mem::take(&mut self.models))),
                }
            }
            Step::Send(request) => Ok(Step::Send(request)),
            Step::Wait(wait) => Ok(Step::Wait(wait)),
        }
    }

    fn handle_response(
        &mut self,
        response: Result<Response, crate::flow::TransportError>,
        now: std::time::SystemTime,
    ) {
        self.call.handle_response(response, now);
    }
}
