//! Loaders of `Theme` fields.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{DatabaseConnection, FromQueryResult};

use super::{LoadError, grouped};

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
