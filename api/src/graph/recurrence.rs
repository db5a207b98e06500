//! Recurrence of agencies across reviews, co-addressing, the agency network and sector stats.
//!
//! "Addressed" means named in a recommendation's "addressed to" cells. Collective addressees
//! ("All Agencies") are left out unless asked for: they would otherwise "recur everywhere".

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Value};

use entity::recommendation;

use crate::domain::Sector;
use crate::sql::{in_list, statement};

/// Filters shared by the graph questions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    pub sector: Option<Sector>,
    pub include_collective: bool,
    /// `YYYY-MM`, inclusive.
    pub published_from: Option<String>,
    /// `YYYY-MM`, inclusive.
    pub published_to: Option<String>,
    /// Count agencies a recommendation mentions as well as those it is addressed to.
    pub include_mentions: bool,
}

impl Scope {
    /// The `(recommendation_id, agency_id)` edges counted.
    fn edges(&self) -> &'static str {
        if self.include_mentions {
            "(SELECT recommendation_id, agency_id FROM recommendation_agency \
             UNION SELECT recommendation_id, agency_id FROM recommendation_mention)"
        } else {
            "recommendation_agency"
        }
    }

    /// `AND ...` conditions over `a` (agency) and `r` (review), with their values.
    fn conditions(&self) -> (String, Vec<Value>) {
        let mut sql = String::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(sector) = self.sector {
            sql.push_str(" AND a.sector = ?");
            values.push(sector.code().into());
        }
        if !self.include_collective {
            sql.push_str(" AND a.sector <> ?");
            values.push(Sector::Collective.code().into());
        }
        if let Some(from) = &self.published_from {
            sql.push_str(" AND r.published >= ?");
            values.push(from.clone().into());
        }
        if let Some(to) = &self.published_to {
            sql.push_str(" AND r.published <= ?");
            values.push(to.clone().into());
        }
        (sql, values)
    }

    /// `(agency_id, review_id)` pairs in scope, as a derived table body.
    fn agency_reviews(&self) -> (String, Vec<Value>) {
        let (cond, values) = self.conditions();
        let edges = self.edges();
        (
            format!(
                "SELECT DISTINCT ra.agency_id, rec.review_id FROM {edges} ra \
                 JOIN recommendation rec ON rec.id = ra.recommendation_id \
                 JOIN review r ON r.id = rec.review_id \
                 JOIN agency a ON a.id = ra.agency_id WHERE 1 = 1{cond}"
            ),
            values,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Recurrence {
    pub agency_id: i32,
    pub review_count: i64,
    pub recommendation_count: i64,
    pub first_published: String,
    pub last_published: String,
}

fn recurrence_sql(scope: &Scope, min_reviews: i64) -> (String, Vec<Value>) {
    let (cond, mut values) = scope.conditions();
    values.push(min_reviews.into());
    let edges = scope.edges();
    (
        format!(
            "SELECT a.id AS agency_id, COUNT(DISTINCT rec.review_id) AS review_count, \
               COUNT(DISTINCT rec.id) AS recommendation_count, \
               MIN(r.published) AS first_published, MAX(r.published) AS last_published \
             FROM {edges} ra \
             JOIN recommendation rec ON rec.id = ra.recommendation_id \
             JOIN review r ON r.id = rec.review_id \
             JOIN agency a ON a.id = ra.agency_id \
             WHERE 1 = 1{cond} \
             GROUP BY a.id HAVING COUNT(DISTINCT rec.review_id) >= ?"
        ),
        values,
    )
}

/// Agencies addressed by at least `min_reviews` reviews in scope: most reviews first, then
/// most recommendations, then id. `offset`/`limit` page the ranking.
pub async fn recurring_agencies<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    min_reviews: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<Recurrence>, DbErr> {
    let (sql, mut values) = recurrence_sql(scope, min_reviews);
    values.push((limit as i64).into());
    values.push((offset as i64).into());
    let sql = format!(
        "{sql} ORDER BY review_count DESC, recommendation_count DESC, a.id LIMIT ? OFFSET ?"
    );
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), &sql, values))
        .await?;
    rows.iter()
        .map(|r| Recurrence::from_query_result(r, ""))
        .collect()
}

