//! Gemini model ids read for what they say (generation, tier, preview), and the rules
//! over them: which model a call falls back to, which model is the default, and which
//! thinking setting a model takes. The rules apply to the models a target lists; the
//! built-in table ([`KNOWN_MODELS`]) stands in only when listing is impossible.
//!
//! # Fallback
//!
//! | model | falls back to |
//! |---|---|
//! | a preview Pro (`gemini-3.1-pro-preview`) | a preview Flash of its generation, else the newest preview Flash, else the Pro rule below |
//! | a Pro (`gemini-2.5-pro`) | the Flash of its generation, else the newest stable Flash, else the newest Flash |
//! | a Flash-Lite (`gemini-3.1-flash-lite`) | the Flash of its generation, else the newest stable Flash, else the newest Flash |
//! | a Flash | nothing |
//!
//! Only models of the list are chosen, and never a variant (`-image`, `-tts`,
//! `-live`, …) nor the model itself. "Newest" orders by generation, stable before
//! preview.
//!
//! # Default model
//!
//! The newest stable Pro the target lists; else [`BUILT_IN_DEFAULT`].
//!
//! # Thinking
//!
//! One effort setting ([`Thinking`]) maps per family: Gemini 3 and later take
//! `thinkingConfig.thinkingLevel` (`MINIMAL`, `LOW`, `MEDIUM`, `HIGH`; none turns
//! thinking off, and 3.1 Pro and 3.7 Flash refuse `MINIMAL`), Gemini 2.5 takes
//! `thinkingConfig.thinkingBudget` (0 turns thinking off, except on 2.5 Pro; -1 is
//! dynamic). A level a model refuses is clamped to the nearest it takes; one field is
//! ever sent, never both; a model this table does not know gets nothing.

use std::cmp::Ordering;

use serde_json::{Value, json};

/// Gemini's models as of December 2026, for when a target cannot list its own:
/// `gemini-2.5-flash` was shut down on 2026-10-16 and is not among them.
pub const KNOWN_MODELS: [&str; 11] = [
    "gemini-2.5-pro",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3.1-pro-preview",
    "gemini-3-flash-preview",
    "gemini-3.5-flash",
    "gemini-3.6-flash",
    "gemini-3.7-flash",
    "gemini-3.8-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite",
];

/// The default model when the target lists none: the newest stable Pro of
/// [`KNOWN_MODELS`].
pub const BUILT_IN_DEFAULT: &str = "gemini-2.5-pro";

/// The tier of a Gemini model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tier {
    /// `-flash-lite`.
    FlashLite,
    /// `-flash`.
    Flash,
    /// `-pro`.
    Pro,
}

/// What a model id says: `gemini-{major}[.{minor}]-{tier}[-preview…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelName {
    /// The id as given, without a `models/` prefix.
    pub id: String,
    /// The generation: `(2, 5)` for 2.5, `(3, 0)` for 3.
    pub generation: (u32, u32),
    /// Pro, Flash or Flash-Lite.
    pub tier: Tier,
    /// A preview or experimental model.
    pub preview: bool,
    /// A special-purpose variant (`-image`, `-tts`, `-live`, …): never chosen by a
    /// rule.
    pub variant: bool,
}

impl ModelName {
    /// Reads `id` (with or without `models/`); `None` for an id that is not a Gemini
    /// Pro, Flash or Flash-Lite model.
    pub fn parse(id: &str) -> Option<Self> {
        let id = id.strip_prefix("models/").unwrap_or(id);
        let mut parts = id.strip_prefix("gemini-")?.split('-');
        let version = parts.next()?;
        let (major, minor) = match version.split_once('.') {
            Some((major, minor)) => (major.parse().ok()?, minor.parse().ok()?),
            None => (version.parse().ok()?, 0),
        };
        let mut rest: Vec<&str> = parts.collect();
        let tier = match rest.first().copied() {
            Some("pro") => Tier::Pro,
            Some("flash") if rest.get(1) == Some(&"lite") => {
                rest.remove(0);
                Tier::FlashLite
            }
            Some("flash") => Tier::Flash,
            _ => return None,
        };
        rest.remove(0);
        let preview = rest.iter().any(|part| matches!(*part, "preview" | "exp"));
        let variant = rest.iter().any(|part| {
            !matches!(*part, "preview" | "exp" | "latest")
                && !part.bytes().all(|b| b.is_ascii_digit())
        });
        Some(Self {
            id: id.to_owned(),
            generation: (major, minor),
            tier,
            preview,
            variant,
        })
    }

