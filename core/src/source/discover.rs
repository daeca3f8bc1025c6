//! Discovery: finding the credential source to use (see the [module docs](super) for
//! the order), as an operation the runtime steps: it reads the store, credential files
//! and probes the metadata server when asked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::file::{CredentialFile, parse_credential_file};
use super::metadata::{check_flavor, probe};
use super::{
    CREDENTIALS_FILE_VAR, CredentialSource, Environment, GCLOUD_FILE_ORIGIN, INJECTED_TOKEN_VARS,
    InjectedToken, MAX_CREDENTIAL_FILE, MetadataServer, NO_GCE_CHECK_VAR, Origin, RsaKeys,
    SourceError, SourceKind,
};
use crate::client::{Action, Input, Operation, StoreOp, StoreReply};
use crate::flow::Misuse;
use crate::{Error, Secret};

/// Finds the credential source: pinned to one kind, or in the discovery order. Output:
/// the source; [`Error::NotSignedIn`] when the order finds nothing.
#[derive(Debug)]
pub struct DiscoverOp {
    env: Environment,
    pinned: SourceKind,
    keys: Arc<dyn RsaKeys>,
    stage: Stage,
    input: Option<Input>,
}

#[derive(Debug)]
enum Stage {
    Start,
    Store,
    /// Reading the file named by the variable (true) or gcloud's (false).
    File(PathBuf, bool),
    Probe(Vec<String>),
    Finished,
}

impl DiscoverOp {
    /// Discovery of `pinned` (or the whole order for [`SourceKind::Auto`]) in `env`;
    /// `keys` loads service-account keys.
    pub fn new(env: Environment, pinned: SourceKind, keys: Arc<dyn RsaKeys>) -> Self {
        Self {
            env,
            pinned,
            keys,
            stage: Stage::Start,
            input: None,
        }
    }

    fn wants(&self, kind: SourceKind) -> bool {
        self.pinned == SourceKind::Auto || self.pinned == kind
    }

    fn injected(&self) -> Option<CredentialSource> {
        INJECTED_TOKEN_VARS.iter().find_map(|name| {
            let token = self.env.get(name)?;
            Some(CredentialSource::Injected(InjectedToken::new(
                Secret::new(token),
                name,
            )))
        })
    }

    /// After the store: the files, then the metadata server.
    fn after_store(&mut self) -> Result<Action<CredentialSource>, Error> {
        let files = self.wants(SourceKind::Adc) || self.pinned == SourceKind::ServiceAccount;
        if files {
            // As google-auth: an empty variable is unset; a blank one names a file
            // that does not exist.
            if self.env.is_blank(CREDENTIALS_FILE_VAR) {
                return Err(SourceError::new(
                    "credential file",
                    &Origin(CREDENTIALS_FILE_VAR.into()),
                    format!("{CREDENTIALS_FILE_VAR} is blank: unset it or name a credential file"),
                )
                .into());
            }
            if let Some(path) = self.env.get(CREDENTIALS_FILE_VAR) {
                let path = PathBuf::from(path);
                self.stage = Stage::File(path.clone(), true);
                return Ok(Action::Read(path));
            }
            if let Some(path) = self.env.gcloud_adc_file() {
                self.stage = Stage::File(path.clone(), false);
                return Ok(Action::Read(path));
            }
        }
        self.after_files()
    }

    fn after_files(&mut self) -> Result<Action<CredentialSource>, Error> {
        match self.pinned {
            SourceKind::Metadata => {
                // Pinned: no detection; the first host is used.
                let host = self.env.metadata_hosts().remove(0);
                self.finish(CredentialSource::Metadata(MetadataServer::new(host)))
            }
            // Application Default Credentials end with the metadata server, in
            // Google's words as in google-auth.
            SourceKind::Auto | SourceKind::Adc
                if !self
                    .env
                    .get(NO_GCE_CHECK_VAR)
                    .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1") =>
            {
                self.next_probe(self.env.metadata_hosts())
            }
            SourceKind::Adc | SourceKind::ServiceAccount => Err(no_adc()),
            _ => Err(Error::NotSignedIn),
        }
    }

    fn next_probe(&mut self, mut hosts: Vec<String>) -> Result<Action<CredentialSource>, Error> {
        if hosts.is_empty() {
            tracing::debug!("no metadata server answered");
            return Err(match self.pinned {
                SourceKind::Adc => no_adc(),
                _ => Error::NotSignedIn,
            });
        }
        let request = probe(&hosts[0])?;
        tracing::debug!(host = %hosts[0], "looking for a metadata server");
        hosts.truncate(2);
        self.stage = Stage::Probe(hosts);
        Ok(Action::Send(request))
    }

