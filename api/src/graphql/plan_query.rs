//! Oversight of action plans: counts per status, and what is overdue.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::enums::{PlanStatus, Sector};
use super::loaders::{AgencyById, CspById};
use super::page::{Conn, CursorValue, Page, PageArgs, Total, encode_cursor};
use super::types::{Agency, Csp, Recommendation, load};
use crate::db::Db;
use crate::error::ApiError;
use crate::plans::{self, StatsBy};

#[derive(Default)]
pub struct PlanQuery;

/// How `actionPlanStats` groups recommendations.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ActionPlanGroup {
    /// By each agency a recommendation is addressed to.
    Agency,
    /// By the CSPs of its review.
    Csp,
    /// By the sectors of the agencies it is addressed to (once per sector).
    Sector,
    /// By the region of its review's CSPs (the DHRD's names; "" where none is known).
    Region,
}

/// Recommendations per action-plan status in one group.
#[derive(SimpleObject, Clone, Debug, Default)]
#[graphql(complex)]
pub struct ActionPlanStat {
    /// The sector, when grouped by sector.
    pub sector: Option<Sector>,
    /// The region, when grouped by region (empty where none is known).
    pub region: Option<String>,
    #[graphql(skip)]
    pub agency_id: Option<i32>,
    #[graphql(skip)]
    pub csp_id: Option<i32>,
    /// All recommendations in the group.
    pub total: i64,
    pub not_started: i64,
    pub in_progress: i64,
    pub implemented: i64,
    pub not_accepted: i64,
    pub closed: i64,
}

#[async_graphql::ComplexObject]
impl ActionPlanStat {
    /// The agency, when grouped by agency.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        match self.agency_id {
            Some(id) => Ok(load::<AgencyById, _>(ctx, id).await?.map(Agency)),
            None => Ok(None),
        }
    }

    /// The CSP, when grouped by CSP.
    async fn csp(&self, ctx: &Context<'_>) -> Result<Option<Csp>> {
        match self.csp_id {
            Some(id) => Ok(load::<CspById, _>(ctx, id).await?.map(Csp)),
            None => Ok(None),
        }
    }
}

/// Sectors are a fixed list of a few dozen; agencies and CSPs grow with the graph.
fn plan_stats_cost(group_by: ActionPlanGroup, first: Option<i32>, child: usize) -> usize {
    let most = match group_by {
        ActionPlanGroup::Sector | ActionPlanGroup::Region => 40,
        ActionPlanGroup::Agency | ActionPlanGroup::Csp => {
            crate::graphql::graph_query::MAX_STAT_ROWS
        }
    };
    crate::graphql::page::list_cost(first, most, child)
}

/// `YYYY-MM-DD`, checked.
pub fn date(field: &str, v: &str) -> Result<String, ApiError> {
    chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| ApiError::bad_input(field, format!("{v:?} is not a date (YYYY-MM-DD)")))
}

#[Object]
impl PlanQuery {
    /// Recommendations per action-plan status, per agency, CSP or sector, largest group
    /// first. A recommendation nobody has planned yet counts as `NOT_STARTED`.
    /// At most `first` groups (default and most: 5,000).
    #[graphql(complexity = "plan_stats_cost(group_by, first, child_complexity)")]
    async fn action_plan_stats(
        &self,
        ctx: &Context<'_>,
        group_by: ActionPlanGroup,
        first: Option<i32>,
    ) -> Result<Vec<ActionPlanStat>> {
        let first = crate::graphql::page::list_size(
            "first",
            first,
            crate::graphql::graph_query::MAX_STAT_ROWS,
        )?;
        let db = ctx.data_unchecked::<Db>();
        let by = match group_by {
            ActionPlanGroup::Agency => StatsBy::Agency,
            ActionPlanGroup::Csp => StatsBy::Csp,
            ActionPlanGroup::Sector => StatsBy::Sector,
            ActionPlanGroup::Region => StatsBy::Region,
        };
        let rows = plans::stats(&db.conn, by).await.map_err(ApiError::from)?;
        let mut groups: BTreeMap<String, ActionPlanStat> = BTreeMap::new();
        for row in rows {
            let g = groups.entry(row.bucket.clone()).or_insert_with(|| {
                let mut g = ActionPlanStat::default();
                match by {
                    StatsBy::Agency => g.agency_id = row.bucket.parse().ok(),
                    StatsBy::Csp => g.csp_id = row.bucket.parse().ok(),
                    StatsBy::Region => g.region = Some(row.bucket.clone()),
                    StatsBy::Sector => {
                        g.sector = row
                            .bucket
                            .parse::<crate::domain::Sector>()
                            .ok()
                            .map(Into::into)
                    }
                }
                g
            });
            g.total += row.n;
            match row
                .status
                .parse::<crate::domain::PlanStatus>()
                .map(PlanStatus::from)
            {
                Ok(PlanStatus::NotStarted) => g.not_started += row.n,
                Ok(PlanStatus::InProgress) => g.in_progress += row.n,
                Ok(PlanStatus::Implemented) => g.implemented += row.n,
                Ok(PlanStatus::NotAccepted) => g.not_accepted += row.n,
                Ok(PlanStatus::Closed) => g.closed += row.n,
                Err(_) => {}
            }
        }
        let mut out: Vec<ActionPlanStat> = groups.into_values().collect();
        // Stable: BTreeMap order breaks ties.
        out.sort_by_key(|s| std::cmp::Reverse(s.total));
        out.truncate(first);
        Ok(out)
    }

    /// Recommendations whose action plan's target date is before `asOf` (default: today,
    /// UTC) and that are still `NOT_STARTED` or `IN_PROGRESS`, earliest target first.
    #[graphql(complexity = "crate::graphql::page::page_cost(first, None, child_complexity)")]
    async fn overdue_recommendations(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Recommendation>> {
        let db = ctx.data_unchecked::<Db>();
        let as_of = match as_of {
            Some(d) => date("asOf", &d)?,
            None => chrono::Utc::now().format("%Y-%m-%d").to_string(),
        };
        let window = PageArgs::new(after, None, first, None).window(1)?;
        let offset = match window.after.as_deref() {
            Some([CursorValue::Int(n)]) if *n >= 0 => *n as u64,
            None => 0,
            _ => return Err(ApiError::bad_input("after", "not a cursor of this list").into()),
        };
        let limit = window.first.unwrap_or(super::page::DEFAULT_PAGE_SIZE) as u64;
        let (rows, total) = plans::overdue(&db.conn, &as_of, offset, limit)
            .await
            .map_err(ApiError::from)?;
        let page = Page {
            has_next: offset + (rows.len() as u64) < total,
            items: rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        encode_cursor(&[CursorValue::Int((offset + i as u64 + 1) as i64)]),
                        Recommendation(r),
                    )
                })
                .collect(),
            has_previous: offset > 0,
            total: Total::known(total),
        };
        Ok(page.into_connection(|r| r))
    }
}
