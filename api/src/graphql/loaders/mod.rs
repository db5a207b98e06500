//! DataLoaders: every nested field of the schema loads through one of these, so a nested
//! query costs one statement per field, however many parents it has.
//!
//! Nested connections page inside each parent with `ROW_NUMBER() OVER (PARTITION BY parent)`:
//! one statement answers `first`/`after` for every parent at once (SQLite and PostgreSQL both
//! have window functions).
//!
//! The loaders are grouped by the type whose field they load; `child_pages` is the engine
//! under every nested connection, `lists` says what each connection selects.

mod agency;
mod child_pages;
mod lists;
mod recommendation;
mod review;
mod theme;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use entity::{
    agency as agency_row, csp, recommendation as recommendation_row, review as review_row,
    theme as theme_row,
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter};

use crate::sql::{in_list, statement};

pub use agency::*;
pub use child_pages::{ChildList, ChildPageKey, ChildPages};
pub use lists::*;
pub use recommendation::*;
pub use review::*;
pub use theme::*;

pub type LoadError = Arc<DbErr>;

/// Row loaders by primary key, for `node`, `nodes` and `Recommendation.review`.
macro_rules! by_id_loader {
    ($name:ident, $module:ident) => {
        by_id_loader!($name, $module, sea_orm::Condition::all());
    };
    ($name:ident, $module:ident, $visible:expr) => {
        pub struct $name(pub DatabaseConnection);

        impl Loader<i32> for $name {
            type Value = $module::Model;
            type Error = LoadError;

            async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
                Ok($module::Entity::find()
                    .filter($module::Column::Id.is_in(keys.iter().copied()))
                    .filter($visible)
                    .all(&self.0)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect())
            }
        }
    };
}

// A deleted review is a tombstone that no read reaches.
by_id_loader!(
    ReviewById,
    review_row,
    review_row::Column::DeletedAt.is_null()
);
by_id_loader!(CspById, csp);
by_id_loader!(AgencyById, agency_row);
by_id_loader!(RecommendationById, recommendation_row);
by_id_loader!(ThemeById, theme_row);

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
