//! DataLoaders: every nested field of the schema loads through one of these, so a nested
//! query costs one statement per field, however many parents it has.
//!
//! Nested connections page inside each parent with `ROW_NUMBER() OVER (PARTITION BY parent)`:
//! one statement answers `first`/`after` for every parent at once (SQLite and PostgreSQL both
//! have window functions).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::{agency, agency_alias, csp, recommendation, review, theme};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};

use super::page::{CursorValue, Page, Total, Window, encode_cursor, slice_bounds};
use crate::sql::{in_list, statement};

pub type LoadError = Arc<DbErr>;

/// A parent's total child count and the rows of the window, with their positions.
type PositionedRows<R> = (i64, Vec<(i64, R)>);

/// Row loaders by primary key, for `node`, `nodes` and `Recommendation.review`.
macro_rules! by_id_loader {
    ($name:ident, $module:ident) => {
        pub struct $name(pub DatabaseConnection);

        impl Loader<i32> for $name {
            type Value = $module::Model;
            type Error = LoadError;

            async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
                Ok($module::Entity::find()
                    .filter($module::Column::Id.is_in(keys.iter().copied()))
                    .all(&self.0)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect())
            }
        }
    };
}

by_id_loader!(ReviewById, review);
by_id_loader!(CspById, csp);
by_id_loader!(AgencyById, agency);
by_id_loader!(RecommendationById, recommendation);
by_id_loader!(ThemeById, theme);

/// Runs `sql` (with `{in}` standing for the parent id list) and groups rows by `parent_id`.
async fn grouped<M: FromQueryResult>(
    db: &DatabaseConnection,
    sql: &str,
    keys: &[i32],
) -> Result<HashMap<i32, Vec<M>>, LoadError> {
    let (list, values) = in_list(keys);
    let sql = sql.replace("{in}", &list);
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        db,
        statement(db.get_database_backend(), &sql, values),
    )
    .await?;
    let mut out: HashMap<i32, Vec<M>> = HashMap::new();
    for row in rows {
        let parent: i32 = row.try_get("", "parent_id")?;
        out.entry(parent)
            .or_default()
            .push(M::from_query_result(&row, "")?);
    }
    Ok(out)
}

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

/// The agencies each recommendation is addressed to, in the order printed.
pub struct AgenciesByRecommendation(pub DatabaseConnection);

impl Loader<i32> for AgenciesByRecommendation {
    type Value = Vec<agency::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT a.*, ra.recommendation_id AS parent_id FROM agency a \
             JOIN recommendation_agency ra ON ra.agency_id = a.id \
             WHERE ra.recommendation_id IN ({in}) ORDER BY ra.recommendation_id, ra.position",
            keys,
        )
        .await
    }
}

/// One addressee link of a recommendation: the agency and how the name was resolved.
#[derive(Clone, Debug, FromQueryResult)]
pub struct AddresseeRow {
    pub agency_id: i32,
    pub position: i32,
    pub method: String,
    pub reason: String,
}

/// The addressee links of each recommendation, in printed order.
pub struct AddresseesByRecommendation(pub DatabaseConnection);

impl Loader<i32> for AddresseesByRecommendation {
    type Value = Vec<AddresseeRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT ra.agency_id, ra.position, ra.method, ra.reason, \
             ra.recommendation_id AS parent_id FROM recommendation_agency ra \
             WHERE ra.recommendation_id IN ({in}) ORDER BY ra.recommendation_id, ra.position",
            keys,
        )
        .await
    }
}

/// The parts of each agency (a council's services), by name.
pub struct ChildrenByAgency(pub DatabaseConnection);

impl Loader<i32> for ChildrenByAgency {
    type Value = Vec<agency::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let mut out: HashMap<i32, Vec<agency::Model>> = HashMap::new();
        for a in agency::Entity::find()
            .filter(agency::Column::ParentAgencyId.is_in(keys.iter().copied()))
            .order_by_asc(agency::Column::Name)
            .all(&self.0)
            .await?
        {
            if let Some(p) = a.parent_agency_id {
                out.entry(p).or_default().push(a);
            }
        }
        Ok(out)
    }
}

