//! The services' own errors turned into the API's, once: each service (curation, plans)
//! says what went wrong in its terms, and this is where a client's `extensions.code` is
//! chosen for it.

use crate::curation::CurationError;
use crate::error::ApiError;
use crate::plans::PlanError;

impl From<CurationError> for ApiError {
    fn from(e: CurationError) -> Self {
        match e {
            CurationError::NoAgency(name) => ApiError::NotFound {
                what: format!("agency {name:?}"),
            },
            CurationError::NoReview(_) => ApiError::NotFound {
                what: "review".into(),
            },
            CurationError::Db(d) => d.into(),
            other => ApiError::bad_input("input", other.to_string()),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::NoRecommendation => ApiError::NotFound {
                what: "recommendation".into(),
            },
            PlanError::Conflict { current, expected } => ApiError::Conflict { current, expected },
            PlanError::Db(d) => d.into(),
        }
    }
}
