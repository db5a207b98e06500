//! The `Mutation` root: writes from case-management systems and curators. Each mutation is
//! one transaction, takes an `input` and returns a payload; the role it needs is checked by a
//! guard before it runs, so a refused write writes nothing.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use entity::agency;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::enums::{PlanStatus, Rag, ReviewType};
use super::ids::{Kind, decode_as, encode};
use super::loaders::ReviewById;
use super::plan_query::date;
use super::types::{ActionPlan, Agency, Recommendation, Review, StatusEvent, load};
use crate::auth::{Role, RoleGuard, caller, keys};
use crate::db::Db;
use crate::domain::YearMonth;
use crate::error::ApiError;
use crate::ingest::{IngestError, Outcome, ParsedPage, parse::ParsedRow};
use crate::plans::{self, PlanChange};

/// Bounds on what a caller may send: generous for real reviews, small enough that one
/// request cannot bloat the database.
const MAX_LABEL: usize = 20;
const MAX_NAME: usize = 300;
const MAX_TEXT: usize = 20_000;
const MAX_RECOMMENDATIONS: usize = 500;

#[derive(Default)]
pub struct Mutation;

/// What a write of a review did.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new review.
    Added,
    /// An existing review changed in place (recommendation ids kept by position).
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
}

/// A review written by a case-management system.
#[derive(InputObject)]
pub struct UpsertReviewInput {
    /// The caller's own identifier of the review: the same reference updates the same review,
    /// and the same call twice changes nothing.
    pub external_ref: String,
    pub title: String,
    /// The commissioning CSPs, lead first (names or slugs; new names create CSPs).
    pub csps: Vec<String>,
    /// Publication month, `YYYY-MM`; not in the future.
    pub published: String,
    pub year_of_death: Option<i32>,
    #[graphql(default)]
    pub summary: String,
    pub source_url: Option<String>,
    #[graphql(default_with = "ReviewType::Dhr")]
    pub review_type: ReviewType,
    /// The recommendations in printed order.
    pub recommendations: Vec<RecommendationInput>,
}

/// One recommendation of an upserted review.
#[derive(InputObject)]
pub struct RecommendationInput {
    /// The label as printed ("5.1").
    pub label: String,
    pub text: String,
    /// Slugs of the agencies it is addressed to (as in `agency(slug:)`).
    pub agencies: Vec<String>,
}

/// What a review write did.
#[derive(SimpleObject)]
pub struct ReviewWritePayload {
    pub review: Review,
    pub outcome: WriteOutcome,
    /// Rows cut short or not fully understood (ingested pages only).
    pub notes: Vec<String>,
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
}

#[derive(SimpleObject)]
pub struct DeleteReviewPayload {
    /// The id the review had.
    pub deleted_id: ID,
    /// How many recommendations went with it (with their plans and history).
    pub recommendations_deleted: i32,
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
    /// May write reviews, plans and aliases.
    Editor,
    /// May also merge, delete and manage keys.
    Admin,
}

impl From<ApiRole> for Role {
    fn from(r: ApiRole) -> Self {
        match r {
            ApiRole::Reader => Role::Reader,
            ApiRole::Editor => Role::Editor,
            ApiRole::Admin => Role::Admin,
        }
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// Who will hold it; recorded as the author of their changes.
    pub name: String,
    pub role: ApiRole,
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

fn bounded(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn optional(
    field: &str,
    value: MaybeUndefined<String>,
    max: usize,
) -> Result<Option<Option<String>>, ApiError> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(bounded(field, &v, max)?)),
    })
}

fn optional_date(
    field: &str,
    value: MaybeUndefined<String>,
) -> Result<Option<Option<String>>, ApiError> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(date(field, &v)?)),
    })
}

async fn review_of(ctx: &Context<'_>, id: i32) -> Result<Review> {
    load::<ReviewById, _>(ctx, id)
        .await?
        .map(Review)
        .ok_or_else(|| {
            ApiError::NotFound {
                what: "review".into(),
            }
            .into()
        })
}

/// The schema's write path: every mutation writes through it.
fn write_path<'c>(ctx: &Context<'c>) -> &'c crate::write::WritePath {
    ctx.data_unchecked::<crate::write::WritePath>()
}

fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Parse(p) => ApiError::BadPage {
            line: p.line,
            reason: p.reason,
        },
        IngestError::Db(d) => d.into(),
    }
}

/// Applies a plan change as the caller, tells subscribers, and answers with the plan.
async fn apply_plan(
    ctx: &Context<'_>,
    id: i32,
    expected_version: i32,
    change: PlanChange,
) -> Result<ActionPlanPayload> {
    let applied = plans::change(
        write_path(ctx),
        id,
        expected_version,
        change,
        caller(ctx).actor(),
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
/// reviews, plans and aliases, `admin` for merges, deletes and keys.
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
        let report = crate::ingest::ingest_text(write_path(ctx), &input.text)
            .await
            .map_err(ingest_error)?;
        let review_id = report.stored.review_id;
        let outcome = report.stored.outcome.into();
        let notes = report
            .notes
            .iter()
            .map(|n| format!("line {}: {}: {}", n.line, n.kind, n.excerpt))
            .collect();
        Ok(ReviewWritePayload {
            review: review_of(ctx, review_id).await?,
            outcome,
            notes,
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
        let external_ref = bounded("input.externalRef", &input.external_ref, 200)?;
        let title = bounded("input.title", &input.title, MAX_NAME)?;
        if input.csps.is_empty() {
            return Err(ApiError::bad_input("input.csps", "name at least one CSP").into());
        }
        let csps = input
            .csps
            .iter()
            .enumerate()
            .map(|(i, c)| bounded(&format!("input.csps[{i}]"), c, MAX_NAME))
            .collect::<Result<Vec<_>, _>>()?;
        let published: YearMonth =
            input
                .published
                .parse()
                .map_err(|e: crate::domain::month::BadMonth| {
                    ApiError::bad_input("input.published", e.to_string())
                })?;
        let now = chrono::Utc::now().format("%Y-%m").to_string();
        if published.to_string() > now {
            return Err(ApiError::bad_input("input.published", "is in the future").into());
        }
        if input.summary.chars().count() > MAX_TEXT {
            return Err(ApiError::bad_input(
                "input.summary",
                format!("longer than {MAX_TEXT} characters"),
            )
            .into());
        }
        if input.recommendations.len() > MAX_RECOMMENDATIONS {
            return Err(ApiError::bad_input(
                "input.recommendations",
                format!("more than {MAX_RECOMMENDATIONS}"),
            )
            .into());
        }
        let slugs: Vec<String> = input
            .recommendations
            .iter()
            .flat_map(|r| r.agencies.iter().map(|a| a.trim().to_lowercase()))
            .collect();
        let known: std::collections::HashMap<String, String> = agency::Entity::find()
            .filter(agency::Column::Slug.is_in(slugs))
            .all(&db.conn)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|a| (a.slug, a.name))
            .collect();
        let mut rows = Vec::with_capacity(input.recommendations.len());
        for (i, r) in input.recommendations.iter().enumerate() {
            let field = |f: &str| format!("input.recommendations[{i}].{f}");
            let mut addressees = Vec::new();
            for (j, slug) in r.agencies.iter().enumerate() {
                let name = known.get(&slug.trim().to_lowercase()).ok_or_else(|| {
                    ApiError::bad_input(
                        format!("input.recommendations[{i}].agencies[{j}]"),
                        format!("no agency with slug {slug:?}"),
                    )
                })?;
                addressees.push(name.clone());
            }
            rows.push(ParsedRow {
                label: bounded(&field("label"), &r.label, MAX_LABEL)?,
                text: bounded(&field("text"), &r.text, MAX_TEXT)?,
                addressees,
                line: 0,
            });
        }
        let page = ParsedPage {
            external_ref: Some(external_ref),
            source_url: input
                .source_url
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            title,
            review_type: input.review_type.into(),
            csps,
            published,
            year_of_death: input.year_of_death,
            stated_count: Some(rows.len() as i32),
            summary: input.summary.trim().to_owned(),
            rows,
            incomplete: false,
            notes: Vec::new(),
        };
        let report = crate::ingest::ingest_page(write_path(ctx), page)
            .await
            .map_err(ingest_error)?;
        let review_id = report.stored.review_id;
        let outcome = report.stored.outcome.into();
        Ok(ReviewWritePayload {
            review: review_of(ctx, review_id).await?,
            outcome,
            notes: Vec::new(),
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
        let id = decode_as("input.id", &input.id, Kind::Recommendation)?;
        let change = PlanChange {
            status: Some(input.status.into()),
            completion_date: input
                .completion_date
                .map(|d| date("input.completionDate", &d).map(Some))
                .transpose()?,
            note: input
                .note
                .map(|n| bounded("input.note", &n, MAX_TEXT))
                .transpose()?,
            ..Default::default()
        };
        apply_plan(ctx, id, input.expected_version, change).await
    }

    /// Changes the other fields of a recommendation's action plan (owner, action, dates,
    /// outcome, rating, sign-off), with the same version check and history as a status change.
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn update_recommendation(
        &self,
        ctx: &Context<'_>,
        input: UpdateRecommendationInput,
    ) -> Result<ActionPlanPayload> {
        let id = decode_as("input.id", &input.id, Kind::Recommendation)?;
        let db = ctx.data_unchecked::<Db>();
        let lead_agency = match input.lead_agency {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(slug) => {
                let found = agency::Entity::find()
                    .filter(agency::Column::Slug.eq(slug.trim().to_lowercase()))
                    .one(&db.conn)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or_else(|| {
                        ApiError::bad_input(
                            "input.leadAgency",
                            format!("no agency with slug {slug:?}"),
                        )
                    })?;
                Some(Some((found.id, found.slug)))
            }
        };
        let change = PlanChange {
            status: None,
            lead_agency,
            action: optional("input.action", input.action, MAX_TEXT)?,
            target_date: optional_date("input.targetDate", input.target_date)?,
            completion_date: optional_date("input.completionDate", input.completion_date)?,
            outcome_note: optional("input.outcomeNote", input.outcome_note, MAX_TEXT)?,
            rag: match input.rag {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(r) => Some(Some(r.into())),
            },
            sign_off_body: optional("input.signOffBody", input.sign_off_body, MAX_NAME)?,
            note: input
                .note
                .map(|n| bounded("input.note", &n, MAX_TEXT))
                .transpose()?,
        };
        apply_plan(ctx, id, input.expected_version, change).await
    }

    /// Deletes a review with its recommendations, their plans and history. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_review(
        &self,
        ctx: &Context<'_>,
        input: DeleteReviewInput,
    ) -> Result<DeleteReviewPayload> {
        let id = decode_as("input.id", &input.id, Kind::Review)?;
        let n = crate::curation::delete_review(write_path(ctx), id)
            .await
            .map_err(ApiError::from)?;
        Ok(DeleteReviewPayload {
            deleted_id: encode(Kind::Review, id),
            recommendations_deleted: n as i32,
        })
    }

    /// Merges one agency into another: every link moves, the old name stays as an alias,
    /// later ingests follow. Admin only.
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn merge_agencies(
        &self,
        ctx: &Context<'_>,
        input: MergeAgenciesInput,
    ) -> Result<AgencyPayload> {
        let merged = crate::curation::merge(write_path(ctx), &input.from, &input.into)
            .await
            .map_err(ApiError::from)?;
        Ok(AgencyPayload {
            agency: Agency(merged),
        })
    }

    /// Adds another name of an agency; later ingests resolve it to the agency.
    #[graphql(guard = "RoleGuard(Role::Editor)")]
    async fn add_agency_alias(
        &self,
        ctx: &Context<'_>,
        input: AddAgencyAliasInput,
    ) -> Result<AgencyPayload> {
        let alias = bounded("input.alias", &input.alias, MAX_NAME)?;
        let agency = crate::curation::add_alias(write_path(ctx), &alias, &input.agency)
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
        let db = ctx.data_unchecked::<Db>();
        let key = keys::create(&db.conn, &input.name, input.role.into())
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
        let db = ctx.data_unchecked::<Db>();
        let key = keys::revoke(&db.conn, &input.name)
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
