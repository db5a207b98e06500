//! The full recompute the write path is checked against: every derived table as it would be
//! if derived afresh from the base tables, compared with what is stored. The recompute runs
//! in a transaction that is rolled back, so a check writes nothing.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::sql::statement;

/// Every difference between the stored derived data (aggregates, agency counts, themes,
/// mentions, the search index) and a full recompute, as readable lines; empty when they
/// agree. Similarity is not here: its upkeep follows with fixed weights by design (see
/// `similarity::index`), so it is measured against a rebuild, not compared row by row.
pub async fn verify(conn: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let mut problems = crate::graph::derived::verify(conn).await?;
    let txn = crate::db::begin_write(conn).await?;
    let texts: Vec<(i32, String)> = rows(
        &txn,
        "SELECT id, text FROM recommendation WHERE withdrawn_at IS NULL",
        |r| Ok((r.try_get("", "id")?, r.try_get("", "text")?)),
    )
    .await?;
    let texts: Vec<(i32, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();

    let themes = "SELECT recommendation_id, theme_id AS other, cue FROM recommendation_theme";
    let mentions = "SELECT recommendation_id, agency_id AS other, cue FROM recommendation_mention";
    let triple = |r: &sea_orm::QueryResult| {
        Ok(format!(
            "{} {} {}",
            r.try_get::<i32>("", "recommendation_id")?,
            r.try_get::<i32>("", "other")?,
            r.try_get::<String>("", "cue")?
        ))
    };
    let search = "SELECT kind, ref_id, body FROM search_index";
    let entry = |r: &sea_orm::QueryResult| {
        Ok(format!(
            "{} {} {}",
            r.try_get::<String>("", "kind")?,
            r.try_get::<i32>("", "ref_id")?,
            r.try_get::<String>("", "body")?
        ))
    };
    let stored_themes = rows(&txn, themes, triple).await?;
    let stored_mentions = rows(&txn, mentions, triple).await?;
    let stored_search = rows(&txn, search, entry).await?;

    for chunk in texts.chunks(1000) {
        crate::ingest::themes::retag(&txn, chunk, &Default::default()).await?;
        crate::ingest::mentions::remention(&txn, chunk, &Default::default()).await?;
    }
    txn.execute_raw(statement(
        txn.get_database_backend(),
        "DELETE FROM search_index",
        vec![],
    ))
    .await?;
    let reviews: BTreeSet<i32> = rows(
        &txn,
        "SELECT id FROM review WHERE deleted_at IS NULL",
        |r| r.try_get("", "id"),
    )
    .await?
    .into_iter()
    .collect();
    super::upkeep::reindex(&txn, &reviews, &Default::default()).await?;

    compare(
        &mut problems,
        "themes",
        stored_themes,
        rows(&txn, themes, triple).await?,
    );
    compare(
        &mut problems,
        "mentions",
        stored_mentions,
        rows(&txn, mentions, triple).await?,
    );
    compare(
        &mut problems,
        "search",
        stored_search,
        rows(&txn, search, entry).await?,
    );
    txn.rollback().await?;
    Ok(problems)
}

async fn rows<C: ConnectionTrait, T>(
    db: &C,
    sql: &str,
    read: impl Fn(&sea_orm::QueryResult) -> Result<T, DbErr>,
) -> Result<Vec<T>, DbErr> {
    db.query_all_raw(statement(db.get_database_backend(), sql, vec![]))
        .await?
        .iter()
        .map(read)
        .collect()
}

fn compare(problems: &mut Vec<String>, what: &str, stored: Vec<String>, fresh: Vec<String>) {
    let stored: BTreeSet<String> = stored.into_iter().collect();
    let fresh: BTreeSet<String> = fresh.into_iter().collect();
    for s in stored.difference(&fresh).take(20) {
        problems.push(format!("{what}: stored {s:?}, not in a recompute"));
    }
    for f in fresh.difference(&stored).take(20) {
        problems.push(format!("{what}: a recompute has {f:?}, not stored"));
    }
}
