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
    /// Count each agency under its successor or parent instead of on its own.
    pub roll_up: RollUp,
}

/// Under which agency an agency's reviews count in a ranking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RollUp {
    /// Each agency on its own.
    #[default]
    None,
    /// Under the body that took it over, and that body's successor in turn (a CCG under its
    /// ICB).
    Successor,
    /// Under the body it is part of, to the top (a council's adult social care under the
    /// council).
    Parent,
}

/// Links followed to a root are at most this long: a chain the registers would never
/// make, so that a curator's cycle ends instead of recursing.
const MAX_ROLL_UP: i32 = 8;

impl RollUp {
    /// A derived table of `(agency_id, root_id)`: every agency with the one it counts
    /// under (itself, when nothing takes it up).
    fn roots(self) -> Option<String> {
        let link = match self {
            RollUp::None => return None,
            RollUp::Successor => "successor_id",
            RollUp::Parent => "parent_agency_id",
        };
        Some(format!(
            "(WITH RECURSIVE up(agency_id, root_id, depth) AS ( \
               SELECT id, id, 0 FROM agency \
               UNION ALL \
               SELECT up.agency_id, n.{link}, up.depth + 1 FROM up \
                 JOIN agency n ON n.id = up.root_id \
                 WHERE n.{link} IS NOT NULL AND up.depth < {MAX_ROLL_UP}) \
             SELECT u.agency_id, u.root_id FROM up u JOIN agency t ON t.id = u.root_id \
             WHERE t.{link} IS NULL OR u.depth = {MAX_ROLL_UP})"
        ))
    }
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

    /// `AND ...` conditions over `a` (agency), with their values.
    fn agency_conditions(&self) -> (String, Vec<Value>) {
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
        (sql, values)
    }

    /// `AND ...` conditions over `a` (agency) and the month column `published`, with their
    /// values.
    fn conditions(&self, published: &str) -> (String, Vec<Value>) {
        let (mut sql, mut values) = self.agency_conditions();
        if let Some(from) = &self.published_from {
            sql.push_str(&format!(" AND {published} >= ?"));
            values.push(from.clone().into());
        }
        if let Some(to) = &self.published_to {
            // `agency_review.published` is '' when the month is unknown: never in a range.
            sql.push_str(&format!(" AND {published} <= ? AND {published} <> ''"));
            values.push(to.clone().into());
        }
        (sql, values)
    }

    fn dated(&self) -> bool {
        self.published_from.is_some() || self.published_to.is_some()
    }

