//! A recommendation's action plan and its history.

use async_graphql::{Context, Object, Result};
use entity::{action_plan, status_event};

use super::{Agency, load};
use crate::graphql::enums::{PlanStatus, Rag};
use crate::graphql::loaders::AgencyById;

/// What is being done about a recommendation, as DHR action plans record it. A
/// recommendation nobody has written a plan for is `NOT_STARTED` at version 0.
pub struct ActionPlan(pub action_plan::Model);

/// What is being done about a recommendation, as DHR action plans record it.
#[Object]
impl ActionPlan {
    /// Where the plan stands.
    async fn status(&self) -> PlanStatus {
        PlanStatus::from_code(&self.0.status)
    }

    /// The agency that owns the action.
    async fn lead_agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self.0.lead_agency_id {
            Some(id) => Ok(load::<AgencyById, _>(ctx, id).await?.map(Agency)),
            None => Ok(None),
        }
    }

    /// The action agreed.
    async fn action(&self) -> Option<&str> {
        self.0.action.as_deref()
    }

    /// When the action is due, `YYYY-MM-DD`.
    async fn target_date(&self) -> Option<&str> {
        self.0.target_date.as_deref()
    }

    /// When it was completed, `YYYY-MM-DD`.
    async fn completion_date(&self) -> Option<&str> {
        self.0.completion_date.as_deref()
    }

    /// What came of it.
    async fn outcome_note(&self) -> Option<&str> {
        self.0.outcome_note.as_deref()
    }

    /// Red, amber or green.
    async fn rag(&self) -> Option<Rag> {
        self.0
            .rag
            .as_deref()
            .and_then(|r| r.parse::<crate::domain::Rag>().ok())
            .map(Into::into)
    }

    /// The body that signs the action off (a CSP board, a DHR assurance group).
    async fn sign_off_body(&self) -> Option<&str> {
        self.0.sign_off_body.as_deref()
    }

    /// Bumped by every change. Send it back as `expectedVersion` when changing the plan: a
    /// change made meanwhile by someone else is then reported (`CONFLICT`), never overwritten.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the plan last changed (RFC 3339); null before the first change.
    async fn updated_at(&self) -> Option<String> {
        (self.0.version > 0).then(|| self.0.updated_at.to_rfc3339())
    }

    /// Who made the last change (the name of their API key); null before the first change.
    async fn updated_by(&self) -> Option<&str> {
        (self.0.version > 0).then_some(self.0.updated_by.as_str())
    }
}

/// One change to an action plan. History is append-only: events are never edited.
pub struct StatusEvent(pub status_event::Model);

/// One change to an action plan. History is append-only: events are never edited.
#[Object]
impl StatusEvent {
    /// The plan version this change produced.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Who made it: the name of the API key.
    async fn by(&self) -> &str {
        &self.0.actor
    }

    /// When (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }

    /// The status before.
    async fn from(&self) -> PlanStatus {
        PlanStatus::from_code(&self.0.from_status)
    }

    /// The status after (the same as `from` when only other fields changed).
    async fn to(&self) -> PlanStatus {
        PlanStatus::from_code(&self.0.to_status)
    }

    /// Why, as the writer put it.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// The other fields this change set, as a JSON object of their new values
    /// (`{"targetDate":"2026-03-31"}`); null when only the status changed.
    async fn changes(&self) -> Option<&str> {
        self.0.changes.as_deref()
    }
}