    fn read_file(
        &mut self,
        path: PathBuf,
        named: bool,
        read: Result<Option<Vec<u8>>, String>,
    ) -> Result<Action<CredentialSource>, Error> {
        // The variable naming gcloud's own file is gcloud's file, as in google-auth.
        let gcloud = !named || self.env.gcloud_adc_file().as_ref() == Some(&path);
        let origin = match gcloud {
            false => Origin(format!("{} ({CREDENTIALS_FILE_VAR})", path.display())),
            true => Origin(format!("{} {GCLOUD_FILE_ORIGIN}", path.display())),
        };
        let bytes = match read {
            Ok(Some(bytes)) => bytes,
            // gcloud's file is optional; a file the variable names is not.
            Ok(None) if !named => return self.after_files(),
            Ok(None) => {
                return Err(SourceError::new(
                    "credential file",
                    &origin,
                    format!("no such file; fix or unset {CREDENTIALS_FILE_VAR}"),
                )
                .into());
            }
            Err(why) => return Err(SourceError::new("credential file", &origin, why).into()),
        };
        if bytes.len() > MAX_CREDENTIAL_FILE {
            return Err(SourceError::new(
                "credential file",
                &origin,
                "too large to be a credential file",
            )
            .into());
        }
        let file = parse_credential_file(&bytes, &origin, self.keys.as_ref())?;
        if self.pinned == SourceKind::ServiceAccount
            && !matches!(file, CredentialFile::ServiceAccount(_))
        {
            let held = match file {
                CredentialFile::AuthorizedUser(_) => "user credentials (authorized_user)",
                CredentialFile::ExternalAccount(_) => {
                    "workload identity federation (external_account)"
                }
                _ => "an impersonation (impersonated_service_account)",
            };
            return Err(SourceError::new(
                "service account key",
                &origin,
                format!("this file holds {held}, not a service-account key"),
            )
            .into());
        }
        let mut source = file.into_source();
        source.use_environment(&self.env);
        self.finish(source)
    }

    fn finish(&mut self, source: CredentialSource) -> Result<Action<CredentialSource>, Error> {
        tracing::debug!(source = source.summary().kind, "credential source found");
        self.stage = Stage::Finished;
        Ok(Action::Done(source))
    }

    fn advance(&mut self, stage: Stage) -> Result<Action<CredentialSource>, Error> {
        let input = self.input.take();
        match (stage, input) {
            (Stage::Start, None) => {
                if self.wants(SourceKind::Env) {
                    if let Some(source) = self.injected() {
                        return self.finish(source);
                    }
                    if self.pinned == SourceKind::Env {
                        return Err(SourceError::new(
                            "injected access token",
                            &Origin("environment".into()),
                            format!(
                                "neither {} nor {} is set",
                                INJECTED_TOKEN_VARS[0], INJECTED_TOKEN_VARS[1]
                            ),
                        )
                        .into());
                    }
                }
                if self.wants(SourceKind::Login) {
                    self.stage = Stage::Store;
                    return Ok(Action::Store(StoreOp::Load));
                }
                self.after_store()
            }
            (Stage::Store, Some(Input::Store(StoreReply::Loaded(found)))) => match found {
                Some(_) => self.finish(CredentialSource::SignIn),
                None if self.pinned == SourceKind::Login => Err(Error::NotSignedIn),
                None => self.after_store(),
            },
            (Stage::File(path, named), Some(Input::Read(read))) => {
                self.read_file(path, named, read)
            }
            (Stage::Probe(mut hosts), Some(Input::Response(answer))) => {
                let host = hosts.remove(0);
                match answer {
                    // A metadata server answers the probe 200 with its flavour
                    // (google-auth takes nothing else either).
                    Ok(response)
                        if response.status() == http::StatusCode::OK
                            && check_flavor(&response, &host).is_ok() =>
                    {
                        self.finish(CredentialSource::Metadata(MetadataServer::new(host)))
                    }
                    Ok(response) => {
                        tracing::debug!(host = %host, status = response.status().as_u16(), "not a metadata server");
                        self.next_probe(hosts)
                    }
                    Err(failure) => {
                        tracing::debug!(host = %host, failure = %failure, "no metadata server");
                        self.next_probe(hosts)
                    }
                }
            }
            (Stage::Finished, _) => Err(Misuse("polled after the operation finished").into()),
            (_, None) => Err(Misuse("polled before the last action was answered").into()),
            (_, Some(_)) => Err(Misuse("an answer to an action that was not asked for").into()),
        }
    }
}

/// Nothing of Application Default Credentials was found.
fn no_adc() -> Error {
    SourceError::new(
        "application default credentials",
        &Origin(CREDENTIALS_FILE_VAR.into()),
        format!(
            "no credential file and no metadata server: set {CREDENTIALS_FILE_VAR} to a key \
             file, or run `gcloud auth application-default login`"
        ),
    )
    .into()
}

impl Operation for DiscoverOp {
    type Output = CredentialSource;

    fn poll(&mut self, _now: SystemTime) -> Result<Action<CredentialSource>, Error> {
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        self.advance(stage)
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.input = Some(input);
    }
}
