//! What each nested connection selects, and in which order (see `child_pages`).

use entity::{agency, recommendation, review};

use super::ChildList;

/// `Review.recommendations`: in printed order.
pub struct ReviewRecommendations;
impl ChildList for ReviewRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "rec.review_id";
    const FROM: &'static str =
        "recommendation rec WHERE rec.review_id IN ({in}) AND rec.withdrawn_at IS NULL";
    const ORDER: &'static str = "rec.position, rec.id";
}

/// `Review.recommendations(includeWithdrawn: true)`: printed order, then the withdrawn in the
/// order they left.
pub struct ReviewRecommendationsWithWithdrawn;
impl ChildList for ReviewRecommendationsWithWithdrawn {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "rec.review_id";
    const FROM: &'static str = "recommendation rec WHERE rec.review_id IN ({in})";
    const ORDER: &'static str = "CASE WHEN rec.withdrawn_at IS NULL THEN rec.position ELSE 0 END, \
        rec.withdrawn_at, rec.id";
}

/// `Review.agencies`: every agency the review addresses, by name.
pub struct ReviewAgencies;
impl ChildList for ReviewAgencies {
    type Row = agency::Model;
    const COLUMNS: &'static str = "a.*";
    const PARENT: &'static str = "x.review_id";
    const FROM: &'static str = "agency a JOIN (SELECT DISTINCT rec.review_id, ra.agency_id \
        FROM recommendation rec JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
        WHERE rec.review_id IN ({in})) x ON x.agency_id = a.id";
    const ORDER: &'static str = "a.name, a.id";
}

/// `Csp.reviews`: newest first.
pub struct CspReviews;
impl ChildList for CspReviews {
    type Row = review::Model;
    const COLUMNS: &'static str = "r.*";
    const PARENT: &'static str = "rc.csp_id";
    const FROM: &'static str =
        "review r JOIN review_csp rc ON rc.review_id = r.id WHERE rc.csp_id IN ({in})";
    const ORDER: &'static str = "COALESCE(r.published, '') DESC, r.id DESC";
}

/// `Csp.agencies`: agencies addressed by the CSP's reviews, most reviews first.
pub struct CspAgencies;
impl ChildList for CspAgencies {
    type Row = agency::Model;
    const COLUMNS: &'static str = "a.*";
    const PARENT: &'static str = "x.csp_id";
    const FROM: &'static str = "agency a JOIN (SELECT DISTINCT rc.csp_id, ra.agency_id \
        FROM review_csp rc JOIN recommendation rec ON rec.review_id = rc.review_id \
        JOIN recommendation_agency ra ON ra.recommendation_id = rec.id \
        WHERE rc.csp_id IN ({in})) x ON x.agency_id = a.id";
    const ORDER: &'static str = "a.review_count DESC, a.name, a.id";
}

/// `Agency.reviews`: reviews that addressed the agency, newest first, numbered along the
/// `(agency_id, published, review_id)` index of `agency_review` (whose `published` is
/// `COALESCE(review.published, '')`).
pub struct AgencyReviews;
impl ChildList for AgencyReviews {
    type Row = review::Model;
    const COLUMNS: &'static str = "x.review_id AS late_id";
    const PARENT: &'static str = "x.agency_id";
    const FROM: &'static str =
        "agency_review x WHERE x.agency_id IN ({in}) AND x.addressed_recs > 0";
    const ORDER: &'static str = "x.published DESC, x.review_id DESC";
    const LATE_JOIN: &'static str = "JOIN review r ON r.id = t.late_id";
    const LATE_COLUMNS: &'static str = "r.*";
    const LIMIT_ONE_PARENT: bool = true;
    const LATE_ORDER: &'static str = "COALESCE(r.published, '') DESC, r.id DESC";
}

/// `Agency.recommendations`: newest review first, printed order within a review. Read along
/// the agency's reviews in `agency_review`'s `(agency_id, published, review_id)` index, then
/// each review's recommendations by position: a page of the agency of 5,000 links reads the
/// page's reviews only (PostgreSQL at national scale: 1.6 ms, against 27 ms to number every
/// link in a window and count them all; SQLite 0.2 ms against 30 ms). `CROSS JOIN` is
/// SQLite's way to fix that join order, which without statistics it would start from the
/// agency's links and sort them all; PostgreSQL plans it as any inner join.
pub struct AgencyRecommendations;
impl ChildList for AgencyRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "x.agency_id";
    const FROM: &'static str = "agency_review x \
        CROSS JOIN recommendation rec CROSS JOIN recommendation_agency ra \
        WHERE x.agency_id IN ({in}) AND x.addressed_recs > 0 \
        AND rec.review_id = x.review_id \
        AND ra.recommendation_id = rec.id AND ra.agency_id = x.agency_id";
    const ORDER: &'static str = "x.published DESC, x.review_id DESC, rec.position, rec.id";
    const LIMIT_ONE_PARENT: bool = true;
}

/// `Agency.trace`: the reviews that addressed the agency, oldest first.
pub struct AgencyTraceReviews;
impl ChildList for AgencyTraceReviews {
    type Row = review::Model;
    const PARENT: &'static str = "x.agency_id";
    const COLUMNS: &'static str = AgencyReviews::COLUMNS;
    const FROM: &'static str = AgencyReviews::FROM;
    const ORDER: &'static str = "x.published, x.review_id";
    const LATE_JOIN: &'static str = AgencyReviews::LATE_JOIN;
    const LATE_COLUMNS: &'static str = AgencyReviews::LATE_COLUMNS;
    const LIMIT_ONE_PARENT: bool = true;
    const LATE_ORDER: &'static str = "COALESCE(r.published, ''), r.id";
}

/// `Theme.recommendations`: newest review first, printed order within a review.
pub struct ThemeRecommendations;
impl ChildList for ThemeRecommendations {
    type Row = recommendation::Model;
    const COLUMNS: &'static str = "rec.*";
    const PARENT: &'static str = "rt.theme_id";
    const FROM: &'static str = "recommendation rec \
        JOIN recommendation_theme rt ON rt.recommendation_id = rec.id WHERE rt.theme_id IN ({in})";
    const ORDER: &'static str = "rec.review_id DESC, rec.position, rec.id";
}
