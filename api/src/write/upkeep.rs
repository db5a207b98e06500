//! Turns what a unit touched into the upkeep of everything derived from it, inside the
//! unit's transaction, in the order the derivations read each other: themes and mentions
//! from the texts (mentions skip addressed agencies, so after the links), the search index,
//! the DHRD link, then the aggregates (which count mentions), then the deferred deletes.
//! Recommendations the writer left to delete go first, once their similar-lists' readers
//! are known (the delete cascades to those rows).

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
        everything,
    } = t;

    // Who lists a changed or deleted recommendation as similar, read before the deletes
    // take those rows with them: their lists are rescored too.
    let changed: Vec<i32> = rescore.iter().chain(&removed).copied().collect();
    let relist = listers(db, &changed).await?;
    let gone: Vec<i32> = removed.iter().copied().collect();
    delete_ids(db, "recommendation", &gone).await?;

    let written: Vec<(i32, &str)> = texts.iter().map(|(id, t)| (*id, t.as_str())).collect();
    for chunk in written.chunks(TEXTS) {
        crate::ingest::themes::retag(db, chunk).await?;
        crate::ingest::mentions::remention(db, chunk).await?;
    }

    let unindexed: Vec<i32> = removed.iter().copied().collect();
    crate::search::remove(
        db,
        &unindexed,
        &deleted_reviews.iter().copied().collect::<Vec<_>>(),
    )
    .await?;
    reindex(db, &indexed).await?;

    let (linked, ambiguous) = if !everything && !linkable.is_empty() {
        let scope: Vec<i32> = linkable.difference(&deleted_reviews).copied().collect();
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
        change.finish(db, &deleted_reviews).await?;
    }

    delete_ids(
        db,
        "review",
        &deleted_reviews.into_iter().collect::<Vec<_>>(),
    )
    .await?;
    delete_ids(
        db,
        "agency",
        &deleted_agencies.into_iter().collect::<Vec<_>>(),
    )
    .await?;

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
                     WHERE review_id IN ({list}) ORDER BY review_id, position"
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
            crate::search::index_review(db, id, &format!("{title}\n{summary}"), &texts, &[])
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
