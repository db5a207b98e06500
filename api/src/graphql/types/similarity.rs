use async_graphql::SimpleObject;

/// How far the stored similarity edges (`related`, `repeats`) have followed the writes.
///
/// Writes commit first; the recommendations they touched are then rescored in the
/// background. A client that has just written and wants `related` to reflect it waits for
/// `current`.
#[derive(SimpleObject)]
pub struct SimilarityStatus {
    /// Every write this server has committed is reflected in `related` and `repeats`.
    pub current: bool,
    /// Recommendations waiting to be rescored.
    pub pending: i32,
    /// A full rebuild is running (the weights are being recomputed over every recommendation).
    pub rebuilding: bool,
    /// Of a running rebuild: recommendations scored so far.
    pub rebuild_scored: i32,
    /// Of a running rebuild: recommendations to score.
    pub rebuild_total: i32,
    /// Recommendations the last full rebuild scored: the corpus its term weights come from.
    pub documents: i32,
    /// Recommendations rescored one by one since that rebuild. A full rebuild runs once this
    /// passes the server's `--similarity-rebuild-fraction` of `documents`, which bounds how far
    /// the weights drift from the corpus.
    pub changes_since_rebuild: i32,
    /// When the last full rebuild finished (RFC 3339); null before the first.
    pub rebuilt_at: Option<String>,
}
