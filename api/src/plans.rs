//! Action plans: each change is one unit of work (`crate::write`), checked against the version its writer read
//! (optimistic concurrency), and appended to the recommendation's history.

use std::collections::BTreeMap;

use entity::{action_plan, recommendation, status_event};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, NotSet,
    QueryFilter, Set, SqlErr,
};
use serde_json::json;

use crate::auth::Scope;
use crate::domain::{PlanStatus, Rag};
use crate::events::{Event, StatusChange};
use crate::sql::statement;
use crate::write::{Unit, WritePath};

/// What a writer changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct PlanChange {
    pub status: Option<PlanStatus>,
    /// The lead agency's id and slug (the slug is what the history records).
    pub lead_agency: Option<Option<(i32, String)>>,
    pub action: Option<Option<String>>,
    /// `YYYY-MM-DD`, validated by the caller.
    pub target_date: Option<Option<String>>,
    pub completion_date: Option<Option<String>>,
    pub outcome_note: Option<Option<String>>,
    pub rag: Option<Option<Rag>>,
    pub sign_off_body: Option<Option<String>>,
    /// Why, recorded in the history only.
    pub note: Option<String>,
}

/// A change that landed: the plan as it now stands, the history event, and the event for
/// subscribers (staged in the same transaction).
pub struct Applied {
    /// The status before the change.
    pub from_status: String,
    /// The recommendation, as read in the change's transaction.
    pub recommendation: recommendation::Model,
    pub plan: action_plan::Model,
    pub event: status_event::Model,
    pub published: Vec<Event>,
}

/// The plan of a recommendation that nobody has written yet.
pub fn unstarted(recommendation_id: i32) -> action_plan::Model {
    action_plan::Model {
        recommendation_id,
        status: PlanStatus::NotStarted.code().to_owned(),
        lead_agency_id: None,
        action: None,
        target_date: None,
        completion_date: None,
        outcome_note: None,
        rag: None,
        sign_off_body: None,
        version: 0,
        updated_at: chrono::DateTime::UNIX_EPOCH,
        updated_by: String::new(),
    }
}

/// Why a plan change did not land.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no recommendation")]
    NoRecommendation,
    #[error("the recommendation is withdrawn from its review; its plan is kept as it was")]
    Withdrawn,
    #[error(
        "the recommendation is outside this key's scope (neither a review of its CSPs nor \
         addressed to or led by its agencies)"
    )]
    OutOfScope,
    #[error("the plan is at version {current}, not {expected}")]
    Conflict { current: i32, expected: i32 },
    #[error(
        "nothing to change: the plan already has this status and these values (send a note \
         to record that it was looked at)"
    )]
    NothingToChange,
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl crate::write::WriteError for PlanError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            PlanError::Db(e) => Some(e),
            _ => None,
        }
    }
}

fn conflict_from(e: DbErr, expected: i32) -> PlanError {
    match e.sql_err() {
        // Another writer landed the same version first; its number is read after rollback.
        Some(SqlErr::UniqueConstraintViolation(_)) => PlanError::Conflict {
            current: expected + 1,
            expected,
        },
        _ => e.into(),
    }
}

/// Applies `change` to the plan of `recommendation_id` if it is still at `expected_version`.
pub async fn change(
    path: &WritePath,
    recommendation_id: i32,
    expected_version: i32,
    change: PlanChange,
    actor: &str,
) -> Result<Applied, PlanError> {
    let everywhere = Scope::everywhere();
    change_as(
        path,
        recommendation_id,
        expected_version,
        change,
        actor,
        &everywhere,
    )
    .await
}

/// As [`change`], for a writer limited to `scope`: the recommendation's review must be of one
/// of its CSPs, or the recommendation addressed to or led by one of its agencies.
pub async fn change_as(
    path: &WritePath,
    recommendation_id: i32,
    expected_version: i32,
    change: PlanChange,
    actor: &str,
    scope: &Scope,
) -> Result<Applied, PlanError> {
    let result = path
        .run(&(change, actor, scope), |unit, (change, actor, scope)| {
            Box::pin(change_in(
                unit,
                recommendation_id,
                expected_version,
                change.clone(),
                actor,
                scope,
            ))
        })
        .await;
    match result {
        Err(PlanError::Conflict { expected, .. }) => {
            // The version that won, read after the loser's transaction is gone.
            let current = action_plan::Entity::find_by_id(recommendation_id)
                .one(path.conn())
                .await?
                .map_or(0, |p| p.version);
            Err(PlanError::Conflict { current, expected })
        }
        other => other,
    }
}

