//! gcloud's configured project (`gcloud config set project …`), read from its files
//! without running gcloud, as google-auth does for gcloud's credentials: the active
//! configuration's name in `{dir}/active_config` (`default` when absent), then
//! `project` in the `[core]` section of `{dir}/configurations/config_{name}`.
//!
//! ```text
//!  Start ──Read(active_config)──▶ Named ──Read(config_{name})──▶ Done(project?)
//! ```

use std::path::PathBuf;
use std::time::SystemTime;

use super::Environment;
use crate::Error;
use crate::client::{Action, Input, Operation};
use crate::flow::Misuse;

/// The project of gcloud's active configuration, or `None` (no gcloud directory, no
/// such file, no project set, or a value that is not a project id). Never fails on
/// what the files hold.
#[derive(Debug)]
pub struct GcloudProject {
    dir: Option<PathBuf>,
    stage: Stage,
    input: Option<Input>,
}

#[derive(Debug, PartialEq)]
enum Stage {
    Start,
    ActiveConfig,
    Config,
    Finished,
}

impl GcloudProject {
    /// Reads gcloud's files under the directory `env` names.
    pub fn new(env: &Environment) -> Self {
        Self {
            dir: env.gcloud_dir(),
            stage: Stage::Start,
            input: None,
        }
    }
}

/// The `project` of the `[core]` section of a gcloud configuration file, when it is a
/// project id.
pub fn gcloud_project_in(config: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(config);
    let mut in_core = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_core = line.eq_ignore_ascii_case("[core]");
            continue;
        }
        if !in_core {
            continue;
        }
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "project"
        {
            let value = value.trim();
            return crate::code_assist::is_project_id(value).then(|| value.to_owned());
        }
    }
    None
}

/// A configuration name gcloud could have written: letters, digits, `-` and `_` (so
/// it never leaves the `configurations` directory).
fn configuration_name(bytes: &[u8]) -> Option<String> {
    let name = String::from_utf8_lossy(bytes).trim().to_owned();
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    fine.then_some(name)
}

impl Operation for GcloudProject {
    type Output = Option<String>;

    fn poll(&mut self, _now: SystemTime) -> Result<Action<Option<String>>, Error> {
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        let input = self.input.take();
        match (stage, input) {
            (Stage::Start, None) => match &self.dir {
                Some(dir) => {
                    self.stage = Stage::ActiveConfig;
                    Ok(Action::Read(dir.join("active_config")))
                }
                None => Ok(Action::Done(None)),
            },
            (Stage::ActiveConfig, Some(Input::Read(read))) => {
                let name = match read {
                    Ok(Some(bytes)) => configuration_name(&bytes),
                    Ok(None) => Some("default".to_owned()),
                    Err(_) => None,
                };
                match (name, &self.dir) {
                    (Some(name), Some(dir)) => {
                        self.stage = Stage::Config;
                        Ok(Action::Read(
                            dir.join("configurations").join(format!("config_{name}")),
                        ))
                    }
                    _ => Ok(Action::Done(None)),
                }
            }
            (Stage::Config, Some(Input::Read(read))) => Ok(Action::Done(match read {
                Ok(Some(bytes)) => gcloud_project_in(&bytes),
                _ => None,
            })),
            (Stage::Finished, _) => Err(Misuse("polled after the operation finished").into()),
            (_, None) => Err(Misuse("polled before the last action was answered").into()),
            (_, Some(_)) => Err(Misuse("an answer to an action that was not asked for").into()),
        }
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.input = Some(input);
    }
}
