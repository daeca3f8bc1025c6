//! A private certificate authority for tests: a CA made on the spot, a server
//! certificate for `localhost` signed by it, and the rustls server configuration the
//! emulator serves HTTPS with. The CA is trusted by nothing unless a test says so.

use std::sync::Arc;

/// A private CA and a server configuration signed by it.
pub struct PrivateCa {
    /// The CA's certificate, PEM (what a host adds as an extra CA bundle).
    pub ca_pem: String,
    /// A server configuration for `localhost` (and `127.0.0.1`) signed by the CA.
    pub server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for PrivateCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateCa").finish_non_exhaustive()
    }
}

/// Makes a new private CA and a `localhost` server certificate signed by it.
pub fn private_ca() -> PrivateCa {
    private_ca_for(&[])
}

/// [`private_ca`], the server certificate also naming `names` (an address the
/// emulator is served on).
pub fn private_ca_for(names: &[String]) -> PrivateCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "codeassist test CA");
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut alt_names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    alt_names.extend(names.iter().cloned());
    let server_params = CertificateParams::new(alt_names).expect("server parameters");
    let server_key = KeyPair::generate().expect("a server key");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("the server certificate");
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .expect("ring supports the default versions")
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone()], key)
    .expect("a server configuration");
    PrivateCa {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    }
}
