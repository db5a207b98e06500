//! The aggregates behind the graph questions (`agency_review`, `agency_recurrence`,
//! `agency_pair`, `plan_stat`; see migration 10), kept exact by every write.
//!
//! A write that changes what reviews link to takes a [`Change`]: `begin` reads the reviews'
//! current share of every aggregate, the write changes the base tables, and `finish` reads
//! their new share and applies the difference. The difference goes in as one upsert per table
//! in key order, so that two PostgreSQL writers lock shared rows ("All Agencies", a sector's
//! counts) in the same order and cannot deadlock, and so that counts are added to rather than
//! recomputed from a snapshot another writer may be changing. A status change moves one
//! recommendation between two statuses ([`status_moved`]).
//!
//! [`verify`] recomputes everything from the base tables and lists what differs: the tests
//! run it after every kind of write, on both engines.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use crate::sql::{in_list, statement};

/// Rows per multi-row statement: under SQLite's 32,766 bound values at five values a row.
const CHUNK: usize = 1000;
/// Ids per `IN` list.
const IDS: usize = 500;

/// Which reviews; `All` for a rebuild or a check of the whole graph.
#[derive(Clone, Copy)]
enum Reviews<'a> {
    All,
    Some(&'a [i32]),
}

/// One `agency_review` row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    agency_id: i32,
    review_id: i32,
    published: String,
    addressed_recs: i32,
    mentioned_recs: i32,
}

/// What a set of reviews adds to the aggregates.
#[derive(Default)]
struct Share {
    links: Vec<Link>,
    plans: BTreeMap<(String, String, String), i64>,
}

/// Counts per key, summed; a key's counts are added to the stored row.
type Deltas<K> = BTreeMap<K, [i64; 4]>;

impl Share {
    fn recurrence(&self, sign: i64, out: &mut Deltas<i32>) {
        for l in &self.links {
            let d = out.entry(l.agency_id).or_default();
            d[0] += sign * i64::from(l.addressed_recs > 0);
            d[1] += sign * i64::from(l.addressed_recs);
            d[2] += sign;
            d[3] += sign * i64::from(l.addressed_recs + l.mentioned_recs);
        }
    }

    fn pairs(&self, sign: i64, out: &mut Deltas<(i32, i32)>) {
        let mut by_review: BTreeMap<i32, Vec<&Link>> = BTreeMap::new();
        for l in &self.links {
            by_review.entry(l.review_id).or_default().push(l);
        }
        for mut links in by_review.into_values() {
            links.sort_by_key(|l| l.agency_id);
            for (i, x) in links.iter().enumerate() {
                for y in &links[i + 1..] {
                    let d = out.entry((x.agency_id, y.agency_id)).or_default();
                    d[0] += sign * i64::from(x.addressed_recs > 0 && y.addressed_recs > 0);
                    d[1] += sign;
                }
            }
        }
    }
}

/// A write in progress over some reviews' links or recommendations: the share of the
/// aggregates those reviews held before the write, read as the write declares them.
#[derive(Default)]
#[must_use = "a Change must be finished in the transaction that began it"]
pub struct Change {
    reviews: BTreeSet<i32>,
    /// Reviews created by the write: no stored rows of theirs to replace.
    adopted: BTreeSet<i32>,
    before: Share,
}

impl Change {
    /// Reads the current share of `reviews` (those the write may change or delete). On
    /// PostgreSQL it also locks them, so that one review's changes apply one at a time.
    pub async fn begin<C: ConnectionTrait>(db: &C, reviews: &[i32]) -> Result<Change, DbErr> {
        let mut change = Change::default();
        change.add(db, reviews).await?;
        Ok(change)
    }

    /// Adds reviews to the change, reading (and locking) the share of those not in it yet.
    pub async fn add<C: ConnectionTrait>(&mut self, db: &C, reviews: &[i32]) -> Result<(), DbErr> {
        let mut new: Vec<i32> = reviews
            .iter()
            .copied()
            .filter(|r| !self.reviews.contains(r))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        new.sort_unstable();
        new.dedup();
        lock_reviews(db, &new).await?;
        self.before
            .links
            .extend(stored_links(db, Reviews::Some(&new)).await?);
        for (k, n) in plan_share(db, Reviews::Some(&new)).await? {
            *self.before.plans.entry(k).or_default() += n;
        }
        self.reviews.extend(new);
        Ok(())
    }

