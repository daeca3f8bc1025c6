//! Reading credential files: gcloud's user credentials (`authorized_user`),
//! service-account keys (`service_account`), workload identity federation
//! (`external_account`, see [`super::external`]) and impersonation
//! (`impersonated_service_account`). Strict about the types of the fields
//! used, tolerant of fields this crate does not know; never echoes a secret. A key
//! for another universe than Google's (`universe_domain` other than
//! `googleapis.com`) is refused: every target here calls Google's own hosts.

use std::sync::Arc;

use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::impersonate::IAM_SCOPE;
use super::{
    AuthorizedUser, CLOUD_PLATFORM_SCOPE, ExternalAccount, ImpersonatedServiceAccount,
    Impersonation, Origin, RsaKeys, ServiceAccount, SourceError,
};
use crate::Secret;
use crate::flow::request::secure_uri;
use crate::oauth::check_token;

/// The largest credential file read: 64 KiB (a key file is about 2.4 KiB).
pub const MAX_CREDENTIAL_FILE: usize = 64 * 1024;

/// What a credential file holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CredentialFile {
    /// gcloud's user credentials.
    AuthorizedUser(AuthorizedUser),
    /// A service-account key, ready to sign.
    ServiceAccount(ServiceAccount),
    /// Workload identity federation.
    ExternalAccount(Box<ExternalAccount>),
    /// A service account impersonated with another credential.
    Impersonated(ImpersonatedServiceAccount),
}

impl CredentialFile {
    /// The credential source the file describes.
    pub fn into_source(self) -> super::CredentialSource {
        use super::CredentialSource;
        match self {
            CredentialFile::AuthorizedUser(user) => CredentialSource::AuthorizedUser(user),
            CredentialFile::ServiceAccount(account) => CredentialSource::ServiceAccount(account),
            CredentialFile::ExternalAccount(account) => CredentialSource::ExternalAccount(account),
            CredentialFile::Impersonated(impersonated) => {
                CredentialSource::Impersonated(impersonated)
            }
        }
    }
}

#[derive(Deserialize)]
struct ImpersonatedFile {
    service_account_impersonation_url: String,
    source_credentials: serde_json::Value,
    #[serde(default)]
    delegates: Vec<String>,
    #[serde(default)]
    quota_project_id: Option<String>,
}

/// An `impersonated_service_account` file: its source credential (user credentials,
/// a service-account key or workload identity federation, never another
/// impersonation) and the account impersonated.
fn impersonated(
    bytes: &[u8],
    origin: &Origin,
    keys: &dyn RsaKeys,
) -> Result<CredentialFile, SourceError> {
    let fail = |problem: String| SourceError::new("impersonated service account", origin, problem);
    let file: ImpersonatedFile = serde_json::from_slice(bytes).map_err(|e| {
        fail(format!(
            "unreadable impersonated_service_account file ({e})"
        ))
    })?;
    let source_bytes = serde_json::to_vec(&file.source_credentials)
        .map_err(|_| fail("source_credentials cannot be read".into()))?;
    let source = match parse_credential_file(&source_bytes, origin, keys)? {
        CredentialFile::Impersonated(_) => {
            return Err(fail(
                "source_credentials is itself an impersonation; name the account directly".into(),
            ));
        }
        CredentialFile::ServiceAccount(mut account) => {
            // A key that only buys the impersonated token asks for IAM's scope, as
            // google-auth does.
            account.scopes = vec![IAM_SCOPE.to_owned()];
            CredentialFile::ServiceAccount(account)
        }
        other => other,
    };
    let mut impersonation =
        Impersonation::from_url(file.service_account_impersonation_url.trim(), origin)?;
    if file
        .delegates
        .iter()
        .any(|d| !crate::text::is_one_word(d) || d.len() > 320)
    {
        return Err(fail("delegates holds an entry that is not one word".into()));
    }
    impersonation.delegates = file.delegates;
    Ok(CredentialFile::Impersonated(ImpersonatedServiceAccount {
        source: Box::new(source.into_source()),
        impersonation,
        quota_project_id: file.quota_project_id.filter(|p| !p.trim().is_empty()),
        origin: origin.clone(),
    }))
}

