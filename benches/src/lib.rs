//! `codeassist-benches`: criterion benchmarks of codeassist.
//!
//! The benchmarks live in `benches/` beside this file: the envelope parser and
//! classifier, the retry policy, whole flows driven in memory, and the drivers over
//! loopback against the emulator. This library holds only the baselines the envelope
//! bench and its profiling example share.
#![forbid(unsafe_code)]

/// What other readers of the same error bodies cost: the yardsticks of the `envelope`
/// bench.
pub mod baselines {
    use serde_json::Value;

    /// What a naive port does: parse into `Value`, then dig out the fields by hand.
    pub fn naive(body: &[u8]) -> (Option<String>, Option<String>, Option<f64>) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return (None, None, None);
        };
        let error = &value["error"];
        let status = error["status"].as_str().map(str::to_owned);
        let mut reason = None;
        let mut delay = None;
        for detail in error["details"].as_array().into_iter().flatten() {
            match detail["@type"].as_str() {
                Some(t) if t.ends_with("ErrorInfo") => {
                    reason = detail["reason"].as_str().map(str::to_owned)
                }
                Some(t) if t.ends_with("RetryInfo") => {
                    delay = detail["retryDelay"]
                        .as_str()
                        .and_then(|d| d.trim_end_matches('s').parse().ok())
                }
                _ => {}
            }
        }
        (status, reason, delay)
    }

    /// The fields a router reads, by a strict derived reader: every type as Google
    /// documents it, anything else an error. What any derive-based reader pays at least.
    mod strict {
        use std::borrow::Cow;
        use std::collections::BTreeMap;

        use serde::Deserialize;

        /// `{"error": …}` with owned strings.
        #[derive(Deserialize)]
        pub struct Owned {
            pub error: Status<String>,
        }

        /// `{"error": …}` with strings borrowed from the body where they need no unescaping.
        #[derive(Deserialize)]
        pub struct Borrowed<'a> {
            #[serde(borrow)]
            pub error: Status<Text<'a>>,
        }

        /// A string borrowed from the body unless it holds an escape. (A bare `Cow<str>`
        /// in a generic field is always owned: serde borrows only where `borrow` is
        /// written on the `Cow` itself.)
        #[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
        pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

        impl AsRef<str> for Text<'_> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// `google.rpc.Status`, the routing fields only.
        #[derive(Deserialize)]
        pub struct Status<S: Ord> {
            pub code: u16,
            pub status: S,
            pub message: S,
            pub details: Vec<Detail<S>>,
        }

        /// One detail, with the fields of ErrorInfo and RetryInfo.
        #[derive(Deserialize)]
        pub struct Detail<S: Ord> {
            #[serde(rename = "@type")]
            pub type_url: S,
            #[serde(default = "none")]
            pub reason: Option<S>,
            #[serde(default = "none")]
            pub domain: Option<S>,
            #[serde(default = "none")]
            pub metadata: Option<BTreeMap<S, S>>,
            #[serde(default = "none", rename = "retryDelay")]
            pub retry_delay: Option<S>,
        }

        fn none<T>() -> Option<T> {
            None
        }

        impl<S: Ord + AsRef<str>> Status<S> {
            /// A number from every field, so nothing read is optimised away.
            pub fn touch(&self) -> usize {
                let len = |s: &Option<S>| s.as_ref().map_or(0, |s| s.as_ref().len());
                usize::from(self.code)
                    + self.status.as_ref().len()
                    + self.message.as_ref().len()
                    + self
                        .details
                        .iter()
                        .map(|d| {
                            d.type_url.as_ref().len()
                                + len(&d.reason)
                                + len(&d.domain)
                                + len(&d.retry_delay)
                                + d.metadata.as_ref().map_or(0, BTreeMap::len)
                        })
                        .sum::<usize>()
            }
        }
    }

    /// The strict derived reader with owned strings (the `strict` module). Like ours, it checks
    /// the UTF-8 once and reads from `&str` (serde_json's faster path).
    pub fn strict_owned(body: &[u8]) -> usize {
        std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::from_str::<strict::Owned>(text).ok())
            .map_or(0, |top| top.error.touch())
    }

    /// The strict derived reader with borrowed strings (the `strict` module), from `&str` too.
    pub fn strict_borrowed(body: &[u8]) -> usize {
        std::str::from_utf8(body)
            .ok()
            .and_then(|text| serde_json::from_str::<strict::Borrowed>(text).ok())
            .map_or(0, |top| top.error.touch())
    }
}