    /// Newer first: a later generation, then stable before preview.
    fn newer(&self, other: &Self) -> Ordering {
        other
            .generation
            .cmp(&self.generation)
            .then(self.preview.cmp(&other.preview))
            .then(self.id.cmp(&other.id))
    }
}

/// The chat models of `listed` a rule may choose: parsed, not variants.
fn candidates<'a>(listed: impl IntoIterator<Item = &'a str>) -> Vec<ModelName> {
    let mut models: Vec<ModelName> = listed
        .into_iter()
        .filter_map(ModelName::parse)
        .filter(|model| !model.variant)
        .collect();
    models.sort_by(ModelName::newer);
    models.dedup_by(|a, b| a.id == b.id);
    models
}

/// The model a call of `model` falls back to among `listed` (see the module docs);
/// `None` for a Flash, an id these rules do not read, or when no listed model fits.
pub fn fallback_among<'a>(
    model: &str,
    listed: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let asked = ModelName::parse(model)?;
    let flashes: Vec<ModelName> = candidates(listed)
        .into_iter()
        .filter(|m| m.tier == Tier::Flash && m.id != asked.id)
        .collect();
    let first =
        |keep: &dyn Fn(&ModelName) -> bool| flashes.iter().find(|m| keep(m)).map(|m| m.id.clone());
    let same_generation = |m: &ModelName| m.generation == asked.generation;
    match asked.tier {
        Tier::Flash => None,
        Tier::Pro if asked.preview => first(&|m| m.preview && same_generation(m))
            .or_else(|| first(&|m| m.preview))
            .or_else(|| first(&|m| same_generation(m)))
            .or_else(|| first(&|m| !m.preview))
            .or_else(|| first(&|_| true)),
        Tier::Pro | Tier::FlashLite => first(&|m| same_generation(m) && !m.preview)
            .or_else(|| first(&|m| same_generation(m)))
            .or_else(|| first(&|m| !m.preview))
            .or_else(|| first(&|_| true)),
    }
}

/// The default model among `listed`: the newest stable Pro; `None` when it lists
/// none (then [`BUILT_IN_DEFAULT`]).
pub fn default_among<'a>(listed: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates(listed)
        .into_iter()
        .find(|m| m.tier == Tier::Pro && !m.preview)
        .map(|m| m.id)
}

/// How much a model should think: one setting for every family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Thinking {
    /// As little as the model allows (off where it can be turned off).
    None,
    /// Minimal.
    Minimal,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// A budget in tokens (Gemini 2.5; mapped to the nearest level on Gemini 3).
    Budget(u32),
}

impl Thinking {
    /// Reads `none`, `minimal`, `low`, `medium`, `high` or a number of tokens.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Self::None),
            "minimal" => Ok(Self::Minimal),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            other => other.parse().map(Self::Budget).map_err(|_| {
                format!(
                    "unknown thinking setting {:?}: use none, minimal, low, medium, high or a token budget",
                    crate::text::sanitize(text, 40)
                )
            }),
        }
    }
}

/// The levels of Gemini 3 and later, least first.
const LEVELS: [&str; 4] = ["MINIMAL", "LOW", "MEDIUM", "HIGH"];