/// [`change`] inside a unit of work.
pub async fn change_in(
    unit: &mut Unit,
    recommendation_id: i32,
    expected: i32,
    change: PlanChange,
    actor: &str,
    scope: &Scope,
) -> Result<Applied, PlanError> {
    if !scope.unlimited() && !plan_in_scope(unit.db(), recommendation_id, scope).await? {
        return Err(PlanError::OutOfScope);
    }
    let applied = apply(unit.db(), recommendation_id, expected, change, actor).await?;
    unit.status_moved(
        applied.recommendation.id,
        applied.recommendation.review_id,
        &applied.from_status,
        &applied.plan.status,
    );
    for e in &applied.published {
        unit.stage(e.clone());
    }
    let changes: Option<serde_json::Value> = applied
        .event
        .changes
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    unit.log(
        "plan.changed",
        "recommendation",
        applied.recommendation.id,
        Some(
            json!({ "version": applied.plan.version, "before": { "status": applied.from_status },
            "after": { "status": applied.plan.status }, "changes": changes, "by": actor }),
        ),
    );
    Ok(applied)
}

/// Whether a scoped writer may change the recommendation's plan.
async fn plan_in_scope<C: ConnectionTrait>(
    db: &C,
    recommendation_id: i32,
    scope: &Scope,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            "SELECT 'csp' AS kind, rc.csp_id AS ref_id FROM recommendation r \
               JOIN review_csp rc ON rc.review_id = r.review_id WHERE r.id = ? \
             UNION SELECT 'agency', ra.agency_id FROM recommendation_agency ra \
               WHERE ra.recommendation_id = ? \
             UNION SELECT 'agency', ap.lead_agency_id FROM action_plan ap \
               WHERE ap.recommendation_id = ? AND ap.lead_agency_id IS NOT NULL",
            vec![recommendation_id.into(); 3],
        ))
        .await?;
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let id: i32 = row.try_get("", "ref_id")?;
        let inside = if kind == "csp" {
            scope.csps.contains(&id)
        } else {
            scope.agencies.contains(&id)
        };
        if inside {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn apply<C: ConnectionTrait>(
    txn: &C,
    recommendation_id: i32,
    expected: i32,
    change: PlanChange,
    actor: &str,
) -> Result<Applied, PlanError> {
    // First, so that a rewrite of the same review (which recounts its statuses) and this
    // change apply one after the other on PostgreSQL.
    crate::graph::derived::lock_review_of(txn, recommendation_id).await?;
    let rec = recommendation::Entity::find_by_id(recommendation_id)
        .one(txn)
        .await?
        .ok_or(PlanError::NoRecommendation)?;
    // Its plan and history are kept as they were when it left its review: a board reads
    // them, nobody moves them on.
    if rec.withdrawn_at.is_some() {
        return Err(PlanError::Withdrawn);
    }
    let current = action_plan::Entity::find_by_id(rec.id).one(txn).await?;
    let existed = current.is_some();
    let before = current.unwrap_or_else(|| unstarted(rec.id));
    if before.version != expected {
        return Err(PlanError::Conflict {
            current: before.version,
            expected,
        });
    }
    let mut after = before.clone();
    let mut changes = BTreeMap::new();
    macro_rules! patch {
        ($field:ident, $name:literal, $value:expr) => {
            if let Some(v) = $value {
                if after.$field != v {
                    changes.insert($name, json!(v));
                    after.$field = v;
                }
            }
        };
    }
    let status_given = change.status.is_some();
    if let Some(s) = change.status {
        after.status = s.code().to_owned();
    }
    if let Some(lead) = change.lead_agency {
        let id = lead.as_ref().map(|l| l.0);
        if after.lead_agency_id != id {
            changes.insert("leadAgency", json!(lead.map(|l| l.1)));
            after.lead_agency_id = id;
        }
    }
    patch!(action, "action", change.action);
    patch!(target_date, "targetDate", change.target_date);
    patch!(completion_date, "completionDate", change.completion_date);
    patch!(outcome_note, "outcomeNote", change.outcome_note);
    patch!(
        rag,
        "rag",
        change.rag.map(|r| r.map(|r| r.code().to_owned()))
    );
    patch!(sign_off_body, "signOffBody", change.sign_off_body);
    // A status "change" to the status it has, that changes nothing and says nothing, would
    // only pad the history a board reads. (A plan update re-sent unchanged by a
    // case-management system stays accepted: those systems re-send what they hold.)
    if status_given
        && after.status == before.status
        && changes.is_empty()
        && change.note.as_deref().is_none_or(|n| n.trim().is_empty())
    {
        return Err(PlanError::NothingToChange);
    }
    after.version = expected + 1;
    after.updated_at = chrono::Utc::now();
    after.updated_by = actor.to_owned();

    if existed {
        // The version in the WHERE clause is what makes a racing writer lose on PostgreSQL:
        // it waits for the winner's row lock, then finds the version moved on.
        let done = action_plan::Entity::update_many()
            .col_expr(
                action_plan::Column::Status,
                Expr::value(after.status.clone()),
            )
            .col_expr(
                action_plan::Column::LeadAgencyId,
                Expr::value(after.lead_agency_id),
            )
            .col_expr(
                action_plan::Column::Action,
                Expr::value(after.action.clone()),
            )
            .col_expr(
                action_plan::Column::TargetDate,
                Expr::value(after.target_date.clone()),
            )
            .col_expr(
                action_plan::Column::CompletionDate,
                Expr::value(after.completion_date.clone()),
            )
            .col_expr(
                action_plan::Column::OutcomeNote,
                Expr::value(after.outcome_note.clone()),
            )
            .col_expr(action_plan::Column::Rag, Expr::value(after.rag.clone()))
            .col_expr(
                action_plan::Column::SignOffBody,
                Expr::value(after.sign_off_body.clone()),
            )
            .col_expr(action_plan::Column::Version, Expr::value(after.version))
            .col_expr(
                action_plan::Column::UpdatedAt,
                Expr::value(after.updated_at),
            )
            .col_expr(
                action_plan::Column::UpdatedBy,
                Expr::value(after.updated_by.clone()),
            )
            .filter(action_plan::Column::RecommendationId.eq(rec.id))
            .filter(action_plan::Column::Version.eq(expected))
            .exec(txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(PlanError::Conflict {
                current: expected + 1,
                expected,
            });
        }
    } else {
        // Every column written (a plain conversion would mark them unchanged).
        action_plan::ActiveModel::from(after.clone())
            .reset_all()
            .insert(txn)
            .await
            .map_err(|e| conflict_from(e, expected))?;
    }
    let event = status_event::ActiveModel {
        id: NotSet,
        recommendation_id: Set(rec.id),
        version: Set(after.version),
        actor: Set(actor.to_owned()),
        at: Set(after.updated_at),
        from_status: Set(before.status.clone()),
        to_status: Set(after.status.clone()),
        note: Set(change.note.clone()),
        changes: Set((!changes.is_empty()).then(|| json!(changes).to_string())),
    };
    let event = event
        .insert(txn)
        .await
        .map_err(|e| conflict_from(e, expected))?;
    let (agencies, csps) = slugs_of(txn, rec.id, rec.review_id).await?;
    let published = vec![Event::StatusChanged(StatusChange {
        event_id: event.id,
        recommendation_id: rec.id,
        from_status: event.from_status.clone(),
        to_status: event.to_status.clone(),
        version: event.version,
        actor: event.actor.clone(),
        at: event.at.to_rfc3339(),
        note: event.note.clone(),
        agencies,
        csps,
    })];
    Ok(Applied {
        from_status: before.status,
        recommendation: rec,
        plan: after,
        event,
        published,
    })
}

/// Slugs of the agencies a recommendation is addressed to and of its review's CSPs.
async fn slugs_of<C: ConnectionTrait>(
    db: &C,
    recommendation_id: i32,
    review_id: i32,
) -> Result<(Vec<String>, Vec<String>), DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            "SELECT 'a' AS kind, a.slug FROM recommendation_agency ra JOIN agency a ON a.id = ra.agency_id \
             WHERE ra.recommendation_id = ? \
             UNION ALL SELECT 'c' AS kind, c.slug FROM review_csp rc JOIN csp c ON c.id = rc.csp_id \
             WHERE rc.review_id = ?",
            vec![recommendation_id.into(), review_id.into()],
        ))
        .await?;
    let (mut agencies, mut csps) = (Vec::new(), Vec::new());
    for row in rows {
        let slug: String = row.try_get("", "slug")?;
        if row.try_get::<String>("", "kind")? == "a" {
            agencies.push(slug);
        } else {
            csps.push(slug);
        }
    }
    Ok((agencies, csps))
}