/// The bodies each agency took over, by name.
pub struct PredecessorsByAgency(pub DatabaseConnection);

impl Loader<i32> for PredecessorsByAgency {
    type Value = Vec<agency::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let mut out: HashMap<i32, Vec<agency::Model>> = HashMap::new();
        for a in agency::Entity::find()
            .filter(agency::Column::SuccessorId.is_in(keys.iter().copied()))
            .order_by_asc(agency::Column::Name)
            .all(&self.0)
            .await?
        {
            if let Some(s) = a.successor_id {
                out.entry(s).or_default().push(a);
            }
        }
        Ok(out)
    }
}

/// The names an agency is known by.
pub struct AliasesByAgency(pub DatabaseConnection);

impl Loader<i32> for AliasesByAgency {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let mut out: HashMap<i32, Vec<String>> = HashMap::new();
        for alias in agency_alias::Entity::find()
            .filter(agency_alias::Column::AgencyId.is_in(keys.iter().copied()))
            .order_by_asc(agency_alias::Column::Name)
            .all(&self.0)
            .await?
        {
            out.entry(alias.agency_id).or_default().push(alias.name);
        }
        Ok(out)
    }
}

/// A nested list: how to select the children of many parents, in order.
pub trait ChildList: Send + Sync + 'static {
    type Row: FromQueryResult + Clone + Send + Sync + 'static;
    /// Child columns, named as the row's model expects.
    const COLUMNS: &'static str;
    /// The parent id expression.
    const PARENT: &'static str;
    /// FROM clause; `{in}` is replaced by the parent id placeholders.
    const FROM: &'static str;
    /// Order within one parent; must end in a unique column.
    const ORDER: &'static str;
    /// A join made after the window is numbered, onto the window's rows `t`: lets the window
    /// number narrow index rows and fetch whole rows for one page only (a parent with
    /// thousands of children would otherwise copy them all to number them).
    const LATE_JOIN: &'static str = "";
    /// The row's columns selected with `LATE_JOIN`.
    const LATE_COLUMNS: &'static str = "";
    /// Parents with thousands of children ("GP practice" in 17,000 reviews at ten times
    /// national scale): a forward page of one parent is then read with `ORDER BY ... LIMIT`
    /// along an index, instead of numbering every child in a window (45 ms against 0.1 ms);
    /// its total is counted only if asked.
    const LIMIT_ONE_PARENT: bool = false;
    /// With `LATE_JOIN` and `LIMIT_ONE_PARENT`: `ORDER`, over the late-joined columns.
    const LATE_ORDER: &'static str = "";
}

/// Page of children of one parent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildPageKey {
    pub parent: i32,
    pub window: Window,
}

pub struct ChildPages<L>(pub DatabaseConnection, PhantomData<L>);

impl<L> ChildPages<L> {
    pub fn new(db: DatabaseConnection) -> Self {
        Self(db, PhantomData)
    }
}

fn position(c: &Option<Vec<CursorValue>>) -> Option<i64> {
    match c.as_deref() {
        Some([CursorValue::Int(p)]) => Some(*p),
        _ => None,
    }
}

