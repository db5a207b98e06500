//! Writes a parsed page into the graph, inside a unit of work (`crate::write`): one page,
//! one unit, so a failure leaves nothing half-written. It writes base tables only; the unit
//! derives the rest.
//!
//! A review is identified by its source key; re-ingesting an unchanged page writes nothing,
//! a changed page updates its review in place. Recommendations are matched by position so
//! that their ids (and everything later attached to them) survive an update.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use entity::{
    agency, agency_alias, csp, csp_alias, recommendation, recommendation_agency, review, review_csp,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use sha2::{Digest, Sha256};

use super::identity::{StoredRow, match_rows};
use super::parse::ParsedPage;
use crate::auth::Scope;
use crate::domain::normalise::{name_key, slugify, tidy};
use crate::domain::{Method, Sector};
use crate::registry::resolve::{Resolution, ReviewContext, Spec, resolve};
use crate::write::Unit;

/// Bumped when parsing or storing changes meaning, so that a re-ingest re-applies pages.
const STORE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Added,
    Updated,
    Unchanged,
    /// The page is a listing merged into another review (`reviews merge`): nothing written.
    Merged,
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub review_id: i32,
    pub outcome: Outcome,
    pub incomplete: bool,
    pub recommendations: usize,
    /// Agencies created by this page, by id.
    pub new_agencies: Vec<i32>,
    /// CSPs created by this page (names no CSP and no register area had), by id.
    pub new_csps: Vec<i32>,
}

/// The identity of a page's review: the caller's reference, else its source URL, else CSP,
/// month and title.
pub fn source_key(page: &ParsedPage) -> String {
    if let Some(r) = &page.external_ref {
        return format!("ref:{r}");
    }
    match &page.source_url {
        Some(url) => format!("url:{}", url.trim_end_matches('/')),
        None => format!(
            "page:{}:{}:{}",
            slugify(&page.csps.join(" ")),
            page.published,
            slugify(&page.title)
        ),
    }
}

pub fn content_hash(page: &ParsedPage) -> String {
    let mut hasher = Sha256::new();
    hasher.update(STORE_VERSION.to_le_bytes());
    // A new taxonomy re-tags pages when they are ingested again.
    hasher.update(super::themes::taxonomy().version.to_le_bytes());
    hasher.update(super::mentions::mention_list().version.to_le_bytes());
    // A new registry re-resolves pages when they are ingested again.
    hasher.update(crate::registry::VERSION.as_bytes());
    hasher.update(super::curated::curated().version.to_le_bytes());
    // Serialising a plain struct of strings and numbers cannot fail.
    hasher.update(serde_json::to_vec(page).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a page is stored: who sends it, and whether it may withdraw recommendations that
/// carry a plan or history.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// A page without some of its review's recommendations withdraws them; when one has an
    /// action plan or status history, only with this set.
    pub allow_withdraw: bool,
    /// Where the writer may write: the CSPs of the page, and of the review it rewrites, must
    /// all be inside it.
    pub scope: Scope,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            allow_withdraw: false,
            scope: Scope::everywhere(),
        }
    }
}

/// A recommendation a page would withdraw although it carries a plan or history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub id: i32,
    pub label: String,
    pub status_events: i64,
}