/// How plans are grouped in [`stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsBy {
    /// The agencies a recommendation is addressed to.
    Agency,
    Csp,
    Sector,
    /// The region of the review's CSPs, counted live (ten buckets, not kept by writes): a
    /// recommendation counts once per region however many of its CSPs are there.
    Region,
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct StatusCount {
    /// The agency id or CSP id (as text) or the sector code.
    pub bucket: String,
    pub status: String,
    pub n: i64,
}

/// Recommendations per status per agency, CSP or sector (no plan counts as not started),
/// read from the counts every write keeps (`graph::derived`). A recommendation addressed to
/// two police forces counts once for POLICE.
pub async fn stats<C: ConnectionTrait>(db: &C, by: StatsBy) -> Result<Vec<StatusCount>, DbErr> {
    let kind = match by {
        StatsBy::Agency => "AGENCY",
        StatsBy::Csp => "CSP",
        StatsBy::Sector => "SECTOR",
        StatsBy::Region => {
            return db
                .query_all_raw(statement(
                    db.get_database_backend(),
                    // Each review's regions once, then its recommendations: no DISTINCT
                    // over every recommendation.
                    "SELECT rr.region AS bucket, COALESCE(ap.status, 'NOT_STARTED') AS status, \
                       CAST(COUNT(*) AS BIGINT) AS n \
                     FROM (SELECT DISTINCT rc.review_id, COALESCE(c.region, '') AS region \
                       FROM review_csp rc JOIN csp c ON c.id = rc.csp_id) rr \
                     JOIN recommendation rec ON rec.review_id = rr.review_id \
                     LEFT JOIN action_plan ap ON ap.recommendation_id = rec.id \
                     WHERE rec.withdrawn_at IS NULL \
                     GROUP BY rr.region, COALESCE(ap.status, 'NOT_STARTED') ORDER BY 1, 2",
                    vec![],
                ))
                .await?
                .iter()
                .map(|r| StatusCount::from_query_result(r, ""))
                .collect();
        }
    };
    db.query_all_raw(statement(
        db.get_database_backend(),
        "SELECT bucket, status, CAST(n AS BIGINT) AS n FROM plan_stat \
         WHERE kind = ? AND n <> 0 ORDER BY bucket, status",
        vec![kind.into()],
    ))
    .await?
    .iter()
    .map(|r| StatusCount::from_query_result(r, ""))
    .collect()
}

