//! Loaders of `Recommendation` fields.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::agency;
use sea_orm::{DatabaseConnection, DbBackend, FromQueryResult};

use super::{LoadError, grouped};

/// The agencies each recommendation is addressed to, in the order printed.
pub struct AgenciesByRecommendation(pub DatabaseConnection);

impl Loader<i32> for AgenciesByRecommendation {
    type Value = Vec<agency::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let sql = match self.0.get_database_backend() {
            // A review page's few hundred links are a few hundred primary-key probes, but
            // PostgreSQL's default costs plan them as a hash of every agency (4-8 ms at
            // national scale against 1.4 ms); the lateral subquery, fenced by `OFFSET 0`,
            // keeps it a nested loop (memoized per agency). SQLite probes the key anyway.
            DbBackend::Postgres => {
                "SELECT a.*, ra.recommendation_id AS parent_id FROM recommendation_agency ra \
                 CROSS JOIN LATERAL (SELECT * FROM agency WHERE agency.id = ra.agency_id OFFSET 0) a \
                 WHERE ra.recommendation_id IN ({in}) ORDER BY ra.recommendation_id, ra.position"
            }
            _ => {
                "SELECT a.*, ra.recommendation_id AS parent_id FROM agency a \
                 JOIN recommendation_agency ra ON ra.agency_id = a.id \
                 WHERE ra.recommendation_id IN ({in}) ORDER BY ra.recommendation_id, ra.position"
            }
        };
        grouped(&self.0, sql, keys).await
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
