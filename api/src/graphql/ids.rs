//! Opaque global ids: `base64url("Type:id")`. Clients must not parse them; we may change them.

use async_graphql::ID;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Review,
    Csp,
    Agency,
    Recommendation,
    Theme,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Review => "Review",
            Kind::Csp => "Csp",
            Kind::Agency => "Agency",
            Kind::Recommendation => "Recommendation",
            Kind::Theme => "Theme",
        }
    }
}

pub fn encode(kind: Kind, id: i32) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes any global id; `field` names the argument in the error.
pub fn decode(field: &str, id: &ID) -> ApiResult<(Kind, i32)> {
    let bad = || ApiError::bad_input(field, format!("{:?} is not an id of this API", id.as_str()));
    let raw = URL_SAFE_NO_PAD.decode(id.as_bytes()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (kind, n) = raw.split_once(':').ok_or_else(bad)?;
    let kind = [
        Kind::Review,
        Kind::Csp,
        Kind::Agency,
        Kind::Recommendation,
        Kind::Theme,
    ]
    .into_iter()
    .find(|k| k.name() == kind)
    .ok_or_else(bad)?;
    Ok((kind, n.parse().map_err(|_| bad())?))
}

/// Decodes an id that must be of one kind.
pub fn decode_as(field: &str, id: &ID, kind: Kind) -> ApiResult<i32> {
    match decode(field, id)? {
        (k, n) if k == kind => Ok(n),
        _ => Err(ApiError::bad_input(
            field,
            format!("expected a {} id", kind.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_typed() {
        let id = encode(Kind::Agency, 42);
        assert_eq!(decode("id", &id).unwrap(), (Kind::Agency, 42));
        assert!(decode_as("id", &id, Kind::Review).is_err());
        assert!(decode("id", &ID("garbage!".into())).is_err());
    }
}