/// The `thinkingConfig` fields for `thinking` on `model`, and a note when the setting
/// had to be changed for the model (a level it refuses, off where it cannot be);
/// `None` for a model these rules do not know (nothing is sent).
pub fn thinking_config(model: &str, thinking: Thinking) -> Option<(Value, Option<String>)> {
    let name = ModelName::parse(model)?;
    if name.generation.0 >= 3 {
        // MINIMAL is refused by 3.1 Pro and 3.7 Flash.
        let no_minimal = matches!(
            (name.generation, name.tier),
            ((3, 1), Tier::Pro) | ((3, 7), Tier::Flash)
        );
        let wanted = match thinking {
            Thinking::None | Thinking::Minimal => 0,
            Thinking::Low => 1,
            Thinking::Medium => 2,
            Thinking::High => 3,
            Thinking::Budget(tokens) => match tokens {
                0..=512 => 0,
                513..=4096 => 1,
                4097..=16384 => 2,
                _ => 3,
            },
        };
        let level = if no_minimal && wanted == 0 { 1 } else { wanted };
        let note = match (thinking, level != wanted) {
            (Thinking::None, _) => Some(format!(
                "{model} cannot turn thinking off; using {}",
                LEVELS[level]
            )),
            (_, true) => Some(format!(
                "{model} does not take {}; using {}",
                LEVELS[wanted], LEVELS[level]
            )),
            _ => None,
        };
        return Some((json!({"thinkingLevel": LEVELS[level]}), note));
    }
    if name.generation == (2, 5) {
        // Google's OpenAI-compatible endpoint's table for the levels.
        let (budget, note) = match thinking {
            Thinking::None if name.tier == Tier::Pro => (
                128,
                Some(format!(
                    "{model} cannot turn thinking off; using a budget of 128"
                )),
            ),
            Thinking::None => (0, None),
            Thinking::Minimal => (128, None),
            Thinking::Low => (1024, None),
            Thinking::Medium => (8192, None),
            Thinking::High => (24576, None),
            Thinking::Budget(tokens) => (i64::from(tokens), None),
        };
        return Some((json!({"thinkingBudget": budget}), note));
    }
    None
}

/// The thinking setting a Gemini request carries (`thinkingLevel` or
/// `thinkingBudget` in `generationConfig.thinkingConfig`), to carry it over to
/// another model of another family.
pub fn thinking_of(request: &Value) -> Option<Thinking> {
    let config = &request["generationConfig"]["thinkingConfig"];
    if let Some(level) = config["thinkingLevel"].as_str() {
        return Thinking::parse(level).ok();
    }
    match config["thinkingBudget"].as_i64()? {
        0 => Some(Thinking::None),
        budget if budget < 0 => Some(Thinking::Medium),
        budget => Some(Thinking::Budget(u32::try_from(budget).unwrap_or(u32::MAX))),
    }
}

/// `request`, asked of `asked`, made fit for `model` when a call falls back: its
/// thinking setting mapped to the field `model`'s family takes (never both).
pub fn request_for(asked: &str, model: &str, request: &Value) -> Value {
    let mut request = request.clone();
    if asked != model
        && let Some(thinking) = thinking_of(&request)
        && let Some(note) = apply_thinking(model, thinking, &mut request)
    {
        tracing::info!(%note, "thinking");
    }
    request
}