impl<L: ChildList> Loader<ChildPageKey> for ChildPages<L> {
    type Value = Page<L::Row>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ChildPageKey],
    ) -> Result<HashMap<ChildPageKey, Self::Value>, Self::Error> {
        let mut by_window: HashMap<&Window, Vec<i32>> = HashMap::new();
        for key in keys {
            by_window.entry(&key.window).or_default().push(key.parent);
        }
        let mut out = HashMap::new();
        for (window, parents) in by_window {
            if let ([parent], Some(first), None, None) = (
                parents.as_slice(),
                window.first,
                &window.last,
                &window.before,
            ) && L::LIMIT_ONE_PARENT
            {
                let page = self.one_parent(*parent, window, first).await?;
                out.insert(
                    ChildPageKey {
                        parent: *parent,
                        window: window.clone(),
                    },
                    page,
                );
                continue;
            }
            let start = position(&window.after).unwrap_or(0).max(0);
            let end = position(&window.before).map(|b| (b - 1).max(0));
            // Coarse bounds in SQL (so a big parent sends one page, not all its children),
            // exact Relay slicing below.
            let mut bounds = format!("rn > {start}");
            if let Some(end) = end {
                bounds.push_str(&format!(" AND rn <= {end}"));
            }
            if let Some(first) = window.first {
                bounds.push_str(&format!(" AND rn <= {}", start as usize + first));
            } else if let Some(last) = window.last {
                let upper = end.map_or("total".to_owned(), |e| {
                    format!("(CASE WHEN total < {e} THEN total ELSE {e} END)")
                });
                bounds.push_str(&format!(" AND rn > {upper} - {last}"));
            }
            let sql = format!(
                "SELECT {late_cols} FROM (SELECT {cols}, {parent} AS parent_id, \
                   ROW_NUMBER() OVER (PARTITION BY {parent} ORDER BY {order}) AS rn, \
                   COUNT(*) OVER (PARTITION BY {parent}) AS total \
                 FROM {from}) t {late_join} WHERE {bounds} ORDER BY t.parent_id, t.rn",
                late_cols = if L::LATE_JOIN.is_empty() {
                    "t.*".to_owned()
                } else {
                    format!("{}, t.parent_id, t.rn, t.total", L::LATE_COLUMNS)
                },
                late_join = L::LATE_JOIN,
                cols = L::COLUMNS,
                parent = L::PARENT,
                order = L::ORDER,
                from = L::FROM,
            );
            let (list, values) = in_list(&parents);
            let sql = sql.replace("{in}", &list);
            let rows = sea_orm::ConnectionTrait::query_all_raw(
                &self.0,
                statement(self.0.get_database_backend(), &sql, values),
            )
            .await?;
            // parent -> (children in total, [(position, row)])
            let mut grouped: HashMap<i32, PositionedRows<L::Row>> = HashMap::new();
            for row in rows {
                let parent: i32 = row.try_get("", "parent_id")?;
                let rn: i64 = row.try_get("", "rn")?;
                let total: i64 = row.try_get("", "total")?;
                let entry = grouped.entry(parent).or_insert((total, Vec::new()));
                entry.1.push((rn, L::Row::from_query_result(&row, "")?));
            }
            for parent in parents {
                let key = ChildPageKey {
                    parent,
                    window: window.clone(),
                };
                let page = match grouped.remove(&parent) {
                    Some((total, rows)) => {
                        let total_u = total.max(0) as usize;
                        let end_u = end.map_or(total_u, |e| (e.max(0) as usize).min(total_u));
                        let (lo, hi) = slice_bounds(
                            start as usize,
                            end_u.max(start as usize),
                            window.first,
                            window.last,
                        );
                        Page {
                            items: rows
                                .into_iter()
                                .filter(|(rn, _)| (*rn as usize) > lo && (*rn as usize) <= hi)
                                .map(|(rn, r)| (encode_cursor(&[CursorValue::Int(rn)]), r))
                                .collect(),
                            has_previous: lo > 0,
                            has_next: hi < total_u,
                            total: Total::known(total_u as u64),
                        }
                    }
                    // Nothing in this window: the total is only counted if a client asks.
                    None => {
                        let db = self.0.clone();
                        Page {
                            items: Vec::new(),
                            has_previous: start > 0,
                            has_next: false,
                            total: Total::lazy(move || {
                                let db = db.clone();
                                Box::pin(async move { count_children::<L>(&db, parent).await })
                            }),
                        }
                    }
                };
                out.insert(key, page);
            }
        }
        Ok(out)
    }
}

