//! `retrieveUserQuota`: what is left of each model's quota.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Value, json};

use super::{CodeAssistConfig, CodeAssistError, control_request};
use crate::flow::{Call, Map, Response};
use crate::retry::Retry;
use crate::rfc3339::parse_rfc3339;
use crate::{Error, Secret, SplitMix64};

/// One model's quota.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct QuotaBucket {
    /// The model, such as `gemini-2.5-pro`.
    pub model_id: String,
    /// What is counted, such as `REQUESTS`.
    pub token_type: Option<String>,
    /// The share left, from 0 to 1.
    pub remaining_fraction: Option<f64>,
    /// When it resets.
    #[serde(serialize_with = "serialize_time")]
    pub reset_time: Option<SystemTime>,
}

fn serialize_time<S: serde::Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(since) => serializer.serialize_some(&since.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// The answer of `retrieveUserQuota`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct Quota {
    /// The readable buckets, in Google's order.
    pub buckets: Vec<QuotaBucket>,
    /// How many buckets were malformed and skipped.
    pub skipped: usize,
}

impl Quota {
    /// Parses a `retrieveUserQuota` body. Missing fields are tolerated; a bucket that
    /// is not an object, has no `modelId`, or has a field of the wrong shape (a
    /// fraction outside 0..=1, an unreadable reset time) is skipped and counted.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
        let object = value.as_object().ok_or("not a JSON object")?;
        let mut quota = Quota::default();
        let buckets = match object.get("buckets") {
            None | Some(Value::Null) => return Ok(quota),
            Some(Value::Array(buckets)) => buckets,
            Some(_) => return Err("buckets is not a list".to_owned()),
        };
        for bucket in buckets.iter().take(1024) {
            match bucket_from(bucket) {
                Some(bucket) => quota.buckets.push(bucket),
                None => quota.skipped += 1,
            }
        }
        quota.skipped += buckets.len().saturating_sub(1024);
        Ok(quota)
    }
}

fn bucket_from(value: &Value) -> Option<QuotaBucket> {
    let object = value.as_object()?;
    let model_id = object.get("modelId")?.as_str().filter(|m| !m.is_empty())?;
    let token_type = match object.get("tokenType") {
        None | Some(Value::Null) => None,
        // Shown in the quota table: one clean line, like the model id.
        Some(value) => Some(crate::text::sanitize(value.as_str()?, 64)),
    };
    let remaining_fraction = match object.get("remainingFraction") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_f64().filter(|f| (0.0..=1.0).contains(f))?),
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| (0.0..=1.0).contains(f))?,
        ),
        Some(_) => return None,
    };
    let reset_time = match object.get("resetTime") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_rfc3339(value.as_str()?)?),
    };
    Some(QuotaBucket {
        model_id: crate::text::sanitize(model_id, 128),
        token_type,
        remaining_fraction,
        reset_time,
    })
}

/// The quota flow, with retries.
pub type RetrieveQuota = Retry<Map<Call, Quota>>;

/// Asks the first configured endpoint for `project`'s quota.
pub fn retrieve_user_quota<R: rand_core::Rng + ?Sized>(
    config: &CodeAssistConfig,
    access_token: &Secret,
    project: &str,
    random: &mut R,
) -> Result<RetrieveQuota, Error> {
    let endpoint = config
        .endpoints
        .first()
        .ok_or(CodeAssistError::NoEndpoint)?;
    let mut ids = SplitMix64::seeded_from(random);
    let body = json!({ "project": project });
    let request = control_request(
        http::Method::POST,
        endpoint,
        ":retrieveUserQuota",
        access_token,
        Some(&body),
        &mut ids,
    )?;
    let flow = Map::new(Call::new(request), |response: Response, _now| {
        Quota::parse(response.body()).map_err(|detail| Error::InvalidResponse {
            what: "retrieveUserQuota",
            detail: crate::text::sanitize(&detail, 200),
        })
    });
    Ok(Retry::new(flow, config.retry.clone(), &mut ids))
}
