//! Project resolution: configured id, environment id, discovery, onboarding.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::model::{LoadResponse, Operation};
use super::{
    CodeAssistConfig, CodeAssistError, FREE_TIER, LEGACY_TIER, STANDARD_TIER, client_metadata,
    control_request, is_project_number,
};
use crate::error::{ApiError, ErrorClass};
use crate::flow::{Flow, Misuse, Response, Step, TransportError};
use crate::retry::Retry;
use crate::{Error, Secret, SplitMix64};

/// Where a project id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProjectSource {
    /// The caller's configuration (a flag, a setting).
    Config,
    /// `GOOGLE_CLOUD_PROJECT`, as passed in by the caller.
    Env,
    /// `loadCodeAssist` named it.
    Discovered,
    /// Onboarding created or assigned it.
    Onboarded,
}

impl ProjectSource {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Env => "env",
            Self::Discovered => "discovered",
            Self::Onboarded => "onboarded",
        }
    }
}

/// The resolved project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProjectContext {
    /// The project id to send with requests.
    pub project_id: String,
    /// The account's tier.
    pub tier_id: String,
    /// Where the id came from.
    pub source: ProjectSource,
    /// The Google-managed project, on the free tier.
    pub managed_project_id: Option<String>,
    /// The endpoint that answered.
    pub endpoint: String,
}

/// The project-resolution flow without retries; [`resolve_project`] wraps it in the
/// configured retry policy.
#[derive(Debug)]
pub struct ResolveProject {
    config: CodeAssistConfig,
    token: Secret,
    configured: Option<(String, ProjectSource)>,
    ids: SplitMix64,
    stage: Stage,
    answer: Option<(Result<Response, TransportError>, SystemTime)>,
}

#[derive(Debug)]
enum Stage {
    Start,
    Loading {
        index: usize,
    },
    Onboarding {
        endpoint: String,
        tier: String,
    },
    PollDue {
        endpoint: String,
        tier: String,
        name: String,
        polls: u32,
    },
    Polling {
        endpoint: String,
        tier: String,
        name: String,
        polls: u32,
    },
    Finished,
}

/// Resolves the Code Assist project for the person whose `access_token` is given.
///
/// `configured` is the caller's setting, `env` the value of `GOOGLE_CLOUD_PROJECT`
/// (core reads no environment): the first present wins, else discovery decides. The
/// random source seeds the request ids and the retry jitter.
pub fn resolve_project<R: rand_core::Rng + ?Sized>(
    config: CodeAssistConfig,
    access_token: Secret,
    configured: Option<&str>,
    env: Option<&str>,
    random: &mut R,
) -> Retry<ResolveProject> {
    let policy = config.retry.clone();
    let flow = ResolveProject::new(config, access_token, configured, env, random);
    Retry::new(flow, policy, random)
}

impl ResolveProject {
    /// The flow alone, without retries.
    pub fn new<R: rand_core::Rng + ?Sized>(
        config: CodeAssistConfig,
        access_token: Secret,
        configured: Option<&str>,
        env: Option<&str>,
        random: &mut R,
    ) -> Self {
        let clean = |value: Option<&str>| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let configured = clean(configured)
            .map(|id| (id, ProjectSource::Config))
            .or_else(|| clean(env).map(|id| (id, ProjectSource::Env)));
        Self {
            config,
            token: access_token,
            configured,
            ids: SplitMix64::seeded_from(random),
            stage: Stage::Start,
            answer: None,
        }
    }

    fn configured_id(&self) -> Option<&str> {
        self.configured.as_ref().map(|(id, _)| id.as_str())
    }

    fn send_load(&mut self, index: usize) -> Result<Step<ProjectContext>, Error> {
        let project = self.configured_id().map(str::to_owned);
        let mut body = json!({ "metadata": client_metadata(project.as_deref()) });
        if let Some(project) = &project {
            body["cloudaicompanionProject"] = json!(project);
        }
        let endpoint = &self.config.endpoints[index];
        let request = control_request(
            http::Method::POST,
            endpoint,
            ":loadCodeAssist",
            &self.token,
            Some(&body),
            &mut self.ids,
        )?;
        self.stage = Stage::Loading { index };
        Ok(Step::Send(request))
    }

