//! A unit of work in progress: its transaction, and what its writer touched.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use crate::events::Event;
use crate::graph::derived::Change;
use crate::sql::statement;

/// What a unit's writer touched; [`super::upkeep::settle`] derives the rest from it.
#[derive(Default)]
pub struct Touched {
    /// The aggregates' share of the reviews declared before they changed.
    pub(super) change: Change,
    /// Reviews whose search rows (title, summary, recommendations) must be rewritten.
    pub(super) indexed: BTreeSet<i32>,
    /// Recommendations whose text is new or changed, with the text.
    pub(super) texts: BTreeMap<i32, String>,
    /// Recommendations whose text is new or changed: their similarity is rescored.
    pub(super) rescore: BTreeSet<i32>,
    /// Recommendations to withdraw (alone, or with a deleted review): kept with their plan
    /// and history, their derived rows gone.
    pub(super) removed: BTreeSet<i32>,
    /// Reviews to leave as tombstones once their share of the aggregates is gone, with who
    /// deleted them and why.
    pub(super) deleted_reviews: BTreeMap<i32, (String, Option<String>)>,
    /// Agencies to delete once their share of the aggregates is gone.
    pub(super) deleted_agencies: BTreeSet<i32>,
    /// `(recommendation, review, from, to)` plan status moves.
    pub(super) status_moves: Vec<(i32, i32, String, String)>,
    /// Reviews whose CSPs or year of death changed: their DHRD link is looked for again.
    pub(super) linkable: BTreeSet<i32>,
    pub(super) events: Vec<Event>,
    /// Audit entries, written with the unit.
    pub(super) audit: Vec<AuditEntry>,
    /// The whole graph was written (an import): aggregates and similarity are rebuilt.
    pub(super) everything: bool,
    /// Reviews this unit created, and the recommendations it wrote for them: nothing is
    /// derived from them yet, so their upkeep replaces nothing (no deletes, no listers).
    pub(super) created: BTreeSet<i32>,
    pub(super) fresh: BTreeSet<i32>,
    /// Created reviews whose search text is all in hand (their own text from the writer,
    /// their recommendations' from `texts`): indexed without reading them back. A review
    /// written again in the unit leaves this and is read back.
    pub(super) in_hand: BTreeMap<i32, (String, Vec<i32>)>,
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: &'static str,
    pub subject_kind: &'static str,
    pub subject_id: i32,
    pub detail: Option<serde_json::Value>,
}

/// One unit of work: a write transaction and what its writer touched. Writers write base
/// tables through [`Unit::db`] and tell the unit what they touched; they never update
/// derived tables themselves.
pub struct Unit {
    txn: DatabaseTransaction,
    touched: Touched,
    actor: std::sync::Arc<str>,
}

impl Unit {
    pub(super) fn new(txn: DatabaseTransaction, actor: std::sync::Arc<str>) -> Self {
        Unit {
            txn,
            touched: Touched::default(),
            actor,
        }
    }

    /// Who the unit writes for (the write path's actor).
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Records a write in the audit log, as the unit's actor.
    pub fn log(
        &mut self,
        action: &'static str,
        subject_kind: &'static str,
        subject_id: i32,
        detail: Option<serde_json::Value>,
    ) {
        self.touched.audit.push(AuditEntry {
            actor: self.actor.to_string(),
            action,
            subject_kind,
            subject_id,
            detail,
        });
    }

    pub(super) fn into_txn(self) -> DatabaseTransaction {
        self.txn
    }

    pub(super) fn into_parts(self) -> (DatabaseTransaction, Touched) {
        (self.txn, self.touched)
    }

