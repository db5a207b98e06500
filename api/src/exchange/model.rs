//! The JSON export document (format 1).
//!
//! Rows refer to each other by natural keys (CSP and agency slugs, review source keys,
//! recommendation positions, plan versions), never by database ids: ids are an accident of
//! insertion order, so a document keyed by them could not be loaded into another database
//! without rewriting them (and, on PostgreSQL, resetting sequences). Import lets the target
//! database number the rows afresh.
//!
//! Lists are in a fixed order (byte order of their keys, or their stored position), and
//! timestamps are written as stored, to the nanosecond when the engine keeps that many
//! digits: exporting the same graph twice gives the same bytes.
//!
//! Unknown fields are refused rather than skipped: a field this version does not know would
//! otherwise be dropped silently on import.

use serde::{Deserialize, Serialize};

/// The version of this document's shape; bumped when a field changes meaning or is added.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub format: u32,
    /// By slug.
    pub csps: Vec<Csp>,
    /// By slug.
    pub agencies: Vec<Agency>,
    /// By source key.
    pub reviews: Vec<Review>,
}

/// Another name under which a CSP or an agency is found; `key` is its normalised lookup key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Csp {
    pub slug: String,
    pub name: String,
    pub region: Option<String>,
    pub nation: Option<String>,
    /// By key.
    pub aliases: Vec<Alias>,
}

/// An agency without its review and recommendation counts, which import recomputes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub slug: String,
    pub name: String,
    pub sector: String,
    /// By key.
    pub aliases: Vec<Alias>,
}

/// A review with what hangs off it. Its recommendation count is the length of
/// `recommendations` and is not repeated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The review's identity: `url:...`, `ref:...` (a caller's external reference),
    /// `page:...` or `dhrd:...`.
    pub source_key: String,
    pub title: String,
    /// `YYYY-MM`; null for DHRD records.
    pub published: Option<String>,
    pub year_of_death: Option<i32>,
    pub summary: String,
    pub source_url: Option<String>,
    pub stated_recommendation_count: Option<i32>,
    pub incomplete: bool,
    pub review_type: String,
    /// Kept so that re-ingesting an unchanged page into the imported database writes nothing.
    pub content_hash: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
    /// CSP slugs, lead partnership first.
    pub csps: Vec<String>,
    /// Sorted.
    pub case_tags: Vec<String>,
    /// Source keys of duplicate listings merged into this review, sorted.
    pub merged_source_keys: Vec<String>,
    /// The source key of the DHRD record this page is linked to.
    pub incident: Option<String>,
    /// By position; then the withdrawn, in the order they left.
    pub recommendations: Vec<Recommendation>,
    /// Set when the review was deleted: a tombstone that keeps its recommendations (all
    /// withdrawn) with their plans and history. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Tombstone>,
}

/// Who deleted a review, when and why, and the CSPs it was linked to (by name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// RFC 3339, UTC; the recommendations the delete withdrew carry the same instant.
    pub at: String,
    pub by: String,
    pub reason: Option<String>,
    pub csps: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    /// 1-based, unique within the review; 0 for a withdrawn recommendation (one of a
    /// deleted review keeps its place, for the restore).
    pub position: i32,
    pub label: String,
    pub text: String,
    pub addressed_to: String,
    /// Agency slugs in the order the row names them.
    pub agencies: Vec<String>,
    /// Null when nobody has written the plan (not started, version 0).
    pub action_plan: Option<ActionPlan>,
    /// Status history, by version.
    pub history: Vec<StatusEvent>,
    /// When it left its review (RFC 3339, UTC); absent while it is in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<String>,
    /// The sender's own identifier (`upsertReview`); absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPlan {
    pub status: String,
    /// Agency slug.
    pub lead_agency: Option<String>,
    pub action: Option<String>,
    /// `YYYY-MM-DD`.
    pub target_date: Option<String>,
    pub completion_date: Option<String>,
    pub outcome_note: Option<String>,
    pub rag: Option<String>,
    pub sign_off_body: Option<String>,
    pub version: i32,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusEvent {
    pub version: i32,
    pub actor: String,
    pub at: String,
    pub from_status: String,
    pub to_status: String,
    pub note: Option<String>,
    /// The JSON object of changed fields, as the history stores it (text, so that it
    /// round-trips byte for byte).
    pub changes: Option<String>,
}

/// Only the version, read before the rest so that a document of another format is named as
/// such instead of failing on whichever field changed first.
#[derive(Deserialize)]
#[serde(rename = "Export")]
pub(super) struct Head {
    pub format: u32,
}