impl<L: ChildList> ChildPages<L> {
    /// A forward page of one parent's children by `LIMIT`/`OFFSET` (positions are the
    /// cursors, as in the window form).
    async fn one_parent(
        &self,
        parent: i32,
        window: &Window,
        first: usize,
    ) -> Result<Page<L::Row>, DbErr> {
        let start = position(&window.after).unwrap_or(0).max(0) as usize;
        let inner = format!(
            "SELECT {cols}, {parent_col} AS parent_id FROM {from} ORDER BY {order} LIMIT ? OFFSET ?",
            cols = L::COLUMNS,
            parent_col = L::PARENT,
            from = L::FROM.replace("{in}", "?"),
            order = L::ORDER,
        );
        let sql = if L::LATE_JOIN.is_empty() {
            inner
        } else {
            format!(
                "SELECT {cols} FROM ({inner}) t {join} ORDER BY {order}",
                cols = L::LATE_COLUMNS,
                join = L::LATE_JOIN,
                order = L::LATE_ORDER,
            )
        };
        let values = vec![
            parent.into(),
            (first as i64 + 1).into(),
            (start as i64).into(),
        ];
        let mut rows = sea_orm::ConnectionTrait::query_all_raw(
            &self.0,
            statement(self.0.get_database_backend(), &sql, values),
        )
        .await?;
        let has_next = rows.len() > first;
        rows.truncate(first);
        let db = self.0.clone();
        Ok(Page {
            items: rows
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let rn = (start + i + 1) as i64;
                    Ok((
                        encode_cursor(&[CursorValue::Int(rn)]),
                        L::Row::from_query_result(row, "")?,
                    ))
                })
                .collect::<Result<_, DbErr>>()?,
            has_previous: start > 0,
            has_next,
            total: Total::lazy(move || {
                let db = db.clone();
                Box::pin(async move { count_children::<L>(&db, parent).await })
            }),
        })
    }
}

async fn count_children<L: ChildList>(db: &DatabaseConnection, parent: i32) -> Result<u64, DbErr> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {from}",
        from = L::FROM.replace("{in}", "?")
    );
    let row = sea_orm::ConnectionTrait::query_one_raw(
        db,
        statement(db.get_database_backend(), &sql, vec![parent.into()]),
    )
    .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get::<i64>("", "n"))?.max(0) as u64)
}

/// `Review.recommendations`: in printed order.
pub struct ReviewRecommendations;
impl ChildList for ReviewRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "rec.review_id";
    const FROM: &'static str = "recommendation rec WHERE rec.review_id IN ({in})";
    const ORDER: &'static str = "rec.position, rec.id";
}

/// `Review.agencies`: every agency the review addresses, by name.
pub struct ReviewAgencies;
impl ChildList for ReviewAgencies {
    type Row = agency::Model;
    const COLUMNS: &'static str = "a.*";
    const PARENT: &'static str = "x.review_id";
    const FROM: &'static str = "agency a JOIN (SELECT DISTINCT rec.review_id, ra.agency_id \
        FROM recommendation rec JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
        WHERE rec.review_id IN ({in})) x ON x.agency_id = a.id";
    const ORDER: &'static str = "a.name, a.id";
}

/// `Csp.reviews`: newest first.
pub struct CspReviews;
impl ChildList for CspReviews {
    type Row = review::Model;
    const COLUMNS: &'static str = "r.*";
    const PARENT: &'static str = "rc.csp_id";
    const FROM: &'static str =
        "review r JOIN review_csp rc ON rc.review_id = r.id WHERE rc.csp_id IN ({in})";
    const ORDER: &'static str = "COALESCE(r.published, '') DESC, r.id DESC";
}

/// `Csp.agencies`: agencies addressed by the CSP's reviews, most reviews first.
pub struct CspAgencies;
impl ChildList for CspAgencies {
    type Row = agency::Model;
    const COLUMNS: &'static str = "a.*";
    const PARENT: &'static str = "x.csp_id";
    const FROM: &'static str = "agency a JOIN (SELECT DISTINCT rc.csp_id, ra.agency_id \
        FROM review_csp rc JOIN recommendation rec ON rec.review_id = rc.review_id \
        JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
        WHERE rc.csp_id IN ({in})) x ON x.agency_id = a.id";
    const ORDER: &'static str = "a.review_count DESC, a.name, a.id";
}