/// How many agencies `recurring_agencies` would rank in all.
pub async fn count_recurring_agencies<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    min_reviews: i64,
) -> Result<u64, DbErr> {
    let (sql, values) = recurrence_sql(scope, min_reviews);
    let sql = format!("SELECT COUNT(*) AS n FROM ({sql}) t");
    let row = db
        .query_one_raw(statement(db.get_database_backend(), &sql, values))
        .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))?.max(0) as u64)
}

/// The CSPs of the in-scope reviews addressing each agency, by CSP name.
pub async fn csps_of_agencies<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    agency_ids: &[i32],
) -> Result<HashMap<i32, Vec<i32>>, DbErr> {
    let mut out: HashMap<i32, Vec<i32>> = HashMap::new();
    if agency_ids.is_empty() {
        return Ok(out);
    }
    let (pairs, mut values) = scope.agency_reviews();
    let (list, ids) = in_list(agency_ids);
    values.extend(ids);
    let sql = format!(
        "SELECT DISTINCT ar.agency_id, c.id AS csp_id, c.name FROM ({pairs}) ar \
         JOIN review_csp rc ON rc.review_id = ar.review_id JOIN csp c ON c.id = rc.csp_id \
         WHERE ar.agency_id IN ({list}) ORDER BY ar.agency_id, c.name, c.id"
    );
    for row in db
        .query_all_raw(statement(db.get_database_backend(), &sql, values))
        .await?
    {
        out.entry(row.try_get("", "agency_id")?)
            .or_default()
            .push(row.try_get("", "csp_id")?);
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Shared {
    pub agency_id: i32,
    pub other_id: i32,
    pub shared_reviews: i64,
}

/// For each agency, the agencies addressed in the same reviews, most shared reviews first,
/// at most `limit` each: one statement for all the agencies asked.
pub async fn co_addressed<C: ConnectionTrait>(
    db: &C,
    agency_ids: &[i32],
    include_collective: bool,
    limit: u64,
) -> Result<HashMap<i32, Vec<Shared>>, DbErr> {
    let mut out: HashMap<i32, Vec<Shared>> = HashMap::new();
    if agency_ids.is_empty() {
        return Ok(out);
    }
    let scope = Scope {
        include_collective: true,
        ..Default::default()
    };
    let (pairs, mut values) = scope.agency_reviews();
    let (list, ids) = in_list(agency_ids);
    values.extend(ids);
    let collective = if include_collective {
        String::new()
    } else {
        values.push(Sector::Collective.code().into());
        " AND o.sector <> ?".to_owned()
    };
    values.push((limit as i64).into());
    let sql = format!(
        "SELECT agency_id, other_id, shared_reviews FROM ( \
           SELECT x.agency_id, y.agency_id AS other_id, COUNT(*) AS shared_reviews, \
             ROW_NUMBER() OVER (PARTITION BY x.agency_id ORDER BY COUNT(*) DESC, y.agency_id) AS rn \
           FROM ({pairs}) x JOIN ({pairs}) y ON y.review_id = x.review_id AND y.agency_id <> x.agency_id \
           JOIN agency o ON o.id = y.agency_id \
           WHERE x.agency_id IN ({list}){collective} \
           GROUP BY x.agency_id, y.agency_id) t \
         WHERE rn <= ? ORDER BY agency_id, rn"
    );
    // The derived table appears twice: its values are bound twice.
    let (_, pair_values) = scope.agency_reviews();
    let mut all = pair_values.clone();
    all.extend(values);
    for row in db
        .query_all_raw(statement(db.get_database_backend(), &sql, all))
        .await?
    {
        let shared = Shared::from_query_result(&row, "")?;
        out.entry(shared.agency_id).or_default().push(shared);
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct NetworkNode {
    pub agency_id: i32,
    pub review_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct NetworkEdge {
    pub source: i32,
    pub target: i32,
    pub shared_reviews: i64,
}

/// Agencies as nodes, shared reviews as weighted edges (each pair once, `source < target`).
/// Nodes are the agencies with at least one edge at the threshold.
pub async fn agency_network<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    min_shared_reviews: i64,
) -> Result<(Vec<NetworkNode>, Vec<NetworkEdge>), DbErr> {
    let (pairs, values) = scope.agency_reviews();
    let mut all = values.clone();
    all.extend(values.clone());
    all.push(min_shared_reviews.into());
    let edges_sql = format!(
        "SELECT x.agency_id AS source, y.agency_id AS target, COUNT(*) AS shared_reviews \
         FROM ({pairs}) x JOIN ({pairs}) y ON y.review_id = x.review_id AND x.agency_id < y.agency_id \
         GROUP BY x.agency_id, y.agency_id HAVING COUNT(*) >= ? \
         ORDER BY shared_reviews DESC, source, target"
    );
    let backend = db.get_database_backend();
    let edges: Vec<NetworkEdge> = db
        .query_all_raw(statement(backend, &edges_sql, all))
        .await?
        .iter()
        .map(|r| NetworkEdge::from_query_result(r, ""))
        .collect::<Result<_, _>>()?;
    let mut ids: Vec<i32> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok((Vec::new(), edges));
    }
    let (list, id_values) = in_list(&ids);
    let mut node_values = values;
    node_values.extend(id_values);
    let nodes_sql = format!(
        "SELECT agency_id, COUNT(*) AS review_count FROM ({pairs}) ar \
         WHERE agency_id IN ({list}) GROUP BY agency_id ORDER BY review_count DESC, agency_id"
    );
    let nodes = db
        .query_all_raw(statement(backend, &nodes_sql, node_values))
        .await?
        .iter()
        .map(|r| NetworkNode::from_query_result(r, ""))
        .collect::<Result<_, _>>()?;
    Ok((nodes, edges))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsBy {
    Year,
    Csp,
}

#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct SectorStat {
    pub sector: String,
    /// The year (`YYYY`) or the CSP id, as text, by grouping.
    pub bucket: String,
    pub review_count: i64,
    pub recommendation_count: i64,
}

/// Reviews and recommendations addressed to each sector, per publication year or per CSP.
pub async fn sector_stats<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    by: StatsBy,
) -> Result<Vec<SectorStat>, DbErr> {
    let (cond, values) = scope.conditions();
    let (bucket, join) = match by {
        StatsBy::Year => ("SUBSTR(r.published, 1, 4)", ""),
        StatsBy::Csp => (
            "CAST(rc.csp_id AS VARCHAR(12))",
            " JOIN review_csp rc ON rc.review_id = r.id",
        ),
    };
    let edges = scope.edges();
    let sql = format!(
        "SELECT a.sector, {bucket} AS bucket, COUNT(DISTINCT r.id) AS review_count, \
           COUNT(DISTINCT rec.id) AS recommendation_count \
         FROM {edges} ra \
         JOIN recommendation rec ON rec.id = ra.recommendation_id \
         JOIN review r ON r.id = rec.review_id{join} \
         JOIN agency a ON a.id = ra.agency_id WHERE 1 = 1{cond} \
         GROUP BY a.sector, {bucket} ORDER BY bucket, review_count DESC, a.sector"
    );
    db.query_all_raw(statement(db.get_database_backend(), &sql, values))
        .await?
        .iter()
        .map(|r| SectorStat::from_query_result(r, ""))
        .collect()
}

/// For each (agency, review) pair, the recommendations of that review addressed to the
/// agency, in printed order: one statement for every pair asked.
pub async fn addressed_in_reviews<C: ConnectionTrait>(
    db: &C,
    pairs: &[(i32, i32)],
) -> Result<HashMap<(i32, i32), Vec<recommendation::Model>>, DbErr> {
    let mut out: HashMap<(i32, i32), Vec<recommendation::Model>> = HashMap::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    let agencies: Vec<i32> = pairs.iter().map(|p| p.0).collect();
    let reviews: Vec<i32> = pairs.iter().map(|p| p.1).collect();
    let (alist, mut values) = in_list(&agencies);
    let (rlist, rvalues) = in_list(&reviews);
    values.extend(rvalues);
    let sql = format!(
        "SELECT rec.*, ra.agency_id AS addressed_agency_id \
         FROM recommendation_agency ra JOIN recommendation rec ON rec.id = ra.recommendation_id \
         WHERE ra.agency_id IN ({alist}) AND rec.review_id IN ({rlist}) \
         ORDER BY ra.agency_id, rec.review_id, rec.position"
    );
    for row in db
        .query_all_raw(statement(db.get_database_backend(), &sql, values))
        .await?
    {
        let rec = recommendation::Model::from_query_result(&row, "")?;
        let key = (
            row.try_get::<i32>("", "addressed_agency_id")?,
            rec.review_id,
        );
        // The IN lists select a superset (every asked agency with every asked review).
        if pairs.contains(&key) {
            out.entry(key).or_default().push(rec);
        }
    }
    Ok(out)
}