/// Stores one page in the unit: adds its review, updates it in place, or finds it unchanged
/// or merged. Stages `ReviewAdded` for a new review.
pub async fn store_page(
    unit: &mut Unit,
    page: &ParsedPage,
    opts: &StoreOptions,
) -> Result<Stored, super::IngestError> {
    let key = source_key(page);
    let hash = content_hash(page);
    let db = unit.db();
    // Whether the key is a merged listing's, or a stored review's, in one look-up: a new page
    // (the usual case) is neither, and reads nothing more.
    let mut merged_into = None;
    let mut stored_id = None;
    for row in db
        .query_all_raw(crate::sql::statement(
            db.get_database_backend(),
            "SELECT 'A' AS kind, review_id AS id FROM review_alias WHERE source_key = ? \
             UNION ALL SELECT 'R', id FROM review WHERE source_key = ?",
            vec![key.as_str().into(), key.as_str().into()],
        ))
        .await?
    {
        let id: i32 = row.try_get("", "id")?;
        match row.try_get::<String>("", "kind")?.as_str() {
            "A" => merged_into = Some(id),
            _ => stored_id = Some(id),
        }
    }
    if let Some(review_id) = merged_into {
        return Ok(Stored {
            review_id,
            outcome: Outcome::Merged,
            incomplete: false,
            recommendations: 0,
            new_agencies: Vec::new(),
            new_csps: Vec::new(),
        });
    }
    let existing = match stored_id {
        Some(id) => review::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    if let Some(found) = &existing
        && found.deleted_at.is_some()
    {
        return Err(super::IngestError::Deleted {
            review_id: found.id,
        });
    }
    if !opts.scope.unlimited() {
        in_scope(unit.db(), &opts.scope, page, existing.as_ref()).await?;
    }
    if let Some(found) = &existing
        && found.content_hash == hash
    {
        return Ok(Stored {
            review_id: found.id,
            outcome: Outcome::Unchanged,
            incomplete: found.incomplete,
            recommendations: found.recommendation_count as usize,
            new_agencies: Vec::new(),
            new_csps: Vec::new(),
        });
    }
    if let Some(found) = &existing {
        unit.reviews_changing(&[found.id]).await?;
    }
    let before = existing.as_ref().map(review_fields);
    let written = write_page(unit.db(), page, key.clone(), hash, existing).await?;
    let id = written.stored.review_id;
    if !opts.allow_withdraw {
        // A page with fewer rows than it says it has is cut short: it withdraws nothing.
        let withheld = withheld(unit.db(), &written.gone, !page.incomplete).await?;
        if !withheld.is_empty() {
            return Err(super::IngestError::WouldWithdraw {
                review_id: id,
                withheld,
            });
        }
    }
    if written.stored.outcome == Outcome::Added {
        unit.review_created(id);
        unit.created_review_text(id, crate::search::review_text(&page.title, &page.summary));
        unit.stage(crate::events::Event::ReviewAdded { review_id: id });
        unit.log(
            "review.added",
            "review",
            id,
            Some(serde_json::json!({ "sourceKey": key, "recommendations": page.rows.len() })),
        );
    } else if let Some(before) = before {
        let after = page_fields(page);
        let changed: serde_json::Map<String, serde_json::Value> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let was: serde_json::Map<String, serde_json::Value> = changed
            .keys()
            .filter_map(|k| before.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        unit.log(
            "review.updated",
            "review",
            id,
            Some(serde_json::json!({ "before": was, "after": changed,
                "recommendations": page.rows.len(), "withdrawn": written.gone.len() })),
        );
    }
    for (rec, action, detail) in written.audit {
        unit.log(action, "recommendation", rec, Some(detail));
    }
    for rec in &written.gone {
        unit.log("recommendation.withdrawn", "recommendation", *rec, None);
    }
    unit.texts_written(id, written.texts, written.new_text, &written.gone);
    Ok(written.stored)
}

/// A stored review's own fields, as the audit log compares them.
fn review_fields(r: &review::Model) -> serde_json::Map<String, serde_json::Value> {
    let v = serde_json::json!({
        "title": r.title, "published": r.published, "yearOfDeath": r.year_of_death,
        "summary": r.summary, "sourceUrl": r.source_url, "reviewType": r.review_type,
    });
    v.as_object().cloned().unwrap_or_default()
}

/// A page's review fields, as [`review_fields`] names them.
fn page_fields(p: &ParsedPage) -> serde_json::Map<String, serde_json::Value> {
    let v = serde_json::json!({
        "title": p.title, "published": p.published.to_string(), "yearOfDeath": p.year_of_death,
        "summary": p.summary, "sourceUrl": p.source_url, "reviewType": p.review_type.code(),
    });
    v.as_object().cloned().unwrap_or_default()
}

/// Refuses a page whose CSPs, or whose stored review's CSPs, are not all in the scope.
async fn in_scope<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    page: &ParsedPage,
    existing: Option<&review::Model>,
) -> Result<(), super::IngestError> {
    for name in &page.csps {
        let inside = find_csp(db, name)
            .await?
            .is_some_and(|id| scope.csps.contains(&id));
        if !inside {
            return Err(super::IngestError::OutOfScope(format!(
                "CSP {name:?} is outside this key's scope"
            )));
        }
    }
    if let Some(found) = existing {
        let stored: Vec<i32> = review_csp::Entity::find()
            .filter(review_csp::Column::ReviewId.eq(found.id))
            .all(db)
            .await?
            .iter()
            .map(|l| l.csp_id)
            .collect();
        if stored.iter().any(|id| !scope.csps.contains(id)) {
            return Err(super::IngestError::OutOfScope(
                "the stored review belongs to a CSP outside this key's scope".into(),
            ));
        }
    }
    Ok(())
}

/// Those of `ids` the write would withdraw against the writer's will: with an action plan
/// or status history (`only_with_history`), or all of them; with their status event counts.
async fn withheld<C: ConnectionTrait>(
    db: &C,
    ids: &[i32],
    only_with_history: bool,
) -> Result<Vec<Withheld>, DbErr> {
    let history = if only_with_history {
        "AND (EXISTS (SELECT 1 FROM action_plan p WHERE p.recommendation_id = r.id) \
         OR EXISTS (SELECT 1 FROM status_event e WHERE e.recommendation_id = r.id))"
    } else {
        ""
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let (list, values) = crate::sql::in_list(chunk);
        for row in db
            .query_all_raw(crate::sql::statement(
                db.get_database_backend(),
                &format!(
                    "SELECT r.id, r.label, (SELECT COUNT(*) FROM status_event e \
                       WHERE e.recommendation_id = r.id) AS events \
                     FROM recommendation r WHERE r.id IN ({list}) {history} ORDER BY r.id"
                ),
                values,
            ))
            .await?
        {
            out.push(Withheld {
                id: row.try_get("", "id")?,
                label: row.try_get("", "label")?,
                status_events: row.try_get("", "events")?,
            });
        }
    }
    Ok(out)
}

/// Writes a stored review again from its own rows (a restore): its CSP links, addressee
/// links and everything derived from them, as an ingest of its page would.
pub async fn rewrite_review(
    unit: &mut Unit,
    review: &review::Model,
    csps: &[String],
    recs: &[recommendation::Model],
) -> Result<(), DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("review {}: stored {what} unreadable", review.id));
    if csps.is_empty() {
        return Err(bad("CSPs"));
    }
    if review.published.is_none() {
        // A DHRD record: no page and no recommendations, only its CSP links to put back.
        let links: Vec<review_csp::ActiveModel> = resolve_csps(unit.db(), csps)
            .await?
            .0
            .into_iter()
            .enumerate()
            .map(|(i, csp_id)| review_csp::ActiveModel {
                review_id: Set(review.id),
                csp_id: Set(csp_id),
                position: Set(i as i32 + 1),
            })
            .collect();
        review_csp::Entity::insert_many(links)
            .exec_without_returning(unit.db())
            .await?;
        return Ok(());
    }
    let ids: Vec<i32> = recs.iter().map(|r| r.id).collect();
    // Back in the review first, so that each row finds its own stored row.
    for chunk in ids.chunks(500) {
        let (list, values) = crate::sql::in_list(chunk);
        unit.db()
            .execute_raw(crate::sql::statement(
                unit.db().get_database_backend(),
                &format!("UPDATE recommendation SET withdrawn_at = NULL WHERE id IN ({list})"),
                values,
            ))
            .await?;
    }
    let page = ParsedPage {
        external_ref: None,
        source_url: review.source_url.clone(),
        title: review.title.clone(),
        review_type: review.review_type.parse().map_err(|_| bad("review type"))?,
        csps: csps.to_vec(),
        published: review
            .published
            .as_deref()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("month"))?,
        year_of_death: review.year_of_death,
        stated_count: review.stated_recommendation_count,
        summary: review.summary.clone(),
        rows: recs
            .iter()
            .map(|r| super::parse::ParsedRow {
                label: r.label.clone(),
                text: r.text.clone(),
                addressees: r
                    .addressed_to
                    .split(" | ")
                    .filter(|a| !a.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
                external_ref: r.external_ref.clone(),
                line: 0,
            })
            .collect(),
        incomplete: review.incomplete,
        notes: Vec::new(),
    };
    let written = write_page(
        unit.db(),
        &page,
        review.source_key.clone(),
        review.content_hash.clone(),
        Some(review.clone()),
    )
    .await?;
    // Every restored row is new to the derived tables.
    unit.texts_written(review.id, written.texts, ids, &written.gone);
    Ok(())
}