/// `Agency.reviews`: reviews that addressed the agency, newest first, numbered along the
/// `(agency_id, published, review_id)` index of `agency_review` (whose `published` is
/// `COALESCE(review.published, '')`).
pub struct AgencyReviews;
impl ChildList for AgencyReviews {
    type Row = review::Model;
    const COLUMNS: &'static str = "x.review_id AS late_id";
    const PARENT: &'static str = "x.agency_id";
    const FROM: &'static str =
        "agency_review x WHERE x.agency_id IN ({in}) AND x.addressed_recs > 0";
    const ORDER: &'static str = "x.published DESC, x.review_id DESC";
    const LATE_JOIN: &'static str = "JOIN review r ON r.id = t.late_id";
    const LATE_COLUMNS: &'static str = "r.*";
    const LIMIT_ONE_PARENT: bool = true;
    const LATE_ORDER: &'static str = "COALESCE(r.published, '') DESC, r.id DESC";
}

/// `Agency.recommendations`: newest review first, printed order within a review.
pub struct AgencyRecommendations;
impl ChildList for AgencyRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "ra.agency_id";
    const FROM: &'static str = "recommendation rec \
        JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
        JOIN review r ON r.id = rec.review_id WHERE ra.agency_id IN ({in})";
    const ORDER: &'static str =
        "COALESCE(r.published, '') DESC, rec.review_id DESC, rec.position, rec.id";
}

/// `Agency.trace`: the reviews that addressed the agency, oldest first.
pub struct AgencyTraceReviews;
impl ChildList for AgencyTraceReviews {
    type Row = review::Model;
    const PARENT: &'static str = "x.agency_id";
    const COLUMNS: &'static str = AgencyReviews::COLUMNS;
    const FROM: &'static str = AgencyReviews::FROM;
    const ORDER: &'static str = "x.published, x.review_id";
    const LATE_JOIN: &'static str = AgencyReviews::LATE_JOIN;
    const LATE_COLUMNS: &'static str = AgencyReviews::LATE_COLUMNS;
    const LIMIT_ONE_PARENT: bool = true;
    const LATE_ORDER: &'static str = "COALESCE(r.published, ''), r.id";
}

/// `TraceEntry.recommendations`: what one review recommended to one agency.
pub struct AddressedInReview(pub DatabaseConnection);

impl Loader<(i32, i32)> for AddressedInReview {
    type Value = Vec<recommendation::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(i32, i32)],
    ) -> Result<HashMap<(i32, i32), Self::Value>, Self::Error> {
        Ok(crate::graph::addressed_in_reviews(&self.0, keys).await?)
    }
}

/// `Agency.coAddressed`: key (agency, include collective, how many).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CoAddressedKey {
    pub agency: i32,
    pub include_collective: bool,
    pub first: u64,
}

pub struct CoAddressed(pub DatabaseConnection);

impl Loader<CoAddressedKey> for CoAddressed {
    type Value = Vec<crate::graph::Shared>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[CoAddressedKey],
    ) -> Result<HashMap<CoAddressedKey, Self::Value>, Self::Error> {
        let mut groups: HashMap<(bool, u64), Vec<i32>> = HashMap::new();
        for k in keys {
            groups
                .entry((k.include_collective, k.first))
                .or_default()
                .push(k.agency);
        }
        let mut out = HashMap::new();
        for ((include_collective, first), agencies) in groups {
            let mut found =
                crate::graph::co_addressed(&self.0, &agencies, include_collective, first).await?;
            for agency in agencies {
                out.insert(
                    CoAddressedKey {
                        agency,
                        include_collective,
                        first,
                    },
                    found.remove(&agency).unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }
}

/// A theme tag of a recommendation: which theme, and the cue that matched.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct TagRow {
    pub theme_id: i32,
    pub cue: String,
}

/// The theme tags of each recommendation, in taxonomy order.
pub struct TagsByRecommendation(pub DatabaseConnection);

impl Loader<i32> for TagsByRecommendation {
    type Value = Vec<TagRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT rt.theme_id, rt.cue, rt.recommendation_id AS parent_id \
             FROM recommendation_theme rt WHERE rt.recommendation_id IN ({in}) \
             ORDER BY rt.recommendation_id, rt.theme_id",
            keys,
        )
        .await
    }
}

