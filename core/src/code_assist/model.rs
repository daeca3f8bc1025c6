//! What the Code Assist control plane answers, read leniently.

use serde::Serialize;
use serde_json::{Map, Value};

/// A tier: `free-tier`, `legacy-tier`, `standard-tier`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Tier {
    /// The tier id.
    pub id: String,
    /// Its display name, when given.
    pub name: Option<String>,
    /// Whether Google marks it as the default choice.
    pub is_default: bool,
}

/// A tier the account may not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IneligibleTier {
    /// The tier concerned.
    pub tier_id: Option<String>,
    /// A machine reason, such as `VALIDATION_REQUIRED` or `INELIGIBLE_ACCOUNT`.
    pub reason_code: Option<String>,
    /// Google's explanation.
    pub reason_message: Option<String>,
    /// For `VALIDATION_REQUIRED`: the page where the person verifies the account.
    pub validation_url: Option<String>,
}

/// The answer of `loadCodeAssist`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct LoadResponse {
    /// The tier the account is on; absent for an account never onboarded.
    pub current_tier: Option<Tier>,
    /// The paid tier, when the account has one (it wins over `current_tier`).
    pub paid_tier: Option<Tier>,
    /// Tiers the account may onboard to.
    pub allowed_tiers: Vec<Tier>,
    /// Tiers it may not, with reasons.
    pub ineligible_tiers: Vec<IneligibleTier>,
    /// `cloudaicompanionProject`: the project Google already associates.
    pub project: Option<String>,
}

impl LoadResponse {
    /// Parses the body of a successful `loadCodeAssist`.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        Ok(Self {
            current_tier: object.get("currentTier").and_then(tier),
            paid_tier: object.get("paidTier").and_then(tier),
            allowed_tiers: array(object, "allowedTiers").filter_map(tier).collect(),
            ineligible_tiers: array(object, "ineligibleTiers")
                .filter_map(Value::as_object)
                .map(|t| IneligibleTier {
                    tier_id: text(t, "tierId"),
                    reason_code: text(t, "reasonCode"),
                    reason_message: text(t, "reasonMessage"),
                    validation_url: text(t, "validationUrl"),
                })
                .collect(),
            project: project_id(object.get("cloudaicompanionProject"))?,
        })
    }

    /// The tier the account already has: `paidTier` over `currentTier`.
    pub fn existing_tier(&self) -> Option<&Tier> {
        self.paid_tier.as_ref().or(self.current_tier.as_ref())
    }

    /// Why onboarding to `tier` would be refused: its entry in `ineligibleTiers`, or,
    /// when Google offers no tier at all, the first ineligibility it gave.
    pub fn ineligibility_of(&self, tier: &str) -> Option<&IneligibleTier> {
        self.ineligible_tiers
            .iter()
            .find(|t| t.tier_id.as_deref() == Some(tier))
            .or_else(|| {
                self.allowed_tiers
                    .is_empty()
                    .then(|| self.ineligible_tiers.first())
                    .flatten()
            })
    }

    /// The tier to onboard to: the allowed tier marked default, else `legacy-tier`.
    pub fn onboarding_tier(&self) -> String {
        self.allowed_tiers
            .iter()
            .find(|t| t.is_default)
            .map(|t| t.id.clone())
            .unwrap_or_else(|| super::LEGACY_TIER.to_owned())
    }
}

/// A long-running operation, as `onboardUser` and the operations endpoint answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub name: Option<String>,
    pub done: bool,
    pub project: Option<String>,
    /// The operation's `error` (a `google.rpc.Status`), re-wrapped as an envelope body.
    pub error: Option<(u16, Vec<u8>)>,
}

impl Operation {
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        let error = object.get("error").filter(|e| e.is_object()).map(|error| {
            let code = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..=599).contains(c))
                .unwrap_or(500);
            (
                code,
                serde_json::json!({ "error": error })
                    .to_string()
                    .into_bytes(),
            )
        });
        Ok(Self {
            name: text(object, "name").filter(|n| !n.is_empty()),
            done: object.get("done").and_then(Value::as_bool).unwrap_or(false),
            project: project_id(
                object
                    .get("response")
                    .and_then(Value::as_object)
                    .and_then(|r| r.get("cloudaicompanionProject")),
            )?,
            error,
        })
    }
}

