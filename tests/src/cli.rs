//! Running the `codeassist` program in tests: an environment of the test's own, so
//! nothing of the machine's leaks in (no gcloud file, no injected token, no proxy, no
//! API key, no metadata server probe: the real addresses are never contacted).

use std::path::Path;
use std::process::Command;

/// The variables a test run of the program never inherits.
pub const INHERITED_NEVER: [&str; 32] = [
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GEMINI_MODEL",
    "CODEASSIST_CODE_ASSIST_ENDPOINTS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CODEASSIST_ACCESS_TOKEN",
    "GOOGLE_CLOUD_ACCESS_TOKEN",
    "GCE_METADATA_HOST",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_CLOUD_LOCATION",
    "CODEASSIST_CA_FILE",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RUST_LOG",
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// `program` with `home` as its credential directory, Google replaced by `base`, and
/// the machine's environment kept out (see [`INHERITED_NEVER`]).
pub fn hermetic(program: &str, home: &Path, base: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env("CODEASSIST_HOME", home)
        .env("CODEASSIST_GOOGLE_BASE_URL", base)
        .env("NO_COLOR", "1")
        .env("CLOUDSDK_CONFIG", home.join("gcloud"))
        .env("NO_GCE_CHECK", "true");
    for name in INHERITED_NEVER {
        command.env_remove(name);
    }
    command
}
