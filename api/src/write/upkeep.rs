//! Turns what a unit touched into the upkeep of everything derived from it, inside the
//! unit's transaction, in the order the derivations read each other: themes and mentions
//! from the texts (mentions skip addressed agencies, so after the links), the search index,
//! the DHRD link, then the aggregates (which count mentions), then the tombstones.
//! Recommendations the writer left to withdraw go first, once their similar-lists' readers
//! are known: their derived rows go, the rows themselves stay with their plans and history.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbErr};

use super::Touched;
use crate::events::Event;
use crate::sql::{in_list, statement};

/// Ids per `IN` list.
const IDS: usize = 500;
/// Texts per themes or mentions statement batch.
const TEXTS: usize = 1000;

/// What the commit leaves for after it.
pub struct Settled {
    pub events: Vec<Event>,
    /// Recommendations whose similarity must be rescored (new, changed or deleted).
    pub rescore: Vec<i32>,
    /// Recommendations that listed one of them: their lists are rescored.
    pub relist: Vec<i32>,
    pub rebuild_similarity: bool,
    pub linked: usize,
    pub ambiguous: Vec<String>,
}

pub async fn settle<C: ConnectionTrait>(db: &C, t: Touched) -> Result<Settled, DbErr> {
    let Touched {
        change,
        indexed,
        texts,
        rescore,
        removed,
        deleted_reviews,
        deleted_agencies,
        status_moves,
        linkable,
        events,
        audit,
        everything,
        created,
        fresh,
        in_hand,
    } = t;
    let now = chrono::Utc::now();
    let deleted: BTreeSet<i32> = deleted_reviews.keys().copied().collect();

    // Who lists a changed or deleted recommendation as similar, read before the deletes
    // take those rows with them: their lists are rescored too.
    let changed: Vec<i32> = rescore.iter().chain(&removed).copied().collect();
    let listed: Vec<i32> = changed
        .iter()
        .filter(|id| !fresh.contains(id))
        .copied()
        .collect();
    let relist = listers(db, &listed).await?;
    let gone: Vec<i32> = removed.iter().copied().collect();
    withdraw(db, &gone, &deleted, now).await?;

    let written: Vec<(i32, &str)> = texts.iter().map(|(id, t)| (*id, t.as_str())).collect();
    for chunk in written.chunks(TEXTS) {
        crate::ingest::themes::retag(db, chunk, &fresh).await?;
        crate::ingest::mentions::remention(db, chunk, &fresh).await?;
    }

    let unindexed: Vec<i32> = removed.iter().copied().collect();
    crate::search::remove(db, &unindexed, &deleted.iter().copied().collect::<Vec<_>>()).await?;
    // Created reviews whose text is in hand are indexed from it; the rest are read back.
    let mut read_back = indexed.clone();
    for (review, (text, ids)) in &in_hand {
        if !read_back.remove(review) {
            continue;
        }
        let recs: Vec<(i32, &str)> = ids
            .iter()
            .filter_map(|id| texts.get(id).map(|t| (*id, t.as_str())))
            .collect();
        crate::search::index_review(db, *review, text, &recs, &[], true).await?;
    }
    reindex(db, &read_back, &created).await?;

    let (linked, ambiguous) = if !everything && !linkable.is_empty() {
        let scope: Vec<i32> = linkable.difference(&deleted).copied().collect();
        crate::ingest::dhrd::link(db, Some(&scope)).await?
    } else {
        (0, Vec::new())
    };

    for (rec, review, from, to) in &status_moves {
        // A review declared as changing has its statuses recounted with the rest.
        if !change.covers(*review) {
            crate::graph::derived::status_moved(db, *rec, from, to).await?;
        }
    }
    if everything {
        crate::graph::derived::rebuild(db).await?;
    } else {
        change.finish(db, &deleted).await?;
    }

    for (review, (actor, reason)) in &deleted_reviews {
        tombstone(db, *review, actor, reason.as_deref(), now).await?;
    }
    delete_ids(
        db,
        "agency",
        &deleted_agencies.into_iter().collect::<Vec<_>>(),
    )
    .await?;

    write_audit(db, &audit, now).await?;
    crate::events::stage(db, &events).await?;
    Ok(Settled {
        events,
        rescore: changed,
        relist,
        rebuild_similarity: everything,
        linked,
        ambiguous,
    })
}

/// Rewrites the search rows of the reviews and of all their recommendations. Records of
/// the DHRD dataset are left out: they have no text of their own.
pub(super) async fn reindex<C: ConnectionTrait>(
    db: &C,
    reviews: &BTreeSet<i32>,
    created: &BTreeSet<i32>,
) -> Result<(), DbErr> {
    let ids: Vec<i32> = reviews.iter().copied().collect();
    let backend = db.get_database_backend();
    for chunk in ids.chunks(IDS) {
        let (list, values) = in_list(chunk);
        let mut recs: BTreeMap<i32, Vec<(i32, String)>> = BTreeMap::new();
        for row in db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT id, review_id, text FROM recommendation \
                     WHERE review_id IN ({list}) AND withdrawn_at IS NULL \
                     ORDER BY review_id, position"
                ),
                values.clone(),
            ))
            .await?
        {
            recs.entry(row.try_get("", "review_id")?)
                .or_default()
                .push((row.try_get("", "id")?, row.try_get("", "text")?));
        }
        for row in db
            .query_all_raw(statement(
                backend,
                &format!("SELECT id, title, summary, source_key FROM review WHERE id IN ({list})"),
                values,
            ))
            .await?
        {
            let key: String = row.try_get("", "source_key")?;
            if key.starts_with(crate::ingest::dhrd::KEY_PREFIX) {
                continue;
            }
            let id: i32 = row.try_get("", "id")?;
            let title: String = row.try_get("", "title")?;
            let summary: String = row.try_get("", "summary")?;
            let texts = recs.remove(&id).unwrap_or_default();
            let texts: Vec<(i32, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();
            let fresh = created.contains(&id);
            crate::search::index_review(
                db,
                id,
                &crate::search::review_text(&title, &summary),
                &texts,
                &[],
                fresh,
            )
            .await?;
        }
    }
    Ok(())
}

