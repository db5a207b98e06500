//! Reads the whole graph, in one consistent snapshot, into an [`Export`].

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{
    action_plan, agency, agency_alias, csp, csp_alias, recommendation, recommendation_agency,
    review, review_alias, review_case_tag, review_csp, review_incident, status_event,
};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IsolationLevel, TransactionTrait,
};

use super::model::{self, Export, FORMAT};

/// Timestamps as stored: `AutoSi` writes every fractional digit the engine kept (nanoseconds
/// on SQLite, microseconds on PostgreSQL) and no more, so a round trip changes nothing.
pub(super) fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Writers may commit while the export reads table after table; one snapshot keeps a
/// recommendation from appearing without its review. SQLite (WAL) holds the snapshot from a
/// deferred transaction's first read; PostgreSQL needs REPEATABLE READ for it.
async fn begin_snapshot(conn: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
    } else {
        conn.begin().await
    }
}

pub async fn snapshot(conn: &DatabaseConnection) -> Result<Export, DbErr> {
    let txn = begin_snapshot(conn).await?;
    let export = read(&txn).await?;
    txn.commit().await?;
    Ok(export)
}

fn group<K: std::hash::Hash + Eq, V>(rows: impl IntoIterator<Item = (K, V)>) -> HashMap<K, Vec<V>> {
    let mut out: HashMap<K, Vec<V>> = HashMap::new();
    for (k, v) in rows {
        out.entry(k).or_default().push(v);
    }
    out
}

fn aliases(mut list: Vec<model::Alias>) -> Vec<model::Alias> {
    list.sort_by(|a, b| (&a.key, &a.name).cmp(&(&b.key, &b.name)));
    list
}

