//! The services' own errors turned into the API's, once: each service (curation, plans)
//! says what went wrong in its terms, and this is where a client's `extensions.code` is
//! chosen for it.

use crate::curation::CurationError;
use crate::error::ApiError;
use crate::graphql::ids::{Kind, encode};
use crate::ingest::IngestError;
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
            CurationError::NotDeleted(id) => ApiError::bad_input(
                "input.id",
                format!(
                    "review {} is not deleted",
                    encode(Kind::Review, id).as_str()
                ),
            ),
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
            e @ PlanError::Withdrawn => ApiError::bad_input("input.id", e.to_string()),
            e @ PlanError::NothingToChange => ApiError::bad_input("input", e.to_string()),
            e @ PlanError::OutOfScope => ApiError::OutOfScope(e.to_string()),
            PlanError::Db(d) => d.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let message = e.to_string();
        match e {
            IngestError::Parse(p) => ApiError::BadPage {
                line: p.line,
                reason: p.reason,
            },
            IngestError::Deleted { review_id } => ApiError::Deleted {
                what: format!("review {}", encode(Kind::Review, review_id).as_str()),
            },
            IngestError::WouldWithdraw { withheld, .. } => ApiError::WouldWithdraw {
                message: message.replace("allow-withdraw", "`allowWithdraw: true`"),
                withheld: withheld
                    .into_iter()
                    .map(|w| {
                        (
                            encode(Kind::Recommendation, w.id).to_string(),
                            w.label,
                            w.status_events,
                        )
                    })
                    .collect(),
            },
            IngestError::OutOfScope(m) => ApiError::OutOfScope(m),
            IngestError::Db(d) => d.into(),
        }
    }
}
