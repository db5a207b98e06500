//! Loaders of `Review` fields.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{csp, review};
use sea_orm::{DatabaseConnection, FromQueryResult};

use super::{LoadError, grouped};
use crate::sql::{in_list, statement};

/// The CSPs of each review, lead partnership first.
pub struct CspsByReview(pub DatabaseConnection);

impl Loader<i32> for CspsByReview {
    type Value = Vec<csp::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT c.*, rc.review_id AS parent_id FROM csp c \
             JOIN review_csp rc ON rc.csp_id = c.id \
             WHERE rc.review_id IN ({in}) ORDER BY rc.review_id, rc.position",
            keys,
        )
        .await
    }
}

/// A review that may be another listing of the same review.
#[derive(Clone, Debug, PartialEq, FromQueryResult)]
pub struct DuplicateRow {
    pub other_review_id: i32,
    /// Share of the smaller review's recommendations with a near-identical twin in the other.
    pub score: f64,
}

/// Near-identical recommendation texts (cosine at least this) count as the same recommendation.
pub const TWIN_SCORE: f64 = 0.9;

/// Reviews whose recommendations largely repeat each review's, by the stored similarity edges.
pub struct PossibleDuplicates(pub DatabaseConnection);

impl Loader<i32> for PossibleDuplicates {
    type Value = Vec<DuplicateRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let sql = format!(
            "SELECT t.parent_id, t.other_review_id, \
               CAST(t.matched AS DOUBLE PRECISION) / \
               (CASE WHEN a.recommendation_count < b.recommendation_count \
                     THEN a.recommendation_count ELSE b.recommendation_count END) AS score \
             FROM (SELECT r1.review_id AS parent_id, r2.review_id AS other_review_id, \
                     COUNT(DISTINCT r1.id) AS matched \
                   FROM recommendation r1 \
                   JOIN recommendation_similarity s ON s.recommendation_id = r1.id \
                   JOIN recommendation r2 ON r2.id = s.other_id \
                   WHERE r1.review_id IN ({{in}}) AND r2.review_id <> r1.review_id \
                     AND s.score >= {TWIN_SCORE} \
                   GROUP BY r1.review_id, r2.review_id) t \
             JOIN review a ON a.id = t.parent_id JOIN review b ON b.id = t.other_review_id \
             WHERE t.matched >= 2 \
             ORDER BY t.parent_id, score DESC, t.other_review_id"
        );
        let mut rows: HashMap<i32, Vec<DuplicateRow>> = grouped(&self.0, &sql, keys).await?;
        for list in rows.values_mut() {
            list.retain(|d| d.score >= 0.5);
        }
        Ok(rows)
    }
}

/// The case tags of each review: its own, and those of the DHRD record it is linked to.
pub struct CaseTagsByReview(pub DatabaseConnection);

impl Loader<i32> for CaseTagsByReview {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let (list, mut values) = in_list(keys);
        values.extend(in_list(keys).1);
        let sql = format!(
            "SELECT DISTINCT x.review_id, t.tag FROM ( \
               SELECT r.id AS review_id, r.id AS tagged FROM review r WHERE r.id IN ({list}) \
               UNION ALL SELECT ri.review_id, ri.incident_review_id FROM review_incident ri \
               WHERE ri.review_id IN ({list})) x \
             JOIN review_case_tag t ON t.review_id = x.tagged ORDER BY x.review_id, t.tag"
        );
        let rows = sea_orm::ConnectionTrait::query_all_raw(
            &self.0,
            statement(self.0.get_database_backend(), &sql, values),
        )
        .await?;
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for row in rows {
            out.entry(row.try_get("", "review_id")?)
                .or_default()
                .push(row.try_get("", "tag")?);
        }
        Ok(out)
    }
}

/// The DHRD record a review page is linked to.
pub struct IncidentByReview(pub DatabaseConnection);

impl Loader<i32> for IncidentByReview {
    type Value = review::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let found: HashMap<i32, Vec<review::Model>> = grouped(
            &self.0,
            "SELECT r.*, ri.review_id AS parent_id FROM review r \
             JOIN review_incident ri ON ri.incident_review_id = r.id WHERE ri.review_id IN ({in})",
            keys,
        )
        .await?;
        Ok(found
            .into_iter()
            .filter_map(|(k, mut v)| v.pop().map(|m| (k, m)))
            .collect())
    }
}