// Every list is sorted here, in Rust, by byte order: an ORDER BY on text would follow the
// PostgreSQL server's collation, and the two engines would disagree.
async fn read<C: ConnectionTrait>(db: &C) -> Result<Export, DbErr> {
    let csps = csp::Entity::find().all(db).await?;
    let mut csp_aliases = group(
        csp_alias::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|a| {
                (
                    a.csp_id,
                    model::Alias {
                        name: a.name,
                        key: a.key,
                    },
                )
            }),
    );
    let csp_slug: HashMap<i32, String> = csps.iter().map(|c| (c.id, c.slug.clone())).collect();
    let mut csps: Vec<model::Csp> = csps
        .into_iter()
        .map(|c| model::Csp {
            aliases: aliases(csp_aliases.remove(&c.id).unwrap_or_default()),
            slug: c.slug,
            name: c.name,
            region: c.region,
            nation: c.nation,
        })
        .collect();
    csps.sort_by(|a, b| a.slug.cmp(&b.slug));

    let agencies = agency::Entity::find().all(db).await?;
    let mut agency_aliases = group(agency_alias::Entity::find().all(db).await?.into_iter().map(
        |a| {
            (
                a.agency_id,
                model::Alias {
                    name: a.name,
                    key: a.key,
                },
            )
        },
    ));
    let agency_slug: HashMap<i32, String> =
        agencies.iter().map(|a| (a.id, a.slug.clone())).collect();
    let mut agencies: Vec<model::Agency> = agencies
        .into_iter()
        .map(|a| model::Agency {
            aliases: aliases(agency_aliases.remove(&a.id).unwrap_or_default()),
            slug: a.slug,
            name: a.name,
            sector: a.sector,
        })
        .collect();
    agencies.sort_by(|a, b| a.slug.cmp(&b.slug));

    let mut review_csps = group(
        review_csp::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.review_id, (l.position, csp_slug[&l.csp_id].clone()))),
    );
    let mut case_tags = group(
        review_case_tag::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.review_id, t.tag)),
    );
    let mut merged = group(
        review_alias::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.review_id, a.source_key)),
    );
    let incidents: HashMap<i32, i32> = review_incident::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.review_id, l.incident_review_id))
        .collect();

    let mut rec_agencies = group(
        recommendation_agency::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| {
                (
                    l.recommendation_id,
                    (l.position, agency_slug[&l.agency_id].clone()),
                )
            }),
    );
    let mut plans: HashMap<i32, action_plan::Model> = action_plan::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.recommendation_id, p))
        .collect();
    let mut history = group(
        status_event::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.recommendation_id, e)),
    );
    let mut recs = group(
        recommendation::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|r| (r.review_id, r)),
    );

    let reviews = review::Entity::find().all(db).await?;
    let source_key: HashMap<i32, String> = reviews
        .iter()
        .map(|r| (r.id, r.source_key.clone()))
        .collect();
    let mut reviews: Vec<model::Review> = reviews
        .into_iter()
        .map(|r| {
            let mut csps = review_csps.remove(&r.id).unwrap_or_default();
            csps.sort();
            let mut tags = case_tags.remove(&r.id).unwrap_or_default();
            tags.sort();
            let mut merged_keys = merged.remove(&r.id).unwrap_or_default();
            merged_keys.sort();
            let mut own = recs.remove(&r.id).unwrap_or_default();
            // In the review first, by position; then the withdrawn, as they left. A deleted
            // review's recommendations keep their places.
            own.sort_by_key(|rec| {
                let left = rec.withdrawn_at.is_some() && rec.position <= 0;
                (left, rec.withdrawn_at, rec.position.abs(), rec.id)
            });
            let recommendations = own
                .into_iter()
                .map(|rec| {
                    let mut addressed = rec_agencies.remove(&rec.id).unwrap_or_default();
                    addressed.sort();
                    let mut events = history.remove(&rec.id).unwrap_or_default();
                    events.sort_by_key(|e| e.version);
                    model::Recommendation {
                        withdrawn_at: rec.withdrawn_at.as_ref().map(stamp),
                        external_ref: rec.external_ref,
                        position: rec.position.max(0),
                        label: rec.label,
                        text: rec.text,
                        addressed_to: rec.addressed_to,
                        agencies: addressed.into_iter().map(|(_, slug)| slug).collect(),
                        action_plan: plans.remove(&rec.id).map(|p| model::ActionPlan {
                            status: p.status,
                            lead_agency: p.lead_agency_id.map(|id| agency_slug[&id].clone()),
                            action: p.action,
                            target_date: p.target_date,
                            completion_date: p.completion_date,
                            outcome_note: p.outcome_note,
                            rag: p.rag,
                            sign_off_body: p.sign_off_body,
                            version: p.version,
                            updated_at: stamp(&p.updated_at),
                            updated_by: p.updated_by,
                        }),
                        history: events
                            .into_iter()
                            .map(|e| model::StatusEvent {
                                version: e.version,
                                actor: e.actor,
                                at: stamp(&e.at),
                                from_status: e.from_status,
                                to_status: e.to_status,
                                note: e.note,
                                changes: e.changes,
                            })
                            .collect(),
                    }
                })
                .collect();
            model::Review {
                incident: incidents.get(&r.id).map(|id| source_key[id].clone()),
                source_key: r.source_key,
                title: r.title,
                published: r.published,
                year_of_death: r.year_of_death,
                summary: r.summary,
                source_url: r.source_url,
                stated_recommendation_count: r.stated_recommendation_count,
                incomplete: r.incomplete,
                review_type: r.review_type,
                content_hash: r.content_hash,
                created_at: stamp(&r.created_at),
                updated_at: stamp(&r.updated_at),
                csps: csps.into_iter().map(|(_, slug)| slug).collect(),
                case_tags: tags,
                merged_source_keys: merged_keys,
                recommendations,
                deleted: r.deleted_at.as_ref().map(|at| model::Tombstone {
                    at: stamp(at),
                    by: r.deleted_by.clone().unwrap_or_default(),
                    reason: r.deleted_reason.clone(),
                    csps: r
                        .deleted_csps
                        .as_deref()
                        .and_then(|j| serde_json::from_str(j).ok())
                        .unwrap_or_default(),
                }),
            }
        })
        .collect();
    reviews.sort_by(|a, b| a.source_key.cmp(&b.source_key));

    Ok(Export {
        format: FORMAT,
        csps,
        agencies,
        reviews,
    })
}
