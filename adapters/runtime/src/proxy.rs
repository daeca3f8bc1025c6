//! Proxies for every runtime, decided once: which destinations may go through a
//! proxy at all (HTTPS to a non-loopback host; never the callback listener, loopback
//! or the metadata server), where the proxy comes from (the environment as curl reads
//! it, a URL the host sets, or none), and what `status` may say of it (never a
//! password). Each runtime's HTTP stack tunnels with `CONNECT` (ureq's proxy support,
//! hyper-util's tunnel connector); SOCKS proxies are refused with a clear error.

pub use hyper_util::client::proxy::matcher::{Intercept, Matcher};

/// Where a runtime's proxy comes from.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxySetting {
    /// `HTTPS_PROXY`/`https_proxy`, `ALL_PROXY`/`all_proxy` (`HTTP_PROXY` for plain
    /// HTTP) and `NO_PROXY`/`no_proxy`, as curl reads them.
    #[default]
    Environment,
    /// No proxy, whatever the environment says.
    Off,
    /// This proxy (`http://[user:password@]host:port`) for every HTTPS destination
    /// that may be proxied; the environment is not read.
    Url(String),
}

impl std::fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A proxy URL may hold a password.
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Off => f.write_str("Off"),
            ProxySetting::Url(url) => f.debug_tuple("Url").field(&redact_proxy_url(url)).finish(),
        }
    }
}

/// The variables a proxy is read from, in the order they are reported.
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// True when a request to `uri` may go through a proxy: HTTPS to a host that is not
/// loopback and not the metadata server.
pub fn may_proxy(uri: &http::Uri) -> bool {
    let host = uri
        .host()
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let metadata = host.eq_ignore_ascii_case(codeassist_core::source::DEFAULT_METADATA_HOST)
        || host == codeassist_core::source::FALLBACK_METADATA_HOST;
    uri.scheme_str() == Some("https") && !host.is_empty() && !loopback && !metadata
}

impl ProxySetting {
    /// The proxy URL this setting names for HTTPS, and where it came from; `None`
    /// when there is none.
    pub fn url(&self) -> Option<(String, &'static str)> {
        match self {
            ProxySetting::Off => None,
            ProxySetting::Url(url) => Some((url.clone(), "the host's configuration")),
            ProxySetting::Environment => PROXY_VARS[..4].iter().find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (v.trim().to_owned(), *name))
            }),
        }
    }

    /// Why this setting cannot be used (a SOCKS proxy, a malformed URL), naming where
    /// it came from and never its password.
    pub fn problem(&self) -> Option<String> {
        let (url, from) = self.url()?;
        let shown = redact_proxy_url(&url);
        let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
        if scheme.starts_with("socks") {
            return Some(format!(
                "{shown} (from {from}): SOCKS proxies are not supported; use an HTTP proxy that tunnels with CONNECT"
            ));
        }
        let with_scheme = match url.contains("://") {
            true => url.clone(),
            false => format!("http://{url}"),
        };
        match with_scheme.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                None
            }
            _ => Some(format!(
                "{shown} (from {from}): not a proxy URL (http://host:port)"
            )),
        }
    }

    /// What `status` and logs may say: the proxy without its password, and where it
    /// came from; `None` when there is none.
    pub fn describe(&self) -> Option<String> {
        let (url, from) = self.url()?;
        Some(format!("{} (from {from})", redact_proxy_url(&url)))
    }
}

/// The proxy rules of a setting, read once (curl's conventions: host suffixes, `*`,
/// IPs and CIDRs, through hyper-util's matcher), and [`may_proxy`] on top: the one
/// decision both runtimes take for every request.
#[derive(Clone, Default)]
pub struct ProxyRules(Option<std::sync::Arc<Matcher>>);

impl std::fmt::Debug for ProxyRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyRules")
            .field("active", &self.0.is_some())
            .finish()
    }
}

impl ProxyRules {
    /// The rules of `setting` (the environment is read now, for
    /// [`ProxySetting::Environment`]).
    pub fn new(setting: &ProxySetting) -> Self {
        let matcher = match setting {
            ProxySetting::Environment => Some(Matcher::from_env()),
            ProxySetting::Url(url) => Some(Matcher::builder().all(url.clone()).build()),
            ProxySetting::Off => None,
        };
        Self(matcher.map(std::sync::Arc::new))
    }

    /// The proxy a request to `uri` goes through, if any.
    pub fn proxy_for(&self, uri: &http::Uri) -> Option<Intercept> {
        let matcher = self.0.as_ref()?;
        match may_proxy(uri) {
            true => matcher.intercept(uri),
            false => None,
        }
    }
}

/// A proxy URL with its credentials hidden: the password of `user:password`, or the
/// whole user part when no password follows (a token as the user).
pub fn redact_proxy_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_proxy_url(&format!("http://{url}"))
            .trim_start_matches("http://")
            .to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        // `user:password`: the password goes. A user alone is often a token (a proxy
        // that takes `https://TOKEN@proxy`): it goes whole.
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}{path}"),
            None => format!("{scheme}://[redacted]@{host}{path}"),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_other_hosts_is_proxied() {
        let may = |url: &str| may_proxy(&url.parse().unwrap());
        assert!(may("https://oauth2.googleapis.com/token"));
        for url in [
            "http://127.0.0.1:8085/oauth2callback",
            "https://localhost:9/x",
            "https://127.0.0.2/x",
            "https://[::1]:9/x",
            "http://metadata.google.internal/computeMetadata/v1/",
            "https://169.254.169.254/x",
            "http://example.com/",
        ] {
            assert!(!may(url), "{url}");
        }
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_proxy_url("http://alice:s3cret@proxy.corp:3128"),
            "http://alice:[redacted]@proxy.corp:3128"
        );
        assert_eq!(
            redact_proxy_url("alice:s3cret@proxy:1"),
            "alice:[redacted]@proxy:1"
        );
        assert_eq!(redact_proxy_url("http://proxy:1"), "http://proxy:1");
        assert_eq!(
            redact_proxy_url("http://TOKEN-abc123@proxy.corp:3128"),
            "http://[redacted]@proxy.corp:3128"
        );
        let socks = ProxySetting::Url("socks5://bob:pw@h:1080".into());
        let problem = socks.problem().unwrap();
        assert!(
            problem.contains("SOCKS") && !problem.contains("pw"),
            "{problem}"
        );
        assert!(ProxySetting::Url("http://h:1".into()).problem().is_none());
        assert!(ProxySetting::Off.describe().is_none());
        let shown = format!("{:?}", ProxySetting::Url("http://alice:s3cret@p:1".into()));
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
