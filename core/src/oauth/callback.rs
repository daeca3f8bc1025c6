//! Reading the authorization code out of whatever comes back from the browser.
//!
//! Accepted: the full redirected URL (`http://localhost:8085/oauth2callback?code=…`),
//! the request target a listener sees (`/oauth2callback?code=…`), a bare query string
//! (`code=…&state=…`, with or without a leading `?`), or a bare code pasted by a person
//! (with or without `code=`). Everything is trimmed first.
//!
//! Whenever `state` can be checked it is, in constant time: a URL or query without
//! the expected `state` is refused (an attack, or a stale tab from an earlier
//! sign-in). A bare code carries no state; accepting it is the person's own act of
//! pasting, which is the manual fallback's whole point.

use url::Url;

use crate::secret::{Secret, constant_time_eq};

/// The longest input looked at.
pub const MAX_CALLBACK_INPUT: usize = 16 * 1024;

/// Why a callback gave no usable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The person declined on Google's consent screen.
    #[error("sign-in was cancelled: access was denied on Google's consent screen")]
    AccessDenied,
    /// Google sent back another `error` value.
    #[error("Google refused the sign-in ({error}){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The `error` value, such as `invalid_scope`.
        error: String,
        /// `error_description`, when given.
        description: Option<String>,
    },
    /// `state` did not match: a forged callback or a stale browser tab.
    #[error(
        "the callback's state does not match this sign-in (a stale tab or a forged request); start again"
    )]
    StateMismatch,
    /// No `state` at all where one was required.
    #[error(
        "the callback has no state parameter; paste the whole redirected URL, or just the code"
    )]
    MissingState,
    /// No `code` parameter.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// More than one `code` parameter.
    #[error("the callback has more than one authorization code")]
    DuplicateCode,
    /// The callback names an issuer (`iss`, RFC 9207) this client does not accept: a
    /// mix-up with another authorization server.
    #[error("the callback comes from an authorization server this sign-in did not use ({0})")]
    WrongIssuer(String),
    /// Nothing, or nothing that could be a code.
    #[error("that does not look like a redirected URL or an authorization code")]
    Unreadable,
}

/// Reads the authorization code from `input`, checking `state` against
/// `expected_state` and, when the callback names its issuer (`iss`, RFC 9207), that
/// it is one of `issuers`.
pub fn parse_callback(
    input: &str,
    expected_state: &str,
    issuers: &[String],
) -> Result<Secret, CallbackError> {
    let input = input.trim();
    if input.is_empty() || input.len() > MAX_CALLBACK_INPUT {
        return Err(CallbackError::Unreadable);
    }
    let query = if input.contains("://") {
        let url = Url::parse(input).map_err(|_| CallbackError::Unreadable)?;
        // Some browsers and copy paths move the parameters into the fragment.
        match (url.query(), url.fragment()) {
            (Some(query), _) if !query.is_empty() => query.to_owned(),
            (_, Some(fragment)) if fragment.contains('=') => fragment.to_owned(),
            _ => return Err(CallbackError::MissingCode),
        }
    } else if let Some((_, query)) = input.split_once('?') {
        query.to_owned()
    } else if input.contains('=') {
        input.to_owned()
    } else {
        return bare_code(input);
    };
    from_query(
        &query,
        expected_state,
        issuers,
        input.contains("://") || input.starts_with('/') || input.contains('&'),
    )
}

fn from_query(
    query: &str,
    expected_state: &str,
    issuers: &[String],
    state_required: bool,
) -> Result<Secret, CallbackError> {
    let mut codes = Vec::new();
    let mut states = Vec::new();
    let mut issuer = None;
    let mut error = None;
    let mut description = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "code" => codes.push(value.into_owned()),
            "state" => states.push(value.into_owned()),
            "iss" => issuer = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            "error_description" => description = Some(value.into_owned()),
            _ => {}
        }
    }
    match states.as_slice() {
        [] if state_required || error.is_some() => return Err(CallbackError::MissingState),
        [] => {}
        [state] if constant_time_eq(state.as_bytes(), expected_state.as_bytes()) => {}
        _ => return Err(CallbackError::StateMismatch),
    }
    if let Some(issuer) = issuer
        && !issuers
            .iter()
            .any(|accepted| accepted == issuer.trim_end_matches('/') || accepted == &issuer)
    {
        return Err(CallbackError::WrongIssuer(crate::text::sanitize(
            &issuer, 100,
        )));
    }
    if let Some(error) = error {
        return Err(match error.as_str() {
            "access_denied" => CallbackError::AccessDenied,
            _ => CallbackError::Refused {
                error: crate::text::sanitize(&error, 100),
                description: description.map(|d| crate::text::sanitize(&d, 200)),
            },
        });
    }
    match codes.as_slice() {
        [] => Err(CallbackError::MissingCode),
        [code] if plausible_code(code) => Ok(Secret::new(code.as_str())),
        [_] => Err(CallbackError::Unreadable),
        _ => Err(CallbackError::DuplicateCode),
    }
}

