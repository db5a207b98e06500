//! Keeps the stored similarity edges (each recommendation's top [`TOP_K`]) in step with
//! writes, after they commit.
//!
//! A write hands over the recommendations it touched (new, edited or deleted). The upkeep
//! then, in one transaction:
//! 1. finds the recommendations that listed an old version of them (scored against the old
//!    vectors, kept against each list's lowest stored score);
//! 2. replaces their vectors in the index and scores them afresh: their own lists;
//! 3. finds the recommendations they now enter (a score at least the list's lowest, or a
//!    list not yet full);
//! 4. rescores the recommendations of 1 and 3 in full, and replaces the lists of all of them.
//!
//! With the epoch's weights fixed (see `index`), that is exactly what a full rebuild with
//! those weights would store. What it does not follow is the weights themselves drifting as
//! the corpus changes: once the recommendations rescored since the last full rebuild exceed
//! [`Policy::rebuild_fraction`] of the documents it scored, the upkeep runs a full rebuild
//! (scored outside any transaction, progress in [`Status`]) and starts a new epoch.
//!
//! Several processes may write: each bumps `similarity_state.generation` with its edges,
//! under one PostgreSQL advisory lock (SQLite serialises writers anyway), and a process that
//! finds another generation than its own reloads its index before writing.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Value};

use super::index::{Index, top_k};
use super::{REBUILD_LOCK, TOP_K};
use crate::sql::{in_list, statement};

/// Ids per `IN` list, and rows per insert (three values a row).
const IDS: usize = 500;
const ROWS: usize = 1000;

/// When the upkeep gives up following and rebuilds.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Rebuild once the recommendations rescored one by one since the last full rebuild
    /// exceed this fraction of the documents it scored.
    pub rebuild_fraction: f64,
    /// ... and at least this many.
    pub min_changes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rebuild_fraction: 0.10,
            // A small graph rebuilds in milliseconds, and its first epoch may be a handful
            // of documents whose weights say little about the rest.
            min_changes: 50,
        }
    }
}

/// What one [`Upkeep::settle`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Recommendations handed over and rescored.
    pub rescored: usize,
    /// Other recommendations whose lists were rescored because of them.
    pub neighbours: usize,
    /// A full rebuild ran.
    pub rebuilt: bool,
    /// Edges written (all of them after a rebuild).
    pub edges: usize,
}

/// What the upkeep is doing, for operators.
#[derive(Debug, Default, Clone)]
pub struct Status {
    /// Recommendations waiting to be rescored in this process.
    pub pending: usize,
    pub rebuilding: bool,
    /// Of a running rebuild: documents scored, and of how many.
    pub scored: usize,
    pub total: usize,
    /// Documents in the index's epoch (0 when this process has not loaded it).
    pub epoch: usize,
    /// Handovers received, and the last of them whose settle has finished: when the two are
    /// equal, every write this process committed is in the stored edges.
    pub handed: u64,
    pub settled: u64,
}

impl Status {
    /// Every handover so far is in the stored edges.
    pub fn current(&self) -> bool {
        self.handed == self.settled
    }
}

#[derive(Clone)]
pub struct Upkeep(Arc<Inner>);

struct Inner {
    conn: DatabaseConnection,
    policy: Policy,
    pending: Mutex<Pending>,
    /// Set in the background mode: wakes the worker.
    wake: Option<tokio::sync::Notify>,
    /// One settle at a time; the index it keeps between settles.
    state: tokio::sync::Mutex<Option<Loaded>>,
    rebuilding: AtomicBool,
    scored: Arc<AtomicUsize>,
    total: AtomicUsize,
    epoch: AtomicUsize,
    /// `Pending::handed` as of the last settle that finished.
    settled: AtomicU64,
}

#[derive(Default)]
struct Pending {
    recs: BTreeSet<i32>,
    /// Recommendations unchanged themselves whose lists held a changed one.
    relist: BTreeSet<i32>,
    rebuild: bool,
    /// Counts handovers, under the same lock as the sets, so that a settle knows which
    /// handovers the sets it takes hold.
    handed: u64,
}

/// The index of one generation of the stored edges, and each list's lowest score and length.
struct Loaded {
    index: Index,
    floor: HashMap<i32, (f64, usize)>,
    generation: i64,
}