    /// The `agency_review` rows (`x`) counted: addressed, or named either way.
    fn named(&self) -> &'static str {
        if self.include_mentions {
            "1 = 1"
        } else {
            "x.addressed_recs > 0"
        }
    }

    /// `x.recommendation count` expression of an `agency_review` row.
    fn recs(&self) -> &'static str {
        if self.include_mentions {
            "x.addressed_recs + x.mentioned_recs"
        } else {
            "x.addressed_recs"
        }
    }

    /// The `agency_recurrence` columns: reviews, recommendations.
    fn totals(&self) -> (&'static str, &'static str) {
        if self.include_mentions {
            ("any_reviews", "any_recs")
        } else {
            ("addressed_reviews", "addressed_recs")
        }
    }

    /// `(agency_id, review_id)` pairs in scope, as a derived table body.
    fn agency_reviews(&self) -> (String, Vec<Value>) {
        let (cond, values) = self.conditions("x.published");
        let sql = match self.roll_up.roots() {
            None => format!(
                "SELECT x.agency_id, x.review_id FROM agency_review x \
                 JOIN agency a ON a.id = x.agency_id WHERE {named}{cond}",
                named = self.named()
            ),
            Some(roots) => format!(
                "SELECT DISTINCT ro.root_id AS agency_id, x.review_id FROM agency_review x \
                 JOIN agency a ON a.id = x.agency_id \
                 JOIN {roots} ro ON ro.agency_id = x.agency_id WHERE {named}{cond}",
                named = self.named()
            ),
        };
        (sql, values)
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

/// The ranking: `agency_id`, `review_count`, `recommendation_count` (and, for a date range,
/// `first_published`/`last_published`), of agencies with at least `min_reviews` reviews.
/// Without a date range it reads the per-agency totals along their ranking index; with one,
/// it groups the agency-review rows of the range.
fn ranking_sql(scope: &Scope, min_reviews: i64) -> (String, Vec<Value>) {
    if let Some(roots) = scope.roll_up.roots() {
        // Filters (sector, collective, months) choose the agencies and reviews counted,
        // before they are rolled up; a recommendation addressed to a CCG and its ICB counts
        // once under the ICB.
        let (cond, mut values) = scope.conditions("x.published");
        values.push(min_reviews.into());
        return (
            format!(
                "SELECT ro.root_id AS agency_id, COUNT(DISTINCT x.review_id) AS review_count, \
                   COUNT(DISTINCT e.recommendation_id) AS recommendation_count, \
                   COALESCE(MIN(NULLIF(x.published, '')), '') AS first_published, \
                   COALESCE(MAX(NULLIF(x.published, '')), '') AS last_published \
                 FROM agency_review x JOIN agency a ON a.id = x.agency_id \
                 JOIN {roots} ro ON ro.agency_id = x.agency_id \
                 JOIN {edges} e ON e.agency_id = x.agency_id \
                 JOIN recommendation r ON r.id = e.recommendation_id AND r.review_id = x.review_id \
                 WHERE {named}{cond} GROUP BY ro.root_id HAVING COUNT(DISTINCT x.review_id) >= ?",
                edges = scope.edges(),
                named = scope.named(),
            ),
            values,
        );
    }
    if scope.dated() {
        let (cond, mut values) = scope.conditions("x.published");
        values.push(min_reviews.into());
        (
            format!(
                "SELECT x.agency_id, COUNT(*) AS review_count, \
                   SUM({recs}) AS recommendation_count, \
                   MIN(x.published) AS first_published, MAX(x.published) AS last_published \
                 FROM agency_review x JOIN agency a ON a.id = x.agency_id \
                 WHERE {named}{cond} GROUP BY x.agency_id HAVING COUNT(*) >= ?",
                recs = scope.recs(),
                named = scope.named(),
            ),
            values,
        )
    } else {
        let (cond, cond_values) = scope.agency_conditions();
        let (reviews, recs) = scope.totals();
        let mut values: Vec<Value> = vec![min_reviews.into()];
        values.extend(cond_values);
        (
            format!(
                "SELECT s.agency_id, CAST(s.{reviews} AS BIGINT) AS review_count, \
                   CAST(s.{recs} AS BIGINT) AS recommendation_count \
                 FROM agency_recurrence s JOIN agency a ON a.id = s.agency_id \
                 WHERE s.{reviews} >= ?{cond}"
            ),
            values,
        )
    }
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
    let (ranking, mut values) = ranking_sql(scope, min_reviews);
    values.push((limit as i64).into());
    values.push((offset as i64).into());
    let order = "ORDER BY review_count DESC, recommendation_count DESC, agency_id";
    let sql = if scope.dated() || scope.roll_up != RollUp::None {
        format!("SELECT * FROM ({ranking}) t {order} LIMIT ? OFFSET ?")
    } else {
        // The first and last month only for the page's agencies, each one step along the
        // agency's (agency_id, published) index.
        let month = |dir: &str| {
            format!(
                "COALESCE((SELECT x.published FROM agency_review x \
                 WHERE x.agency_id = t.agency_id AND {named} AND x.published <> '' \
                 ORDER BY x.published {dir} LIMIT 1), '')",
                named = scope.named()
            )
        };
        // Ordered by the stored columns themselves (not their BIGINT casts), so that the
        // page is read along the ranking index instead of sorting every agency.
        let (reviews, recs) = scope.totals();
        format!(
            "SELECT t.agency_id, t.review_count, t.recommendation_count, \
               {first} AS first_published, {last} AS last_published \
             FROM ({ranking} ORDER BY s.{reviews} DESC, s.{recs} DESC, s.agency_id \
               LIMIT ? OFFSET ?) t {order}",
            first = month("ASC"),
            last = month("DESC"),
        )
    };
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
    let (sql, values) = ranking_sql(scope, min_reviews);
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
/// at most `limit` each: one statement for all the agencies asked, over the stored pairs
/// (each pair is stored once, so both of its columns are looked up).
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
    let (list, ids) = in_list(agency_ids);
    let mut values = ids.clone();
    values.extend(ids);
    let collective = if include_collective {
        String::new()
    } else {
        values.push(Sector::Collective.code().into());
        " WHERE o.sector <> ?".to_owned()
    };
    values.push((limit as i64).into());
    let sql = format!(
        "SELECT agency_id, other_id, shared_reviews FROM ( \
           SELECT p.agency_id, p.other_id, CAST(p.shared AS BIGINT) AS shared_reviews, \
             ROW_NUMBER() OVER (PARTITION BY p.agency_id ORDER BY p.shared DESC, p.other_id) AS rn \
           FROM (SELECT agency_id, other_id, addressed_shared AS shared FROM agency_pair \
                   WHERE agency_id IN ({list}) AND addressed_shared > 0 \
                 UNION ALL SELECT other_id, agency_id, addressed_shared FROM agency_pair \
                   WHERE other_id IN ({list}) AND addressed_shared > 0) p \
           JOIN agency o ON o.id = p.other_id{collective}) t \
         WHERE rn <= ? ORDER BY agency_id, rn"
    );
    for row in db
        .query_all_raw(statement(db.get_database_backend(), &sql, values))
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
/// Nodes are the agencies with at least one edge at the threshold. Reads the stored pairs
/// and totals: the scope's sector and collective filters apply to both ends; it has no
/// date range.
pub async fn agency_network<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    min_shared_reviews: i64,
    first: usize,
) -> Result<(Vec<NetworkNode>, Vec<NetworkEdge>, bool), DbErr> {
    debug_assert!(!scope.dated(), "the network has no date range");
    let shared = if scope.include_mentions {
        "any_shared"
    } else {
        "addressed_shared"
    };
    let (cond_a, values_a) = scope.agency_conditions();
    let cond_b = cond_a.replace("a.sector", "b.sector");
    let mut values: Vec<Value> = vec![min_shared_reviews.into()];
    values.extend(values_a.clone());
    values.extend(values_a);
    let from = format!(
        "FROM agency_pair p JOIN agency a ON a.id = p.agency_id JOIN agency b ON b.id = p.other_id \
         WHERE p.{shared} >= ?{cond_a}{cond_b}"
    );
    let backend = db.get_database_backend();
    // One more than asked, to tell whether the network was cut.
    let mut edges: Vec<NetworkEdge> = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT p.agency_id AS source, p.other_id AS target, \
                   CAST(p.{shared} AS BIGINT) AS shared_reviews {from} \
                 ORDER BY p.{shared} DESC, p.agency_id, p.other_id LIMIT {}",
                first + 1
            ),
            values,
        ))
        .await?
        .iter()
        .map(|r| NetworkEdge::from_query_result(r, ""))
        .collect::<Result<_, _>>()?;
    let truncated = edges.len() > first;
    edges.truncate(first);
    if edges.is_empty() {
        return Ok((Vec::new(), edges, truncated));
    }
    // The nodes are the agencies of the edges kept, not of every qualifying pair.
    let mut ids: Vec<i32> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
    ids.sort_unstable();
    ids.dedup();
    let (reviews, _) = scope.totals();
    let list = ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let nodes = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT s.agency_id, CAST(s.{reviews} AS BIGINT) AS review_count \
                 FROM agency_recurrence s WHERE s.agency_id IN ({list}) \
                 ORDER BY review_count DESC, s.agency_id"
            ),
            Vec::new(),
        ))
        .await?
        .iter()
        .map(|r| NetworkNode::from_query_result(r, ""))
        .collect::<Result<_, _>>()?;
    Ok((nodes, edges, truncated))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsBy {
    Year,
    Csp,
    /// The region of the review's CSPs (a review of two regions counts in each, once).
    Region,
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
    let (cond, values) = scope.conditions("r.published");
    let (bucket, join) = match by {
        StatsBy::Year => ("SUBSTR(r.published, 1, 4)", ""),
        StatsBy::Csp => (
            "CAST(rc.csp_id AS VARCHAR(12))",
            " JOIN review_csp rc ON rc.review_id = r.id",
        ),
        StatsBy::Region => (
            "COALESCE(c.region, '')",
            " JOIN review_csp rc ON rc.review_id = r.id JOIN csp c ON c.id = rc.csp_id",
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
    let (rlist, mut values) = in_list(&reviews);
    let (alist, avalues) = in_list(&agencies);
    values.extend(avalues);
    // Driven from the page's reviews (a few dozen recommendations), never from the agency's
    // links: "GP practice" has tens of thousands at ten times national scale. SQLite keeps
    // the order a CROSS JOIN gives; PostgreSQL plans it as the inner join it is.
    let sql = format!(
        "SELECT rec.*, ra.agency_id AS addressed_agency_id \
         FROM recommendation rec CROSS JOIN recommendation_agency ra \
         WHERE rec.review_id IN ({rlist}) AND ra.recommendation_id = rec.id \
           AND ra.agency_id IN ({alist}) \
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
