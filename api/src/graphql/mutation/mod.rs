//! The `Mutation` root: writes from case-management systems and curators. Each mutation is
//! one transaction, takes an `input` and returns a payload; the role it needs is checked by a
//! guard before it runs, so a refused write writes nothing. The inputs and payloads are in
//! `inputs`, what an input must be in `validate`.

mod inputs;
mod validate;

pub use inputs::*;

use async_graphql::{Context, Object, Result};

use super::ids::{Kind, decode_as, encode};
use super::types::{ActionPlan, Agency, Csp, Recommendation, StatusEvent, review_by_id};
use crate::auth::{Role, RoleGuard, caller, keys};
use crate::db::Db;
use crate::error::ApiError;
use crate::ingest::StoreOptions;
use crate::plans::{self, PlanChange};
use validate::{MAX_NAME, bounded};

/// CSPs or agencies one key's scope may name: a region's worth, not a database's.
const MAX_SCOPE: usize = 200;

#[derive(Default)]
pub struct Mutation;

/// The schema's write path: every mutation writes through it.
/// The schema's write path, writing as the caller (the audit log's actor).
fn write_path(ctx: &Context<'_>) -> crate::write::WritePath {
    ctx.data_unchecked::<crate::write::WritePath>()
        .acting_as(caller(ctx).actor())
}

/// The agencies a write created, in id order.
async fn new_agencies(ctx: &Context<'_>, ids: &[i32]) -> Result<Vec<Agency>> {
    Ok(
        created::<entity::agency::Entity>(ctx, entity::agency::Column::Id, ids)
            .await?
            .into_iter()
            .map(Agency)
            .collect(),
    )
}

/// The CSPs a write created, in id order.
async fn new_csps(ctx: &Context<'_>, ids: &[i32]) -> Result<Vec<Csp>> {
    Ok(
        created::<entity::csp::Entity>(ctx, entity::csp::Column::Id, ids)
            .await?
            .into_iter()
            .map(Csp)
            .collect(),
    )
}

/// Rows by id, in id order; none asked, no statement.
async fn created<E: sea_orm::EntityTrait>(
    ctx: &Context<'_>,
    id: E::Column,
    ids: &[i32],
) -> Result<Vec<E::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let db = ctx.data_unchecked::<Db>();
    Ok(E::find()
        .filter(id.is_in(ids.to_vec()))
        .order_by_asc(id)
        .all(&db.conn)
        .await
        .map_err(ApiError::from)?)
}

/// Applies a plan change as the caller, tells subscribers, and answers with the plan.
async fn apply_plan(
    ctx: &Context<'_>,
    id: i32,
    expected_version: i32,
    change: PlanChange,
) -> Result<ActionPlanPayload> {
    let applied = plans::change_as(
        &write_path(ctx),
        id,
        expected_version,
        change,
        caller(ctx).actor(),
        &caller(ctx).scope(),
    )
    .await
    .map_err(ApiError::from)?;
    Ok(ActionPlanPayload {
        recommendation: Recommendation(applied.recommendation),
        action_plan: ActionPlan(applied.plan),
        event: StatusEvent(applied.event),
    })
}

/// Writes to the graph. Each needs an API key (`Authorization: Bearer KEY`): `editor` for
/// reviews and plans (inside the key's CSPs and agencies unless it is national), `curator`
/// for aliases and merges, `admin` for deletes, restores and keys.
#[Object]
impl Mutation {
    /// Ingests one review page in the DHR Library format, exactly as `dhr-graph ingest`
    /// does: a page that cannot be read is refused with `BAD_USER_INPUT` and its line.
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn ingest_review_page(
        &self,
        ctx: &Context<'_>,
        input: IngestReviewPageInput,
    ) -> Result<ReviewWritePayload> {
        if input.text.trim().is_empty() {
            return Err(ApiError::bad_input("input.text", "must not be empty").into());
        }
        let opts = StoreOptions {
            allow_withdraw: input.allow_withdraw,
            scope: caller(ctx).scope(),
        };
        let report = crate::ingest::ingest_text_with(&write_path(ctx), &input.text, &opts)
            .await
            .map_err(ApiError::from)?;
        let review_id = report.stored.review_id;
        let outcome = report.stored.outcome.into();
        let notes = report
            .notes
            .iter()
            .map(|n| format!("line {}: {}: {}", n.line, n.kind, n.excerpt))
            .collect();
        Ok(ReviewWritePayload {
            review: review_by_id(ctx, review_id).await?,
            outcome,
            notes,
            new_agencies: new_agencies(ctx, &report.stored.new_agencies).await?,
            new_csps: new_csps(ctx, &report.stored.new_csps).await?,
        })
    }

    /// Creates or updates the review identified by the caller's `externalRef`, with its
    /// CSPs and recommendations. Idempotent: the same input twice writes nothing the second
    /// time (`UNCHANGED`).
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn upsert_review(
        &self,
        ctx: &Context<'_>,
        input: UpsertReviewInput,
    ) -> Result<ReviewWritePayload> {
        let db = ctx.data_unchecked::<Db>();
        let opts = StoreOptions {
            allow_withdraw: input.allow_withdraw,
            scope: caller(ctx).scope(),
        };
        let mut page = validate::upsert_page(&db.conn, input).await?;
        // An organisation's references are its own: two systems that both number a review
        // "2024-017" write two reviews.
        if let (Some(owner), Some(r)) = (opts.scope.owner.as_ref(), page.external_ref.as_mut()) {
            *r = format!("{}{r}", owner.ref_prefix());
        }
        let report = crate::ingest::ingest_page_with(&write_path(ctx), page, &opts)
            .await
            .map_err(ApiError::from)?;
        let review_id = report.stored.review_id;
        let outcome = report.stored.outcome.into();
        Ok(ReviewWritePayload {
            review: review_by_id(ctx, review_id).await?,
            outcome,
            notes: Vec::new(),
            new_agencies: new_agencies(ctx, &report.stored.new_agencies).await?,
            new_csps: new_csps(ctx, &report.stored.new_csps).await?,
        })
    }