impl Upkeep {
    /// Upkeep that waits for [`Upkeep::settle`] (a batch command, a test).
    pub fn deferred(conn: DatabaseConnection) -> Self {
        Self::with_policy(conn, Policy::default(), false)
    }

    /// Upkeep that settles in the background after every handover (the server). It loads the
    /// index at once, so that the first write does not wait for it.
    pub fn background(conn: DatabaseConnection, policy: Policy) -> Self {
        let upkeep = Self::with_policy(conn, policy, true);
        let worker = upkeep.clone();
        tokio::spawn(async move {
            if let Err(e) = worker.warm().await {
                tracing::warn!(error = %e, "loading the similarity index failed");
            }
            loop {
                if let Some(wake) = &worker.0.wake {
                    wake.notified().await;
                }
                match worker.settle().await {
                    Ok(done) if done != Settled::default() => {
                        tracing::debug!(?done, "similarity edges followed the writes")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "similarity upkeep failed"),
                }
            }
        });
        upkeep
    }

    pub fn with_policy(conn: DatabaseConnection, policy: Policy, background: bool) -> Self {
        Upkeep(Arc::new(Inner {
            conn,
            policy,
            pending: Mutex::new(Pending::default()),
            wake: background.then(tokio::sync::Notify::new),
            state: tokio::sync::Mutex::new(None),
            rebuilding: AtomicBool::new(false),
            scored: Arc::new(AtomicUsize::new(0)),
            total: AtomicUsize::new(0),
            epoch: AtomicUsize::new(0),
            settled: AtomicU64::new(0),
        }))
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding it left a set of ids: still a set of ids.
        self.0.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over recommendations a committed write touched.
    pub fn touched(&self, recs: impl IntoIterator<Item = i32>) {
        let before = {
            let mut p = self.pending();
            let before = p.recs.len();
            p.recs.extend(recs);
            let grew = before != p.recs.len();
            p.handed += u64::from(grew);
            grew
        };
        if before && let Some(w) = &self.0.wake {
            w.notify_one();
        }
    }

    /// Hands over recommendations whose lists held a touched one (read before the write
    /// committed): their lists are rescored with the next settle.
    pub fn relist(&self, recs: impl IntoIterator<Item = i32>) {
        let mut p = self.pending();
        let before = p.relist.len();
        p.relist.extend(recs);
        p.handed += u64::from(before != p.relist.len());
    }

    /// Asks for a full rebuild (an import wrote the whole graph).
    pub fn rebuild_requested(&self) {
        {
            let mut p = self.pending();
            p.rebuild = true;
            p.handed += 1;
        }
        if let Some(w) = &self.0.wake {
            w.notify_one();
        }
    }

    pub fn status(&self) -> Status {
        let (pending, handed) = {
            let p = self.pending();
            (p.recs.len(), p.handed)
        };
        Status {
            pending,
            handed,
            settled: self.0.settled.load(Ordering::Acquire),
            rebuilding: self.0.rebuilding.load(Ordering::Relaxed),
            scored: self.0.scored.load(Ordering::Relaxed),
            total: self.0.total.load(Ordering::Relaxed),
            epoch: self.0.epoch.load(Ordering::Relaxed),
        }
    }

    /// Loads the index now, unless the stored edges need a full rebuild anyway.
    async fn warm(&self) -> Result<(), DbErr> {
        let mut state = self.0.state.lock().await;
        let stored = read_state(&self.0.conn).await?;
        if state.is_none() && stored.documents > 0 {
            *state = Some(load(&self.0.conn, stored.generation).await?);
            self.note_epoch(state.as_ref());
        }
        Ok(())
    }

    fn note_epoch(&self, loaded: Option<&Loaded>) {
        self.0
            .epoch
            .store(loaded.map_or(0, |l| l.index.epoch()), Ordering::Relaxed);
    }

    /// Rescores everything handed over so far (and rebuilds when the policy says so).
    pub async fn settle(&self) -> Result<Settled, DbErr> {
        let mut state = self.0.state.lock().await;
        let (recs, relist, rebuild, handed) = {
            let mut p = self.pending();
            (
                std::mem::take(&mut p.recs),
                std::mem::take(&mut p.relist),
                std::mem::take(&mut p.rebuild),
                p.handed,
            )
        };
        if recs.is_empty() && relist.is_empty() && !rebuild {
            self.0.settled.fetch_max(handed, Ordering::Release);
            return Ok(Settled::default());
        }
        let result = self
            .settle_locked(&mut state, &recs, &relist, rebuild)
            .await;
        let result = match result {
            Err(e) => {
                // Handed back, so that the next settle tries them again.
                let mut p = self.pending();
                p.recs.extend(recs);
                p.relist.extend(relist);
                p.rebuild |= rebuild;
                *state = None;
                Err(e)
            }
            Ok((mut done, drifted)) => {
                // The writes are in the stored edges now; a rebuild for drift changes the
                // weights, not what the writes wrote, so they are current before it.
                self.0.settled.fetch_max(handed, Ordering::Release);
                if drifted {
                    match self.full_rebuild().await {
                        Ok((loaded, edges)) => {
                            *state = Some(loaded);
                            done.rebuilt = true;
                            done.edges = edges;
                            Ok(done)
                        }
                        Err(e) => {
                            *state = None;
                            Err(e)
                        }
                    }
                } else {
                    Ok(done)
                }
            }
        };
        self.note_epoch(state.as_ref());
        result
    }

    async fn settle_locked(
        &self,
        state: &mut Option<Loaded>,
        recs: &BTreeSet<i32>,
        relist: &BTreeSet<i32>,
        rebuild: bool,
    ) -> Result<(Settled, bool), DbErr> {
        let conn = &self.0.conn;
        let stored = read_state(conn).await?;
        let threshold = |documents: usize| {
            ((documents as f64 * self.0.policy.rebuild_fraction) as usize)
                .max(self.0.policy.min_changes)
        };
        // Without an index here, loading one costs most of what a rebuild costs: when a
        // rebuild is near anyway, rebuild.
        let rebuild = rebuild
            || stored.documents == 0
            || (state.is_none() && stored.changes + recs.len() > threshold(stored.documents));
        if rebuild {
            let (loaded, edges) = self.full_rebuild().await?;
            *state = Some(loaded);
            return Ok((
                Settled {
                    rescored: recs.len(),
                    neighbours: 0,
                    rebuilt: true,
                    edges,
                },
                false,
            ));
        }

        let txn = begin(conn).await?;
        let stored = read_state(&txn).await?;
        if state
            .as_ref()
            .is_none_or(|l| l.generation != stored.generation)
        {
            // Another process wrote edges (or none were loaded): start from what is stored.
            *state = Some(load(&txn, stored.generation).await?);
        }
        let Some(loaded) = state.as_mut() else {
            return Err(DbErr::Custom("similarity index missing".into()));
        };
        let (neighbours, edges) = follow(&txn, loaded, recs, relist).await?;
        let generation = stored.generation + 1;
        txn.execute_raw(statement(
            txn.get_database_backend(),
            "UPDATE similarity_state SET generation = ?, changes = changes + ? WHERE id = 1",
            vec![generation.into(), (recs.len() as i32).into()],
        ))
        .await?;
        txn.commit().await?;
        loaded.generation = generation;
        let done = Settled {
            rescored: recs.len(),
            neighbours,
            rebuilt: false,
            edges,
        };
        let drifted = stored.changes + recs.len() > threshold(stored.documents);
        if drifted {
            tracing::info!(
                changes = stored.changes + recs.len(),
                documents = stored.documents,
                "similarity drifted past the rebuild threshold; rebuilding"
            );
        }
        Ok((done, drifted))
    }

    /// Scores every recommendation afresh and replaces all edges: a new epoch.
    async fn full_rebuild(&self) -> Result<(Loaded, usize), DbErr> {
        let conn = &self.0.conn;
        self.0.rebuilding.store(true, Ordering::Relaxed);
        let result = async {
            // Scored outside any transaction, so that writers go on meanwhile (their
            // recommendations wait in `pending` and follow after).
            let before = read_state(conn).await?;
            let docs = texts(conn, None).await?;
            let (index, edges) = self.score_all(docs).await?;
            let txn = begin(conn).await?;
            let now = read_state(&txn).await?;
            let (index, edges) = if now.generation == before.generation {
                (index, edges)
            } else {
                // Another process wrote in between: score what is there now, under the lock.
                let docs = texts(&txn, None).await?;
                self.score_all(docs).await?
            };
            let backend = txn.get_database_backend();
            txn.execute_raw(statement(
                backend,
                "DELETE FROM recommendation_similarity",
                vec![],
            ))
            .await?;
            insert_edges(&txn, &edges).await?;
            let generation = now.generation + 1;
            txn.execute_raw(statement(
                backend,
                "UPDATE similarity_state SET generation = ?, documents = ?, changes = 0, \
                 rebuilt_at = ? WHERE id = 1",
                vec![
                    generation.into(),
                    (index.len() as i32).into(),
                    chrono::Utc::now().to_rfc3339().into(),
                ],
            ))
            .await?;
            txn.commit().await?;
            let mut floor: HashMap<i32, (f64, usize)> = HashMap::new();
            for (id, _, s) in &edges {
                let f = floor.entry(*id).or_insert((f64::MAX, 0));
                f.0 = f.0.min(*s);
                f.1 += 1;
            }
            Ok((
                Loaded {
                    index,
                    floor,
                    generation,
                },
                edges.len(),
            ))
        }
        .await;
        self.0.rebuilding.store(false, Ordering::Relaxed);
        result
    }

    async fn score_all(
        &self,
        docs: Vec<(i32, String)>,
    ) -> Result<(Index, Vec<(i32, i32, f64)>), DbErr> {
        self.0.total.store(docs.len(), Ordering::Relaxed);
        self.0.scored.store(0, Ordering::Relaxed);
        let progress = self.0.scored.clone();
        // Seconds of CPU at scale: off the async workers, which keep serving.
        tokio::task::spawn_blocking(move || {
            let index = Index::build(&docs);
            drop(docs);
            let edges = index.all_top(TOP_K, super::threads(), &progress);
            (index, edges)
        })
        .await
        .map_err(|e| DbErr::Custom(format!("similarity scoring failed: {e}")))
    }
}

/// Steps 1 to 4 of the module's description, in `txn`. Returns how many other lists were
/// rescored and how many edges were written.
async fn follow(
    txn: &DatabaseTransaction,
    loaded: &mut Loaded,
    recs: &BTreeSet<i32>,
    relist: &BTreeSet<i32>,
) -> Result<(usize, usize), DbErr> {
    let ids: Vec<i32> = recs.iter().copied().collect();
    let now = texts(txn, Some(&ids)).await?;
    let floor = &loaded.floor;
    let listed = |d: i32, s: f64| match floor.get(&d) {
        Some((min, n)) => *n < TOP_K || s >= *min - 1e-9,
        None => true,
    };
    let index = &mut loaded.index;
    let mut scratch = index.scratch();
    // Those the write path saw listing them; the index finds the rest (and all of them
    // when the stored rows went before the write path read them).
    let mut affected: BTreeSet<i32> = relist.difference(recs).copied().collect();
    for id in &ids {
        for (d, s) in index.scores(*id, &mut scratch) {
            if !recs.contains(&d) && listed(d, s) {
                affected.insert(d);
            }
        }
    }
    for id in &ids {
        index.remove(*id);
    }
    for (id, text) in &now {
        index.insert(*id, text);
    }
    let mut scratch = index.scratch();
    let mut lists: Vec<(i32, Vec<(i32, f64)>)> = Vec::with_capacity(now.len());
    for (id, _) in &now {
        let all = index.scores(*id, &mut scratch);
        for (d, s) in &all {
            if !recs.contains(d) && listed(*d, *s) {
                affected.insert(*d);
            }
        }
        lists.push((*id, top_k(all, TOP_K)));
    }
    for d in &affected {
        if index.contains(*d) {
            lists.push((*d, index.top(*d, TOP_K, &mut scratch)));
        }
    }
    let replaced: Vec<i32> = ids.iter().chain(&affected).copied().collect();
    for chunk in replaced.chunks(IDS) {
        let (list, values) = in_list(chunk);
        txn.execute_raw(statement(
            txn.get_database_backend(),
            &format!("DELETE FROM recommendation_similarity WHERE recommendation_id IN ({list})"),
            values,
        ))
        .await?;
    }
    let edges: Vec<(i32, i32, f64)> = lists
        .iter()
        .flat_map(|(id, l)| l.iter().map(move |(o, s)| (*id, *o, *s)))
        .collect();
    insert_edges(txn, &edges).await?;
    for id in &ids {
        loaded.floor.remove(id);
    }
    for (id, l) in &lists {
        match l.last() {
            Some((_, min)) => {
                loaded.floor.insert(*id, (*min, l.len()));
            }
            None => {
                loaded.floor.remove(id);
            }
        }
    }
    Ok((affected.len(), edges.len()))
}

async fn begin(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = crate::db::begin_write(conn).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({REBUILD_LOCK})"))
            .await?;
        // Batch work: the server's per-statement timeout is for requests.
        txn.execute_unprepared("SET LOCAL statement_timeout = 0")
            .await?;
    }
    Ok(txn)
}

