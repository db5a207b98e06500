use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Object, Result};

use super::Agency;
use crate::graphql::enums::{AgencyKind, Scope, Sector};
use crate::graphql::loaders::AgencyByCode;
use crate::registry::{Body, registry};

/// A body of the public registers the project ships (police forces, ICBs, councils, ...),
/// whether or not a review has addressed it yet.
#[derive(Clone, Copy)]
pub struct RegisteredBody(pub usize);

impl RegisteredBody {
    fn body(&self) -> &'static Body {
        registry().body(self.0)
    }

    pub fn list(indexes: Vec<usize>) -> Vec<RegisteredBody> {
        indexes.into_iter().map(RegisteredBody).collect()
    }
}

/// A body of the public registers the project ships (police forces, ICBs, councils, ...),
/// whether or not a review has addressed it yet.
#[Object]
impl RegisteredBody {
    /// The register's code, as `Agency.registryCode`: `gss:E10000016`, `force:kent`, `ods:QKS`.
    async fn code(&self) -> &str {
        &self.body().code
    }

    /// The register's name for it.
    async fn name(&self) -> &str {
        &self.body().name
    }

    /// What kind of body it is.
    async fn kind(&self) -> AgencyKind {
        self.body().kind.into()
    }

    /// The sector its agency gets.
    async fn sector(&self) -> Sector {
        self.body().sector.into()
    }

    /// How far its remit reaches.
    async fn scope(&self) -> Scope {
        self.body().scope.into()
    }

    /// False for a body since abolished or taken over (a CCG, a district merged into a
    /// unitary council).
    async fn current(&self) -> bool {
        self.body().current
    }

    /// The graph's agency for this body; null until a review has addressed it.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        Ok(ctx
            .data_unchecked::<DataLoader<AgencyByCode>>()
            .load_one(self.body().code.clone())
            .await?
            .map(Agency))
    }
}