/// The recommendations whose stored similar list holds one of `ids` (other than `ids`).
async fn listers<C: ConnectionTrait>(db: &C, ids: &[i32]) -> Result<Vec<i32>, DbErr> {
    let mut out = BTreeSet::new();
    for chunk in ids.chunks(IDS) {
        let (list, values) = in_list(chunk);
        for row in db
            .query_all_raw(statement(
                db.get_database_backend(),
                &format!(
                    "SELECT DISTINCT recommendation_id FROM recommendation_similarity \
                     WHERE other_id IN ({list})"
                ),
                values,
            ))
            .await?
        {
            out.insert(row.try_get::<i32>("", "recommendation_id")?);
        }
    }
    for id in ids {
        out.remove(id);
    }
    Ok(out.into_iter().collect())
}

/// Withdraws recommendations: their derived rows go (links, themes, mentions, similarity
/// both ways), the rows stay with their plans and history, out of their review's order
/// (`position = -id`) unless the whole review is being deleted (a restore puts it back in
/// its order).
async fn withdraw<C: ConnectionTrait>(
    db: &C,
    ids: &[i32],
    deleted_reviews: &BTreeSet<i32>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for chunk in ids.chunks(IDS) {
        let (list, values) = in_list(chunk);
        for sql in [
            format!("DELETE FROM recommendation_agency WHERE recommendation_id IN ({list})"),
            format!("DELETE FROM recommendation_theme WHERE recommendation_id IN ({list})"),
            format!("DELETE FROM recommendation_mention WHERE recommendation_id IN ({list})"),
            format!("DELETE FROM recommendation_similarity WHERE recommendation_id IN ({list})"),
            format!("DELETE FROM recommendation_similarity WHERE other_id IN ({list})"),
        ] {
            db.execute_raw(statement(backend, &sql, values.clone()))
                .await?;
        }
        let mut stamped = vec![now.into()];
        stamped.extend(values.clone());
        db.execute_raw(statement(
            backend,
            &format!("UPDATE recommendation SET withdrawn_at = ? WHERE id IN ({list})"),
            stamped,
        ))
        .await?;
        let keep: Vec<i32> = deleted_reviews.iter().copied().collect();
        let mut args = values;
        let sql = if keep.is_empty() {
            format!(
                "UPDATE recommendation SET position = -id WHERE id IN ({list}) AND position > 0"
            )
        } else {
            let (kept, kept_values) = in_list(&keep);
            args.extend(kept_values);
            format!(
                "UPDATE recommendation SET position = -id WHERE id IN ({list}) AND position > 0 \
                 AND review_id NOT IN ({kept})"
            )
        };
        db.execute_raw(statement(backend, &sql, args)).await?;
    }
    Ok(())
}

/// Leaves a deleted review as a tombstone: who, when, why, and its CSPs' names (for a
/// restore); its CSP and DHRD links go, so that no read reaches it.
async fn tombstone<C: ConnectionTrait>(
    db: &C,
    review: i32,
    actor: &str,
    reason: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let csps: Vec<String> = db
        .query_all_raw(statement(
            backend,
            "SELECT c.name FROM review_csp rc JOIN csp c ON c.id = rc.csp_id \
             WHERE rc.review_id = ? ORDER BY rc.position",
            vec![review.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get("", "name"))
        .collect::<Result<_, _>>()?;
    db.execute_raw(statement(
        backend,
        "UPDATE review SET deleted_at = ?, deleted_by = ?, deleted_reason = ?, deleted_csps = ? \
         WHERE id = ?",
        vec![
            now.into(),
            actor.into(),
            reason.map(str::to_owned).into(),
            serde_json::to_string(&csps).unwrap_or_default().into(),
            review.into(),
        ],
    ))
    .await?;
    for table in ["review_csp", "review_incident"] {
        db.execute_raw(statement(
            backend,
            &format!("DELETE FROM {table} WHERE review_id = ?"),
            vec![review.into()],
        ))
        .await?;
    }
    Ok(())
}

async fn write_audit<C: ConnectionTrait>(
    db: &C,
    entries: &[super::touched::AuditEntry],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    use sea_orm::{EntityTrait, NotSet, Set};
    let rows: Vec<entity::audit_log::ActiveModel> = entries
        .iter()
        .map(|e| entity::audit_log::ActiveModel {
            id: NotSet,
            at: Set(now),
            actor: Set(e.actor.clone()),
            action: Set(e.action.to_owned()),
            subject_kind: Set(e.subject_kind.to_owned()),
            subject_id: Set(e.subject_id),
            detail: Set(e.detail.as_ref().map(|d| d.to_string())),
        })
        .collect();
    for chunk in rows.chunks(IDS) {
        entity::audit_log::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn delete_ids<C: ConnectionTrait>(db: &C, table: &str, ids: &[i32]) -> Result<(), DbErr> {
    for chunk in ids.chunks(IDS) {
        let (list, values) = in_list(chunk);
        db.execute_raw(statement(
            db.get_database_backend(),
            &format!("DELETE FROM {table} WHERE id IN ({list})"),
            values,
        ))
        .await?;
    }
    Ok(())
}
