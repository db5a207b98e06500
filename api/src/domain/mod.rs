//! Domain values of the DHR graph, parsed once and valid thereafter ("parse, don't validate").
//!
//! Nothing here touches the database or GraphQL.

pub mod month;
pub mod normalise;
pub mod sector;

pub use month::YearMonth;
pub use sector::{AgencyKind, CaseTag, Method, PlanStatus, Rag, ReviewType, Scope, Sector};
