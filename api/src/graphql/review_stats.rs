//! `reviewStats`: the national picture of the reviews themselves (pages and DHRD records
//! together, a linked pair once), counted per death year, publication year, region or case
//! tag, with the years from death to publication where both are known.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use super::enums::CaseTag;
use super::filters::ReviewFilter;
use crate::db::Db;
use crate::domain;
use crate::error::ApiError;
use entity::review;

/// How `reviewStats` groups reviews.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReviewStatsGroup {
    /// By the year of death (the page's, else its DHRD record's).
    DeathYear,
    /// By the year of publication (pages; DHRD records have none).
    PublicationYear,
    /// By the region of the review's CSPs (the DHRD's names); a review of two regions counts
    /// in each.
    Region,
    /// By case tag (the review's own, or its DHRD record's); a review counts once per tag.
    CaseTag,
}

/// Reviews in one group.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct ReviewStat {
    /// The year, when grouped by death or publication year (null: not known).
    pub year: Option<i32>,
    /// The region, when grouped by region (null: not known).
    pub region: Option<String>,
    /// The case tag, when grouped by case tag.
    pub case_tag: Option<CaseTag>,
    /// Reviews in the group.
    pub review_count: i64,
    /// Of them, reviews with recommendations (pages).
    pub with_recommendations: i64,
    /// Mean years from death to publication, over the reviews that know both.
    pub mean_years_to_publication: Option<f64>,
}

#[derive(Default)]
pub struct ReviewStatsQuery;

#[Object]
impl ReviewStatsQuery {
    /// Reviews per death year, publication year, region or case tag, as `reviews` lists them
    /// (a page and its DHRD record once; `filter` as in `reviews`). One statement.
    async fn review_stats(
        &self,
        ctx: &Context<'_>,
        group_by: ReviewStatsGroup,
        filter: Option<ReviewFilter>,
    ) -> Result<Vec<ReviewStat>> {
        let db = ctx.data_unchecked::<Db>();
        let backend = db.backend();
        // The reviews `reviews` would list, as a subquery with its own values.
        let chosen = review::Entity::find()
            .select_only()
            .column(review::Column::Id)
            .filter(review::Column::DeletedAt.is_null())
            .filter(filter.unwrap_or_default().listing_condition(backend)?)
            .build(backend);
        // A page linked to its DHRD record takes the record's death year and tags.
        let death = "COALESCE(r.year_of_death, (SELECT d.year_of_death FROM review_incident ri \
                     JOIN review d ON d.id = ri.incident_review_id WHERE ri.review_id = r.id))";
        let (bucket, join) = match group_by {
            ReviewStatsGroup::DeathYear => (format!("CAST({death} AS VARCHAR(12))"), String::new()),
            ReviewStatsGroup::PublicationYear => {
                ("SUBSTR(r.published, 1, 4)".to_owned(), String::new())
            }
            ReviewStatsGroup::Region => (
                "c.region".to_owned(),
                " JOIN review_csp rc ON rc.review_id = r.id JOIN csp c ON c.id = rc.csp_id"
                    .to_owned(),
            ),
            ReviewStatsGroup::CaseTag => (
                "t.tag".to_owned(),
                " JOIN (SELECT review_id, tag FROM review_case_tag UNION \
                   SELECT ri.review_id, ct.tag FROM review_incident ri \
                   JOIN review_case_tag ct ON ct.review_id = ri.incident_review_id) t \
                   ON t.review_id = r.id"
                    .to_owned(),
            ),
        };
        let sql = format!(
            "SELECT bucket, COUNT(*) AS n, CAST(SUM(has_recs) AS BIGINT) AS with_recs, \
               AVG(CAST(years AS DOUBLE PRECISION)) AS mean_years FROM ( \
               SELECT DISTINCT r.id, {bucket} AS bucket, \
                 CASE WHEN EXISTS (SELECT 1 FROM recommendation rec WHERE rec.review_id = r.id \
                   AND rec.withdrawn_at IS NULL) THEN 1 ELSE 0 END AS has_recs, \
                 CAST(SUBSTR(r.published, 1, 4) AS INTEGER) - {death} AS years \
               FROM review r{join} WHERE r.id IN ({sub})) s \
             GROUP BY bucket ORDER BY bucket",
            sub = chosen.sql,
        );
        let rows = db
            .conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                chosen.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .map_err(ApiError::from)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let bucket: Option<String> = row.try_get("", "bucket").map_err(ApiError::from)?;
            let mut stat = ReviewStat {
                review_count: row.try_get("", "n").map_err(ApiError::from)?,
                with_recommendations: row
                    .try_get::<Option<i64>>("", "with_recs")
                    .map_err(ApiError::from)?
                    .unwrap_or(0),
                mean_years_to_publication: row
                    .try_get::<Option<f64>>("", "mean_years")
                    .map_err(ApiError::from)?
                    .map(|m| (m * 10.0).round() / 10.0),
                ..Default::default()
            };
            match group_by {
                ReviewStatsGroup::DeathYear | ReviewStatsGroup::PublicationYear => {
                    stat.year = bucket.and_then(|b| b.trim().parse().ok())
                }
                ReviewStatsGroup::Region => stat.region = bucket.filter(|b| !b.is_empty()),
                ReviewStatsGroup::CaseTag => {
                    stat.case_tag = bucket
                        .and_then(|b| b.parse::<domain::CaseTag>().ok())
                        .map(Into::into)
                }
            }
            out.push(stat);
        }
        Ok(out)
    }
}