/// Recommendations whose target date is before `as_of` and that are neither implemented nor
/// closed (nor rejected: a plan not accepted has nothing left to do), earliest target first.
pub async fn overdue<C: ConnectionTrait>(
    db: &C,
    as_of: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<recommendation::Model>, u64), DbErr> {
    let backend = db.get_database_backend();
    let from = "FROM recommendation rec JOIN action_plan ap ON ap.recommendation_id = rec.id \
                WHERE ap.target_date < ? AND ap.status IN ('NOT_STARTED', 'IN_PROGRESS') \
                AND rec.withdrawn_at IS NULL";
    let rows = db
        .query_all_raw(statement(
            backend,
            &format!("SELECT rec.* {from} ORDER BY ap.target_date, rec.id LIMIT ? OFFSET ?"),
            vec![as_of.into(), (limit as i64).into(), (offset as i64).into()],
        ))
        .await?
        .iter()
        .map(|r| recommendation::Model::from_query_result(r, ""))
        .collect::<Result<Vec<_>, _>>()?;
    let total = db
        .query_one_raw(statement(
            backend,
            &format!("SELECT COUNT(*) AS n {from}"),
            vec![as_of.into()],
        ))
        .await?
        .map_or(Ok(0), |r| r.try_get::<i64>("", "n"))?;
    Ok((rows, total.max(0) as u64))
}
