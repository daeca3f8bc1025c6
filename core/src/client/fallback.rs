//! Calls that fall back to another model (see [`crate::inference::FallbackPolicy`]):
//! each model of the chain is tried in turn, skipping those still unavailable; a
//! model that may fall back gets a short retry policy, the last one the full one.

use std::time::SystemTime;

use super::{Action, BoxedOp, Client, Input, Operation};
use crate::Error;
use crate::inference::ModelSwitch;

/// What a call that may fall back produced, and how.
#[derive(Debug)]
#[non_exhaustive]
pub struct Answered<T> {
    /// The answer (or the opened stream's head).
    pub output: T,
    /// The model that answered.
    pub model: String,
    /// Every switch made on the way, in order.
    pub switches: Vec<ModelSwitch>,
}

/// Builds the call for one model, on a client whose retry policy fits that model's
/// place in the chain.
pub type MakeForModel<T> = Box<dyn FnMut(&Client, &str) -> BoxedOp<T> + Send>;

/// A call along a model chain; made by [`Client::generate_with_fallback`] and
/// [`Client::stream_with_fallback`].
pub struct FallbackOp<T> {
    client: Client,
    /// Availability is kept per target: `{scope}:{model}`.
    scope: String,
    chain: Vec<String>,
    /// Whether the chain after the asked model was made (at the first poll).
    chained: bool,
    index: usize,
    make: MakeForModel<T>,
    current: Option<BoxedOp<T>>,
    switches: Vec<ModelSwitch>,
    /// Lists the target's models before the chain is made, when they are not known.
    lister: Option<BoxedOp<()>>,
}

impl<T> std::fmt::Debug for FallbackOp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackOp")
            .field("chain", &self.chain)
            .field("index", &self.index)
            .field("switches", &self.switches)
            .finish_non_exhaustive()
    }
}

impl<T> FallbackOp<T> {
    /// A call of `model` (and, with fallback on, the models after it) on the target
    /// named `scope` (models are unavailable per target).
    ///
    /// The chain follows the rules over the models the target listed recently (see
    /// [`ModelAvailability::listed`](crate::inference::ModelAvailability::listed)),
    /// else over the built-in table; it is made at the first poll.
    pub fn new(client: &Client, scope: &str, model: &str, make: MakeForModel<T>) -> Self {
        Self {
            client: client.clone(),
            scope: scope.to_owned(),
            chain: vec![model.to_owned()],
            chained: false,
            index: 0,
            make,
            current: None,
            switches: Vec::new(),
            lister: None,
        }
    }

    /// Lists the target's models with `lister` first (an operation that notes what it
    /// found in the client, as `list_models_on` and `quota` do) when the client has no
    /// recent list for it (see [`ModelAvailability::should_list`](crate::inference::ModelAvailability::should_list)),
    /// so the chain is made among the models the target offers. A listing that fails
    /// is no failure of the call: the built-in table stands in.
    pub fn listing_with(mut self, lister: BoxedOp<()>) -> Self {
        self.lister = Some(lister);
        self
    }

    /// Makes the chain after the asked model, from what is known at `now`.
    fn make_chain(&mut self, now: SystemTime) {
        self.chained = true;
        let policy = &self.client.config().fallback;
        if !policy.enabled {
            return;
        }
        let listed = self
            .client
            .models()
            .listed(&self.scope, now)
            .unwrap_or_else(|| {
                crate::inference::models::KNOWN_MODELS
                    .iter()
                    .map(|id| (*id).to_owned())
                    .collect()
            });
        self.chain = policy.chain(&self.chain[0], &listed);
    }

    fn key(&self, index: usize) -> String {
        format!("{}:{}", self.scope, self.chain[index])
    }

    fn switch(&mut self, why: String) {
        let from = self.chain[self.index].clone();
        let to = self.chain[self.index + 1].clone();
        tracing::info!(from = %from, to = %to, why = %why, "switching model");
        self.switches.push(ModelSwitch { from, to, why });
        self.index += 1;
    }

    /// Starts the first available model at or after `index`.
    fn start(&mut self, now: SystemTime) {
        while self.index + 1 < self.chain.len()
            && !self.client.models().available(&self.key(self.index), now)
        {
            self.switch("unavailable".to_owned());
        }
        let last = self.index + 1 >= self.chain.len();
        let client = match last {
            true => self.client.clone(),
            false => {
                let mut short = self.client.config().code_assist.retry.clone();
                short.max_attempts = short.max_attempts.min(2);
                short.max_server_delay = self.client.config().fallback.same_model_retry;
                self.client.with_retry(short)
            }
        };
        self.current = Some((self.make)(&client, &self.chain[self.index]));
    }
}

impl<T> Operation for FallbackOp<T> {
    type Output = Answered<T>;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Answered<T>>, Error> {
        if let Some(lister) = self.lister.as_mut() {
            let needed = self.client.config().fallback.enabled
                && self.client.models().should_list(&self.scope, now);
            match needed.then(|| lister.poll(now)) {
                None | Some(Ok(Action::Done(_))) => self.lister = None,
                Some(Ok(action)) => match action.pass() {
                    Ok(action) => return Ok(action),
                    Err(_) => self.lister = None,
                },
                Some(Err(error)) => {
                    tracing::info!(%error, "the target's models could not be listed; the built-in list stands in");
                    self.client.models().note_listing_failed(&self.scope, now);
                    self.lister = None;
                }
            }
        }
        if !self.chained {
            self.make_chain(now);
        }
        loop {
            if self.current.is_none() {
                self.start(now);
            }
            let Some(current) = self.current.as_mut() else {
                return Err(crate::flow::Misuse("no call to poll").into());
            };
            match current.poll(now) {
                Ok(action) => {
                    return Ok(match action.pass() {
                        Ok(action) => action,
                        Err(output) => {
                            self.current = None;
                            Action::Done(Answered {
                                output,
                                model: self.chain[self.index].clone(),
                                switches: std::mem::take(&mut self.switches),
                            })
                        }
                    });
                }
                Err(error) => {
                    self.current = None;
                    let Some(class) = error.class() else {
                        return Err(error);
                    };
                    let delay = error.classified().and_then(|api| api.retry_delay());
                    let config = self.client.config();
                    let falls_back = config.fallback.enabled
                        && self.client.models().record(
                            &config.fallback,
                            &self.key(self.index),
                            class,
                            delay,
                            now,
                        );
                    if !falls_back || self.index + 1 >= self.chain.len() {
                        return Err(error);
                    }
                    self.switch(class.as_str().to_owned());
                }
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        if let Some(lister) = self.lister.as_mut() {
            lister.handle(input, now);
        } else if let Some(current) = self.current.as_mut() {
            current.handle(input, now);
        }
    }
}

/// An operation whose output is not needed: run for what it notes in the client.
pub(crate) struct Discard<O>(pub(crate) O);

impl<O: Operation> Operation for Discard<O> {
    type Output = ();

    fn poll(&mut self, now: SystemTime) -> Result<Action<()>, Error> {
        Ok(match self.0.poll(now)?.pass() {
            Ok(action) => action,
            Err(_) => Action::Done(()),
        })
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        self.0.handle(input, now);
    }
}