    /// The unit's transaction, for reads and base-table writes.
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Declares reviews about to change (their recommendations, links, mentions, plans,
    /// CSPs or month) or go. Call it *before* the change: it reads their share of the
    /// aggregates (and on PostgreSQL locks them). Declaring twice costs nothing.
    pub async fn reviews_changing(&mut self, reviews: &[i32]) -> Result<(), DbErr> {
        for r in reviews {
            self.touched.in_hand.remove(r);
        }
        self.touched.change.add(&self.txn, reviews).await?;
        self.touched.linkable.extend(reviews);
        Ok(())
    }

    /// Declares a review this unit created.
    pub fn review_created(&mut self, review: i32) {
        self.touched.change.adopt(review);
        self.touched.linkable.insert(review);
        self.touched.indexed.insert(review);
        self.touched.created.insert(review);
    }

    /// Declares every review that addresses or mentions the agency as changing (before its
    /// links, or its sector, change).
    pub async fn agency_changing(&mut self, agency: i32) -> Result<(), DbErr> {
        let reviews: Vec<i32> = self
            .txn
            .query_all_raw(statement(
                self.txn.get_database_backend(),
                "SELECT review_id FROM agency_review WHERE agency_id = ?",
                vec![agency.into()],
            ))
            .await?
            .iter()
            .map(|r| r.try_get("", "review_id"))
            .collect::<Result<_, _>>()?;
        self.reviews_changing(&reviews).await
    }

    /// The recommendations of `review` the writer wrote, with their texts (themes, mentions
    /// and search follow; mentions also follow a change of addressees), `new_text`, those
    /// of them whose text is new or changed (similarity follows), and `gone`, those the
    /// writer leaves for the unit to withdraw (their plans and history stay).
    pub fn texts_written(
        &mut self,
        review: i32,
        texts: Vec<(i32, String)>,
        new_text: impl IntoIterator<Item = i32>,
        gone: &[i32],
    ) {
        self.touched.indexed.insert(review);
        for id in gone {
            self.touched.texts.remove(id);
            self.touched.rescore.remove(id);
        }
        self.touched.removed.extend(gone);
        if self.touched.created.contains(&review) {
            self.touched.fresh.extend(texts.iter().map(|(id, _)| *id));
            if let Some((_, ids)) = self.touched.in_hand.get_mut(&review) {
                if ids.is_empty() && gone.is_empty() {
                    ids.extend(texts.iter().map(|(id, _)| *id));
                } else {
                    self.touched.in_hand.remove(&review);
                }
            }
        }
        self.touched.texts.extend(texts);
        self.touched.rescore.extend(new_text);
    }

    /// The searchable text (title and summary) of a review this unit created, so that its
    /// search rows are written from what the writer holds. Call it after
    /// [`Unit::review_created`] and before [`Unit::texts_written`].
    pub fn created_review_text(&mut self, review: i32, text: String) {
        if self.touched.created.contains(&review) {
            self.touched.in_hand.insert(review, (text, Vec::new()));
        }
    }

    /// The review's own searchable text (title, summary) changed.
    pub fn review_text_written(&mut self, review: i32) {
        self.touched.in_hand.remove(&review);
        self.touched.indexed.insert(review);
    }

    /// Deletes the review at the end of the unit, after its share of the aggregates is taken
    /// out: it becomes a tombstone (hidden from reads, restorable), its recommendations are
    /// withdrawn with their plans and history kept.
    pub async fn delete_review(&mut self, review: i32, reason: Option<&str>) -> Result<(), DbErr> {
        self.reviews_changing(&[review]).await?;
        let recs: Vec<i32> = self
            .txn
            .query_all_raw(statement(
                self.txn.get_database_backend(),
                "SELECT id FROM recommendation WHERE review_id = ? AND withdrawn_at IS NULL",
                vec![review.into()],
            ))
            .await?
            .iter()
            .map(|r| r.try_get("", "id"))
            .collect::<Result<_, _>>()?;
        for id in &recs {
            self.touched.texts.remove(id);
            self.touched.rescore.remove(id);
        }
        self.touched.removed.extend(recs);
        self.touched.indexed.remove(&review);
        self.touched.linkable.remove(&review);
        self.touched
            .deleted_reviews
            .insert(review, (self.actor.to_string(), reason.map(str::to_owned)));
        self.log(
            "review.deleted",
            "review",
            review,
            reason.map(|r| serde_json::json!({ "reason": r })),
        );
        Ok(())
    }

    /// Deletes the agency at the end of the unit. Its links must be gone by then (moved or
    /// deleted by the writer, after [`Unit::agency_changing`]).
    pub fn delete_agency(&mut self, agency: i32) {
        self.touched.deleted_agencies.insert(agency);
    }

    /// A recommendation's plan moved from one status to another (`NOT_STARTED` when it had
    /// no plan).
    pub fn status_moved(&mut self, recommendation: i32, review: i32, from: &str, to: &str) {
        self.touched
            .status_moves
            .push((recommendation, review, from.to_owned(), to.to_owned()));
    }

    /// An event for subscribers, staged with the commit and published after it.
    pub fn stage(&mut self, event: Event) {
        self.touched.events.push(event);
    }

    /// The unit wrote the whole graph (an import into an empty database): aggregates are
    /// recomputed and similarity rebuilt instead of followed.
    pub fn wrote_everything(&mut self) {
        self.touched.everything = true;
    }
}