    /// Adds a review created by this write: it had no share before.
    pub fn adopt(&mut self, review: i32) {
        if self.reviews.insert(review) {
            self.adopted.insert(review);
        }
    }

    /// True when the review is part of this change.
    pub fn covers(&self, review: i32) -> bool {
        self.reviews.contains(&review)
    }

    pub fn is_empty(&self) -> bool {
        self.reviews.is_empty()
    }

    /// Applies the difference between the share read before and the current share of the
    /// change's reviews, leaving out `deleted` (reviews about to go: their rows are removed
    /// here, so that the review can be deleted after).
    pub async fn finish<C: ConnectionTrait>(
        self,
        db: &C,
        deleted: &BTreeSet<i32>,
    ) -> Result<(), DbErr> {
        if self.reviews.is_empty() {
            return Ok(());
        }
        // A review the write created has no agency_review rows to replace.
        let replaced: Vec<i32> = self.reviews.difference(&self.adopted).copied().collect();
        let now: Vec<i32> = self.reviews.difference(deleted).copied().collect();
        let after = Share {
            links: link_share(db, Reviews::Some(&now)).await?,
            plans: plan_share(db, Reviews::Some(&now)).await?,
        };
        apply(db, &replaced, &self.before, &after).await
    }
}

/// A recommendation's status went from `old` to `new` (`NOT_STARTED` when it had no plan).
pub async fn status_moved<C: ConnectionTrait>(
    db: &C,
    recommendation_id: i32,
    old: &str,
    new: &str,
) -> Result<(), DbErr> {
    if old == new {
        return Ok(());
    }
    let sql = "SELECT 'AGENCY' AS kind, CAST(agency_id AS VARCHAR(12)) AS bucket \
                 FROM recommendation_agency WHERE recommendation_id = ? \
               UNION SELECT 'CSP', CAST(rc.csp_id AS VARCHAR(12)) FROM recommendation rec \
                 JOIN review_csp rc ON rc.review_id = rec.review_id WHERE rec.id = ? \
               UNION SELECT 'SECTOR', a.sector FROM recommendation_agency ra \
                 JOIN agency a ON a.id = ra.agency_id WHERE ra.recommendation_id = ?";
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            sql,
            vec![recommendation_id.into(); 3],
        ))
        .await?;
    let mut deltas: Deltas<(String, String, String)> = BTreeMap::new();
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let bucket: String = row.try_get("", "bucket")?;
        deltas
            .entry((kind.clone(), bucket.clone(), old.to_owned()))
            .or_default()[0] -= 1;
        deltas.entry((kind, bucket, new.to_owned())).or_default()[0] += 1;
    }
    upsert_plans(db, &deltas).await
}

/// Empties the aggregates and fills them from the base tables (a migrated or imported
/// database).
pub async fn rebuild<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for table in [
        "agency_pair",
        "agency_recurrence",
        "agency_review",
        "plan_stat",
    ] {
        db.execute_raw(statement(backend, &format!("DELETE FROM {table}"), vec![]))
            .await?;
    }
    db.execute_raw(statement(
        backend,
        "UPDATE agency SET review_count = 0, recommendation_count = 0 \
         WHERE review_count <> 0 OR recommendation_count <> 0",
        vec![],
    ))
    .await?;
    let after = Share {
        links: link_share(db, Reviews::All).await?,
        plans: plan_share(db, Reviews::All).await?,
    };
    apply(db, &[], &Share::default(), &after).await
}

