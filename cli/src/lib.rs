//! `codeassist`: the command-line face of the codeassist library, as a library its two
//! binaries share: `codeassist` ([`run`]) and `codeassist-serve` ([`run_serve`]),
//! which `codeassist serve` runs in its place so the gateway's runtime (tokio, hyper's
//! server) is not loaded by every other command.
#![forbid(unsafe_code)]

mod ask;
mod commands;
mod config;
mod demo;
mod explain;
mod serve;
mod ui;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use http::HeaderMap;

const AFTER_HELP: &str = "\
Environment:
  CODEASSIST_CLIENT_ID, CODEASSIST_CLIENT_SECRET
                      the OAuth client (create a \"Desktop app\" client in the Google Cloud console)
  CODEASSIST_HOME     where credentials live (default: $XDG_CONFIG_HOME/codeassist or ~/.config/codeassist)
  CODEASSIST_GOOGLE_BASE_URL
                      one base URL replacing every Google host, Google's paths kept (emulators, tests);
                      plain http:// only for loopback
  CODEASSIST_CODE_ASSIST_ENDPOINTS
                      comma-separated Code Assist endpoints, tried in order
  GOOGLE_CLOUD_PROJECT
                      the Google Cloud project id
  GOOGLE_APPLICATION_CREDENTIALS
                      a service-account key or gcloud user-credentials file (--source adc)
  CODEASSIST_ACCESS_TOKEN, GOOGLE_CLOUD_ACCESS_TOKEN
                      an access token used as is (--source env)
  GCE_METADATA_HOST, NO_GCE_CHECK
                      the metadata server's host; NO_GCE_CHECK=true skips looking for it
  GOOGLE_CLOUD_QUOTA_PROJECT
                      the project billed for user credentials (x-goog-user-project)
  GEMINI_API_KEY, GOOGLE_API_KEY
                      a Gemini API key (ask and models then use the Gemini API)
  GOOGLE_CLOUD_LOCATION
                      Vertex AI's location (default global)
  CODEASSIST_CA_FILE  an extra CA bundle (PEM) to trust beside the system's (a corporate root);
                      SSL_CERT_FILE / SSL_CERT_DIR replace the system's store

Exit codes: 0 ok, 1 failure, 2 usage, 3 sign-in needed (run `codeassist login`).

Try it without a Google account: codeassist demo";

/// Google sign-in, Gemini Code Assist projects and quota, and Google errors explained.
#[derive(Debug, Parser)]
#[command(name = "codeassist", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// More log lines on stderr: -v for information, -vv for everything (RUST_LOG,
    /// when set, wins). Secrets never appear in them.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Which credential to use: auto (the discovery order), login (this tool's own
    /// sign-in), adc (GOOGLE_APPLICATION_CREDENTIALS or gcloud's file),
    /// service-account, metadata, env (CODEASSIST_ACCESS_TOKEN or
    /// GOOGLE_CLOUD_ACCESS_TOKEN).
    #[arg(long, global = true, value_name = "SOURCE", default_value = "auto")]
    source: codeassist_core::source::SourceKind,
    /// Keep the access token of a credential other than this tool's sign-in (gcloud's,
    /// a service account's, the metadata server's) in source-token.json beside the
    /// sign-in, so the next runs reuse it; only the token and its expiry are written.
    #[arg(long, global = true)]
    cache_token: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with Google in the browser (or by pasting the redirected address).
    #[command(after_help = "Example:\n  codeassist login --no-browser")]
    Login {
        /// Print the URL only; do not open a browser.
        #[arg(long)]
        no_browser: bool,
        /// The loopback port for Google's redirect (another free one is used when busy).
        #[arg(long, default_value_t = codeassist_blocking::DEFAULT_PORT)]
        port: u16,
        /// Ask for the scopes this target needs too (gemini-api adds the Gemini API's
        /// generative-language scope).
        #[arg(long, value_name = "TARGET")]
        target: Option<codeassist_core::inference::TargetKind>,
    },
    /// Print a valid access token (refreshed when fewer than 5 minutes remain).
    #[command(
        after_help = "Examples:\n  curl -H \"Authorization: Bearer $(codeassist token)\" …\n  codeassist token --source service-account --scopes https://www.googleapis.com/auth/cloud-platform"
    )]
    Token {
        /// Scopes to ask for (service accounts and the metadata server; repeatable or
        /// comma-separated). Default: cloud-platform for service accounts, the
        /// instance's own for the metadata server.
        #[arg(long, value_name = "SCOPE", value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Resolve the Code Assist project: flag, GOOGLE_CLOUD_PROJECT, the cache, discovery, onboarding.
    #[command(after_help = "Example:\n  codeassist project --json")]
    Project {
        /// The project id to use.
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// Ask Code Assist again instead of using the project remembered beside the
        /// credentials.
        #[arg(long)]
        refresh: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the remaining quota per model.
    #[command(
        after_help = "Example:\n  codeassist quota --json | jq '.buckets[].remaining_fraction'"
    )]
    Quota {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the sign-in at Google and delete the stored credentials.
    ///
    /// The credentials are deleted even when the revocation fails; the exit code is
    /// then 1 and the message says so.
    #[command(after_help = "Example:\n  codeassist logout")]
    Logout {
        /// Only delete the stored credentials; do not revoke them.
        #[arg(long)]
        local: bool,
    },
    /// Show who is signed in, until when, and where things are. Never prints a secret.
    #[command(after_help = "Example:\n  codeassist status --json")]
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Explain a failed Google response read from stdin.
    ///
    /// Stdin holds the response as `curl -i` prints it (status line, headers, blank
    /// line, body); with --status it holds the body alone.
    #[command(
        after_help = "Examples:\n  curl -si … | codeassist explain-error\n  codeassist explain-error --status 429 --header 'Retry-After: 30' --json < body.json"
    )]
    ExplainError {
        /// The HTTP status of a body-only input.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(100..=599))]
        status: Option<u16>,
        /// A response header of a body-only input, as `Name: value` (repeatable).
        #[arg(long = "header", value_name = "NAME: VALUE", requires = "status")]
        headers: Vec<String>,
        /// Print one JSON object instead of the human line.
        #[arg(long)]
        json: bool,
    },
    /// Ask a model: the answer streams to stdout; retries and model switches go to
    /// stderr.
    #[command(
        after_help = "Examples:\n  codeassist ask \"Why is the sky blue?\"\n  echo 'Summarise this' | GEMINI_API_KEY=… codeassist ask --target gemini-api --model gemini-3.8-flash\n  codeassist ask --target vertex --project my-project --location us-central1 --json \"hi\""
    )]
    Ask {
        /// Where to send it: code-assist, gemini-api or vertex (default: the Gemini API
        /// with an API key in GEMINI_API_KEY or GOOGLE_API_KEY; Vertex AI with another
        /// Google Cloud credential that names a project; else Code Assist; -v says why).
        #[arg(long, value_name = "TARGET")]
        target: Option<codeassist_core::inference::TargetKind>,
        /// The model (default GEMINI_MODEL, else the newest stable Pro the target
        /// lists, else gemini-2.5-pro; falls back along its chain).
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// How much the model thinks: none, minimal, low, medium, high, or a token
        /// budget; mapped to what the model takes (-v says when it had to be changed,
        /// and shows the thought summaries on stderr).
        #[arg(long, value_name = "LEVEL", value_parser = codeassist_core::inference::models::Thinking::parse)]
        thinking: Option<codeassist_core::inference::models::Thinking>,
        /// The Google Cloud project (Code Assist, Vertex AI).
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// Vertex AI's location (default GOOGLE_CLOUD_LOCATION, else global; `us` and
        /// `eu` are the multi-regions). With an API key and no project, `--target
        /// vertex` is Vertex AI Express.
        #[arg(long, value_name = "LOCATION")]
        location: Option<String>,
        /// The Gemini API's version: v1beta (default; thinking and tools) or v1.
        #[arg(long, value_name = "VERSION")]
        api_version: Option<codeassist_core::inference::ApiVersion>,
        /// Never switch to another model.
        #[arg(long)]
        no_fallback: bool,
        /// Print each response chunk as one JSON line.
        #[arg(long)]
        json: bool,
        /// The prompt (default: stdin).
        prompt: Option<String>,
    },
    /// List the models a target offers, with their token limits.
    #[command(after_help = "Example:\n  codeassist models --target gemini-api --json")]
    Models {
        /// code-assist or gemini-api (default as for ask).
        #[arg(long, value_name = "TARGET")]
        target: Option<codeassist_core::inference::TargetKind>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve a local gateway: OpenAI (`/v1/chat/completions`), Anthropic
    /// (`/v1/messages`) and Gemini (`/v1beta/models/…`) clients reach Gemini through
    /// this machine's Google credentials, with fallback and each wire's own errors.
    /// Prints its URL, then serves until SIGTERM or Ctrl-C (streams get 10 s).
    #[command(after_help = "Examples:
  codeassist serve --port 8080
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=unused python agent.py
  CODEASSIST_SERVE_API_KEY=secret codeassist serve --host 0.0.0.0 --target vertex --project my-project")]
    Serve {
        /// The address to listen on (loopback unless a key is set).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The port (0: a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The key callers must present (default CODEASSIST_SERVE_API_KEY): as
        /// `Authorization: Bearer`, `x-api-key`, `x-goog-api-key` or `?key=`.
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
        /// Where to send requests: code-assist, gemini-api or vertex (default as for ask).
        #[arg(long, value_name = "TARGET")]
        target: Option<codeassist_core::inference::TargetKind>,
        /// The Google Cloud project (Code Assist, Vertex AI).
        #[arg(long, value_name = "ID")]
        project: Option<String>,
        /// Vertex AI's location.
        #[arg(long, value_name = "LOCATION")]
        location: Option<String>,
        /// Never switch to another model.
        #[arg(long)]
        no_fallback: bool,
        /// Drop request fields that cannot be translated instead of refusing them.
        #[arg(long)]
        drop_unsupported: bool,
        /// How many times a failing upstream call is tried before the caller gets the
        /// error (1: no retry; default 10, within 300 s). Callers whose SDK retries
        /// on its own, or that time out early, want fewer.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
        max_attempts: Option<u32>,
    },
    /// Run the whole journey against a built-in emulator of Google: no account needed.
    #[command(after_help = "Example:\n  codeassist demo")]
    Demo,
    /// Serve the emulator of Google's endpoints as a process, for tests in any
    /// language: prints its base URL, then serves until stopped (SIGTERM, Ctrl-C).
    /// Control it over HTTP under /_emulator/ (credentials, fault, requests, reset).
    #[command(
        after_help = "Example:\n  codeassist emulator --port 0\n  curl -s http://127.0.0.1:PORT/_emulator/credentials"
    )]
    Emulator {
        /// The address to listen on; anything but loopback needs --allow-remote.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// The port (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Listen on a non-loopback address (the emulator accepts fixed, public
        /// credentials: only on a network you trust).
        #[arg(long)]
        allow_remote: bool,
        /// Every model call answers after this many milliseconds (a fixed upstream
        /// latency, for benchmarks).
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
}