fn bare_code(input: &str) -> Result<Secret, CallbackError> {
    let decoded: String = url::form_urlencoded::parse(format!("code={input}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .ok_or(CallbackError::Unreadable)?;
    if plausible_code(&decoded) {
        Ok(Secret::new(decoded))
    } else {
        Err(CallbackError::Unreadable)
    }
}

fn plausible_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 2048 && code.chars().all(|c| c.is_ascii_graphic())
}

/// The most time one connection to the callback port may take to send its request
/// head, whatever its pace: a slow or silent local client never holds a slot longer.
pub const CALLBACK_READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);
/// The largest request head read from one connection.
pub const MAX_CALLBACK_HEAD: usize = 16 * 1024;

/// True once `head` holds a whole request head (it ends with an empty line).
pub fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// [`callback_reply`] for the request head a listener read (any bytes).
pub fn reply_to_head(head: &[u8], expected_state: &str, issuers: &[String]) -> CallbackReply {
    let request_line =
        crate::error::lossy_utf8(head.split(|b| *b == b'\n').next().unwrap_or_default());
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    callback_reply(method, target, expected_state, issuers)
}

/// The page a browser that brought a code sees, once the sign-in finished: signed
/// in, or why not (`Err` carries the one-line reason, shown escaped).
pub fn sign_in_page(outcome: Result<(), &str>) -> Vec<u8> {
    let reply = match outcome {
        Ok(()) => CallbackReply {
            status: 200,
            page: page(
                "Signed in",
                "You are signed in. You can close this tab and return to the terminal.",
            ),
            outcome: None,
        },
        Err(reason) => CallbackReply {
            status: 400,
            page: page(
                "Sign-in failed",
                &format!(
                    "{}. Return to the terminal for details.",
                    crate::text::sanitize(reason, 300)
                ),
            ),
            outcome: None,
        },
    };
    callback_http_response(&reply)
}

/// The path Google sends the browser back to.
pub const CALLBACK_PATH: &str = "/oauth2callback";

/// What a loopback listener answers to one HTTP request, and whether the wait ends.
///
/// Both runtime adapters' listeners use this, so they behave the same: only
/// `GET /oauth2callback` counts; a wrong or missing `state` gets an error page and the
/// wait goes on (a forged request or a stale tab must not end a real sign-in); Google's
/// `error` values and a callback without a code end the wait with that error.
#[derive(Debug)]
#[non_exhaustive]
pub struct CallbackReply {
    /// The HTTP status to answer with.
    pub status: u16,
    /// A complete small HTML page.
    pub page: String,
    /// `Some` when the wait is over: the code, or why there is none.
    pub outcome: Option<Result<Secret, CallbackError>>,
}

/// Decides the answer to `method target` for a sign-in expecting `expected_state`.
pub fn callback_reply(
    method: &str,
    target: &str,
    expected_state: &str,
    issuers: &[String],
) -> CallbackReply {
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" || path != CALLBACK_PATH {
        return CallbackReply {
            status: 404,
            page: page("Not found", "Nothing here."),
            outcome: None,
        };
    }
    match parse_callback(target, expected_state, issuers) {
        // The page is answered once the code was exchanged and the credentials saved:
        // see [`sign_in_page`].
        Ok(code) => CallbackReply {
            status: 200,
            page: String::new(),
            outcome: Some(Ok(code)),
        },
        Err(CallbackError::StateMismatch | CallbackError::MissingState) => CallbackReply {
            status: 400,
            page: page(
                "Sign-in link not recognised",
                "This sign-in link does not belong to the sign-in in progress (an old tab, or a forged link). Use the newest link.",
            ),
            outcome: None,
        },
        Err(error) => CallbackReply {
            status: 400,
            page: page("Sign-in failed", &error.to_string()),
            outcome: Some(Err(error)),
        },
    }
}

fn page(title: &str, text: &str) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{0}</title></head>\
         <body style=\"font-family: sans-serif; margin: 4em auto; max-width: 36em\"><h1>{0}</h1><p>{1}</p></body></html>",
        escape(title),
        escape(text)
    )
}

