//! `codeassist serve`: the gateway (`codeassist-server`) for any OpenAI, Anthropic or
//! google-genai client, with this machine's Google credentials behind it.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use codeassist_core::Secret;
use codeassist_core::compat::Options;
use codeassist_server::{Gateway, GatewayConfig, check_exposure};

use crate::ask::{TargetArgs, target_and_client};
use crate::config::Config;
use crate::{Failure, say};

/// The variable holding the key callers must present.
pub const API_KEY_VAR: &str = "CODEASSIST_SERVE_API_KEY";

/// What `serve` is asked.
#[derive(Debug)]
pub struct ServeArgs {
    pub host: String,
    pub port: u16,
    pub api_key: Option<String>,
    pub target: TargetArgs,
    pub no_fallback: bool,
    pub drop_unsupported: bool,
    /// Attempts per upstream call (the library's default when `None`).
    pub max_attempts: Option<u32>,
}

/// `localhost` or an IP address.
fn address(host: &str, port: u16) -> Result<SocketAddr, Failure> {
    let ip: IpAddr = match host.trim() {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        other => other.parse().map_err(|_| {
            Failure::usage(format!(
                "--host {:?} is not an IP address (or localhost)",
                codeassist_core::text::sanitize(other, 60)
            ))
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Resolves when the process is asked to stop: SIGTERM, or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn serve(config: &Config, args: ServeArgs) -> Result<(), Failure> {
    let address = address(&args.host, args.port)?;
    let key = args
        .api_key
        .or_else(|| std::env::var(API_KEY_VAR).ok())
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .map(Secret::new);
    check_exposure(address, key.is_some()).map_err(Failure::usage)?;
    // The target and credential as `ask` finds them, then the same client on tokio.
    let (target, found) = target_and_client(config, &args.target)?;
    let core = found.core().config();
    let mut code_assist = config.code_assist();
    if let Some(attempts) = args.max_attempts {
        code_assist.retry.max_attempts = attempts;
    }
    let builder = config
        .configure(
            codeassist_tokio::Client::builder(config.oauth(false)?),
            args.target.project.clone(),
        )
        .code_assist(code_assist)
        .source(core.source.clone())
        .quota_project(core.quota_project.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::error(format!("could not start the runtime: {error}")))?;
    runtime.block_on(async move {
        let client = builder.build()?;
        let mut gateway_config = GatewayConfig::new(target);
        gateway_config.api_key = key;
        gateway_config.fallback = !args.no_fallback;
        if args.drop_unsupported {
            gateway_config.options = Options::dropping();
        }
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|error| {
            Failure::error(format!("cannot listen on {address}: {error}"))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|error| Failure::error(format!("cannot listen on {address}: {error}")))?;
        let url = format!("http://{bound}");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{url}")
            .and_then(|()| stdout.flush())
            .map_err(|error| Failure::error(format!("could not write the address: {error}")))?;
        drop(stdout);
        say(&format!(
            "codeassist serve: {url} (OpenAI: OPENAI_BASE_URL={url}/v1; Anthropic: ANTHROPIC_BASE_URL={url}; google-genai: base_url {url}); stop with Ctrl-C"
        ));
        Gateway::new(client, gateway_config)
            .serve(listener, stop_signal())
            .await
            .map_err(|error| Failure::error(format!("the gateway stopped: {error}")))
    })
}
