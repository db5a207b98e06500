//! The inputs and payloads of the mutations.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined, SimpleObject};

use crate::auth::Role;
use crate::graphql::enums::{PlanStatus, Rag, ReviewType};
use crate::graphql::types::{ActionPlan, Agency, Csp, Recommendation, Review, StatusEvent};
use crate::ingest::Outcome;

/// What a write of a review did.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new review.
    Added,
    /// An existing review changed in place: each recommendation keeps its id (and plan and
    /// history) by its `externalRef`, else its label and text; rows left out are withdrawn.
    Updated,
    /// Nothing differed: nothing was written.
    Unchanged,
    /// The page is a listing merged into another review: nothing was written.
    Merged,
}

impl From<Outcome> for WriteOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Added => WriteOutcome::Added,
            Outcome::Updated => WriteOutcome::Updated,
            Outcome::Unchanged => WriteOutcome::Unchanged,
            Outcome::Merged => WriteOutcome::Merged,
        }
    }
}

/// A review page in the DHR Library format, as `dhr-graph ingest` reads it.
#[derive(InputObject)]
pub struct IngestReviewPageInput {
    /// The page's text.
    pub text: String,
    /// A page that leaves out recommendations carrying an action plan or status history
    /// withdraws them only with this set; otherwise `WOULD_WITHDRAW` lists them and nothing
    /// is written.
    #[graphql(default)]
    pub allow_withdraw: bool,
}

/// A review written by a case-management system.
#[derive(InputObject)]
pub struct UpsertReviewInput {
    /// The caller's own identifier of the review: the same reference updates the same review,
    /// and the same call twice changes nothing.
    pub external_ref: String,
    pub title: String,
    /// The commissioning CSPs, lead first (names or slugs). A name that no CSP and no
    /// register area has creates a CSP, listed in the payload's `newCsps`.
    pub csps: Vec<String>,
    /// Publication month, `YYYY-MM`; not in the future.
    pub published: String,
    pub year_of_death: Option<i32>,
    #[graphql(default)]
    pub summary: String,
    pub source_url: Option<String>,
    #[graphql(default_with = "ReviewType::Dhr")]
    pub review_type: ReviewType,
    /// The recommendations in printed order. One left out that was sent before is
    /// withdrawn (kept with its plan and history, `state: WITHDRAWN`), and comes back if
    /// sent again.
    pub recommendations: Vec<RecommendationInput>,
    /// Withdrawing a recommendation with an action plan or status history needs this set;
    /// otherwise `WOULD_WITHDRAW` lists them and nothing is written.
    #[graphql(default)]
    pub allow_withdraw: bool,
}

/// One recommendation of an upserted review.
#[derive(InputObject)]
pub struct RecommendationInput {
    /// The label as printed ("5.1").
    pub label: String,
    pub text: String,
    /// The agencies it is addressed to: slugs (as in `agency(slug:)`) or names as a review
    /// prints them ("Kent Police", "the CCG"), resolved as ingest resolves an "Addressed to"
    /// cell, with the review's CSPs as context. A name no agency has yet creates one, listed
    /// in the payload's `newAgencies`; a slug-shaped string that is no agency's slug is
    /// refused.
    pub agencies: Vec<String>,
    /// Your own identifier of the recommendation: a later upsert with the same reference
    /// updates this recommendation whatever its label, text or place. Without one, a row is
    /// matched to the stored one by label and text (exactly, then closely), never by place.
    pub external_ref: Option<String>,
}

/// What a review write did.
#[derive(SimpleObject)]
pub struct ReviewWritePayload {
    pub review: Review,
    pub outcome: WriteOutcome,
    /// Rows cut short or not fully understood (ingested pages only).
    pub notes: Vec<String>,
    /// Agencies this write created: addressees no stored agency or alias named yet, each
    /// resolved as ingest resolves them (a register body, a service of one, or a new name
    /// with a sector by its form). A mistyped name shows here.
    pub new_agencies: Vec<Agency>,
    /// CSPs this write created: names that no stored CSP, alias or register area has. A
    /// mistyped CSP shows here.
    pub new_csps: Vec<Csp>,
}