/// The stored edges' state (`similarity_state`).
#[derive(Debug, Clone)]
pub struct Stored {
    /// Moves on with every write of the edges.
    pub generation: i64,
    /// Recommendations the last full rebuild scored (0: none yet).
    pub documents: usize,
    /// Recommendations rescored one by one since.
    pub changes: usize,
    /// RFC 3339.
    pub rebuilt_at: Option<String>,
}

/// What `similarity_state` says.
pub async fn stored<C: ConnectionTrait>(db: &C) -> Result<Stored, DbErr> {
    read_state(db).await
}

async fn read_state<C: ConnectionTrait>(db: &C) -> Result<Stored, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT generation, documents, changes, rebuilt_at FROM similarity_state WHERE id = 1",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("similarity_state".into()))?;
    Ok(Stored {
        generation: row.try_get("", "generation")?,
        documents: row.try_get::<i32>("", "documents")?.max(0) as usize,
        changes: row.try_get::<i32>("", "changes")?.max(0) as usize,
        rebuilt_at: row.try_get("", "rebuilt_at")?,
    })
}

/// `(id, text)` of the given recommendations (all when `None`), in id order.
async fn texts<C: ConnectionTrait>(
    db: &C,
    ids: Option<&[i32]>,
) -> Result<Vec<(i32, String)>, DbErr> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    let filters: Vec<(String, Vec<Value>)> = match ids {
        None => vec![("1 = 1".into(), vec![])],
        Some(ids) => ids
            .chunks(IDS)
            .map(|c| {
                let (list, values) = in_list(c);
                (format!("id IN ({list})"), values)
            })
            .collect(),
    };
    for (filter, values) in filters {
        for row in db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT id, text FROM recommendation \
                     WHERE withdrawn_at IS NULL AND {filter} ORDER BY id"
                ),
                values,
            ))
            .await?
        {
            out.push((row.try_get("", "id")?, row.try_get("", "text")?));
        }
    }
    Ok(out)
}

