//! Configuration from the environment.

use codeassist_blocking::BlockingDriver;
use codeassist_blocking::Client;
use codeassist_core::code_assist::{CodeAssistConfig, project_from_env};
use codeassist_core::flow::request::secure_uri;
use codeassist_core::oauth::{OAuthClient, OAuthEndpoints};
use codeassist_core::source::{CredentialSource, SourceKind};
use codeassist_runtime::{ClientBuilder, FileStore};

use crate::Failure;

/// Everything the commands read from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: Option<String>,
    pub client_secret: String,
    pub base_url: Option<String>,
    pub endpoints: Option<Vec<String>>,
    pub project: Option<String>,
    /// The variable the project came from (`GOOGLE_CLOUD_PROJECT` or `GCLOUD_PROJECT`).
    pub project_var: Option<&'static str>,
    pub store: FileStore,
    /// `--source`: which credential to use (default: the discovery order).
    pub source: SourceKind,
    /// `--cache-token`: keep another source's access token beside the sign-in.
    pub cache_source_tokens: bool,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> Result<Self, Failure> {
        let base_url =
            var("CODEASSIST_GOOGLE_BASE_URL").map(|url| url.trim_end_matches('/').to_owned());
        if let Some(base) = &base_url {
            secure_uri(base)
                .map_err(|e| Failure::usage(format!("CODEASSIST_GOOGLE_BASE_URL: {e}")))?;
        }
        let endpoints = var("CODEASSIST_CODE_ASSIST_ENDPOINTS").map(|list| {
            list.split(',')
                .map(|e| e.trim().trim_end_matches('/').to_owned())
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
        });
        for endpoint in endpoints.iter().flatten() {
            secure_uri(endpoint)
                .map_err(|e| Failure::usage(format!("CODEASSIST_CODE_ASSIST_ENDPOINTS: {e}")))?;
        }
        let store = FileStore::at_default_location().map_err(|e| Failure::error(e.to_string()))?;
        let env_project = project_from_env(|name| std::env::var(name).ok());
        Ok(Self {
            client_id: var("CODEASSIST_CLIENT_ID"),
            client_secret: var("CODEASSIST_CLIENT_SECRET").unwrap_or_default(),
            base_url,
            endpoints,
            project: env_project.as_ref().map(|(project, _)| project.clone()),
            project_var: env_project.map(|(_, var)| var),
            store,
            source: SourceKind::Auto,
            cache_source_tokens: false,
        })
    }

    pub fn oauth_endpoints(&self) -> OAuthEndpoints {
        match &self.base_url {
            Some(base) => OAuthEndpoints::under(base),
            None => OAuthEndpoints::google(),
        }
    }

    pub fn code_assist(&self) -> CodeAssistConfig {
        let mut config = match &self.base_url {
            Some(base) => CodeAssistConfig::with_endpoint(base.clone()),
            None => CodeAssistConfig::default(),
        };
        if let Some(endpoints) = &self.endpoints {
            config.endpoints = endpoints.clone();
        }
        config
    }

    /// The OAuth client; `login` needs the id, other commands use the stored one.
    pub fn oauth(&self, need_id: bool) -> Result<OAuthClient, Failure> {
        let id = match (&self.client_id, need_id) {
            (Some(id), _) => id.clone(),
            (None, false) => String::new(),
            (None, true) => {
                return Err(Failure::usage(
                    "CODEASSIST_CLIENT_ID is not set. Create an OAuth client of type \"Desktop app\" in the Google Cloud \
                     console (APIs & Services > Credentials), then set CODEASSIST_CLIENT_ID and CODEASSIST_CLIENT_SECRET",
                ));
            }
        };
        Ok(
            OAuthClient::new(id, self.client_secret.as_str())
                .with_endpoints(self.oauth_endpoints()),
        )
    }

    /// The credential source `--source` names (or the discovery order finds), with
    /// `scopes` replacing a service account's or the metadata server's when given.
    pub fn discover(
        &self,
        client: &Client,
        scopes: Option<&[String]>,
    ) -> Result<CredentialSource, Failure> {
        let mut source = client.discover(self.source).map_err(|error| {
            if error.needs_sign_in() {
                Failure::login_needed(format!(
                    "no credentials found (--source {}): run `codeassist login`, or provide \
                     Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, \
                     `gcloud auth application-default login`) or an access token \
                     (CODEASSIST_ACCESS_TOKEN)",
                    self.source.name()
                ))
            } else {
                Failure::from(error)
            }
        })?;
        if let Some(scopes) = scopes.filter(|s| !s.is_empty()) {
            match &mut source {
                CredentialSource::ServiceAccount(account) => account.scopes = scopes.to_vec(),
                CredentialSource::Metadata(server) => server.scopes = scopes.to_vec(),
                CredentialSource::ExternalAccount(account) => {
                    account.scopes = scopes.to_vec();
                    if let Some(impersonation) = &mut account.impersonation {
                        impersonation.scopes = scopes.to_vec();
                    }
                }
                CredentialSource::Impersonated(impersonated) => {
                    impersonated.impersonation.scopes = scopes.to_vec()
                }
                _ => {
                    return Err(Failure::usage(format!(
                        "--scopes applies to service accounts, workload identity federation, impersonation and the metadata server, not to {} credentials",
                        source.summary().kind
                    )));
                }
            }
        }
        Ok(source)
    }

    /// A client for calls: built for this library's sign-in, then switched to the
    /// source discovery finds.
    pub fn calling_client(
        &self,
        project: Option<String>,
        scopes: Option<&[String]>,
    ) -> Result<Client, Failure> {
        let client = self.client(false, project.clone())?;
        Ok(match self.discover(&client, scopes)? {
            CredentialSource::SignIn => client,
            other if self.cache_source_tokens => self
                .builder(self.oauth(false)?, project)
                .source(other)
                .cache_source_tokens(self.store.source_tokens_beside())
                .build()?,
            other => client.with_source(other),
        })
    }

    pub fn client(&self, need_id: bool, project: Option<String>) -> Result<Client, Failure> {
        self.client_for(self.oauth(need_id)?, project)
    }

    /// The builder every client of the CLI starts from: `oauth` with the credential
    /// file, the Code Assist endpoints and the projects.
    fn builder(
        &self,
        oauth: OAuthClient,
        project: Option<String>,
    ) -> ClientBuilder<BlockingDriver> {
        self.configure(Client::builder(oauth), project)
    }

    /// `builder` (of any runtime) with the credential file, the Code Assist endpoints
    /// and the projects.
    pub fn configure<D: codeassist_runtime::Runtime>(
        &self,
        builder: ClientBuilder<D>,
        project: Option<String>,
    ) -> ClientBuilder<D> {
        builder
            .store(self.store.clone())
            .code_assist(self.code_assist())
            .project(project)
            .env_project(self.project.clone())
    }

    /// A client for `oauth` (this library's sign-in, in the credential file).
    pub fn client_for(
        &self,
        oauth: OAuthClient,
        project: Option<String>,
    ) -> Result<Client, Failure> {
        Ok(self.builder(oauth, project).build()?)
    }
}