/// An agency a recommendation mentions without being addressed to it, and the cue.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct MentionRow {
    pub agency_id: i32,
    pub cue: String,
}

/// The mentions of each recommendation, by agency name.
pub struct MentionsByRecommendation(pub DatabaseConnection);

impl Loader<i32> for MentionsByRecommendation {
    type Value = Vec<MentionRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT rm.agency_id, rm.cue, rm.recommendation_id AS parent_id \
             FROM recommendation_mention rm JOIN agency a ON a.id = rm.agency_id \
             WHERE rm.recommendation_id IN ({in}) ORDER BY rm.recommendation_id, a.name",
            keys,
        )
        .await
    }
}

/// How many recommendations and reviews carry each theme.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct ThemeCountRow {
    pub recommendation_count: i64,
    pub review_count: i64,
}

pub struct ThemeCounts(pub DatabaseConnection);

impl Loader<i32> for ThemeCounts {
    type Value = ThemeCountRow;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows: HashMap<i32, Vec<ThemeCountRow>> = grouped(
            &self.0,
            "SELECT rt.theme_id AS parent_id, COUNT(*) AS recommendation_count, \
               COUNT(DISTINCT rec.review_id) AS review_count \
             FROM recommendation_theme rt JOIN recommendation rec ON rec.id = rt.recommendation_id \
             WHERE rt.theme_id IN ({in}) GROUP BY rt.theme_id",
            keys,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, mut v)| v.pop().map(|c| (k, c)))
            .collect())
    }
}

/// `Theme.recommendations`: newest review first, printed order within a review.
pub struct ThemeRecommendations;
impl ChildList for ThemeRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "rt.theme_id";
    const FROM: &'static str = "recommendation rec \
        JOIN recommendation_theme rt ON rt.recommendation_id = rec.id WHERE rt.theme_id IN ({in})";
    const ORDER: &'static str = "rec.review_id DESC, rec.position, rec.id";
}

/// A stored text neighbour of a recommendation.
#[derive(Clone, Debug, PartialEq, FromQueryResult)]
pub struct NeighbourRow {
    pub other_id: i32,
    pub score: f64,
}

/// The stored text neighbours of each recommendation, best first.
pub struct Neighbours(pub DatabaseConnection);

impl Loader<i32> for Neighbours {
    type Value = Vec<NeighbourRow>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT s.other_id, s.score, s.recommendation_id AS parent_id \
             FROM recommendation_similarity s WHERE s.recommendation_id IN ({in}) \
             ORDER BY s.recommendation_id, s.score DESC, s.other_id",
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

/// The action plan of each recommendation that has one.
pub struct PlanByRecommendation(pub DatabaseConnection);

impl Loader<i32> for PlanByRecommendation {
    type Value = entity::action_plan::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows: HashMap<i32, Vec<entity::action_plan::Model>> = grouped(
            &self.0,
            "SELECT ap.*, ap.recommendation_id AS parent_id FROM action_plan ap \
             WHERE ap.recommendation_id IN ({in})",
            keys,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, mut v)| v.pop().map(|p| (k, p)))
            .collect())
    }
}

/// The status history of each recommendation, oldest first.
pub struct HistoryByRecommendation(pub DatabaseConnection);

impl Loader<i32> for HistoryByRecommendation {
    type Value = Vec<entity::status_event::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        grouped(
            &self.0,
            "SELECT se.*, se.recommendation_id AS parent_id FROM status_event se \
             WHERE se.recommendation_id IN ({in}) ORDER BY se.recommendation_id, se.version",
            keys,
        )
        .await
    }
}
