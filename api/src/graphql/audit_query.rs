//! The audit log, for admins: every write, who made it and what it changed.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::audit_log;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::ids::{Kind, decode, encode};
use super::page::{Conn, CursorValue, PageArgs, SortKey, keyset_page};
use crate::auth::{Role, RoleGuard};
use crate::db::Db;
use crate::error::ApiError;

#[derive(Default)]
pub struct AuditQuery;

/// One write, as the audit log keeps it. Append-only: no write removes an entry.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// The entry's number, in the order written.
    pub sequence: i32,
    /// When (RFC 3339).
    pub at: String,
    /// The API key's name, or `cli` for the command line.
    pub actor: String,
    /// What happened, as `kind.verb`: `review.added`, `review.updated`, `review.deleted`,
    /// `review.restored`, `review.merged`, `recommendation.edited`, `recommendation.withdrawn`,
    /// `recommendation.restored`, `plan.changed`, `agency.merged`, `agency.alias_added`,
    /// `agency.alias_confirmed`, `agency.sector_set`, `key.created`, `key.revoked`,
    /// `dhrd.imported`, `graph.imported`.
    pub action: String,
    /// `review`, `recommendation`, `agency`, `key` or `graph`.
    pub subject_kind: String,
    /// The global id of the review, recommendation or agency (it may no longer exist: an
    /// agency merged away); null for keys and whole-graph writes.
    pub subject: Option<ID>,
    /// Before and after of what changed, as a JSON object.
    pub detail: Option<String>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(m: audit_log::Model) -> Self {
        let kind = match m.subject_kind.as_str() {
            "review" => Some(Kind::Review),
            "recommendation" => Some(Kind::Recommendation),
            "agency" => Some(Kind::Agency),
            _ => None,
        };
        AuditEntry {
            sequence: m.id,
            at: m.at.to_rfc3339(),
            actor: m.actor,
            action: m.action,
            subject: kind.map(|k| encode(k, m.subject_id)),
            subject_kind: m.subject_kind,
            detail: m.detail,
        }
    }
}

/// Which entries of the audit log.
#[derive(InputObject, Default)]
pub struct AuditFilter {
    /// Entries made with this key (its name), or `cli`.
    pub actor: Option<String>,
    /// Entries of this action (`plan.changed`), or of every action of a kind (`review.`).
    pub action: Option<String>,
    /// Entries about this review, recommendation or agency.
    pub subject: Option<ID>,
    /// Entries at or after this instant (RFC 3339).
    pub since: Option<String>,
}

#[Object]
impl AuditQuery {
    /// The audit log, newest first. Admin only.
    #[graphql(
        guard = "RoleGuard(Role::Admin)",
        complexity = "crate::graphql::page::page_cost(first, None, child_complexity)"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilter>,
        after: Option<String>,
        first: Option<i32>,
    ) -> Result<Conn<AuditEntry>> {
        let db = ctx.data_unchecked::<Db>();
        let window = PageArgs::new(after, None, first, None).window(1)?;
        let f = filter.unwrap_or_default();
        let mut select = audit_log::Entity::find();
        if let Some(actor) = f.actor {
            select = select.filter(audit_log::Column::Actor.eq(actor.trim()));
        }
        if let Some(action) = f.action {
            let action = action.trim();
            select = if action.ends_with('.') {
                select.filter(audit_log::Column::Action.starts_with(action))
            } else {
                select.filter(audit_log::Column::Action.eq(action))
            };
        }
        if let Some(subject) = f.subject {
            let (kind, id) = decode("filter.subject", &subject)?;
            let kind = match kind {
                Kind::Review => "review",
                Kind::Recommendation => "recommendation",
                Kind::Agency => "agency",
                _ => {
                    return Err(ApiError::bad_input(
                        "filter.subject",
                        "the audit log names reviews, recommendations and agencies",
                    )
                    .into());
                }
            };
            select = select
                .filter(audit_log::Column::SubjectKind.eq(kind))
                .filter(audit_log::Column::SubjectId.eq(id));
        }
        if let Some(since) = f.since {
            let at = chrono::DateTime::parse_from_rfc3339(since.trim()).map_err(|e| {
                ApiError::bad_input("filter.since", format!("not an RFC 3339 instant: {e}"))
            })?;
            select = select.filter(audit_log::Column::At.gte(at.with_timezone(&chrono::Utc)));
        }
        let page = keyset_page(
            &db.conn,
            select,
            &[SortKey::column(audit_log::Column::Id, true)],
            &window,
            |m: &audit_log::Model| vec![CursorValue::from(m.id)],
        )
        .await?;
        Ok(page.into_connection(AuditEntry::from))
    }
}