/// The full HTTP/1.1 response for a [`CallbackReply`] (the connection is closed after).
pub fn callback_http_response(reply: &CallbackReply) -> Vec<u8> {
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{}",
        reply.status,
        reply.page.len(),
        reply.page
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "s7aTe";

    fn ok(input: &str) -> String {
        parse_callback(input, STATE, &google())
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .expose()
            .to_owned()
    }

    #[test]
    fn every_accepted_shape() {
        let code = "4/0AQSTgQExample-code_1";
        for input in [
            format!(
                "http://localhost:8085/oauth2callback?state={STATE}&code=4%2F0AQSTgQExample-code_1&scope=email"
            ),
            format!("  http://127.0.0.1:8085/oauth2callback?code={code}&state={STATE}\n"),
            format!("http://localhost:8085/oauth2callback#code={code}&state={STATE}"),
            format!("/oauth2callback?code={code}&state={STATE}"),
            format!("?code={code}&state={STATE}"),
            format!("code={code}&state={STATE}"),
            format!("code={code}"),
            code.to_owned(),
            "4%2F0AQSTgQExample-code_1".to_owned(),
            format!("\t{code}  "),
        ] {
            assert_eq!(ok(&input), code, "{input}");
        }
    }

    #[test]
    fn state_is_checked() {
        let cases = [
            (
                "http://localhost:8085/oauth2callback?code=c&state=other",
                CallbackError::StateMismatch,
            ),
            (
                "http://localhost:8085/oauth2callback?code=c",
                CallbackError::MissingState,
            ),
            ("/oauth2callback?code=c", CallbackError::MissingState),
            (
                "code=c&state=s7aTe&state=s7aTe",
                CallbackError::StateMismatch,
            ),
            ("code=c&state=S7ATE", CallbackError::StateMismatch),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_callback(input, STATE, &google()),
                Err(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn listener_replies() {
        let ok = callback_reply(
            "GET",
            "/oauth2callback?code=c&state=s7aTe",
            STATE,
            &google(),
        );
        assert_eq!(ok.status, 200);
        assert_eq!(ok.outcome.unwrap().unwrap().expose(), "c");
        let forged = callback_reply("GET", "/oauth2callback?code=c&state=x", STATE, &google());
        assert_eq!((forged.status, forged.outcome.is_none()), (400, true));
        let stray = callback_reply("GET", "/favicon.ico", STATE, &google());
        assert_eq!((stray.status, stray.outcome.is_none()), (404, true));
        let post = callback_reply(
            "POST",
            "/oauth2callback?code=c&state=s7aTe",
            STATE,
            &google(),
        );
        assert_eq!(post.status, 404);
        let denied = callback_reply(
            "GET",
            "/oauth2callback?error=access_denied&state=s7aTe",
            STATE,
            &google(),
        );
        assert_eq!(
            denied.outcome.unwrap().unwrap_err(),
            CallbackError::AccessDenied
        );
        let http = String::from_utf8(sign_in_page(Ok(()))).unwrap();
        assert!(
            http.starts_with("HTTP/1.1 200 OK\r\n") && http.ends_with("</html>"),
            "{http}"
        );
        assert!(http.contains("You are signed in"));
        let failed = String::from_utf8(sign_in_page(Err("the <server> said no"))).unwrap();
        assert!(failed.starts_with("HTTP/1.1 400") && failed.contains("&lt;server&gt;"));
    }

    fn google() -> Vec<String> {
        crate::oauth::GOOGLE_ISSUERS
            .iter()
            .map(|i| (*i).to_owned())
            .collect()
    }

    #[test]
    fn a_foreign_issuer_is_refused_and_ours_accepted() {
        let ours =
            format!("/oauth2callback?code=c&state={STATE}&iss=https%3A%2F%2Faccounts.google.com");
        assert_eq!(
            parse_callback(&ours, STATE, &google()).unwrap().expose(),
            "c"
        );
        let theirs = format!("/oauth2callback?code=c&state={STATE}&iss=https%3A%2F%2Fevil.example");
        assert!(matches!(
            parse_callback(&theirs, STATE, &google()),
            Err(CallbackError::WrongIssuer(_))
        ));
        let reply = callback_reply("GET", &theirs, STATE, &google());
        assert!(matches!(
            reply.outcome,
            Some(Err(CallbackError::WrongIssuer(_)))
        ));
    }

    #[test]
    fn errors_are_typed() {
        let cases = [
            (
                format!("http://localhost:8085/oauth2callback?error=access_denied&state={STATE}"),
                CallbackError::AccessDenied,
            ),
            (
                format!(
                    "/oauth2callback?error=invalid_scope&error_description=Bad+scope&state={STATE}"
                ),
                CallbackError::Refused {
                    error: "invalid_scope".to_owned(),
                    description: Some("Bad scope".to_owned()),
                },
            ),
            // An error with a forged state is still a forgery.
            (
                "/oauth2callback?error=access_denied&state=x".to_owned(),
                CallbackError::StateMismatch,
            ),
            (
                "error=access_denied".to_owned(),
                CallbackError::MissingState,
            ),
            (
                format!("/oauth2callback?state={STATE}"),
                CallbackError::MissingCode,
            ),
            (
                format!("/oauth2callback?code=a&code=b&state={STATE}"),
                CallbackError::DuplicateCode,
            ),
            (
                format!("/oauth2callback?code=&state={STATE}"),
                CallbackError::Unreadable,
            ),
            (
                "http://localhost:8085/oauth2callback".to_owned(),
                CallbackError::MissingCode,
            ),
            ("   ".to_owned(), CallbackError::Unreadable),
            ("two words".to_owned(), CallbackError::Unreadable),
            ("http://[bad".to_owned(), CallbackError::Unreadable),
            (
                "x".repeat(MAX_CALLBACK_INPUT + 1),
                CallbackError::Unreadable,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_callback(&input, STATE, &google()),
                Err(expected),
                "{input}"
            );
        }
    }
}