#[derive(Deserialize)]
struct Typed {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct UserFile {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    #[serde(default)]
    quota_project_id: Option<String>,
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    private_key_id: String,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    universe_domain: Option<String>,
}

/// Parses a credential file read from `origin`; `keys` turns a service account's
/// private key into a signer. Errors name the origin and never hold a secret.
pub fn parse_credential_file(
    bytes: &[u8],
    origin: &Origin,
    keys: &dyn RsaKeys,
) -> Result<CredentialFile, SourceError> {
    let fail = |problem: String| SourceError::new("credential file", origin, problem);
    if bytes.len() > MAX_CREDENTIAL_FILE {
        return Err(fail(format!(
            "larger than {MAX_CREDENTIAL_FILE} bytes: not a credential file"
        )));
    }
    // serde_json's messages name a line and column, never the content.
    let typed: Typed = serde_json::from_slice(bytes)
        .map_err(|e| fail(format!("not a JSON credential file ({e})")))?;
    match typed.kind.as_deref() {
        Some("authorized_user") => {
            let file: UserFile = serde_json::from_slice(bytes)
                .map_err(|e| fail(format!("unreadable authorized_user file ({e})")))?;
            check_token("refresh_token", &file.refresh_token, 4096).map_err(fail)?;
            if file.client_id.trim().is_empty() {
                return Err(fail("client_id is empty".into()));
            }
            Ok(CredentialFile::AuthorizedUser(AuthorizedUser {
                client_id: file.client_id,
                client_secret: Secret::new(file.client_secret),
                refresh_token: Secret::new(file.refresh_token),
                quota_project_id: file.quota_project_id.filter(|p| !p.trim().is_empty()),
                origin: origin.clone(),
            }))
        }
        Some("service_account") => {
            let fail_key =
                |problem: String| SourceError::new("service account key", origin, problem);
            let file: KeyFile = serde_json::from_slice(bytes)
                .map_err(|e| fail_key(format!("unreadable service_account file ({e})")))?;
            if !file.client_email.contains('@') {
                return Err(fail_key("client_email is not an email address".into()));
            }
            // Another universe (a sovereign cloud) has its own hosts for every API; the
            // targets here call Google's, where its tokens mean nothing.
            if let Some(universe) = file
                .universe_domain
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty() && *d != "googleapis.com")
            {
                return Err(fail_key(format!(
                    "universe_domain {:?} is not supported: only Google's default universe \
                     (googleapis.com) is",
                    crate::text::sanitize(universe, 60)
                )));
            }
            let token_uri = file
                .token_uri
                .filter(|uri| !uri.trim().is_empty())
                .unwrap_or_else(|| super::GOOGLE_TOKEN_URI.to_owned());
            secure_uri(&token_uri).map_err(|e| fail_key(format!("token_uri: {e}")))?;
            let der =
                PrivatePkcs8KeyDer::from_pem_slice(file.private_key.as_bytes()).map_err(|_| {
                    fail_key("private_key is not a PEM \"PRIVATE KEY\" (PKCS#8) block".into())
                })?;
            let signer = keys
                .load_pkcs8(der.secret_pkcs8_der())
                .map_err(|why| fail_key(format!("private_key cannot sign: {why}")))?;
            Ok(CredentialFile::ServiceAccount(ServiceAccount {
                client_email: file.client_email,
                private_key_id: file.private_key_id,
                token_uri,
                project_id: file.project_id.filter(|p| !p.trim().is_empty()),
                scopes: vec![CLOUD_PLATFORM_SCOPE.to_owned()],
                signer: Arc::clone(&signer),
                origin: origin.clone(),
            }))
        }
        Some("external_account") => Ok(CredentialFile::ExternalAccount(Box::new(
            ExternalAccount::parse(bytes, origin)?,
        ))),
        Some("impersonated_service_account") => impersonated(bytes, origin, keys),
        Some(other) => Err(fail(format!(
            "unsupported credential type {:?}",
            crate::text::sanitize(other, 60)
        ))),
        None => Err(fail(
            "no \"type\" field: not a Google credential file".into(),
        )),
    }
}