/// Every difference between the stored aggregates and what the base tables say they should
/// be, as readable lines; empty when they agree.
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let mut problems = Vec::new();
    let expected = Share {
        links: link_share(db, Reviews::All).await?,
        plans: plan_share(db, Reviews::All).await?,
    };

    let mut stored = stored_links(db, Reviews::All).await?;
    stored.sort();
    let mut links = expected.links.clone();
    links.sort();
    diff(
        &mut problems,
        "agency_review",
        &to_map(&links),
        &to_map(&stored),
    );

    let mut recurrence = BTreeMap::new();
    expected.recurrence(1, &mut recurrence);
    let have = stored_counts(db, &RECURRENCE, |r| r.try_get::<i32>("", "agency_id")).await?;
    diff(&mut problems, RECURRENCE.name, &recurrence, &have);

    // The agency's own counts are the addressed half of its recurrence row.
    let counts: Deltas<i32> = recurrence
        .iter()
        .map(|(k, d)| (*k, [d[0], d[1], 0, 0]))
        .collect();
    let mut have = BTreeMap::new();
    for row in db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT id, review_count, recommendation_count FROM agency",
            vec![],
        ))
        .await?
    {
        let stored = [
            row.try_get::<i32>("", "review_count")?.into(),
            row.try_get::<i32>("", "recommendation_count")?.into(),
            0,
            0,
        ];
        if stored != [0; 4] {
            have.insert(row.try_get::<i32>("", "id")?, stored);
        }
    }
    diff(&mut problems, "agency counts", &counts, &have);

    let mut pairs = BTreeMap::new();
    expected.pairs(1, &mut pairs);
    let have = stored_counts(db, &PAIRS, |r| {
        Ok((
            r.try_get::<i32>("", "agency_id")?,
            r.try_get::<i32>("", "other_id")?,
        ))
    })
    .await?;
    diff(&mut problems, PAIRS.name, &pairs, &have);

    let plans: Deltas<_> = expected
        .plans
        .iter()
        .map(|(k, n)| (k.clone(), [*n, 0, 0, 0]))
        .collect();
    let have = stored_counts(db, &PLANS, |r| {
        Ok((
            r.try_get::<String>("", "kind")?,
            r.try_get::<String>("", "bucket")?,
            r.try_get::<String>("", "status")?,
        ))
    })
    .await?;
    diff(&mut problems, PLANS.name, &plans, &have);
    Ok(problems)
}

fn to_map(links: &[Link]) -> Deltas<(i32, i32, String)> {
    links
        .iter()
        .map(|l| {
            (
                (l.agency_id, l.review_id, l.published.clone()),
                [l.addressed_recs.into(), l.mentioned_recs.into(), 0, 0],
            )
        })
        .collect()
}

fn diff<K: Ord + std::fmt::Debug>(
    problems: &mut Vec<String>,
    table: &str,
    expected: &Deltas<K>,
    stored: &Deltas<K>,
) {
    let zero = [0; 4];
    for (k, want) in expected {
        let have = stored.get(k).unwrap_or(&zero);
        if want != have && *want != zero {
            problems.push(format!("{table} {k:?}: expected {want:?}, stored {have:?}"));
        }
    }
    for (k, have) in stored {
        if expected.get(k).is_none_or(|w| *w == zero) {
            problems.push(format!("{table} {k:?}: stored {have:?}, expected none"));
        }
    }
}

