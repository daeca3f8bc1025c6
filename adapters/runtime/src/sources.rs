//! What the credential sources need from a runtime, written once for every runtime:
//! RSA signing for service-account keys (`ring`, already in the tree through rustls)
//! and a bounded reader for credential files.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use codeassist_core::source::{MAX_CREDENTIAL_FILE, Rs256Signer, RsaKeys};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// Loads service-account keys with `ring` (RSASSA-PKCS1-v1_5, SHA-256).
#[derive(Debug, Clone, Copy, Default)]
pub struct RingKeys;

/// One loaded RSA key.
struct RingSigner {
    pair: RsaKeyPair,
    random: SystemRandom,
}

impl std::fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSigner")
            .field("modulus_bits", &(self.pair.public().modulus_len() * 8))
            .finish_non_exhaustive()
    }
}

impl Rs256Signer for RingSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.random, message, &mut signature)
            .map_err(|_| "the RSA signature could not be made".to_owned())?;
        Ok(signature)
    }
}

impl RsaKeys for RingKeys {
    fn load_pkcs8(&self, der: &[u8]) -> Result<Arc<dyn Rs256Signer>, String> {
        let pair =
            RsaKeyPair::from_pkcs8(der).map_err(|why| format!("not a usable RSA key ({why})"))?;
        Ok(Arc::new(RingSigner {
            pair,
            random: SystemRandom::new(),
        }))
    }
}

/// Reads a credential file for `Action::Read`: `None` when it does not exist; only a
/// regular file (a FIFO or a device is an error at once, never a hang); at most
/// [`MAX_CREDENTIAL_FILE`] + 1 bytes (core refuses anything larger).
pub fn read_credential_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file =
        crate::open_regular_file(path, true).map_err(|error| format!("cannot be read: {error}"))?;
    let Some(file) = file else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(MAX_CREDENTIAL_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot be read: {error}"))?;
    Ok(Some(bytes))
}
