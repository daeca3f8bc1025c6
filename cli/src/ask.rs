//! `codeassist ask` and `codeassist models`: a prompt to Code Assist, the Gemini API
//! or Vertex AI, streamed, with model fallback; and the models a target offers.

use std::io::{IsTerminal, Read, Write};

use codeassist_blocking::Client;
use codeassist_core::inference::models::{self, Thinking};
use codeassist_core::inference::{
    API_KEY_VARS, DEFAULT_LOCATION, LOCATION_VAR, StreamItem, Target, TargetKind, default_target,
};
use codeassist_core::{Error, Secret};
use serde_json::json;

use crate::config::Config;
use crate::ui::table;
use crate::{Failure, say};

/// The largest prompt read from stdin: 1 MiB.
const MAX_PROMPT: u64 = 1024 * 1024;
/// The variable naming the model `ask` uses when `--model` names none (the one
/// Google's CLI reads).
pub const MODEL_VAR: &str = "GEMINI_MODEL";

/// Where `ask` and `models` go, as the flags say.
#[derive(Debug, Default)]
pub struct TargetArgs {
    pub target: Option<TargetKind>,
    pub project: Option<String>,
    pub location: Option<String>,
    /// The Gemini API's version (default v1beta).
    pub api_version: Option<codeassist_core::inference::ApiVersion>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The API key from the environment, and the variable it came from.
fn api_key() -> Option<(Secret, &'static str)> {
    API_KEY_VARS
        .iter()
        .find_map(|name| var(name).map(|key| (Secret::new(key), *name)))
}

/// The target and a client that reaches it: an API key needs no sign-in; every
/// other target takes a token from the credential source (`--source`).
pub fn target_and_client(config: &Config, args: &TargetArgs) -> Result<(Target, Client), Failure> {
    let key = api_key();
    // Without --target, the credential decides: it is discovered (and its project
    // looked up) once, here, and the target below reuses both.
    let mut discovered: Option<(Client, Option<(String, &'static str)>)> = None;
    let kind = match args.target {
        Some(kind) => {
            tracing::info!(target = kind.name(), "inference target (as asked)");
            kind
        }
        None => {
            let (own_sign_in, has_project) = match &key {
                Some(_) => (false, false),
                None => {
                    let client = config.calling_client(None, None)?;
                    let own = client.core().config().source.is_sign_in();
                    let project = match own {
                        true => None,
                        false => project_and_origin(config, args.project.as_deref(), &client),
                    };
                    let has_project = match own {
                        true => args.project.is_some() || config.project.is_some(),
                        false => project.is_some(),
                    };
                    discovered = Some((client, project));
                    (own, has_project)
                }
            };
            let (kind, why) = default_target(key.is_some(), own_sign_in, has_project);
            tracing::info!(target = kind.name(), why, "inference target");
            kind
        }
    };
    let (target, client) = match (kind, key) {
        (TargetKind::GeminiApi, Some((key, name))) => {
            tracing::debug!(variable = name, "Gemini API key from the environment");
            (Target::gemini_api(Some(key)), config.client(false, None)?)
        }
        (TargetKind::GeminiApi, None) => {
            (Target::gemini_api(None), config.calling_client(None, None)?)
        }
        // An API key and no project: Vertex AI Express.
        (TargetKind::Vertex, Some((key, name)))
            if args.project.is_none() && config.project.is_none() =>
        {
            tracing::info!(
                variable = name,
                "Vertex AI Express: an API key and no project"
            );
            (Target::vertex_express(key), config.client(false, None)?)
        }
        (TargetKind::Vertex, _) => {
            let (client, project) = match discovered {
                Some((client, project)) => (client, project),
                None => {
                    let client = config.calling_client(None, None)?;
                    let project = project_and_origin(config, args.project.as_deref(), &client);
                    (client, project)
                }
            };
            let (project, origin) = project.ok_or_else(|| {
                Failure::usage(
                    "Vertex AI needs a project: --project, GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT), credentials that name one, or gcloud's configured project",
                )
            })?;
            tracing::info!(project = %project, from = origin, "Vertex AI project");
            let location = args
                .location
                .clone()
                .or_else(|| var(LOCATION_VAR))
                .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
            (Target::vertex(project, location), client)
        }
        _ => {
            let client = match discovered {
                // The discovered client has no configured project: reused only when
                // --project names none either.
                Some((client, _)) if args.project.is_none() => client,
                _ => config.calling_client(args.project.clone(), None)?,
            };
            (Target::CodeAssist, client)
        }
    };
    let target = target.with_api_version(args.api_version.unwrap_or_default());
    let target = match &config.base_url {
        Some(base) => target.under(base),
        None => target,
    };
    Ok((target, client))
}

/// The project for calls that need one, and where it came from: `--project`, the
/// environment (`GOOGLE_CLOUD_PROJECT`, else `GCLOUD_PROJECT`), else the credential's.
pub fn project_and_origin(
    config: &Config,
    flag: Option<&str>,
    client: &Client,
) -> Option<(String, &'static str)> {
    if let Some(project) = flag {
        return Some((project.to_owned(), "--project"));
    }
    if let (Some(project), Some(var)) = (&config.project, config.project_var) {
        return Some((project.clone(), var));
    }
    // The credential's own project, else gcloud's or the metadata server's, in
    // google-auth's order (core's `ProjectLookup`).
    let env = codeassist_core::source::Environment::capture(|name| std::env::var(name).ok());
    let source = &client.core().config().source;
    client
        .run(codeassist_core::source::ProjectLookup::new(&env, source))
        .ok()
        .flatten()
        .map(|(project, origin)| (project, origin.describe()))
}

/// The prompt: the argument, else stdin (bounded).
fn read_prompt(prompt: Option<String>) -> Result<String, Failure> {
    if let Some(prompt) = prompt.filter(|p| !p.trim().is_empty()) {
        return Ok(prompt);
    }
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_PROMPT)
        .read_to_string(&mut input)
        .map_err(|error| {
            Failure::usage(format!("could not read the prompt from stdin: {error}"))
        })?;
    match input.trim().is_empty() {
        true => Err(Failure::usage(
            "no prompt: give it as an argument or on stdin",
        )),
        false => Ok(input),
    }
}

/// How `ask` asks.
#[derive(Debug, Default)]
pub struct AskOptions {
    /// `--model`.
    pub model: Option<String>,
    /// `--thinking`.
    pub thinking: Option<Thinking>,
    /// `--no-fallback`.
    pub no_fallback: bool,
    /// `--json`.
    pub as_json: bool,
    /// `-v`: thought summaries asked for and shown on stderr.
    pub show_thoughts: bool,
}

/// The model asked when `--model` names none: `GEMINI_MODEL` (as Google's CLI reads
/// it), else the newest stable Pro the target lists (the Gemini API is asked; a
/// listing that fails is not an error), else the built-in default.
fn default_model(client: &Client, target: &Target) -> String {
    if let Some(model) = var(MODEL_VAR) {
        tracing::info!(model = %model, "model from {MODEL_VAR}");
        return model;
    }
    if target.kind() == TargetKind::GeminiApi
        && let Ok(listed) = client.list_models_on(target)
        && let Some(model) = models::default_among(listed.iter().map(|m| m.name.as_str()))
    {
        tracing::info!(model = %model, "the newest stable Pro the target lists");
        return model;
    }
    models::BUILT_IN_DEFAULT.to_owned()
}

/// `codeassist ask`.
pub fn ask(
    config: &Config,
    args: &TargetArgs,
    options: AskOptions,
    prompt: Option<String>,
) -> Result<(), Failure> {
    let AskOptions {
        model,
        thinking,
        no_fallback,
        as_json,
        show_thoughts,
    } = options;
    let prompt = read_prompt(prompt)?;
    let (target, client) = target_and_client(config, args)?;
    let client = match no_fallback {
        true => {
            let mut off = codeassist_core::inference::FallbackPolicy::default();
            off.enabled = false;
            client.with_fallback(off)
        }
        false => client,
    };
    let model = match model {
        Some(model) => model,
        None => default_model(&client, &target),
    };
    let mut request = json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}]});
    if let Some(thinking) = thinking {
        match models::apply_thinking(&model, thinking, &mut request) {
            Some(note) => tracing::info!(%note, "thinking"),
            None if models::thinking_config(&model, thinking).is_none() => {
                tracing::info!(model = %model, "no thinking rule for this model; sent as asked, without a thinking setting")
            }
            None => {}
        }
    }
    // Thought summaries are asked for only where the model thinks.
    if show_thoughts && models::thinking_config(&model, Thinking::Medium).is_some() {
        request["generationConfig"]["thinkingConfig"]["includeThoughts"] = json!(true);
    }
    let (answered, stream) = client
        .stream_with_fallback(&target, &model, request)
        .map_err(|error| failure_on(&target, error))?;
    for switch in &answered.switches {
        say(&format!(
            "codeassist: {} is unavailable ({}); using {}",
            switch.from, switch.why, switch.to
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let mut wrote_text = false;
    for item in stream {
        let item = item.map_err(crate::failure_of)?;
        match item {
            StreamItem::Chunk(chunk) if as_json => {
                writeln!(stdout, "{}", chunk.response).map_err(write_failure)?;
            }
            StreamItem::Chunk(chunk) => {
                let parts = chunk.response["candidates"][0]["content"]["parts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                // Thought summaries go to stderr (with -v), never into the answer.
                let thoughts: String = parts
                    .iter()
                    .filter(|part| part["thought"] == true)
                    .filter_map(|part| part["text"].as_str())
                    .collect();
                if show_thoughts && !thoughts.is_empty() {
                    say(&format!(
                        "thinking: {}",
                        codeassist_core::text::sanitize(&thoughts, 2000)
                    ));
                }
                let text: String = parts
                    .iter()
                    .filter(|part| part["thought"] != true)
                    .filter_map(|part| part["text"].as_str())
                    .collect();
                wrote_text |= !text.is_empty();
                write!(stdout, "{text}").map_err(write_failure)?;
            }
            StreamItem::Error(error) => {
                return Err(crate::failure_of(Error::Api(error)));
            }
            StreamItem::Malformed(why) => {
                tracing::warn!(why = %why, "a malformed event was skipped")
            }
            _ => {}
        }
        stdout.flush().map_err(write_failure)?;
    }
    if wrote_text && !as_json {
        writeln!(stdout).map_err(write_failure)?;
    }
    if std::io::stderr().is_terminal() && answered.model != model {
        say(&format!("codeassist: answered by {}", answered.model));
    }
    Ok(())
}

fn write_failure(error: std::io::Error) -> Failure {
    Failure::error(format!("could not write the answer: {error}"))
}

/// The failure of a call on `target`: as every failure, except that a refused API key
/// (which no sign-in fixes) says to check the key. Exit 3 either way: the credentials
/// need a person.
fn failure_on(target: &Target, error: codeassist_blocking::ClientError) -> Failure {
    match !target.uses_token() && error.needs_sign_in() {
        true => Failure::login_needed(format!(
            "{error}; check the key in GEMINI_API_KEY or GOOGLE_API_KEY"
        )),
        false => Failure::from(error),
    }
}

/// `codeassist models`.
pub fn models(config: &Config, args: &TargetArgs, as_json: bool) -> Result<(), Failure> {
    let (target, client) = target_and_client(config, args)?;
    let rows: Vec<(String, Option<u64>, Option<u64>)> = match target.kind() {
        TargetKind::GeminiApi => client
            .list_models_on(&target)
            .map_err(|error| failure_on(&target, error))?
            .into_iter()
            // Models for generation only (not embeddings and the like).
            .filter(|m| m.methods.is_empty() || m.methods.iter().any(|g| g == "generateContent"))
            .map(|m| (m.name, m.input_token_limit, m.output_token_limit))
            .collect(),
        TargetKind::CodeAssist => {
            let mut ids: Vec<String> = client
                .quota()?
                .buckets
                .into_iter()
                .map(|bucket| bucket.model_id)
                .collect();
            ids.sort();
            ids.dedup();
            ids.into_iter().map(|id| (id, None, None)).collect()
        }
        _ => {
            return Err(Failure::usage(
                "listing models is supported for the Gemini API and Code Assist",
            ));
        }
    };
    // The default the rules pick among these, and each model's fallback.
    let names: Vec<&str> = rows.iter().map(|(name, _, _)| name.as_str()).collect();
    let default = var(MODEL_VAR)
        .or_else(|| models::default_among(names.iter().copied()))
        .unwrap_or_else(|| models::BUILT_IN_DEFAULT.to_owned());
    let fallback = |name: &str| models::fallback_among(name, names.iter().copied());
    if as_json {
        let models: Vec<_> = rows
            .iter()
            .map(|(name, input, output)| {
                json!({
                    "name": name,
                    "input_token_limit": input,
                    "output_token_limit": output,
                    "default": *name == default,
                    "fallback": fallback(name),
                })
            })
            .collect();
        println!(
            "{}",
            json!({"target": target.kind().name(), "default": default, "models": models})
        );
        return Ok(());
    }
    let show = |limit: &Option<u64>| limit.map(|l| l.to_string()).unwrap_or_else(|| "?".into());
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, input, output)| {
            let marked = match *name == default {
                true => format!("{name} (default)"),
                false => name.clone(),
            };
            vec![
                marked,
                show(input),
                show(output),
                fallback(name).unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &["MODEL", "INPUT TOKENS", "OUTPUT TOKENS", "FALLS BACK TO"],
            &rows
        )
    );
    Ok(())
}
