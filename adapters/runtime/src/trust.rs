//! Which certificate authorities every runtime trusts, decided once: the operating
//! system's store (through `rustls-native-certs`, which also honours `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`), else Mozilla's bundled roots where no system store exists,
//! plus an extra CA bundle (a corporate root for a TLS-inspecting gateway) from a
//! builder option or `CODEASSIST_CA_FILE`. Nothing here can turn verification off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The largest CA bundle read: Mozilla's whole store is about 200 KiB.
const MAX_CA_FILE: u64 = 16 * 1024 * 1024;

/// The variable naming an extra CA bundle (PEM) to trust beside the system's.
pub const CA_FILE_VAR: &str = "CODEASSIST_CA_FILE";

/// The certificate authorities a runtime's TLS trusts, and where they came from.
#[derive(Clone)]
pub struct TrustRoots {
    certs: Vec<CertificateDer<'static>>,
    sources: Vec<String>,
}

impl std::fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRoots")
            .field("certificates", &self.certs.len())
            .field("sources", &self.sources)
            .finish()
    }
}

impl TrustRoots {
    /// The system's roots (Mozilla's where the system has none), plus the PEM
    /// certificates of `extra_ca_file` when given. An unreadable or empty extra file
    /// is an error naming it.
    pub fn load(extra_ca_file: Option<&Path>) -> Result<Self, String> {
        Self::load_named(extra_ca_file, None)
    }

    /// [`TrustRoots::load`] with the file named by `CODEASSIST_CA_FILE`, if set.
    pub fn from_env() -> Result<Self, String> {
        let extra = std::env::var_os(CA_FILE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self::load_named(extra.as_deref(), Some(CA_FILE_VAR))
    }

    /// [`TrustRoots::load`]; a problem with the extra file names `variable` when it
    /// came from one.
    fn load_named(extra_ca_file: Option<&Path>, variable: Option<&str>) -> Result<Self, String> {
        let mut roots = system_roots()?.clone();
        if let Some(path) = extra_ca_file {
            let extra = read_ca_file(path).map_err(|error| match variable {
                Some(variable) => format!("{variable}: {error}"),
                None => error,
            })?;
            roots.sources.push(format!(
                "{} ({} certificate{})",
                path.display(),
                extra.len(),
                if extra.len() == 1 { "" } else { "s" }
            ));
            roots.certs.extend(extra);
        }
        Ok(roots)
    }

    /// The certificates, DER.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// Where they came from, for `status` and logs (never a secret).
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// A rustls root store of these certificates (the ones rustls cannot parse are
    /// skipped).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(self.certs.iter().cloned());
        tracing::debug!(added, ignored, sources = ?self.sources, "trust roots");
        store
    }
}

/// The default roots, loaded once per process.
pub fn default_trust() -> Result<Arc<TrustRoots>, String> {
    static DEFAULT: OnceLock<Result<Arc<TrustRoots>, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| TrustRoots::from_env().map(Arc::new))
        .clone()
}

fn system_roots() -> Result<&'static TrustRoots, String> {
    static SYSTEM: OnceLock<Result<TrustRoots, String>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            // rustls-native-certs reads `SSL_CERT_FILE` whole and blocks on a FIFO:
            // the file is checked first, as every file named from outside is.
            if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
                let path = PathBuf::from(file);
                let check = crate::open_regular_file(&path, true).and_then(|file| {
                    let size = file
                        .as_ref()
                        .map_or(Ok(0), |f| f.metadata().map(|m| m.len()))?;
                    match size > MAX_CA_FILE {
                        true => Err(std::io::Error::other("too large for a CA bundle")),
                        false => Ok(()),
                    }
                });
                if let Err(error) = check {
                    return Err(format!("SSL_CERT_FILE: {}: {error}", path.display()));
                }
            }
            let loaded = rustls_native_certs::load_native_certs();
            for error in loaded.errors.iter().take(3) {
                tracing::debug!(error = %error, "a system certificate could not be loaded");
            }
            if loaded.certs.is_empty() {
                Ok(TrustRoots {
                    certs: webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec(),
                    sources: vec!["bundled Mozilla roots (no system store found)".to_owned()],
                })
            } else {
                let count = loaded.certs.len();
                Ok(TrustRoots {
                    certs: loaded.certs,
                    sources: vec![format!("the system's store ({count} certificates)")],
                })
            }
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = crate::read_regular_file(path, MAX_CA_FILE)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| format!("{}: no such file", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{}: not a PEM certificate bundle", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: holds no \"CERTIFICATE\" PEM block",
            path.display()
        ));
    }
    Ok(certs)
}