/// A project as Google writes it: a plain string, or an object with `id`; `None`
/// when there is none, an error when what is there is not a project id (it would be
/// printed, cached and put in URLs).
fn project_id(value: Option<&Value>) -> Result<Option<String>, String> {
    let id = match value {
        Some(Value::String(id)) => id.as_str(),
        Some(Value::Object(object)) => match object.get("id") {
            Some(Value::String(id)) => id.as_str(),
            None | Some(Value::Null) => return Ok(None),
            Some(_) => return Err("cloudaicompanionProject.id is not a string".to_owned()),
        },
        None | Some(Value::Null) => return Ok(None),
        Some(_) => return Err("cloudaicompanionProject is not a project".to_owned()),
    };
    if id.is_empty() {
        return Ok(None);
    }
    if !is_project_id(id) {
        return Err(format!(
            "cloudaicompanionProject {:?} is not a project id",
            crate::text::sanitize(id, 60)
        ));
    }
    Ok(Some(id.to_owned()))
}

/// True for a Google Cloud project id: 6 to 30 characters, lower-case letters, digits
/// and hyphens, starting with a letter and not ending with a hyphen
/// (`[a-z][a-z0-9-]{4,28}[a-z0-9]`); or a legacy domain-scoped id,
/// `domain:project` (`example.com:my-project`).
pub fn is_project_id(text: &str) -> bool {
    fn plain(id: &str) -> bool {
        let bytes = id.as_bytes();
        (6..=30).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    }
    fn domain(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    }
    match text.split_once(':') {
        Some((scope, id)) => domain(scope) && plain(id),
        None => plain(text),
    }
}

fn tier(value: &Value) -> Option<Tier> {
    let object = value.as_object()?;
    Some(Tier {
        id: text(object, "id").filter(|id| !id.is_empty())?,
        name: text(object, "name"),
        is_default: object
            .get("isDefault")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn array<'a>(object: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a Value> {
    object
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(64)
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(|s| crate::text::sanitize(s, 500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_are_checked_before_they_are_shown() {
        for id in [
            "my-project",
            "proj-1",
            "example.com:my-project",
            "a23456789012345678901234567890",
        ] {
            assert!(is_project_id(id), "{id}");
        }
        for id in [
            "p-2",
            "My-Project",
            "project-",
            "1project",
            "proj\u{1b}[31m",
            "proj-1\nrm -rf",
            "proj\u{202e}1",
            "proj\r1",
            "a234567890123456789012345678901",
            ":my-project",
            "example..com:my-project",
            "proj\u{7}ect",
            "proj\u{0}ect",
            "proj\u{85}ect",
        ] {
            assert!(!is_project_id(id), "{id:?}");
            let body = serde_json::json!({"currentTier": {"id": "standard-tier"}, "cloudaicompanionProject": id});
            let error = LoadResponse::parse(body.to_string().as_bytes()).unwrap_err();
            assert!(error.contains("not a project id"), "{error}");
            assert!(
                !error.contains(['\u{1b}', '\n', '\r', '\u{202e}', '\u{7}']),
                "{error:?}"
            );
        }
    }

    #[test]
    fn load_response_fields_and_tier_choice() {
        let parsed = LoadResponse::parse(
            br#"{"currentTier": {"id": "standard-tier", "name": "Standard"}, "paidTier": {"id": "g1-pro-tier"},
                 "allowedTiers": [{"id": "free-tier"}, {"id": "standard-tier", "isDefault": true}, {"name": "no id"}, 5],
                 "ineligibleTiers": [{"tierId": "free-tier", "reasonCode": "VALIDATION_REQUIRED", "reasonMessage": "Verify", "validationUrl": "https://v.test/"}],
                 "cloudaicompanionProject": {"id": "proj-1", "name": "x"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.existing_tier().unwrap().id, "g1-pro-tier");
        assert_eq!(parsed.allowed_tiers.len(), 2);
        assert_eq!(parsed.onboarding_tier(), "standard-tier");
        assert_eq!(parsed.project.as_deref(), Some("proj-1"));
        assert_eq!(
            parsed.ineligible_tiers[0].validation_url.as_deref(),
            Some("https://v.test/")
        );

        let empty = LoadResponse::parse(b"{}").unwrap();
        assert_eq!(empty.existing_tier(), None);
        assert_eq!(empty.onboarding_tier(), "legacy-tier");
        for bad in [&b"[]"[..], b"nope", b""] {
            assert!(LoadResponse::parse(bad).is_err());
        }
    }

    #[test]
    fn operations() {
        let op = Operation::parse(br#"{"name": "operations/1", "done": true, "response": {"cloudaicompanionProject": "proj-2"}}"#).unwrap();
        assert_eq!(
            (op.name.as_deref(), op.done, op.project.as_deref()),
            (Some("operations/1"), true, Some("proj-2"))
        );
        let failed = Operation::parse(br#"{"done": true, "error": {"code": 403, "message": "no", "status": "PERMISSION_DENIED"}}"#).unwrap();
        assert_eq!(failed.error.as_ref().unwrap().0, 403);
        let pending = Operation::parse(br#"{"name": "", "done": "yes"}"#).unwrap();
        assert_eq!((pending.name, pending.done), (None, false));
    }
}
