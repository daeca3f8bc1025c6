//! The account commands: login, token, project, quota, logout, status.

use std::time::{Duration, SystemTime};

use codeassist_blocking::{Client, LoginOptions};
use codeassist_core::client::FlowOp;
use codeassist_core::code_assist::{ProjectContext, Quota};
use codeassist_core::oauth::unix_seconds;
use codeassist_core::source::CredentialSource;
use codeassist_runtime::CredentialStore;
use serde_json::json;

use crate::config::Config;
use crate::ui::{Spinner, bar, human_duration, local_time, table};
use crate::{Failure, say};

/// Opens `url` in the person's browser, when there is a display; false if not tried.
fn open_browser(url: &str) -> bool {
    let command = if cfg!(target_os = "macos") {
        Some(("open", vec![url]))
    } else if cfg!(windows) {
        Some(("cmd", vec!["/C", "start", "", url]))
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        Some(("xdg-open", vec![url]))
    } else {
        None
    };
    let Some((program, args)) = command else {
        return false;
    };
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub fn login(
    config: &Config,
    no_browser: bool,
    port: u16,
    target: Option<codeassist_core::inference::TargetKind>,
) -> Result<(), Failure> {
    let mut oauth = config.oauth(true)?;
    if target == Some(codeassist_core::inference::TargetKind::GeminiApi) {
        // OAuth access to the Gemini API needs its own scope beside cloud-platform.
        oauth
            .scopes
            .push(codeassist_core::inference::GENERATIVE_LANGUAGE_SCOPE.to_owned());
    }
    let client = config.client_for(oauth, None)?;
    let mut options = LoginOptions::new(move |url| {
        eprintln!("Open this URL to sign in with Google:\n{url}");
        if no_browser || !open_browser(url) {
            eprintln!(
                "(No browser was opened. On another machine, open the URL, then paste the address of the page it ends on here.)"
            );
        }
    });
    options.port = port;
    options.wait.paste = Some(Box::new(std::io::stdin()));
    options.wait.on_rejected_paste = Some(Box::new(|error| {
        eprintln!("That was not usable: {error}. Paste the whole address, or just the code.")
    }));
    let spinner = Spinner::start("Waiting for the browser…");
    let outcome = client.login(options);
    drop(spinner);
    let signed_in = outcome?;
    match (&signed_in.credentials.email, &signed_in.email_problem) {
        (Some(email), _) => say(&format!("Signed in as {email}.")),
        (None, Some(problem)) => say(&format!("Signed in (the email is unknown: {problem}).")),
        (None, None) => say("Signed in (the server did not name the email)."),
    }
    Ok(())
}

pub fn token(config: &Config, scopes: &[String]) -> Result<(), Failure> {
    let token = config.calling_client(None, Some(scopes))?.access_token()?;
    println!("{}", token.expose());
    Ok(())
}

fn resolve(client: &Client, refresh: bool) -> Result<ProjectContext, Failure> {
    let spinner =
        Spinner::start("Resolving the Code Assist project (onboarding may take a minute)…");
    let outcome = match refresh {
        true => client.refresh_project(),
        false => client.project(),
    };
    drop(spinner);
    Ok(outcome?)
}

pub fn project(
    config: &Config,
    project: Option<String>,
    refresh: bool,
    as_json: bool,
) -> Result<(), Failure> {
    let client = config.calling_client(project, None)?;
    let context = resolve(&client, refresh)?;
    if as_json {
        println!("{}", serde_json::to_string(&context).unwrap_or_default());
    } else {
        println!("{}", context.project_id);
        eprintln!("tier {}, from {}", context.tier_id, context.source.as_str());
    }
    Ok(())
}

pub fn quota_table(quota: &Quota) -> String {
    let now = SystemTime::now();
    let rows: Vec<Vec<String>> = quota
        .buckets
        .iter()
        .map(|bucket| {
            let (meter, percent) = match bucket.remaining_fraction {
                Some(fraction) => (bar(fraction, 20), format!("{:.0}%", fraction * 100.0)),
                None => ("?".to_owned(), "?".to_owned()),
            };
            let reset = bucket
                .reset_time
                .map(|time| {
                    let left = time.duration_since(now).unwrap_or_default();
                    format!("{} (in {})", local_time(time), human_duration(left))
                })
                .unwrap_or_default();
            vec![
                bucket.model_id.clone(),
                bucket.token_type.clone().unwrap_or_default(),
                meter,
                percent,
                reset,
            ]
        })
        .collect();
    table(&["MODEL", "TYPE", "REMAINING", "", "RESETS"], &rows)
}

pub fn quota(config: &Config, as_json: bool) -> Result<(), Failure> {
    let client = config.calling_client(None, None)?;
    let spinner = Spinner::start("Reading quota…");
    let outcome = client.quota();
    drop(spinner);
    let quota = outcome?;
    if as_json {
        println!("{}", serde_json::to_string(&quota).unwrap_or_default());
    } else {
        println!("{}", quota_table(&quota));
        if quota.skipped > 0 {
            eprintln!("({} malformed buckets skipped)", quota.skipped);
        }
    }
    Ok(())
}

pub fn logout(config: &Config, local: bool) -> Result<(), Failure> {
    let client = config.client(false, None)?;
    let outcome = match local {
        true => client.forget()?,
        false => client.logout()?,
    };
    match (outcome.was_signed_in, outcome.revocation_error, local) {
        (false, _, _) => say("Nobody was signed in."),
        (true, _, true) => say(
            "The stored credentials are deleted (not revoked: they stay valid at the server until they expire or are revoked).",
        ),
        (true, None, false) => say(
            "Signed out: access revoked at the OAuth server and the stored credentials deleted.",
        ),
        (true, Some(error), false) => {
            return Err(Failure::error(format!(
                "the stored credentials are deleted, but the OAuth server did not revoke them: {error}"
            )));
        }
    }
    Ok(())
}

pub fn status(config: &Config, as_json: bool) -> Result<(), Failure> {
    let credentials = config.store.load()?;
    let code_assist = config.code_assist();
    let oauth = config.oauth_endpoints();
    let now = SystemTime::now();
    let expires_at = credentials.as_ref().and_then(|c| c.expires_at);
    // Which credential calls would use; a problem with it is reported, not fatal.
    let client = config.client(false, None)?;
    let (source, source_problem) = match config.discover(&client, None) {
        Ok(source) => (Some(source), None),
        Err(failure) if failure.code == 3 => (None, None),
        Err(failure) => (None, Some(failure.message)),
    };
    let mut summary = source.as_ref().map(|s| s.summary());
    // The metadata server names its account only when asked.
    if let (Some(CredentialSource::Metadata(server)), Some(summary)) = (&source, &mut summary) {
        summary.account = codeassist_core::source::metadata_email(server)
            .ok()
            .and_then(|flow| client.run(FlowOp::new(flow)).ok());
    }
    // The project calls that need one would use, and where it came from.
    let project = match &source {
        Some(CredentialSource::SignIn) | None => config.project.clone().zip(config.project_var),
        Some(other) => {
            crate::ask::project_and_origin(config, None, &client.with_source(other.clone()))
        }
    };
    let quota_project = source.as_ref().and_then(|s| {
        s.quota_project(client.core().config().quota_project.as_deref())
            .map(str::to_owned)
    });
    let (trust_roots, trust_problem) = match codeassist_runtime::default_trust() {
        Ok(trust) => (trust.sources().to_vec(), None),
        Err(problem) => (Vec::new(), Some(problem)),
    };
    let proxy_setting = codeassist_runtime::ProxySetting::Environment;
    let proxy = proxy_setting.describe();
    let proxy_problem = proxy_setting.problem();
    if as_json {
        let value = json!({
            "proxy": proxy,
            "proxy_problem": proxy_problem,
            "trust_roots": trust_roots,
            "trust_problem": trust_problem,
            "source": summary.as_ref().map(|s| json!({"kind": s.kind, "type": s.file_type, "account": s.account, "origin": s.origin})),
            "source_problem": source_problem,
            "quota_project": quota_project,
            "signed_in": credentials.is_some(),
            "email": credentials.as_ref().and_then(|c| c.email.clone()),
            "expires_at": expires_at,
            "expires_in_secs": expires_at.map(|at| (at - unix_seconds(now)).max(0)),
            "credentials_path": config.store.path(),
            "token_endpoint": oauth.token,
            "code_assist_endpoints": code_assist.endpoints,
            "project": project.as_ref().map(|(project, _)| project),
            "project_from": project.as_ref().map(|(_, from)| from),
        });
        println!("{value}");
        return Ok(());
    }
    if let Some(problem) = &source_problem {
        println!("Credential problem: {problem}");
    }
    match &trust_problem {
        Some(problem) => println!("Trust problem: {problem}"),
        None => println!("Trusted CAs: {}", trust_roots.join(" + ")),
    }
    match (&proxy_problem, &proxy) {
        (Some(problem), _) => println!("Proxy problem: {problem}"),
        (None, Some(proxy)) => println!("Proxy for HTTPS: {proxy} (never for loopback)"),
        (None, None) => {}
    }
    if let Some(summary) = summary.as_ref().filter(|s| s.kind != "login") {
        println!(
            "Using {} credentials{}{}",
            summary.kind,
            summary
                .account
                .as_deref()
                .map(|a| format!(" of {a}"))
                .unwrap_or_default(),
            summary
                .origin
                .as_deref()
                .map(|o| format!(" from {o}"))
                .unwrap_or_default(),
        );
        println!("Access token: made on first use and kept in this process's memory only");
    }
    if let Some((project, from)) = &project {
        println!("Project: {project} (from {from})");
    }
    if let Some(project) = &quota_project {
        println!("Quota project: {project}");
    }
    match &credentials {
        None => println!("Not signed in."),
        Some(credentials) => {
            println!(
                "Signed in as {}",
                credentials.email.as_deref().unwrap_or("(email unknown)")
            );
            match expires_at {
                Some(at) => {
                    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64);
                    let left = credentials.remaining(now);
                    if left.is_zero() {
                        println!(
                            "Access token: expired {} (refreshed on next use)",
                            local_time(time)
                        );
                    } else {
                        println!(
                            "Access token: valid until {} ({} left)",
                            local_time(time),
                            human_duration(left)
                        );
                    }
                }
                None => println!("Access token: none yet"),
            }
        }
    }
    println!("Credentials: {}", config.store.path().display());
    println!("Token endpoint: {}", oauth.token);
    println!(
        "Code Assist endpoints: {}",
        code_assist.endpoints.join(", ")
    );
    if let Some(project) = &config.project {
        println!("GOOGLE_CLOUD_PROJECT: {project}");
    }
    Ok(())
}
