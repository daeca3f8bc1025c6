//! The phrases the classifier and the messages look for in Google's words (ASCII
//! letters in any case).
//!
//! A message can be long (a free-tier quota message runs to 600 bytes) and the rules
//! ask about some thirty phrases, so searching was most of the cost of classifying
//! such a body. The text is lower-cased once (on the stack when short), and each
//! phrase has a searcher built once for the life of the process; a phrase is only
//! looked for when a rule asks, so the rules' order still decides how many searches
//! a body costs.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Declares [`Phrase`] and [`PHRASES`] from one list, so the two cannot drift apart.
macro_rules! phrases {
    ($($(#[$doc:meta])* $name:ident => $words:literal,)+) => {
        /// A phrase a rule asks about. The discriminant indexes [`PHRASES`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Phrase {
            $($(#[$doc])* $name,)+
        }

        /// Every phrase's words (lower case), in the order of [`Phrase`].
        const PHRASES: &[(Phrase, &str)] = &[$((Phrase::$name, $words),)+];
    };
}

phrases! {
    SecurityPolicyViolated => "security_policy_violated",
    ApiKeyNotValid => "api key not valid",
    ApiKeyInvalid => "api_key_invalid",
    NoCapacityAvailable => "no capacity available",
    NoCapacityFor => "no capacity for",
    ExhaustedYourCapacity => "exhausted your capacity on this model",
    ModelIsOverloaded => "model is overloaded",
    Quota => "quota",
    FreeQuotaTier => "have a free quota tier",
    Daily => "daily",
    PerDay => "per day",
    PerDayHyphen => "per-day",
    /// `perday`, as quota ids write it.
    PerDayGlued => "perday",
    /// `perminute`, as quota ids write it.
    PerMinuteGlued => "perminute",
    /// `limit:`: [`Said::zero_limit`] reads what follows.
    Limit => "limit:",
    Model => "model",
    ModelsPath => "models/",
    ForModel => "for model ",
    Token => "token",
    Exceed => "exceed",
    TooLong => "too long",
    Maximum => "maximum",
    OnlySupportsUpTo => "only supports up to",
    ContextLength => "context length",
    ContextWindow => "context window",
    LocationNotSupported => "location is not supported",
    NotAvailableInCountry => "not available in your country",
}

/// A searcher per phrase, in the order of [`PHRASES`], built on first use.
static FINDERS: LazyLock<Vec<Finder<'static>>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .map(|(_, words)| Finder::new(words.as_bytes()))
        .collect()
});

/// A text lower-cased (ASCII letters only), asked which phrases it holds.
pub(crate) struct Said<'a> {
    lowered: &'a [u8],
}

impl Said<'_> {
    /// Calls `ask` with `text`'s phrases: the text lower-cased in a small buffer on
    /// the stack when it is short, as most messages are, else in a `String`.
    pub fn with<R>(text: &str, ask: impl FnOnce(&Said<'_>) -> R) -> R {
        const INLINE: usize = 256;
        if text.len() > INLINE {
            return ask(&Said {
                lowered: text.to_ascii_lowercase().as_bytes(),
            });
        }
        let mut buffer = [0; INLINE];
        let lowered = &mut buffer[..text.len()];
        lowered.copy_from_slice(text.as_bytes());
        lowered.make_ascii_lowercase();
        ask(&Said { lowered })
    }

    /// The text lower-cased.
    pub fn lowered(&self) -> &str {
        // Lower-casing ASCII letters keeps UTF-8 valid, so this never falls back.
        std::str::from_utf8(self.lowered).unwrap_or_default()
    }

    /// True when the text holds `phrase`.
    pub fn has(&self, phrase: Phrase) -> bool {
        self.first(phrase).is_some()
    }

    /// True when the text holds any of `phrases`.
    pub fn any(&self, phrases: &[Phrase]) -> bool {
        phrases.iter().any(|phrase| self.has(*phrase))
    }

    /// Where `phrase` first starts, in bytes, when the text holds it.
    pub fn first(&self, phrase: Phrase) -> Option<usize> {
        FINDERS.get(phrase as usize)?.find(self.lowered)
    }

    /// Where the text right after the first `phrase` starts, when the text holds it.
    pub fn after(&self, phrase: Phrase) -> Option<usize> {
        let words = PHRASES.get(phrase as usize)?.1;
        Some(self.first(phrase)? + words.len())
    }

    /// True when the text says `limit: 0` exactly: `limit: 0`, `limit: 0,` and
    /// `limit: 0.` at the end of a sentence are zero; `limit: 0.5` and `limit: 05` are
    /// not.
    pub fn zero_limit(&self) -> bool {
        let Some(finder) = FINDERS.get(Phrase::Limit as usize) else {
            return false;
        };
        finder
            .find_iter(self.lowered)
            .any(|at| is_exact_zero(&self.lowered[at + finder.needle().len()..]))
    }
}

/// True when `rest` (what follows `limit:`) starts with a number that is exactly zero.
fn is_exact_zero(rest: &[u8]) -> bool {
    let start = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = &rest[start..];
    rest.first() == Some(&b'0')
        && match rest.get(1) {
            None => true,
            Some(b) if b.is_ascii_digit() => false,
            Some(b'.') => !rest.get(2).is_some_and(u8::is_ascii_digit),
            Some(_) => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_lower_case_and_in_enum_order() {
        for (index, (phrase, words)) in PHRASES.iter().enumerate() {
            assert_eq!(*phrase as usize, index, "{phrase:?}");
            assert_eq!(words.to_ascii_lowercase(), *words, "{phrase:?}");
        }
    }

    #[test]
    fn lowered_text_matches_to_ascii_lowercase() {
        for text in [
            "",
            "Retry In 5S",
            "É Daily ☃",
            &"AbC".repeat(85),
            &"AbC".repeat(86),
        ] {
            Said::with(text, |said| {
                assert_eq!(said.lowered(), text.to_ascii_lowercase());
            });
        }
    }

    #[test]
    fn finds_every_phrase_in_any_case_with_its_first_start() {
        for &(phrase, words) in PHRASES {
            for text in [
                format!("ab {} cd {}", words.to_ascii_uppercase(), words),
                // Past the stack buffer: the lower-cased copy is on the heap.
                format!("ab {} cd {}", words.to_ascii_uppercase(), "x".repeat(300)),
            ] {
                Said::with(&text, |said| {
                    assert!(said.has(phrase), "{words}");
                    assert_eq!(said.first(phrase), Some(3), "{words}");
                    assert_eq!(said.after(phrase), Some(3 + words.len()), "{words}");
                });
            }
        }
        Said::with("nothing here", |said| {
            assert!(!said.any(&[Phrase::Quota, Phrase::Model, Phrase::Daily]));
            assert_eq!(said.first(Phrase::Quota), None);
        });
    }

    #[test]
    fn limit_zero_is_exact() {
        for (text, zero) in [
            ("quota exceeded for metric: x, limit: 0", true),
            ("limit: 0, model: gemini", true),
            ("limit: 0.5", false),
            ("quota exceeded for metric x, limit: 0.", true),
            ("limit: 0", true),
            ("limit: 05", false),
            ("limit: 10", false),
            ("LIMIT:0", true),
            ("limit: 10, then limit: 0", true),
            ("no limit here", false),
        ] {
            assert_eq!(Said::with(text, |said| said.zero_limit()), zero, "{text}");
        }
    }
}