/// A command's failure: the message for stderr and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// Exit code 1.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }

    /// Exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }

    /// Exit code 3: the credentials need a person (sign in again, or fix the key).
    pub fn login_needed(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 3,
        }
    }
}

impl From<codeassist_blocking::ClientError> for Failure {
    fn from(error: codeassist_blocking::ClientError) -> Self {
        if error.needs_sign_in() {
            return Failure::login_needed(format!("{error}; run `codeassist login`"));
        }
        Failure::error(error.to_string())
    }
}

impl From<codeassist_runtime::StoreError> for Failure {
    fn from(error: codeassist_runtime::StoreError) -> Self {
        Failure::error(error.to_string())
    }
}

/// The failure of a core error: exit 3 when a person must sign in, else 1.
pub(crate) fn failure_of(error: codeassist_core::Error) -> Failure {
    Failure::from(codeassist_blocking::ClientError::from(error))
}

/// A message for the person, on stderr.
pub(crate) fn say(message: &str) {
    eprintln!("{message}");
}

/// Logs to stderr: `RUST_LOG` when set, else warnings, `-v` information, `-vv` all;
/// coloured only on a terminal without `NO_COLOR`.
fn install_logging(verbose: u8) {
    // Retry waits are worth a line even without -v: a person sees why nothing moves.
    let default = match verbose {
        0 => "warn,codeassist::retry=info",
        1 => "info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ui::colour_on_stderr())
        .with_target(false)
        .try_init();
}

/// How `serve` is carried out by the binary running.
type ServeWith = fn(&config::Config, serve::ServeArgs) -> Result<(), Failure>;

/// `codeassist`: every command; `serve` runs `codeassist-serve` in its place.
pub fn run() -> ExitCode {
    dispatch(exec_serve)
}

/// `codeassist-serve`: the same commands, `serve` served here.
pub fn run_serve() -> ExitCode {
    dispatch(serve::serve)
}

/// Replaces this process with `codeassist-serve` (beside this binary), given the same
/// arguments.
fn exec_serve(_config: &config::Config, _args: serve::ServeArgs) -> Result<(), Failure> {
    let exe = std::env::current_exe()
        .map_err(|error| Failure::error(format!("cannot find this program: {error}")))?;
    let sibling = exe.with_file_name(format!("codeassist-serve{}", std::env::consts::EXE_SUFFIX));
    if !sibling.is_file() {
        return Err(Failure::error(format!(
            "{} is missing: `codeassist serve` runs it (install both binaries of codeassist-cli)",
            sibling.display()
        )));
    }
    let mut command = std::process::Command::new(&sibling);
    command.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(Failure::error(format!(
            "could not run {}: {error}",
            sibling.display()
        )))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(|error| {
            Failure::error(format!("could not run {}: {error}", sibling.display()))
        })?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

fn dispatch(serve_with: ServeWith) -> ExitCode {
    let cli = Cli::parse();
    install_logging(cli.verbose);
    let outcome = match cli.command {
        Command::ExplainError {
            status,
            headers,
            json,
        } => explain_error(status, &headers, json),
        Command::Demo => demo::run(),
        Command::Emulator {
            host,
            port,
            allow_remote,
            latency_ms,
        } => emulator(host, port, allow_remote, latency_ms),
        command => config::Config::from_env().and_then(|mut config| {
            config.source = cli.source;
            config.cache_source_tokens = cli.cache_token;
            match command {
                Command::Login {
                    no_browser,
                    port,
                    target,
                } => commands::login(&config, no_browser, port, target),
                Command::Token { scopes } => commands::token(&config, &scopes),
                Command::Project {
                    project,
                    refresh,
                    json,
                } => commands::project(&config, project, refresh, json),
                Command::Quota { json } => commands::quota(&config, json),
                Command::Logout { local } => commands::logout(&config, local),
                Command::Status { json } => commands::status(&config, json),
                Command::Ask {
                    target,
                    model,
                    thinking,
                    project,
                    location,
                    api_version,
                    no_fallback,
                    json,
                    prompt,
                } => ask::ask(
                    &config,
                    &ask::TargetArgs {
                        target,
                        project,
                        location,
                        api_version,
                    },
                    ask::AskOptions {
                        model,
                        thinking,
                        no_fallback,
                        as_json: json,
                        show_thoughts: cli.verbose > 0,
                    },
                    prompt,
                ),
                Command::Models { target, json } => ask::models(
                    &config,
                    &ask::TargetArgs {
                        target,
                        ..ask::TargetArgs::default()
                    },
                    json,
                ),
                Command::Serve {
                    host,
                    port,
                    api_key,
                    target,
                    project,
                    location,
                    no_fallback,
                    drop_unsupported,
                    max_attempts,
                } => serve_with(
                    &config,
                    serve::ServeArgs {
                        host,
                        port,
                        api_key,
                        target: ask::TargetArgs {
                            target,
                            project,
                            location,
                            api_version: None,
                        },
                        no_fallback,
                        drop_unsupported,
                        max_attempts,
                    },
                ),
                Command::ExplainError { .. } | Command::Demo | Command::Emulator { .. } => Ok(()),
            }
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // The configured client secret never reaches the terminal, even as prose.
            let secret = std::env::var("CODEASSIST_CLIENT_SECRET").unwrap_or_default();
            let message = codeassist_core::text::redact_known(&failure.message, &[secret.trim()]);
            eprintln!("codeassist: {message}");
            ExitCode::from(failure.code)
        }
    }
}

/// `codeassist emulator`: serves until the process is stopped.
fn emulator(
    host: std::net::IpAddr,
    port: u16,
    allow_remote: bool,
    latency_ms: u64,
) -> Result<(), Failure> {
    if !host.is_loopback() && !allow_remote {
        return Err(Failure::usage(format!(
            "{host} is not a loopback address: the emulator's credentials are public; add --allow-remote to listen there"
        )));
    }
    let emulator = codeassist_emulator::Emulator::new();
    emulator.set_latency(std::time::Duration::from_millis(latency_ms));
    // The key file /_emulator/credentials hands out signs assertions it accepts.
    emulator.trust_service_account(
        codeassist_emulator::SERVICE_ACCOUNT_EMAIL,
        codeassist_emulator::TEST_SERVICE_ACCOUNT_KEY,
    );
    let server =
        codeassist_emulator::Server::start_at(emulator, std::net::SocketAddr::new(host, port))
            .map_err(|error| Failure::error(format!("cannot listen on {host}:{port}: {error}")))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.base_url())
        .and_then(|()| stdout.flush())
        .map_err(|error| Failure::error(format!("could not write the address: {error}")))?;
    drop(stdout);
    say(&format!(
        "codeassist emulator: serving on {} (credentials at {}/_emulator/credentials); stop with Ctrl-C",
        server.base_url(),
        server.base_url()
    ));
    loop {
        std::thread::park();
    }
}

fn explain_error(status: Option<u16>, header_args: &[String], json: bool) -> Result<(), Failure> {
    let mut input = Vec::new();
    std::io::stdin()
        .take(explain::MAX_INPUT)
        .read_to_end(&mut input)
        .map_err(|error| Failure::error(format!("could not read stdin: {error}")))?;
    let response = match status {
        Some(status) => {
            let mut headers = HeaderMap::new();
            for arg in header_args {
                let (name, value) = explain::split_header(arg.as_bytes()).ok_or_else(|| {
                    Failure::usage(format!("--header {arg:?} is not of the form 'Name: value'"))
                })?;
                headers.append(name, value);
            }
            explain::RawResponse {
                status,
                headers,
                body: input,
            }
        }
        None => explain::parse_curl_output(&input).map_err(Failure::usage)?,
    };
    let line = explain::explain(&response, SystemTime::now(), json);
    writeln!(std::io::stdout().lock(), "{line}").map_err(|error| Failure::error(error.to_string()))
}