async fn lock_reviews<C: ConnectionTrait>(db: &C, reviews: &[i32]) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite writers hold the database's one write lock from BEGIN IMMEDIATE.
        return Ok(());
    }
    for chunk in reviews.chunks(IDS) {
        let (list, values) = in_list(chunk);
        db.execute_raw(statement(
            DbBackend::Postgres,
            &format!("SELECT id FROM review WHERE id IN ({list}) ORDER BY id FOR NO KEY UPDATE"),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Locks the review of a recommendation (PostgreSQL), as [`Change::begin`] does, so that a
/// status change and a rewrite of the same review apply one after the other.
pub async fn lock_review_of<C: ConnectionTrait>(
    db: &C,
    recommendation_id: i32,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(statement(
        DbBackend::Postgres,
        "SELECT id FROM review WHERE id = (SELECT review_id FROM recommendation WHERE id = ?) \
         FOR NO KEY UPDATE",
        vec![recommendation_id.into()],
    ))
    .await?;
    Ok(())
}

/// `WHERE`-able filters on a review id column, one per chunk (`1 = 1` for all).
fn review_filters(column: &str, reviews: Reviews<'_>) -> Vec<(String, Vec<Value>)> {
    match reviews {
        Reviews::All => vec![("1 = 1".to_owned(), vec![])],
        Reviews::Some(ids) => ids
            .chunks(IDS)
            .map(|chunk| {
                let (list, values) = in_list(chunk);
                (format!("{column} IN ({list})"), values)
            })
            .collect(),
    }
}

fn link_of(row: &sea_orm::QueryResult) -> Result<Link, DbErr> {
    Ok(Link {
        agency_id: row.try_get("", "agency_id")?,
        review_id: row.try_get("", "review_id")?,
        published: row.try_get("", "published")?,
        addressed_recs: row.try_get("", "addressed_recs")?,
        mentioned_recs: row.try_get("", "mentioned_recs")?,
    })
}

/// The stored `agency_review` rows of `reviews`.
async fn stored_links<C: ConnectionTrait>(
    db: &C,
    reviews: Reviews<'_>,
) -> Result<Vec<Link>, DbErr> {
    let mut out = Vec::new();
    for (filter, values) in review_filters("review_id", reviews) {
        let sql = format!(
            "SELECT agency_id, review_id, published, addressed_recs, mentioned_recs \
             FROM agency_review WHERE {filter}"
        );
        for row in db
            .query_all_raw(statement(db.get_database_backend(), &sql, values))
            .await?
        {
            out.push(link_of(&row)?);
        }
    }
    Ok(out)
}

/// What the base tables say the `agency_review` rows of `reviews` are.
async fn link_share<C: ConnectionTrait>(db: &C, reviews: Reviews<'_>) -> Result<Vec<Link>, DbErr> {
    if let Reviews::Some([]) = reviews {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (filter, values) in review_filters("rec.review_id", reviews) {
        // Mentions never repeat an addressed agency of the same recommendation, so the two
        // edge tables add up without double counting.
        let sql = format!(
            "SELECT e.agency_id, e.review_id, COALESCE(r.published, '') AS published, \
               CAST(SUM(e.addressed) AS INTEGER) AS addressed_recs, \
               CAST(SUM(1 - e.addressed) AS INTEGER) AS mentioned_recs \
             FROM (SELECT ra.agency_id, rec.review_id, 1 AS addressed \
                     FROM recommendation_agency ra \
                     JOIN recommendation rec ON rec.id = ra.recommendation_id WHERE {filter} \
                   UNION ALL SELECT rm.agency_id, rec.review_id, 0 AS addressed \
                     FROM recommendation_mention rm \
                     JOIN recommendation rec ON rec.id = rm.recommendation_id WHERE {filter}) e \
             JOIN review r ON r.id = e.review_id \
             GROUP BY e.agency_id, e.review_id, r.published"
        );
        let mut both = values.clone();
        both.extend(values);
        for row in db
            .query_all_raw(statement(db.get_database_backend(), &sql, both))
            .await?
        {
            out.push(link_of(&row)?);
        }
    }
    Ok(out)
}

/// Recommendations of `reviews` per (grouping, bucket, status), as `actionPlanStats` counts
/// them: per addressed agency, per CSP of the review, and per sector once however many
/// agencies of the sector a recommendation is addressed to.
async fn plan_share<C: ConnectionTrait>(
    db: &C,
    reviews: Reviews<'_>,
) -> Result<BTreeMap<(String, String, String), i64>, DbErr> {
    let mut out = BTreeMap::new();
    if let Reviews::Some([]) = reviews {
        return Ok(out);
    }
    let status = "COALESCE(ap.status, 'NOT_STARTED')";
    for (filter, values) in review_filters("rec.review_id", reviews) {
        let sql = format!(
            "SELECT 'AGENCY' AS kind, CAST(ra.agency_id AS VARCHAR(12)) AS bucket, \
               {status} AS status, COUNT(*) AS n \
             FROM recommendation_agency ra JOIN recommendation rec ON rec.id = ra.recommendation_id \
             LEFT JOIN action_plan ap ON ap.recommendation_id = rec.id WHERE {filter} \
             GROUP BY ra.agency_id, {status} \
             UNION ALL SELECT 'CSP', CAST(rc.csp_id AS VARCHAR(12)), {status}, COUNT(*) \
             FROM recommendation rec JOIN review_csp rc ON rc.review_id = rec.review_id \
             LEFT JOIN action_plan ap ON ap.recommendation_id = rec.id \
             WHERE rec.withdrawn_at IS NULL AND {filter} \
             GROUP BY rc.csp_id, {status} \
             UNION ALL SELECT 'SECTOR', bucket, status, COUNT(*) FROM ( \
               SELECT DISTINCT a.sector AS bucket, ra.recommendation_id, {status} AS status \
               FROM recommendation_agency ra JOIN recommendation rec ON rec.id = ra.recommendation_id \
               JOIN agency a ON a.id = ra.agency_id \
               LEFT JOIN action_plan ap ON ap.recommendation_id = rec.id WHERE {filter}) s \
             GROUP BY bucket, status"
        );
        let mut all = values.clone();
        all.extend(values.clone());
        all.extend(values);
        for row in db
            .query_all_raw(statement(db.get_database_backend(), &sql, all))
            .await?
        {
            *out.entry((
                row.try_get("", "kind")?,
                row.try_get("", "bucket")?,
                row.try_get("", "status")?,
            ))
            .or_default() += row.try_get::<i64>("", "n")?;
        }
    }
    Ok(out)
}

async fn apply<C: ConnectionTrait>(
    db: &C,
    reviews: &[i32],
    before: &Share,
    after: &Share,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    // agency_review rows belong to one review each: replaced, not added to.
    for (filter, values) in review_filters("review_id", Reviews::Some(reviews)) {
        db.execute_raw(statement(
            backend,
            &format!("DELETE FROM agency_review WHERE {filter}"),
            values,
        ))
        .await?;
    }
    for chunk in after.links.chunks(CHUNK) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 5);
        for l in chunk {
            values.extend([
                l.agency_id.into(),
                l.review_id.into(),
                l.published.clone().into(),
                l.addressed_recs.into(),
                l.mentioned_recs.into(),
            ]);
        }
        db.execute_raw(statement(
            backend,
            &format!(
                "INSERT INTO agency_review \
                 (agency_id, review_id, published, addressed_recs, mentioned_recs) VALUES {rows}"
            ),
            values,
        ))
        .await?;
    }

    let mut recurrence = BTreeMap::new();
    before.recurrence(-1, &mut recurrence);
    after.recurrence(1, &mut recurrence);
    upsert(db, &RECURRENCE, &recurrence, |k| vec![(*k).into()]).await?;
    add_agency_counts(db, &recurrence).await?;

    let mut pairs = BTreeMap::new();
    before.pairs(-1, &mut pairs);
    after.pairs(1, &mut pairs);
    upsert(db, &PAIRS, &pairs, |k| vec![k.0.into(), k.1.into()]).await?;

    let mut plans: Deltas<(String, String, String)> = BTreeMap::new();
    for (k, n) in &before.plans {
        plans.entry(k.clone()).or_default()[0] -= n;
    }
    for (k, n) in &after.plans {
        plans.entry(k.clone()).or_default()[0] += n;
    }
    upsert_plans(db, &plans).await
}

/// Adds the addressed half of the recurrence deltas to the agencies' own counts
/// (`reviewCount`, `recommendationCount`). Added, never recounted: a recount of "All
/// Agencies" reads thousands of reviews' links.
async fn add_agency_counts<C: ConnectionTrait>(
    db: &C,
    recurrence: &Deltas<i32>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let changed: Vec<(i32, i64, i64)> = recurrence
        .iter()
        .filter(|(_, d)| d[0] != 0 || d[1] != 0)
        .map(|(k, d)| (*k, d[0], d[1]))
        .collect();
    for chunk in changed.chunks(IDS) {
        let ids: Vec<i32> = chunk.iter().map(|c| c.0).collect();
        let (list, values) = in_list(&ids);
        if backend == DbBackend::Postgres {
            // In id order: two writers adding to the same agencies cannot deadlock.
            db.execute_raw(statement(
                backend,
                &format!(
                    "SELECT id FROM agency WHERE id IN ({list}) ORDER BY id FOR NO KEY UPDATE"
                ),
                values.clone(),
            ))
            .await?;
        }
        let mut reviews = String::new();
        let mut recs = String::new();
        let mut case_values: Vec<Value> = Vec::new();
        for (id, d_reviews, _) in chunk {
            reviews.push_str(" WHEN ? THEN ?");
            case_values.extend([Value::from(*id), Value::from(*d_reviews as i32)]);
        }
        for (id, _, d_recs) in chunk {
            recs.push_str(" WHEN ? THEN ?");
            case_values.extend([Value::from(*id), Value::from(*d_recs as i32)]);
        }
        case_values.extend(values);
        db.execute_raw(statement(
            backend,
            &format!(
                "UPDATE agency SET review_count = review_count + CASE id{reviews} ELSE 0 END, \
                   recommendation_count = recommendation_count + CASE id{recs} ELSE 0 END \
                 WHERE id IN ({list})"
            ),
            case_values,
        ))
        .await?;
    }
    Ok(())
}

async fn upsert_plans<C: ConnectionTrait>(
    db: &C,
    deltas: &Deltas<(String, String, String)>,
) -> Result<(), DbErr> {
    upsert(db, &PLANS, deltas, |k| {
        vec![k.0.clone().into(), k.1.clone().into(), k.2.clone().into()]
    })
    .await
}

/// An aggregate table: its key columns, its count columns, and when a row counts nothing.
struct Table {
    name: &'static str,
    keys: &'static [&'static str],
    counts: &'static [&'static str],
    empty: &'static str,
}