/// The index of what is stored now, and each stored list's floor.
async fn load<C: ConnectionTrait>(db: &C, generation: i64) -> Result<Loaded, DbErr> {
    let docs = texts(db, None).await?;
    let index = tokio::task::spawn_blocking(move || Index::build(&docs))
        .await
        .map_err(|e| DbErr::Custom(format!("building the similarity index failed: {e}")))?;
    let mut floor = HashMap::new();
    for row in db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT recommendation_id, MIN(score) AS low, COUNT(*) AS n \
             FROM recommendation_similarity GROUP BY recommendation_id",
            vec![],
        ))
        .await?
    {
        floor.insert(
            row.try_get::<i32>("", "recommendation_id")?,
            (
                row.try_get::<f64>("", "low")?,
                row.try_get::<i64>("", "n")?.max(0) as usize,
            ),
        );
    }
    Ok(Loaded {
        index,
        floor,
        generation,
    })
}

async fn insert_edges<C: ConnectionTrait>(db: &C, edges: &[(i32, i32, f64)]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for chunk in edges.chunks(ROWS) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (a, b, s) in chunk {
            values.extend([Value::from(*a), Value::from(*b), Value::from(*s)]);
        }
        db.execute_raw(statement(
            backend,
            &format!(
                "INSERT INTO recommendation_similarity (recommendation_id, other_id, score) \
                 VALUES {rows}"
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}
