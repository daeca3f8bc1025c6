//! The rule every authenticated call follows: a 401 refreshes the token once and the
//! call is made again with the new one.
//!
//! ```text
//!  TokenOp ──token──▶ make(token) ──▶ run ──ok──▶ Done
//!                                       │ 401 (first time)
//!                                       ▼
//!  TokenOp::replacing(refused token) ──▶ make(new token) ──▶ run ──▶ Done / error
//! ```

use std::time::SystemTime;

use super::{Action, Client, Input, Operation, TokenOp};
use crate::error::ErrorClass;
use crate::flow::Misuse;
use crate::{Error, Secret};

/// An operation built from a valid token, re-built once with a fresh token when the
/// server answers 401. Made by [`Client::authenticated`].
pub struct Authenticated<O, M> {
    client: Client,
    make: M,
    stage: Stage<O>,
    token: Option<Secret>,
    retried: bool,
}

enum Stage<O> {
    Token(Box<TokenOp>),
    Running(O),
    Finished,
}

impl<O: std::fmt::Debug, M> std::fmt::Debug for Authenticated<O, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stage = match &self.stage {
            Stage::Token(_) => "token",
            Stage::Running(_) => "running",
            Stage::Finished => "finished",
        };
        f.debug_struct("Authenticated")
            .field("stage", &stage)
            .field("retried", &self.retried)
            .finish_non_exhaustive()
    }
}

impl<O, M> Authenticated<O, M>
where
    O: Operation,
    M: FnMut(&Secret) -> Result<O, Error>,
{
    pub(crate) fn new(client: Client, make: M) -> Self {
        let token = client.access_token();
        Self {
            client,
            make,
            stage: Stage::Token(Box::new(token)),
            token: None,
            retried: false,
        }
    }

    /// True once a 401 made it refresh and try again.
    pub fn retried(&self) -> bool {
        self.retried
    }
}

impl<O, M> Operation for Authenticated<O, M>
where
    O: Operation,
    M: FnMut(&Secret) -> Result<O, Error>,
{
    type Output = O::Output;

    fn poll(&mut self, now: SystemTime) -> Result<Action<O::Output>, Error> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::Finished) {
                Stage::Token(mut op) => match op.poll(now)?.pass() {
                    Ok(action) => {
                        self.stage = Stage::Token(op);
                        return Ok(action);
                    }
                    Err(token) => {
                        self.stage = Stage::Running((self.make)(&token)?);
                        self.token = Some(token);
                    }
                },
                Stage::Running(mut inner) => match inner.poll(now) {
                    Ok(mut action) => {
                        if !matches!(action, Action::Done(_)) {
                            self.stage = Stage::Running(inner);
                        }
                        if let Action::Send(request) | Action::Open(request) = &mut action {
                            self.client.config.bill_to_quota_project(request);
                        }
                        return Ok(action);
                    }
                    Err(error) if !self.retried && error.class() == Some(ErrorClass::Auth) => {
                        tracing::info!("the server refused the access token; refreshing it once");
                        self.retried = true;
                        let refused = self.token.take().unwrap_or_default();
                        self.stage =
                            Stage::Token(Box::new(TokenOp::replacing(&self.client, refused)));
                    }
                    Err(error) => return Err(error),
                },
                Stage::Finished => return Err(Misuse("polled after the operation finished").into()),
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        match &mut self.stage {
            Stage::Token(op) => op.handle(input, now),
            Stage::Running(inner) => inner.handle(input, now),
            Stage::Finished => {}
        }
    }
}