/// A change to the status of a recommendation's action plan.
#[derive(InputObject)]
pub struct SetRecommendationStatusInput {
    /// The recommendation.
    pub id: ID,
    pub status: PlanStatus,
    /// The plan version you read (`actionPlan { version }`; 0 for a plan never written).
    pub expected_version: i32,
    /// Why, for the history.
    pub note: Option<String>,
    /// Set with `IMPLEMENTED` or `CLOSED`, `YYYY-MM-DD`.
    pub completion_date: Option<String>,
}

/// A change to the other fields of a recommendation's action plan. A field left out stays as
/// it is; a field sent as null is cleared.
#[derive(InputObject)]
pub struct UpdateRecommendationInput {
    /// The recommendation.
    pub id: ID,
    /// The plan version you read.
    pub expected_version: i32,
    /// Slug of the agency that owns the action.
    pub lead_agency: MaybeUndefined<String>,
    pub action: MaybeUndefined<String>,
    /// `YYYY-MM-DD`.
    pub target_date: MaybeUndefined<String>,
    /// `YYYY-MM-DD`.
    pub completion_date: MaybeUndefined<String>,
    pub outcome_note: MaybeUndefined<String>,
    pub rag: MaybeUndefined<Rag>,
    pub sign_off_body: MaybeUndefined<String>,
    /// Why, for the history.
    pub note: Option<String>,
}

/// A recommendation's plan after a change, and the history event the change appended.
#[derive(SimpleObject)]
pub struct ActionPlanPayload {
    pub recommendation: Recommendation,
    pub action_plan: ActionPlan,
    pub event: StatusEvent,
}

#[derive(InputObject)]
pub struct DeleteReviewInput {
    /// The review.
    pub id: ID,
    /// Why, for the audit log.
    pub reason: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeleteReviewPayload {
    /// The id of the deleted review (`restoreReview` takes it).
    pub deleted_id: ID,
    /// How many recommendations were withdrawn with it (their plans and history are kept).
    pub recommendations_deleted: i32,
}

#[derive(InputObject)]
pub struct RestoreReviewInput {
    /// The deleted review's id.
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct RestoreReviewPayload {
    /// The review, back with its CSPs and the recommendations the delete withdrew.
    pub review: Review,
}

#[derive(InputObject)]
pub struct MergeAgenciesInput {
    /// The agency that goes (slug, name or alias).
    pub from: String,
    /// The agency that stays (slug, name or alias).
    pub into: String,
}

#[derive(InputObject)]
pub struct AddAgencyAliasInput {
    /// The other name.
    pub alias: String,
    /// The agency (slug, name or alias).
    pub agency: String,
}

#[derive(SimpleObject)]
pub struct AgencyPayload {
    pub agency: Agency,
}

/// The role of an API key.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ApiRole {
    /// May read (when reads need a key).
    Reader,
    /// May write reviews and plans, within its scope.
    Editor,
    /// May also curate agencies: aliases, merges.
    Curator,
    /// May also delete and restore reviews, and manage keys; never scoped.
    Admin,
}

impl From<ApiRole> for Role {
    fn from(r: ApiRole) -> Self {
        match r {
            ApiRole::Reader => Role::Reader,
            ApiRole::Editor => Role::Editor,
            ApiRole::Curator => Role::Curator,
            ApiRole::Admin => Role::Admin,
        }
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// Who will hold it; recorded as the author of their changes.
    pub name: String,
    pub role: ApiRole,
    /// The organisation that holds it: a CSP or an agency, by slug or name. Its
    /// `externalRef`s are its own, and the organisation joins the key's scope.
    pub owner: Option<String>,
    /// CSPs (slugs or names) whose reviews the key may write, and whose reviews' plans it may
    /// update.
    #[graphql(default)]
    pub csps: Vec<String>,
    /// Agencies (slugs or names) whose plans the key may update: recommendations addressed
    /// to them or led by them.
    #[graphql(default)]
    pub agencies: Vec<String>,
    /// An editor or curator key that may write anywhere. An editor or curator key needs
    /// this or a scope.
    #[graphql(default)]
    pub national: bool,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub name: String,
    pub role: ApiRole,
    /// The key. Shown this once: only its hash is stored.
    pub key: String,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    pub name: String,
}

#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    pub name: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
}