/// `request` (a Gemini `GenerateContentRequest`) with `thinking` set for `model` in
/// `generationConfig.thinkingConfig`: the one field the family takes (any other
/// thinking field the request held is removed, so both are never sent). Returns the
/// note of [`thinking_config`]; a model the rules do not know is left untouched.
pub fn apply_thinking(model: &str, thinking: Thinking, request: &mut Value) -> Option<String> {
    let (fields, note) = thinking_config(model, thinking)?;
    let object = request.as_object_mut()?;
    let config = object
        .entry("generationConfig")
        .or_insert_with(|| json!({}));
    if !config.is_object() {
        *config = json!({});
    }
    let thinking_config = config
        .as_object_mut()?
        .entry("thinkingConfig")
        .or_insert_with(|| json!({}));
    if !thinking_config.is_object() {
        *thinking_config = json!({});
    }
    let thinking_config = thinking_config.as_object_mut()?;
    thinking_config.remove("thinkingLevel");
    thinking_config.remove("thinkingBudget");
    if let Some(fields) = fields.as_object() {
        for (key, value) in fields {
            thinking_config.insert(key.clone(), value.clone());
        }
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_for_generation_tier_and_preview() {
        let pro = ModelName::parse("models/gemini-3.1-pro-preview").unwrap();
        assert_eq!(
            (pro.generation, pro.tier, pro.preview, pro.variant),
            ((3, 1), Tier::Pro, true, false)
        );
        let lite = ModelName::parse("gemini-2.5-flash-lite").unwrap();
        assert_eq!((lite.generation, lite.tier), ((2, 5), Tier::FlashLite));
        let dated = ModelName::parse("gemini-2.5-flash-preview-05-20").unwrap();
        assert!(dated.preview && !dated.variant);
        assert!(ModelName::parse("gemini-2.5-flash-image").unwrap().variant);
        assert!(ModelName::parse("gemini-3-flash").is_some());
        for other in [
            "text-embedding-004",
            "gemini-embedding-001",
            "gemma-3",
            "gemini-x-pro",
            "",
        ] {
            assert!(ModelName::parse(other).is_none(), "{other}");
        }
    }

    /// The thinking table per family: levels on 3.x (clamped where refused, never
    /// off), budgets on 2.5 (off except on Pro), nothing for models it does not know.
    #[test]
    fn thinking_maps_per_family() {
        let level = |model: &str, thinking| {
            let (fields, note) = thinking_config(model, thinking).unwrap();
            (
                fields["thinkingLevel"].as_str().unwrap().to_owned(),
                note.is_some(),
            )
        };
        assert_eq!(
            level("gemini-3-pro-preview", Thinking::High),
            ("HIGH".into(), false)
        );
        assert_eq!(
            level("gemini-3.8-flash", Thinking::Minimal),
            ("MINIMAL".into(), false)
        );
        assert_eq!(
            level("gemini-3.1-pro-preview", Thinking::Minimal),
            ("LOW".into(), true)
        );
        assert_eq!(
            level("gemini-3.7-flash", Thinking::Minimal),
            ("LOW".into(), true)
        );
        assert_eq!(
            level("gemini-3.7-flash", Thinking::Medium),
            ("MEDIUM".into(), false)
        );
        assert_eq!(
            level("gemini-3.5-flash", Thinking::None),
            ("MINIMAL".into(), true)
        );
        assert_eq!(
            level("gemini-3.5-flash", Thinking::Budget(8000)),
            ("MEDIUM".into(), false)
        );
        let budget = |model: &str, thinking| {
            let (fields, note) = thinking_config(model, thinking).unwrap();
            assert!(fields.get("thinkingLevel").is_none(), "never both");
            (fields["thinkingBudget"].as_i64().unwrap(), note.is_some())
        };
        assert_eq!(budget("gemini-2.5-flash-lite", Thinking::None), (0, false));
        assert_eq!(budget("gemini-2.5-pro", Thinking::None), (128, true));
        assert_eq!(budget("gemini-2.5-pro", Thinking::Low), (1024, false));
        assert_eq!(budget("gemini-2.5-pro", Thinking::Medium), (8192, false));
        assert_eq!(budget("gemini-2.5-pro", Thinking::High), (24576, false));
        assert_eq!(
            budget("gemini-2.5-pro", Thinking::Budget(2000)),
            (2000, false)
        );
        assert!(thinking_config("my-tuned-model", Thinking::High).is_none());
        assert!(thinking_config("gemini-2.0-flash", Thinking::High).is_none());

        // Applied to a request: one field, the other removed.
        let mut request = json!({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": 50, "includeThoughts": true}}});
        assert!(apply_thinking("gemini-3-pro-preview", Thinking::Low, &mut request).is_none());
        assert_eq!(
            request["generationConfig"]["thinkingConfig"],
            json!({"thinkingLevel": "LOW", "includeThoughts": true})
        );
        let mut untouched = json!({"contents": []});
        assert!(apply_thinking("my-model", Thinking::High, &mut untouched).is_none());
        assert_eq!(untouched, json!({"contents": []}));
        assert!(Thinking::parse("HIGH").is_ok() && Thinking::parse("4096").is_ok());

        // Falling back from 2.5 Pro (a budget) to a 3.x Flash: a level, not both.
        let mut asked = json!({"contents": []});
        apply_thinking("gemini-2.5-pro", Thinking::High, &mut asked);
        let fallen = request_for("gemini-2.5-pro", "gemini-3.8-flash", &asked);
        assert_eq!(
            fallen["generationConfig"]["thinkingConfig"],
            json!({"thinkingLevel": "HIGH"})
        );
        assert_eq!(
            request_for("gemini-2.5-pro", "gemini-2.5-pro", &asked),
            asked
        );
        assert!(
            Thinking::parse("\u{1b}[31m")
                .unwrap_err()
                .contains("unknown thinking")
        );
    }
}
