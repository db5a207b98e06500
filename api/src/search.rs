//! Full-text search over recommendation texts and review summaries, through the database's
//! own engine (SQLite FTS5 ranked by BM25, PostgreSQL `tsvector` ranked by `ts_rank` normalised by length).
//!
//! The index is kept in step by the write path (`write::upkeep`). Its key encodes what a row is
//! (`2 * id` for a recommendation, `2 * id + 1` for a review), so replacing a review's rows
//! is a lookup by key, never a scan.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use crate::sql::{in_list, statement};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitKind {
    Recommendation,
    Review,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub kind: HitKind,
    pub ref_id: i32,
    /// Higher is more relevant; comparable within one result list only.
    pub score: f64,
}

fn rec_key(id: i32) -> i64 {
    i64::from(id) * 2
}

fn review_key(id: i32) -> i64 {
    i64::from(id) * 2 + 1
}

fn key_col(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "rowid",
        _ => "id",
    }
}

/// The searchable text of a review's own row: its title and summary.
pub fn review_text(title: &str, summary: &str) -> String {
    format!("{title}\n{summary}")
}

/// Replaces the index rows of one review and its recommendations; `gone` are recommendation
/// ids that no longer exist; a `fresh` review (created by this unit) has no rows to replace.
pub async fn index_review<C: ConnectionTrait>(
    db: &C,
    review_id: i32,
    review_text: &str,
    recs: &[(i32, &str)],
    gone: &[i32],
    fresh: bool,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let key = key_col(backend);
    let mut keys: Vec<i64> = recs.iter().map(|r| rec_key(r.0)).collect();
    keys.extend(gone.iter().map(|g| rec_key(*g)));
    keys.push(review_key(review_id));
    if fresh {
        keys.clear();
    }
    for chunk in keys.chunks(500) {
        let (list, values) = in_list(chunk);
        db.execute_raw(statement(
            backend,
            &format!("DELETE FROM search_index WHERE {key} IN ({list})"),
            values,
        ))
        .await?;
    }
    let mut rows: Vec<(i64, &str, i32, &str)> = recs
        .iter()
        .map(|(id, text)| (rec_key(*id), "R", *id, *text))
        .collect();
    rows.push((review_key(review_id), "V", review_id, review_text));
    for chunk in rows.chunks(200) {
        let placeholders = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let values: Vec<Value> = chunk
            .iter()
            .flat_map(|(k, kind, id, body)| {
                [
                    Value::from(*k),
                    Value::from(*kind),
                    Value::from(*id),
                    Value::from(*body),
                ]
            })
            .collect();
        db.execute_raw(statement(
            backend,
            &format!("INSERT INTO search_index ({key}, kind, ref_id, body) VALUES {placeholders}"),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Removes the index rows of the given recommendations and reviews.
pub async fn remove<C: ConnectionTrait>(
    db: &C,
    recs: &[i32],
    reviews: &[i32],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let keys: Vec<i64> = recs
        .iter()
        .map(|r| rec_key(*r))
        .chain(reviews.iter().map(|r| review_key(*r)))
        .collect();
    for chunk in keys.chunks(500) {
        let (list, values) = in_list(chunk);
        db.execute_raw(statement(
            backend,
            &format!(
                "DELETE FROM search_index WHERE {} IN ({list})",
                key_col(backend)
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// The words of a query, lower-cased; operators and punctuation are not passed to the engine,
/// so no input can make its query syntax fail.
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= 40)
        .map(str::to_lowercase)
        .collect();
    out.dedup();
    out.truncate(20);
    out
}

/// (the WHERE-and-rank SQL pieces, the match value) per engine: any term may match, and
/// documents matching more terms, more often, rank first.
fn matcher(backend: DbBackend, terms: &[String]) -> (&'static str, &'static str, String) {
    match backend {
        DbBackend::Sqlite => (
            "FROM search_index WHERE search_index MATCH ?",
            "-bm25(search_index)",
            terms
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(" OR "),
        ),
        _ => (
            "FROM search_index, to_tsquery('english', ?) q WHERE tsv @@ q",
            "CAST(ts_rank(tsv, q, 1) AS DOUBLE PRECISION)",
            terms.join(" | "),
        ),
    }
}

/// A page of hits, most relevant first (ties by key, so pages are stable).
pub async fn search<C: ConnectionTrait>(
    db: &C,
    terms: &[String],
    offset: u64,
    limit: u64,
) -> Result<Vec<Hit>, DbErr> {
    let backend = db.get_database_backend();
    let (from, score, value) = matcher(backend, terms);
    let key = key_col(backend);
    let sql = format!(
        "SELECT kind, ref_id, {score} AS score {from} ORDER BY score DESC, {key} LIMIT ? OFFSET ?"
    );
    let rows = db
        .query_all_raw(statement(
            backend,
            &sql,
            vec![value.into(), (limit as i64).into(), (offset as i64).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("", "kind")?;
            Ok(Hit {
                kind: if kind.trim() == "V" {
                    HitKind::Review
                } else {
                    HitKind::Recommendation
                },
                ref_id: row.try_get("", "ref_id")?,
                score: row.try_get("", "score")?,
            })
        })
        .collect()
}

/// How many documents match.
pub async fn count<C: ConnectionTrait>(db: &C, terms: &[String]) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let (from, _, value) = matcher(backend, terms);
    let row = db
        .query_one_raw(statement(
            backend,
            &format!("SELECT COUNT(*) AS n {from}"),
            vec![value.into()],
        ))
        .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))?.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_syntax() {
        assert_eq!(
            terms("routine \"enquiry\" OR) NEAR(*"),
            vec!["routine", "enquiry", "or", "near"]
        );
        assert!(terms("  ***  ").is_empty());
    }
}
