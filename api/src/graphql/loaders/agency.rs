//! Loaders of `Agency` fields.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use entity::{agency, agency_alias, recommendation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::LoadError;

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

/// The graph's agency for each register code, where a review has addressed that body.
pub struct AgencyByCode(pub DatabaseConnection);

impl Loader<String> for AgencyByCode {
    type Value = agency::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let mut out: HashMap<String, agency::Model> = HashMap::new();
        for a in agency::Entity::find()
            .filter(agency::Column::RegistryCode.is_in(keys.iter().cloned()))
            .all(&self.0)
            .await?
        {
            if let Some(code) = a.registry_code.clone() {
                out.insert(code, a);
            }
        }
        Ok(out)
    }
}
