//! Finishing a sign-in once the browser (or a paste) gave the code: one decision for
//! every runtime.
//!
//! ```text
//!  code ─▶ exchange (PKCE verifier, redirect URI) ──no refresh token──▶ error, nothing kept
//!            │ tokens (checked: printable, bounded)
//!            ▼
//!   ID token names the email (aud = this client, iss accepted)? ──yes──┐
//!            │ no                                                       │
//!            ▼                                                          │
//!   UserInfo ──fails──▶ remember why (reported, not hidden) ────────────┤
//!            │ email                                                    ▼
//!            └──────────────────────────────────────▶ Lock ─▶ Save ─▶ Unlock ─▶ Done(SignIn)
//! ```

use std::time::SystemTime;

use super::{Action, Client, Input, Operation, SaveLogin};
use crate::flow::{Flow, Misuse, Step};
use crate::oauth::{
    CodeExchange, Credentials, FetchEmail, OAuthClient, exchange_code, fetch_email, id_token_email,
};
use crate::{Error, Secret};

/// What a finished sign-in gives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignIn {
    /// The credentials, as saved.
    pub credentials: Credentials,
    /// Why the email is unknown, when it is (`credentials.email` is then `None`).
    pub email_problem: Option<String>,
}

/// Exchanges the code, learns the email, saves: made by [`Client::sign_in`].
pub struct SignInOp {
    client: Client,
    oauth: OAuthClient,
    stage: Stage,
    email_problem: Option<String>,
}

enum Stage {
    Exchanging(Box<CodeExchange>),
    AskingEmail(Box<FetchEmail>, Box<Credentials>),
    Saving(Box<SaveLogin>, Box<Credentials>),
    Failed(Option<Error>),
    Finished,
}

impl std::fmt::Debug for SignInOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInOp").finish_non_exhaustive()
    }
}

impl SignInOp {
    pub(crate) fn new(
        client: Client,
        oauth: OAuthClient,
        code: &Secret,
        verifier: &Secret,
        redirect_uri: &str,
    ) -> Self {
        let stage = match exchange_code(&oauth, code, verifier, redirect_uri) {
            Ok(flow) => Stage::Exchanging(Box::new(flow)),
            Err(error) => Stage::Failed(Some(error)),
        };
        Self {
            client,
            oauth,
            stage,
            email_problem: None,
        }
    }

    /// The email named by the exchange's ID token; a problem with it is remembered.
    fn email_from_id_token(&mut self, id_token: Option<&Secret>) -> Option<String> {
        let id_token = id_token?;
        match id_token_email(
            id_token.expose(),
            &self.oauth.client_id,
            &self.oauth.endpoints.issuers,
        ) {
            Ok(email) => email,
            Err(problem) => {
                tracing::warn!(%problem, "the ID token was not used");
                self.email_problem = Some(problem);
                None
            }
        }
    }

    fn save(&mut self, credentials: Credentials) -> Stage {
        let save = self.client.save_login(credentials.clone());
        Stage::Saving(Box::new(save), Box::new(credentials))
    }
}

/// An OAuth error answering the code exchange says the code was refused, not that a
/// saved sign-in was: nothing had been saved yet.
fn code_refused(error: Error) -> Error {
    match error.classified().and_then(|api| api.oauth()) {
        Some(oauth) => Error::CodeRefused {
            error: crate::text::sanitize(&oauth.error, 80),
            description: oauth
                .description
                .as_deref()
                .map(|d| crate::text::sanitize(d, 200)),
        },
        None => error,
    }
}

impl Operation for SignInOp {
    type Output = SignIn;

    fn poll(&mut self, now: SystemTime) -> Result<Action<SignIn>, Error> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::Finished) {
                Stage::Failed(error) => {
                    return Err(error.unwrap_or(Misuse("failed twice").into()));
                }
                Stage::Finished => {
                    return Err(Misuse("polled after the operation finished").into());
                }
                Stage::Exchanging(mut flow) => match flow.poll(now).map_err(code_refused)? {
                    Step::Send(request) => {
                        self.stage = Stage::Exchanging(flow);
                        return Ok(Action::Send(request));
                    }
                    Step::Wait(wait) => {
                        self.stage = Stage::Exchanging(flow);
                        return Ok(Action::Wait(wait));
                    }
                    Step::Done((mut credentials, id_token)) => {
                        credentials.email = self.email_from_id_token(id_token.as_ref());
                        let token = credentials.access_token.clone();
                        self.stage = match (&credentials.email, token) {
                            (None, Some(token)) => {
                                match fetch_email(&token, &self.oauth.endpoints.userinfo) {
                                    Ok(ask) => {
                                        Stage::AskingEmail(Box::new(ask), Box::new(credentials))
                                    }
                                    Err(error) => {
                                        self.email_problem = Some(error.to_string());
                                        self.save(credentials)
                                    }
                                }
                            }
                            _ => self.save(credentials),
                        };
                    }
                },
                Stage::AskingEmail(mut flow, mut credentials) => match flow.poll(now) {
                    Ok(Step::Send(request)) => {
                        self.stage = Stage::AskingEmail(flow, credentials);
                        return Ok(Action::Send(request));
                    }
                    Ok(Step::Wait(wait)) => {
                        self.stage = Stage::AskingEmail(flow, credentials);
                        return Ok(Action::Wait(wait));
                    }
                    Ok(Step::Done(email)) => {
                        credentials.email = Some(email);
                        self.email_problem = None;
                        self.stage = self.save(*credentials);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "signed in, but UserInfo did not name the email");
                        self.email_problem = Some(format!("UserInfo failed: {error}"));
                        self.stage = self.save(*credentials);
                    }
                },
                Stage::Saving(mut save, credentials) => match save.poll(now)?.pass() {
                    Ok(action) => {
                        self.stage = Stage::Saving(save, credentials);
                        return Ok(action);
                    }
                    Err(()) => {
                        return Ok(Action::Done(SignIn {
                            credentials: *credentials,
                            email_problem: self.email_problem.take(),
                        }));
                    }
                },
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        match (&mut self.stage, input) {
            (Stage::Exchanging(flow), Input::Response(response)) => {
                flow.handle_response(response, now)
            }
            (Stage::AskingEmail(flow, _), Input::Response(response)) => {
                flow.handle_response(response, now)
            }
            (Stage::Saving(save, _), input) => save.handle(input, now),
            _ => {
                self.stage = Stage::Failed(Some(Misuse("an answer that was not asked for").into()))
            }
        }
    }
}