    fn loaded(
        &mut self,
        endpoint: String,
        load: LoadResponse,
    ) -> Result<Step<ProjectContext>, Error> {
        if let Some(tier) = load.existing_tier() {
            let (project_id, source) = match (&self.configured, &load.project) {
                (Some((id, source)), _) => (id.clone(), *source),
                (None, Some(id)) => (id.clone(), ProjectSource::Discovered),
                (None, None) => {
                    return Err(CodeAssistError::ProjectRequired {
                        tier: Some(tier.id.clone()),
                        reasons: load.ineligible_tiers.clone(),
                        vpc_service_controls: false,
                    }
                    .into());
                }
            };
            self.stage = Stage::Finished;
            return Ok(Step::Done(ProjectContext {
                managed_project_id: (tier.id == FREE_TIER).then(|| project_id.clone()),
                project_id,
                tier_id: tier.id.clone(),
                source,
                endpoint,
            }));
        }
        let tier = load.onboarding_tier();
        if let Some(ineligible) = load.ineligibility_of(&tier) {
            return Err(CodeAssistError::Ineligible(ineligible.clone()).into());
        }
        let needs_project = tier != FREE_TIER && tier != LEGACY_TIER;
        if needs_project && self.configured.is_none() {
            return Err(CodeAssistError::ProjectRequired {
                tier: Some(tier),
                reasons: load.ineligible_tiers,
                vpc_service_controls: false,
            }
            .into());
        }
        // Free tier: no project anywhere in the body, or Google answers 400.
        let project = if tier == FREE_TIER {
            None
        } else {
            self.configured_id().map(str::to_owned)
        };
        let mut body = json!({ "tierId": tier, "metadata": client_metadata(project.as_deref()) });
        if let Some(project) = &project {
            body["cloudaicompanionProject"] = json!(project);
        }
        let request = control_request(
            http::Method::POST,
            &endpoint,
            ":onboardUser",
            &self.token,
            Some(&body),
            &mut self.ids,
        )?;
        self.stage = Stage::Onboarding { endpoint, tier };
        Ok(Step::Send(request))
    }

    fn operation(
        &mut self,
        endpoint: String,
        tier: String,
        polls: u32,
        operation: Operation,
        known_name: Option<String>,
        now: SystemTime,
    ) -> Result<Step<ProjectContext>, Error> {
        if let Some((status, body)) = operation.error {
            return Err(ApiError::from_parts(status, &http::HeaderMap::new(), &body, now).into());
        }
        if operation.done || (operation.name.is_none() && operation.project.is_some()) {
            let project_id = match (operation.project, tier == FREE_TIER) {
                (Some(project), _) => project,
                (None, false) if self.configured.is_some() => {
                    self.configured_id().unwrap_or_default().to_owned()
                }
                (None, _) => {
                    return Err(Error::InvalidResponse {
                        what: "onboardUser",
                        detail: "onboarding finished without naming a project".to_owned(),
                    });
                }
            };
            let source = match &self.configured {
                Some((id, source)) if *id == project_id => *source,
                _ => ProjectSource::Onboarded,
            };
            self.stage = Stage::Finished;
            return Ok(Step::Done(ProjectContext {
                managed_project_id: (tier == FREE_TIER).then(|| project_id.clone()),
                project_id,
                tier_id: tier,
                source,
                endpoint,
            }));
        }
        let Some(name) = operation.name.or(known_name) else {
            return Err(Error::InvalidResponse {
                what: "onboardUser",
                detail: "onboarding is not done and there is no operation to poll".to_owned(),
            });
        };
        if polls >= self.config.max_polls {
            return Err(CodeAssistError::OnboardingTimedOut {
                tier,
                polls,
                waited: self.config.poll_interval.saturating_mul(polls),
            }
            .into());
        }
        self.stage = Stage::PollDue {
            endpoint,
            tier,
            name,
            polls,
        };
        Ok(Step::Wait(self.config.poll_interval))
    }

    fn take_answer(&mut self) -> Result<(Result<Response, ApiError>, SystemTime), Error> {
        let (answer, at) = self
            .answer
            .take()
            .ok_or(Misuse("polled before the response was handled"))?;
        let answer = match answer {
            Ok(response) if response.status().is_success() => Ok(response),
            Ok(response) => Err(ApiError::from_response(&response, at)),
            Err(failure) => Err(ApiError::from_transport(&failure)),
        };
        Ok((answer, at))
    }
}