    /// Moves a recommendation's action plan to a new status, if it is still at
    /// `expectedVersion`; otherwise `CONFLICT` with `extensions.currentVersion`, and nothing
    /// is written. Appends one event to `statusHistory`.
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn set_recommendation_status(
        &self,
        ctx: &Context<'_>,
        input: SetRecommendationStatusInput,
    ) -> Result<ActionPlanPayload> {
        let (id, expected_version, change) = validate::status_change(input)?;
        apply_plan(ctx, id, expected_version, change).await
    }

    /// Changes the other fields of a recommendation's action plan (owner, action, dates,
    /// outcome, rating, sign-off), with the same version check and history as a status change.
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn update_recommendation(
        &self,
        ctx: &Context<'_>,
        input: UpdateRecommendationInput,
    ) -> Result<ActionPlanPayload> {
        let db = ctx.data_unchecked::<Db>();
        let (id, expected_version, change) = validate::update_change(&db.conn, input).await?;
        apply_plan(ctx, id, expected_version, change).await
    }

    /// Deletes a review. It leaves a tombstone (who, when, why) and disappears from every
    /// read; its recommendations are withdrawn with their plans and status history kept, and
    /// `restoreReview` brings it all back. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_review(
        &self,
        ctx: &Context<'_>,
        input: DeleteReviewInput,
    ) -> Result<DeleteReviewPayload> {
        let id = decode_as("input.id", &input.id, Kind::Review)?;
        let reason = input
            .reason
            .as_deref()
            .map(|r| bounded("input.reason", r, validate::MAX_TEXT))
            .transpose()?;
        let n = crate::curation::delete_review(&write_path(ctx), id, reason.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(DeleteReviewPayload {
            deleted_id: encode(Kind::Review, id),
            recommendations_deleted: n as i32,
        })
    }

    /// Restores a deleted review: its CSPs, and the recommendations the delete withdrew, with
    /// their plans and status history. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn restore_review(
        &self,
        ctx: &Context<'_>,
        input: RestoreReviewInput,
    ) -> Result<RestoreReviewPayload> {
        let id = decode_as("input.id", &input.id, Kind::Review)?;
        crate::curation::restore_review(&write_path(ctx), id)
            .await
            .map_err(ApiError::from)?;
        Ok(RestoreReviewPayload {
            review: review_by_id(ctx, id).await?,
        })
    }

    /// Merges one agency into another: every link moves, the old name stays as an alias,
    /// later ingests follow. Curators and admins.
    #[graphql(guard = "RoleGuard(Role::Curator)")]
    async fn merge_agencies(
        &self,
        ctx: &Context<'_>,
        input: MergeAgenciesInput,
    ) -> Result<AgencyPayload> {
        let merged = crate::curation::merge(&write_path(ctx), &input.from, &input.into)
            .await
            .map_err(ApiError::from)?;
        Ok(AgencyPayload {
            agency: Agency(merged),
        })
    }

    /// Adds another name of an agency; later ingests resolve it to the agency.
    #[graphql(guard = "RoleGuard(Role::Curator)")]
    async fn add_agency_alias(
        &self,
        ctx: &Context<'_>,
        input: AddAgencyAliasInput,
    ) -> Result<AgencyPayload> {
        let alias = bounded("input.alias", &input.alias, MAX_NAME)?;
        let agency = crate::curation::add_alias(&write_path(ctx), &alias, &input.agency)
            .await
            .map_err(ApiError::from)?;
        Ok(AgencyPayload {
            agency: Agency(agency),
        })
    }

    /// Creates an API key and returns it, once. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        for (field, list) in [
            ("input.csps", &input.csps),
            ("input.agencies", &input.agencies),
        ] {
            if list.len() > MAX_SCOPE {
                return Err(ApiError::bad_input(field, format!("more than {MAX_SCOPE}")).into());
            }
        }
        let spec = keys::KeySpec {
            name: input.name.clone(),
            role: Some(input.role.into()),
            owner: input.owner.clone(),
            csps: input.csps.clone(),
            agencies: input.agencies.clone(),
            national: input.national,
        };
        let key = keys::create(&write_path(ctx), &spec)
            .await
            .map_err(key_error)?;
        Ok(CreateApiKeyPayload {
            name: input.name.trim().to_owned(),
            role: input.role,
            key,
        })
    }

    /// Revokes an API key by name: it authenticates nobody from now on. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> Result<RevokeApiKeyPayload> {
        let key = keys::revoke(&write_path(ctx), &input.name)
            .await
            .map_err(key_error)?;
        Ok(RevokeApiKeyPayload {
            name: key.name,
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        })
    }
}

fn key_error(e: keys::KeyError) -> ApiError {
    match e {
        keys::KeyError::Db(d) => d.into(),
        keys::KeyError::NoKey(name) => ApiError::NotFound {
            what: format!("key {name:?}"),
        },
        other => ApiError::bad_input("input.name", other.to_string()),
    }
}