const RECURRENCE: Table = Table {
    name: "agency_recurrence",
    keys: &["agency_id"],
    counts: &[
        "addressed_reviews",
        "addressed_recs",
        "any_reviews",
        "any_recs",
    ],
    empty: "any_reviews = 0",
};

const PAIRS: Table = Table {
    name: "agency_pair",
    keys: &["agency_id", "other_id"],
    counts: &["addressed_shared", "any_shared"],
    empty: "any_shared = 0",
};

const PLANS: Table = Table {
    name: "plan_stat",
    keys: &["kind", "bucket", "status"],
    counts: &["n"],
    empty: "n = 0",
};

/// Every stored row of the table, by the key `key` reads from it.
async fn stored_counts<C: ConnectionTrait, K: Ord>(
    db: &C,
    table: &Table,
    key: impl Fn(&sea_orm::QueryResult) -> Result<K, DbErr>,
) -> Result<Deltas<K>, DbErr> {
    let sql = format!(
        "SELECT {}, {} FROM {}",
        table.keys.join(", "),
        table.counts.join(", "),
        table.name
    );
    let mut out = BTreeMap::new();
    for row in db
        .query_all_raw(statement(db.get_database_backend(), &sql, vec![]))
        .await?
    {
        let mut counts = [0; 4];
        for (n, column) in counts.iter_mut().zip(table.counts) {
            *n = row.try_get::<i32>("", column)?.into();
        }
        out.insert(key(&row)?, counts);
    }
    Ok(out)
}