/// What [`write_page`] wrote, for the unit.
struct Written {
    stored: Stored,
    audit: Vec<(i32, &'static str, serde_json::Value)>,
    texts: Vec<(i32, String)>,
    new_text: Vec<i32>,
    gone: Vec<i32>,
}

/// The page's base rows: the review, its CSPs, its recommendations and their addressees.
async fn write_page<C: ConnectionTrait>(
    db: &C,
    page: &ParsedPage,
    key: String,
    hash: String,
    existing: Option<review::Model>,
) -> Result<Written, DbErr> {
    let now = Utc::now();
    let fields = review::ActiveModel {
        id: NotSet,
        source_key: Set(key),
        title: Set(page.title.clone()),
        published: Set(Some(page.published.to_string())),
        year_of_death: Set(page.year_of_death),
        summary: Set(page.summary.clone()),
        source_url: Set(page.source_url.clone()),
        stated_recommendation_count: Set(page.stated_count),
        recommendation_count: Set(page.rows.len() as i32),
        incomplete: Set(page.incomplete),
        review_type: Set(page.review_type.code().to_owned()),
        content_hash: Set(hash),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: NotSet,
        deleted_by: NotSet,
        deleted_reason: NotSet,
        deleted_csps: NotSet,
    };
    let (review_id, outcome) = match existing {
        Some(found) => {
            let mut update = fields;
            update.id = Set(found.id);
            update.created_at = NotSet;
            update.update(db).await?;
            (found.id, Outcome::Updated)
        }
        None => (fields.insert(db).await?.id, Outcome::Added),
    };

    let (csp_ids, new_csps) = resolve_csps(db, &page.csps).await?;
    if outcome == Outcome::Updated {
        review_csp::Entity::delete_many()
            .filter(review_csp::Column::ReviewId.eq(review_id))
            .exec(db)
            .await?;
    }
    let links: Vec<review_csp::ActiveModel> = csp_ids
        .iter()
        .enumerate()
        .map(|(i, csp_id)| review_csp::ActiveModel {
            review_id: Set(review_id),
            csp_id: Set(*csp_id),
            position: Set(i as i32 + 1),
        })
        .collect();
    review_csp::Entity::insert_many(links)
        .exec_without_returning(db)
        .await?;

    let upserted = upsert_recommendations(db, review_id, page, outcome == Outcome::Added).await?;
    let rec_ids = upserted.ids;

    // Relink addressees: old links go, new ones come (the write path recounts both ends).
    if outcome == Outcome::Updated && !rec_ids.is_empty() {
        recommendation_agency::Entity::delete_many()
            .filter(recommendation_agency::Column::RecommendationId.is_in(rec_ids.clone()))
            .exec(db)
            .await?;
    }
    let names: Vec<String> = page
        .rows
        .iter()
        .flat_map(|r| r.addressees.clone())
        .collect();
    let ctx = ReviewContext::new(
        &page.csps,
        std::iter::once(page.summary.as_str())
            .chain(page.rows.iter().map(|r| r.text.as_str()))
            .chain(
                page.rows
                    .iter()
                    .flat_map(|r| r.addressees.iter().map(String::as_str)),
            ),
    );
    let (agency_of, new_agencies) = resolve_agencies(db, &ctx, &names).await?;
    let mut new_links = Vec::new();
    for (row, rec_id) in page.rows.iter().zip(&rec_ids) {
        let mut seen = BTreeSet::new();
        for name in &row.addressees {
            let Some(link) = agency_of.get(&name_key(name)) else {
                continue;
            };
            if seen.insert(link.agency_id) {
                new_links.push(recommendation_agency::ActiveModel {
                    recommendation_id: Set(*rec_id),
                    agency_id: Set(link.agency_id),
                    position: Set(seen.len() as i32),
                    method: Set(link.method.code().to_owned()),
                    reason: Set(link.reason.clone()),
                });
            }
        }
    }
    recommendation_agency::Entity::insert_many(new_links)
        .exec_without_returning(db)
        .await?;
    let texts: Vec<(i32, String)> = rec_ids
        .iter()
        .copied()
        .zip(page.rows.iter().map(|r| r.text.clone()))
        .collect();
    Ok(Written {
        stored: Stored {
            review_id,
            outcome,
            incomplete: page.incomplete,
            recommendations: page.rows.len(),
            new_agencies,
            new_csps,
        },
        texts,
        new_text: upserted.new_text,
        gone: upserted.gone,
        audit: upserted.audit,
    })
}

/// What [`upsert_recommendations`] did.
struct Upserted {
    /// Ids in row order.
    ids: Vec<i32>,
    /// Ids whose text is new or changed, or that came back from withdrawal.
    new_text: Vec<i32>,
    /// Ids no row matched, for the unit to withdraw.
    gone: Vec<i32>,
    /// What changed in kept rows, for the audit log: `(id, action, detail)`.
    audit: Vec<(i32, &'static str, serde_json::Value)>,
}

/// Matches the page's rows to the review's stored recommendations (withdrawn ones too) by
/// identity ([`super::identity`]), updates the matched ones in place, inserts the rest, and
/// leaves the unmatched for the unit to withdraw.
async fn upsert_recommendations<C: ConnectionTrait>(
    db: &C,
    review_id: i32,
    page: &ParsedPage,
    new_review: bool,
) -> Result<Upserted, DbErr> {
    // A review just inserted has no recommendations to match.
    let mut existing = if new_review {
        Vec::new()
    } else {
        recommendation::Entity::find()
            .filter(recommendation::Column::ReviewId.eq(review_id))
            .order_by_asc(recommendation::Column::Position)
            .all(db)
            .await?
    };
    // Rows still in the review first, in printed order; then the withdrawn, oldest first.
    existing.sort_by_key(|r| (r.withdrawn_at.is_some(), r.withdrawn_at, r.position.abs()));
    let stored: Vec<StoredRow> = existing
        .iter()
        .map(|r| StoredRow {
            label: r.label.clone(),
            text: r.text.clone(),
            external_ref: r.external_ref.clone(),
            withdrawn: r.withdrawn_at.is_some(),
        })
        .collect();
    let matched = match_rows(&stored, &page.rows);
    let mut target: HashMap<usize, i32> = HashMap::new();
    for (r, m) in matched.iter().enumerate() {
        if let Some(i) = m {
            target.insert(*i, r as i32 + 1);
        }
    }
    // Positions are unique within a review: rows that move, or leave, step aside first.
    let stepping: Vec<i32> = existing
        .iter()
        .enumerate()
        .filter(|(i, r)| r.withdrawn_at.is_none() && target.get(i) != Some(&r.position))
        .map(|(_, r)| r.id)
        .collect();
    for chunk in stepping.chunks(500) {
        let (list, values) = crate::sql::in_list(chunk);
        db.execute_raw(crate::sql::statement(
            db.get_database_backend(),
            &format!("UPDATE recommendation SET position = -id WHERE id IN ({list})"),
            values,
        ))
        .await?;
    }

    let mut ids = Vec::with_capacity(page.rows.len());
    let mut new_text = Vec::new();
    let mut audit = Vec::new();
    let mut new_rows: Vec<recommendation::ActiveModel> = Vec::new();
    for (r, row) in page.rows.iter().enumerate() {
        let position = r as i32 + 1;
        let addressed_to = row.addressees.join(" | ");
        let external_ref = row.external_ref.clone();
        match matched[r].map(|i| &existing[i]) {
            Some(old) => {
                let came_back = old.withdrawn_at.is_some();
                let keeps_ref = external_ref.is_none() || external_ref == old.external_ref;
                if old.label != row.label
                    || old.text != row.text
                    || old.addressed_to != addressed_to
                    || old.position != position
                    || came_back
                    || !keeps_ref
                {
                    let mut update: recommendation::ActiveModel = old.clone().into();
                    update.label = Set(row.label.clone());
                    update.text = Set(row.text.clone());
                    update.addressed_to = Set(addressed_to);
                    update.position = Set(position);
                    update.withdrawn_at = Set(None);
                    if !keeps_ref {
                        update.external_ref = Set(external_ref);
                    }
                    update.update(db).await?;
                }
                if old.text != row.text || old.label != row.label {
                    audit.push((
                        old.id,
                        "recommendation.edited",
                        serde_json::json!({
                            "before": { "label": old.label, "text": old.text },
                            "after": { "label": row.label, "text": row.text },
                        }),
                    ));
                }
                if came_back {
                    audit.push((
                        old.id,
                        "recommendation.restored",
                        serde_json::json!({ "withdrawnAt": old.withdrawn_at.map(|t| t.to_rfc3339()) }),
                    ));
                }
                if old.text != row.text || came_back {
                    new_text.push(old.id);
                }
                ids.push(old.id);
            }
            None => {
                new_rows.push(recommendation::ActiveModel {
                    id: NotSet,
                    review_id: Set(review_id),
                    position: Set(position),
                    label: Set(row.label.clone()),
                    text: Set(row.text.clone()),
                    addressed_to: Set(addressed_to),
                    withdrawn_at: Set(None),
                    external_ref: Set(external_ref),
                });
                // Filled in below, once the rows exist.
                ids.push(0);
            }
        }
    }
    if !new_rows.is_empty() {
        // Matched back by position (unique within a review), since the order of RETURNING
        // rows is not promised by SQLite.
        let mut created: Vec<(i32, i32)> = Vec::with_capacity(new_rows.len());
        for chunk in new_rows.chunks(500) {
            for m in recommendation::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(db)
                .await?
            {
                created.push((m.position, m.id));
            }
        }
        for (position, id) in created {
            if let Some(slot) = ids.get_mut(position as usize - 1)
                && *slot == 0
            {
                *slot = id;
                new_text.push(id);
            }
        }
    }
    let gone: Vec<i32> = existing
        .iter()
        .enumerate()
        .filter(|(i, r)| r.withdrawn_at.is_none() && !target.contains_key(i))
        .map(|(_, r)| r.id)
        .collect();
    Ok(Upserted {
        ids,
        new_text,
        gone,
        audit,
    })
}

/// The CSP a name (or slug) stands for, if it exists; creates nothing.
pub async fn find_csp<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<i32>, DbErr> {
    let by_alias = |key: String| {
        csp_alias::Entity::find()
            .filter(csp_alias::Column::Key.eq(key))
            .one(db)
    };
    if let Some(alias) = by_alias(name_key(name)).await? {
        return Ok(Some(alias.csp_id));
    }
    if let Some(c) = csp::Entity::find()
        .filter(csp::Column::Slug.eq(name.trim().to_lowercase()))
        .one(db)
        .await?
    {
        return Ok(Some(c.id));
    }
    Ok(by_alias(name_key(&canonical_csp(name)))
        .await?
        .map(|a| a.csp_id))
}

/// The name a CSP is stored under: the curated CSP list first, then the registry's CSP areas
/// ("Safe and Sound (the Dudley Community Safety Partnership)" is the DHRD's "Dudley").
fn canonical_csp(name: &str) -> String {
    let from_registry = crate::registry::registry()
        .area(name)
        .map(|a| a.csp.clone());
    super::curated::canonical_csp(name)
        .map(str::to_owned)
        .or(from_registry)
        .unwrap_or_else(|| name.to_owned())
}

/// Finds or creates the CSPs a page names, in the page's order; and which of them it created.
pub async fn resolve_csps<C: ConnectionTrait>(
    db: &C,
    names: &[String],
) -> Result<(Vec<i32>, Vec<i32>), DbErr> {
    let mut ids = Vec::new();
    let mut created = Vec::new();
    for name in names {
        let (id, new) = find_or_create_csp(db, name).await?;
        if new {
            created.push(id);
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok((ids, created))
}

/// The CSP a name denotes: by alias, else by the curated list, else a new CSP.
pub async fn resolve_csp<C: ConnectionTrait>(db: &C, name: &str) -> Result<i32, DbErr> {
    Ok(find_or_create_csp(db, name).await?.0)
}

/// [`resolve_csp`], and whether it created the CSP.
async fn find_or_create_csp<C: ConnectionTrait>(db: &C, name: &str) -> Result<(i32, bool), DbErr> {
    let key = name_key(name);
    let by_alias = |key: String| {
        csp_alias::Entity::find()
            .filter(csp_alias::Column::Key.eq(key))
            .one(db)
    };
    if let Some(alias) = by_alias(key.clone()).await? {
        return Ok((alias.csp_id, false));
    }
    let canonical = canonical_csp(name);
    let canonical = canonical.as_str();
    let mut new = false;
    let csp_id = match by_alias(name_key(canonical)).await? {
        Some(alias) => alias.csp_id,
        None => {
            new = true;
            let slug = unique_slug(db, "csp", &slugify(canonical)).await?;
            let created = csp::ActiveModel {
                id: NotSet,
                slug: Set(slug),
                name: Set(tidy(canonical)),
                // The registers know the area's region; stored by the DHRD's name, as the
                // dataset import stores it, so that `reviews(filter: { region })` finds pages
                // of a CSP the dataset has not named.
                region: Set(crate::registry::registry()
                    .area(canonical)
                    .and_then(|a| a.region.as_deref())
                    .and_then(crate::registry::dhrd_region)
                    .map(str::to_owned)),
                nation: Set(None),
            }
            .insert(db)
            .await?;
            csp_alias::ActiveModel {
                id: NotSet,
                csp_id: Set(created.id),
                name: Set(tidy(canonical)),
                key: Set(name_key(canonical)),
            }
            .insert(db)
            .await?;
            created.id
        }
    };
    if name_key(canonical) != key {
        csp_alias::ActiveModel {
            id: NotSet,
            csp_id: Set(csp_id),
            name: Set(tidy(name)),
            key: Set(key),
        }
        .insert(db)
        .await?;
    }
    Ok((csp_id, new))
}

/// An alias a curator made (or moved by a merge): it wins over the registry.
pub const ORIGIN_CURATED: &str = "CURATED";
/// An alias ingest remembered for a name that resolves the same way in every review.
pub const ORIGIN_INGEST: &str = "INGEST";

/// The agency a printed name was linked to, and how it was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub agency_id: i32,
    pub method: Method,
    pub reason: String,
}

/// Maps each addressee's key to its agency and resolution, creating what is missing. In
/// order: a curator's alias wins; else the registry resolver (with the review's context)
/// names a register body, a council service, a curated-list entry, or a new agency of the
/// printed name whose sector comes from a rule or is `OTHER`.
/// Returns the map and the agencies it created.
///
/// Resolution is a lookup: two batched statements whatever the page's size (aliases by key,
/// agencies by register code, the latter only for codes no alias led to), then, per agency
/// the page creates, its slug, its row and its alias (and its relatives' links, where a
/// relative exists), as before the registry.
pub async fn resolve_agencies<C: ConnectionTrait>(
    db: &C,
    ctx: &ReviewContext,
    names: &[String],
) -> Result<(HashMap<String, Link>, Vec<i32>), DbErr> {
    let mut wanted: HashMap<String, String> = HashMap::new();
    for name in names {
        wanted.entry(name_key(name)).or_insert_with(|| tidy(name));
    }
    let mut found: HashMap<String, Link> = HashMap::new();
    if wanted.is_empty() {
        return Ok((found, Vec::new()));
    }
    let mut wanted: Vec<(String, String)> = wanted.into_iter().collect();
    wanted.sort();
    // The resolver is memory only: resolve first, so that one alias lookup also finds the
    // agencies an older database made for the register names (`claim`).
    let resolved: Vec<(String, String, Resolution, Spec)> = wanted
        .into_iter()
        .map(|(key, printed)| {
            let resolution = resolve(&printed, ctx);
            let spec = resolution.spec(&printed);
            (key, printed, resolution, spec)
        })
        .collect();
    let mut alias_keys: BTreeSet<String> = BTreeSet::new();
    for (key, _, resolution, spec) in &resolved {
        alias_keys.insert(key.clone());
        if spec.code.is_some() || is_local(resolution) {
            alias_keys.insert(name_key(&spec.name));
        }
    }
    let mut known: Known = HashMap::new();
    let mut aliases: HashMap<String, (agency_alias::Model, Option<agency::Model>)> = HashMap::new();
    for (alias, agency) in agency_alias::Entity::find()
        .filter(agency_alias::Column::Key.is_in(alias_keys))
        .find_also_related(agency::Entity)
        .all(db)
        .await?
    {
        if let Some(code) = agency.as_ref().and_then(|a| a.registry_code.clone()) {
            known.insert(code, alias.agency_id);
        }
        aliases.insert(alias.key.clone(), (alias, agency));
    }
    // The register codes this page's agencies and their relatives have, that no alias led
    // to: none, once a page's names have been seen and have no new relatives.
    let mut codes: Vec<String> = Vec::new();
    for (_, _, _, spec) in &resolved {
        codes.extend(spec.code.iter().cloned());
        codes.extend(relative_codes(spec));
    }
    load_known(db, &mut known, codes).await?;

    // New agencies are written together after the loop (one slug lookup, one insert, one
    // alias insert for the page), not three statements each: until then a name waits on its
    // place in `pending`, and a second name of the same register body waits on the same.
    let mut pending: Vec<Spec> = Vec::new();
    let mut pending_code: HashMap<String, usize> = HashMap::new();
    let mut decided = Vec::new();
    for (key, printed, resolution, spec) in resolved {
        if let Some((alias, agency)) = aliases.get(&key).cloned()
            && alias.origin == ORIGIN_CURATED
        {
            // Curated agencies the registry has not yet described (a database from before
            // it) keep their identity and gain the register's code, kind and scope, by the
            // agency's own name: the curator's alias may be one no register holds.
            if let Some(a) = agency.filter(|a| a.registry_code.is_none())
                && let Some(code) =
                    describe(db, a.id, &resolve(&a.name, ctx), &a.name, &mut known).await?
            {
                // Described once: no other body of the page claims it.
                for (_, other) in aliases.values_mut() {
                    if let Some(o) = other.as_mut().filter(|o| o.id == a.id) {
                        o.registry_code = Some(code.clone());
                    }
                }
            }
            found.insert(
                key,
                Link {
                    agency_id: alias.agency_id,
                    method: Method::Curated,
                    reason: format!("a curator's alias: {printed:?}"),
                },
            );
            continue;
        }
        // A generic name of one area is remembered under its area's name, never its own.
        let own_key = if is_local(&resolution) {
            name_key(&spec.name)
        } else {
            key.clone()
        };
        let alias = aliases.get(&own_key).map(|(a, _)| a.clone());
        let agency = match &spec.code {
            Some(code) => match (known.get(code), pending_code.get(code)) {
                (Some(id), _) => Found::Id(*id),
                (None, Some(i)) => Found::Pending(*i),
                (None, None) => {
                    match claim(
                        db,
                        &spec,
                        &key,
                        resolution.context_free,
                        &mut aliases,
                        &known,
                    )
                    .await?
                    {
                        Some(id) => {
                            known.insert(code.clone(), id);
                            Found::Id(id)
                        }
                        None => {
                            pending_code.insert(code.clone(), pending.len());
                            pending.push(spec.clone());
                            Found::Pending(pending.len() - 1)
                        }
                    }
                }
            },
            // A name no register holds is its own agency: the same printed key only.
            None => match &alias {
                Some(a) => {
                    // Only while the stored agency is still OTHER: once read, not again.
                    let stored_other = aliases
                        .get(&own_key)
                        .and_then(|(_, ag)| ag.as_ref())
                        .is_none_or(|ag| ag.sector == Sector::Other.code());
                    if spec.sector != Sector::Other && stored_other {
                        // An unknown name a rule now reads: its sector, unless curated.
                        agency::Entity::update_many()
                            .col_expr(
                                agency::Column::Sector,
                                sea_orm::sea_query::Expr::value(spec.sector.code()),
                            )
                            .col_expr(
                                agency::Column::Kind,
                                sea_orm::sea_query::Expr::value(spec.kind.code()),
                            )
                            .filter(agency::Column::Id.eq(a.agency_id))
                            .filter(agency::Column::Sector.eq(Sector::Other.code()))
                            .exec(db)
                            .await?;
                    }
                    Found::Id(a.agency_id)
                }
                None => {
                    pending.push(spec.clone());
                    Found::Pending(pending.len() - 1)
                }
            },
        };
        let remembered = is_local(&resolution).then(|| (own_key, spec.name.clone()));
        decided.push((key, printed, resolution, alias, agency, remembered));
    }

    let created = create_agencies(db, &pending, &mut known).await?;
    let mut new_aliases = Vec::new();
    for (key, printed, resolution, alias, agency, remembered) in decided {
        let agency_id = match agency {
            Found::Id(id) => id,
            Found::Pending(i) => created[i],
        };
        if let Some((own_key, name)) = remembered {
            if alias.is_none() {
                new_aliases.push(agency_alias::ActiveModel {
                    id: NotSet,
                    agency_id: Set(agency_id),
                    name: Set(name),
                    key: Set(own_key),
                    origin: Set(ORIGIN_INGEST.to_owned()),
                });
            }
        } else if resolution.context_free {
            match &alias {
                None => new_aliases.push(agency_alias::ActiveModel {
                    id: NotSet,
                    agency_id: Set(agency_id),
                    name: Set(printed.clone()),
                    key: Set(key.clone()),
                    origin: Set(ORIGIN_INGEST.to_owned()),
                }),
                // A remembered name the registry now reads differently follows the registry.
                Some(a) if a.agency_id != agency_id => {
                    let mut update: agency_alias::ActiveModel = a.clone().into();
                    update.agency_id = Set(agency_id);
                    update.update(db).await?;
                }
                Some(_) => {}
            }
        }
        found.insert(
            key,
            Link {
                agency_id,
                method: resolution.method,
                reason: resolution.reason,
            },
        );
    }
    if !new_aliases.is_empty() {
        agency_alias::Entity::insert_many(new_aliases)
            .exec_without_returning(db)
            .await?;
    }
    Ok((found, created))
}

/// Agency ids by register code, as far as a page needs them: its bodies and their relatives
/// that exist.
type Known = HashMap<String, i32>;

/// The codes of a body's parent, successor, children and predecessors.
fn relative_codes(spec: &Spec) -> Vec<String> {
    let Some(code) = &spec.code else {
        return Vec::new();
    };
    let mut out: Vec<String> = spec.parent_code.iter().cloned().collect();
    out.extend(spec.successor.iter().map(|(c, _)| c.clone()));
    let (children, predecessors) = crate::registry::resolve::relatives_of(code);
    out.extend(children);
    out.extend(predecessors.into_iter().map(|(c, _)| c));
    out
}

/// Adds to `known` the agencies of `codes` not yet in it, in batches.
async fn load_known<C: ConnectionTrait>(
    db: &C,
    known: &mut Known,
    codes: Vec<String>,
) -> Result<(), DbErr> {
    let mut missing: Vec<String> = codes
        .into_iter()
        .filter(|c| !known.contains_key(c))
        .collect();
    missing.sort();
    missing.dedup();
    for chunk in missing.chunks(500) {
        for (id, code) in agency::Entity::find()
            .select_only()
            .column(agency::Column::Id)
            .column(agency::Column::RegistryCode)
            .filter(agency::Column::RegistryCode.is_in(chunk.to_vec()))
            .into_tuple::<(i32, Option<String>)>()
            .all(db)
            .await?
        {
            if let Some(code) = code {
                known.insert(code, id);
            }
        }
    }
    Ok(())
}

/// Gives a curated agency the register's code, kind and scope when the name resolves the
/// same way in every review and no other agency holds that code; its name, sector and links
/// stay the curator's. Returns the code it gained.
async fn describe<C: ConnectionTrait>(
    db: &C,
    agency_id: i32,
    resolution: &Resolution,
    printed: &str,
    known: &mut Known,
) -> Result<Option<String>, DbErr> {
    let spec = resolution.spec(printed);
    let Some(code) = spec.code.clone().filter(|_| resolution.context_free) else {
        return Ok(None);
    };
    let mut codes = relative_codes(&spec);
    codes.push(code.clone());
    load_known(db, known, codes).await?;
    if known.contains_key(&code) {
        return Ok(None);
    }
    agency::Entity::update_many()
        .col_expr(
            agency::Column::RegistryCode,
            sea_orm::sea_query::Expr::value(code.clone()),
        )
        .col_expr(
            agency::Column::Kind,
            sea_orm::sea_query::Expr::value(spec.kind.code()),
        )
        .col_expr(
            agency::Column::Scope,
            sea_orm::sea_query::Expr::value(spec.scope.map(|s| s.code())),
        )
        .filter(agency::Column::Id.eq(agency_id))
        .filter(agency::Column::RegistryCode.is_null())
        .exec(db)
        .await?;
    known.insert(code.clone(), agency_id);
    link_relatives(db, agency_id, &spec, known, true).await?;
    Ok(Some(code))
}

/// An agency made before the registry knew its body (an older database, or the curated
/// list) becomes that body's agency instead of getting a twin: found by the register name's
/// key, or by the printed name when that names the body in every review. `aliases` holds
/// both keys' aliases (looked up with the page's).
async fn claim<C: ConnectionTrait>(
    db: &C,
    spec: &Spec,
    printed_key: &str,
    context_free: bool,
    aliases: &mut HashMap<String, (agency_alias::Model, Option<agency::Model>)>,
    known: &Known,
) -> Result<Option<i32>, DbErr> {
    let mut keys = vec![name_key(&spec.name)];
    if context_free {
        keys.push(printed_key.to_owned());
    }
    let Some(found) = keys
        .iter()
        .filter_map(|k| aliases.get(k))
        .filter_map(|(_, a)| a.clone())
        .find(|a| a.registry_code.is_none())
    else {
        return Ok(None);
    };
    let mut update: agency::ActiveModel = found.clone().into();
    update.registry_code = Set(spec.code.clone());
    update.kind = Set(spec.kind.code().to_owned());
    update.scope = Set(spec.scope.map(|s| s.code().to_owned()));
    // A curator's sector stays; an unknown one takes the register's.
    if found.sector == Sector::Other.code() {
        update.sector = Set(spec.sector.code().to_owned());
    }
    update.update(db).await?;
    // Claimed once: another body of the page does not take it too.
    for (_, a) in aliases.values_mut() {
        if let Some(a) = a.as_mut().filter(|a| a.id == found.id) {
            a.registry_code = spec.code.clone();
        }
    }
    link_relatives(db, found.id, spec, known, true).await?;
    Ok(Some(found.id))
}

/// A generic name resolved to an agency of the review's area only.
fn is_local(resolution: &Resolution) -> bool {
    matches!(
        resolution.target,
        crate::registry::resolve::Target::Local { .. }
    )
}

/// Where a page's name leads: an agency that exists, or one of those the page creates.
#[derive(Clone, Copy)]
enum Found {
    Id(i32),
    Pending(usize),
}

/// New agencies, in one slug lookup and one insert, then linked to their relatives that
/// exist (in `known`, which gains their codes), as if each had been made in turn: a body
/// and its parent both new on one page end up linked. Returns their ids in `specs` order.
async fn create_agencies<C: ConnectionTrait>(
    db: &C,
    specs: &[Spec],
    known: &mut Known,
) -> Result<Vec<i32>, DbErr> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let bases: Vec<String> = specs.iter().map(|s| slugify(&s.name)).collect();
    let slugs = unique_slugs(db, "agency", &bases).await?;
    let rows: Vec<agency::ActiveModel> = specs
        .iter()
        .zip(&slugs)
        .map(|(spec, slug)| {
            let (parent, successor) = own_relatives(spec, known);
            agency::ActiveModel {
                id: NotSet,
                slug: Set(slug.clone()),
                name: Set(spec.name.clone()),
                sector: Set(spec.sector.code().to_owned()),
                review_count: Set(0),
                recommendation_count: Set(0),
                kind: Set(spec.kind.code().to_owned()),
                registry_code: Set(spec.code.clone()),
                scope: Set(spec.scope.map(|s| s.code().to_owned())),
                parent_agency_id: Set(parent),
                successor_id: Set(successor),
                successor_year: Set(spec.successor.as_ref().and_then(|(_, y)| *y)),
            }
        })
        .collect();
    // Matched back by slug, which is unique: the order of RETURNING rows is not promised.
    // In chunks, for the engines' limits on bound values.
    let mut by_slug: HashMap<String, i32> = HashMap::new();
    for chunk in rows.chunks(500) {
        for a in agency::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(db)
            .await?
        {
            by_slug.insert(a.slug, a.id);
        }
    }
    let ids: Vec<i32> = slugs.iter().map(|s| by_slug[s]).collect();
    for (spec, id) in specs.iter().zip(&ids) {
        if let Some(code) = &spec.code {
            known.insert(code.clone(), *id);
        }
    }
    for (spec, id) in specs.iter().zip(&ids) {
        if spec.code.is_some() {
            link_relatives(db, *id, spec, known, false).await?;
        }
    }
    Ok(ids)
}

/// The ids of a body's parent and successor, where they exist.
fn own_relatives(spec: &Spec, known: &Known) -> (Option<i32>, Option<i32>) {
    (
        spec.parent_code
            .as_ref()
            .and_then(|c| known.get(c))
            .copied(),
        spec.successor
            .as_ref()
            .and_then(|(c, _)| known.get(c))
            .copied(),
    )
}

/// Points a registry agency at its parent and successor (`own`: when its row does not say
/// so already), and its children and predecessors at it, as far as those agencies exist: a
/// body is linked when it is first addressed, so no agency exists that no review names.
/// `known` holds every relative that exists.
async fn link_relatives<C: ConnectionTrait>(
    db: &C,
    id: i32,
    spec: &Spec,
    known: &Known,
    own: bool,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    let Some(code) = &spec.code else {
        return Ok(());
    };
    if own {
        let (parent, successor) = own_relatives(spec, known);
        agency::Entity::update_many()
            .col_expr(agency::Column::ParentAgencyId, Expr::value(parent))
            .col_expr(agency::Column::SuccessorId, Expr::value(successor))
            .col_expr(
                agency::Column::SuccessorYear,
                Expr::value(spec.successor.as_ref().and_then(|(_, y)| *y)),
            )
            .filter(agency::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    let (children, predecessors) = crate::registry::resolve::relatives_of(code);
    let children: Vec<i32> = children
        .iter()
        .filter_map(|c| known.get(c))
        .copied()
        .collect();
    if !children.is_empty() {
        agency::Entity::update_many()
            .col_expr(agency::Column::ParentAgencyId, Expr::value(id))
            .filter(agency::Column::Id.is_in(children))
            .exec(db)
            .await?;
    }
    for (code, year) in predecessors {
        if let Some(p) = known.get(&code) {
            agency::Entity::update_many()
                .col_expr(agency::Column::SuccessorId, Expr::value(id))
                .col_expr(agency::Column::SuccessorYear, Expr::value(year))
                .filter(agency::Column::Id.eq(*p))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// `base`, or `base-2`, `base-3`, ... whichever is free in `table`.
pub async fn unique_slug<C: ConnectionTrait>(
    db: &C,
    table: &str,
    base: &str,
) -> Result<String, DbErr> {
    Ok(unique_slugs(db, table, &[base.to_owned()]).await?.remove(0))
}

/// A free slug for each base, in one statement: `base`, else `base-2`, `base-3`, ...,
/// none of them taken in `table` or by an earlier base of the list.
pub async fn unique_slugs<C: ConnectionTrait>(
    db: &C,
    table: &str,
    bases: &[String],
) -> Result<Vec<String>, DbErr> {
    let distinct: Vec<&str> = bases
        .iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for chunk in distinct.chunks(500) {
        taken.extend(taken_slugs(db, table, chunk).await?);
    }
    let mut out = Vec::with_capacity(bases.len());
    for base in bases {
        let slug = if taken.contains(base.as_str()) {
            (2..)
                .map(|n| format!("{base}-{n}"))
                .find(|s| !taken.contains(s))
                .unwrap_or_else(|| base.clone())
        } else {
            base.clone()
        };
        taken.insert(slug.clone());
        out.push(slug);
    }
    Ok(out)
}

/// The slugs of `table` that are one of `bases` or a numbered form of one.
async fn taken_slugs<C: ConnectionTrait>(
    db: &C,
    table: &str,
    bases: &[&str],
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    // SQLite's LIKE ignores case, so it cannot use the slug index: every new agency scanned
    // the whole table (ingest slowed as the graph grew). A range on the index finds the
    // same slugs (they are lower-case ASCII, compared bytewise, and '.' follows '-'), and
    // unlike GLOB with a bound pattern it does not make SQLite prepare the statement again
    // for every new value.
    let mut conditions = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    for &base in bases {
        if backend == sea_orm::DbBackend::Sqlite {
            conditions.push("slug = ? OR (slug >= ? AND slug < ?)");
            values.extend([
                base.into(),
                format!("{base}-").into(),
                format!("{base}.").into(),
            ]);
        } else {
            conditions.push("slug = ? OR slug LIKE ?");
            values.extend([
                base.into(),
                format!("{}-%", base.replace(['%', '_'], "")).into(),
            ]);
        }
    }
    let sql = format!("SELECT slug FROM {table} WHERE {}", conditions.join(" OR "));
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            crate::sql::placeholders(backend, &sql),
            values,
        ))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "slug").ok())
        .collect())
}
