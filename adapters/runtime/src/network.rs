//! What a driver needs before its first connection (the trust roots, a usable proxy
//! setting, and the HTTP client built over them), made when the first connection is
//! made, not when the driver is: a program that finds a valid token in its store
//! opens no certificate file and reads no proxy rule.
//!
//! ```text
//!   driver made ──▶ [not set up] ──first request──▶ [set up: client, or why not]
//!                                                      (kept for the driver's life)
//! ```

use std::sync::{Arc, OnceLock};

use crate::{ProxySetting, TrustRoots};

/// The trust roots (`trust`, else the default ones) when they load and the proxy
/// setting is usable, else why every request must fail. Says (at `info`, so `-v`
/// shows it) which roots and which proxy are used; never a password.
pub fn network_setup(
    trust: Option<Arc<TrustRoots>>,
    proxy: &ProxySetting,
) -> Result<Arc<TrustRoots>, String> {
    let trust = trust.map_or_else(crate::default_trust, Ok)?;
    if let Some(problem) = proxy.problem() {
        return Err(problem);
    }
    tracing::info!(
        trust = %trust.sources().join(" + "),
        proxy = %proxy.describe().unwrap_or_else(|| "none".to_owned()),
        "network"
    );
    Ok(trust)
}

/// A driver's HTTP client `C`, built over the trust roots the first time it is asked
/// for. Cheap to clone: clones share the one client.
pub struct LazyNetwork<C> {
    shared: Arc<Shared<C>>,
}

type Build<C> = Box<dyn Fn(Option<&TrustRoots>) -> C + Send + Sync>;

struct Shared<C> {
    trust: Option<Arc<TrustRoots>>,
    proxy: ProxySetting,
    build: Build<C>,
    built: OnceLock<SetUp<C>>,
}

/// What setting up gave: the client, and why it cannot be used (the trust roots did
/// not load, or the proxy setting is unusable) when that is so.
struct SetUp<C> {
    client: C,
    problem: Option<String>,
}

impl<C> Clone for LazyNetwork<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> std::fmt::Debug for LazyNetwork<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyNetwork")
            .field("proxy", &self.shared.proxy)
            .field("set_up", &self.shared.built.get().is_some())
            .finish_non_exhaustive()
    }
}

impl<C> LazyNetwork<C> {
    /// A client to be built by `build` when first asked for: `build` gets the trust
    /// roots (`trust`, else the default ones), or `None` when they cannot be used, in
    /// which case it should build a client that trusts nothing (every request fails
    /// with the reason [`LazyNetwork::get`] gives).
    pub fn new(
        trust: Option<Arc<TrustRoots>>,
        proxy: ProxySetting,
        build: impl Fn(Option<&TrustRoots>) -> C + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                trust,
                proxy,
                build: Box::new(build),
                built: OnceLock::new(),
            }),
        }
    }

    /// The client, set up on the first call; with it, why it cannot be used (every
    /// request must fail with that reason, typed as a TLS failure).
    pub fn get(&self) -> (&C, Option<&str>) {
        let shared = &*self.shared;
        let set_up =
            shared.built.get_or_init(
                || match network_setup(shared.trust.clone(), &shared.proxy) {
                    Ok(trust) => SetUp {
                        client: (shared.build)(Some(&trust)),
                        problem: None,
                    },
                    Err(problem) => SetUp {
                        client: (shared.build)(None),
                        problem: Some(problem),
                    },
                },
            );
        (&set_up.client, set_up.problem.as_deref())
    }

    /// True once the client was set up (a warm token never sets it up).
    pub fn is_set_up(&self) -> bool {
        self.shared.built.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_client_is_built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&builds);
        let roots = Arc::new(TrustRoots::load(None).unwrap());
        let network = LazyNetwork::new(Some(roots), ProxySetting::Off, move |roots| {
            counted.fetch_add(1, Ordering::SeqCst);
            roots.is_some()
        });
        let clone = network.clone();
        assert!(!network.is_set_up());
        assert_eq!(builds.load(Ordering::SeqCst), 0, "nothing before first use");
        assert_eq!(clone.get(), (&true, None));
        assert_eq!(network.get(), (&true, None));
        assert!(network.is_set_up());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_unusable_proxy_is_the_reason_every_request_fails() {
        let network = LazyNetwork::new(
            None,
            ProxySetting::Url("socks5://127.0.0.1:1080".into()),
            |roots| roots.is_some(),
        );
        let (client, problem) = network.get();
        assert!(!client, "built without roots");
        assert!(problem.is_some_and(|p| p.contains("socks")), "{problem:?}");
    }
}