/// Adds `deltas` to the table's rows (creating missing ones) in key order, then deletes the
/// rows a decrease emptied.
async fn upsert<C: ConnectionTrait, K: Ord>(
    db: &C,
    table: &Table,
    deltas: &Deltas<K>,
    key_values: impl Fn(&K) -> Vec<Value>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let width = table.counts.len();
    let changed: Vec<(&K, &[i64; 4])> = deltas
        .iter()
        .filter(|(_, d)| d[..width].iter().any(|n| *n != 0))
        .collect();
    let row = format!("({})", vec!["?"; table.keys.len() + width].join(", "));
    let keys = table.keys.join(", ");
    let counts = table.counts.join(", ");
    let sets = table
        .counts
        .iter()
        .map(|c| format!("{c} = {t}.{c} + excluded.{c}", t = table.name))
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in changed.chunks(CHUNK) {
        let mut values = Vec::new();
        for (k, d) in chunk {
            values.extend(key_values(k));
            values.extend(d[..width].iter().map(|n| Value::from(*n as i32)));
        }
        let sql = format!(
            "INSERT INTO {t} ({keys}, {counts}) VALUES {rows} \
             ON CONFLICT ({keys}) DO UPDATE SET {sets}",
            t = table.name,
            rows = vec![row.as_str(); chunk.len()].join(", "),
        );
        db.execute_raw(statement(backend, &sql, values)).await?;
    }
    // Only a decrease can empty a row.
    let decreased: Vec<&K> = changed
        .iter()
        .filter(|(_, d)| d[..width].iter().any(|n| *n < 0))
        .map(|(k, _)| *k)
        .collect();
    let key_row = format!("({})", vec!["?"; table.keys.len()].join(", "));
    for chunk in decreased.chunks(CHUNK) {
        let mut values = Vec::new();
        for k in chunk {
            values.extend(key_values(k));
        }
        let sql = format!(
            "DELETE FROM {t} WHERE {empty} AND ({keys}) IN (VALUES {rows})",
            t = table.name,
            empty = table.empty,
            rows = vec![key_row.as_str(); chunk.len()].join(", "),
        );
        db.execute_raw(statement(backend, &sql, values)).await?;
    }
    Ok(())
}