fn invalid(what: &'static str, detail: String) -> Error {
    Error::InvalidResponse {
        what,
        detail: crate::text::sanitize(&detail, 200),
    }
}

impl Flow for ResolveProject {
    type Output = ProjectContext;
    type Error = Error;

    fn poll(&mut self, _now: SystemTime) -> Result<Step<ProjectContext>, Error> {
        let result = self.advance();
        if result.is_err() {
            self.stage = Stage::Finished;
        }
        result
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        if matches!(
            self.stage,
            Stage::Loading { .. } | Stage::Onboarding { .. } | Stage::Polling { .. }
        ) && self.answer.is_none()
        {
            self.answer = Some((response, now));
        } else {
            // A response nobody asked for: the next poll reports the misuse.
            self.stage = Stage::Finished;
            self.answer = None;
        }
    }
}

impl ResolveProject {
    fn advance(&mut self) -> Result<Step<ProjectContext>, Error> {
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Start => {
                if let Some((id, _)) = &self.configured
                    && is_project_number(id)
                {
                    return Err(CodeAssistError::ProjectNumber(id.clone()).into());
                }
                if self.config.endpoints.is_empty() {
                    return Err(CodeAssistError::NoEndpoint.into());
                }
                self.send_load(0)
            }
            Stage::Loading { index } => {
                let (answer, _) = self.take_answer()?;
                let endpoint = self.config.endpoints[index].clone();
                let failure: Error = match answer {
                    Ok(response) => match LoadResponse::parse(response.body()) {
                        Ok(load) => return self.loaded(endpoint, load),
                        Err(detail) => invalid("loadCodeAssist", detail),
                    },
                    Err(api) if api.class() == ErrorClass::PolicyBlocked => {
                        tracing::info!(endpoint = %endpoint, "VPC Service Controls refused loadCodeAssist: assuming standard-tier");
                        let Some((project_id, source)) = self.configured.clone() else {
                            return Err(CodeAssistError::ProjectRequired {
                                tier: Some(STANDARD_TIER.to_owned()),
                                reasons: Vec::new(),
                                vpc_service_controls: true,
                            }
                            .into());
                        };
                        return Ok(Step::Done(ProjectContext {
                            project_id,
                            tier_id: STANDARD_TIER.to_owned(),
                            source,
                            managed_project_id: None,
                            endpoint,
                        }));
                    }
                    Err(api) => api.into(),
                };
                // A rejected token is rejected everywhere: no point asking the sandboxes.
                let token_problem = failure.api().is_some_and(|api| {
                    matches!(api.class(), ErrorClass::Auth | ErrorClass::AuthPermanent)
                });
                if index + 1 < self.config.endpoints.len() && !token_problem {
                    tracing::warn!(endpoint = %endpoint, error = %failure, "loadCodeAssist failed; trying the next endpoint");
                    self.send_load(index + 1)
                } else {
                    Err(failure)
                }
            }
            Stage::Onboarding { endpoint, tier } => {
                let (answer, at) = self.take_answer()?;
                let operation = Operation::parse(answer?.body())
                    .map_err(|detail| invalid("onboardUser", detail))?;
                self.operation(endpoint, tier, 0, operation, None, at)
            }
            Stage::PollDue {
                endpoint,
                tier,
                name,
                polls,
            } => {
                let path = format!("/{}", name.trim_start_matches('/'));
                let request = control_request(
                    http::Method::GET,
                    &endpoint,
                    &path,
                    &self.token,
                    None,
                    &mut self.ids,
                )?;
                self.stage = Stage::Polling {
                    endpoint,
                    tier,
                    name,
                    polls: polls + 1,
                };
                Ok(Step::Send(request))
            }
            Stage::Polling {
                endpoint,
                tier,
                name,
                polls,
            } => {
                let (answer, at) = self.take_answer()?;
                let operation = Operation::parse(answer?.body())
                    .map_err(|detail| invalid("the onboarding operation", detail))?;
                self.operation(endpoint, tier, polls, operation, Some(name), at)
            }
            Stage::Finished => Err(Misuse("polled after the flow finished").into()),
        }
    }
}
