//! API keys: created with a role, shown once, stored as a SHA-256, revoked by name.

use base64::Engine;
use entity::{api_key, api_key_scope};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter,
    QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::{Caller, Owner, Role, Scope};
use crate::write::WritePath;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key named {0:?} exists already")]
    NameTaken(String),
    #[error("no key named {0:?}")]
    NoKey(String),
    #[error("a key name must be 1 to 100 characters without control characters, not {0:?}")]
    BadName(String),
    #[error("no CSP or agency {0:?} (give a slug or a name)")]
    NoOrganisation(String),
    #[error(
        "an editor or curator key needs a scope: --owner, --csp or --agency, or --national \
         for a key that may write anywhere"
    )]
    NoScope,
    #[error("a national key has no --csp or --agency scope")]
    NationalAndScoped,
    #[error("the system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Keys look like `dhr_` and 43 URL-safe characters (256 random bits), so a leaked one is
/// recognisable in a scan of logs or repositories.
const PREFIX: &str = "dhr_";

pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_key() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

impl crate::write::WriteError for KeyError {
    fn db_err(&self) -> Option<&DbErr> {
        match self {
            KeyError::Db(e) => Some(e),
            _ => None,
        }
    }
}

/// What a new key is: its name, role, owner and scope.
#[derive(Debug, Clone, Default)]
pub struct KeySpec {
    pub name: String,
    pub role: Option<Role>,
    /// A CSP or agency, by slug or name; its own CSP or agency joins the scope.
    pub owner: Option<String>,
    /// CSP slugs or names whose reviews the key may write.
    pub csps: Vec<String>,
    /// Agency slugs or names whose plans the key may update.
    pub agencies: Vec<String>,
    /// An unscoped editor or curator key.
    pub national: bool,
}

impl KeySpec {
    pub fn new(name: &str, role: Role) -> Self {
        KeySpec {
            name: name.to_owned(),
            role: Some(role),
            ..Default::default()
        }
    }

    /// An unscoped key (what every key was before scopes).
    pub fn national(name: &str, role: Role) -> Self {
        KeySpec {
            national: true,
            ..Self::new(name, role)
        }
    }
}

/// Creates a key; returns it. This is the only time the key exists outside its holder.
///
/// Through the write path like every write: two callers creating the same name at once
/// race on the unique name, and the loser's second run answers `NameTaken`.
pub async fn create(path: &WritePath, spec: &KeySpec) -> Result<String, KeyError> {
    path.run(spec, |unit, spec| {
        Box::pin(async move {
            let (key, id) = create_in(unit.db(), spec).await?;
            unit.log(
                "key.created",
                "key",
                id,
                Some(serde_json::json!({ "name": spec.name.trim(),
                    "role": spec.role.unwrap_or(Role::Reader).code(), "owner": spec.owner,
                    "csps": spec.csps, "agencies": spec.agencies, "national": spec.national })),
            );
            Ok(key)
        })
    })
    .await
}

async fn create_in<C: ConnectionTrait>(db: &C, spec: &KeySpec) -> Result<(String, i32), KeyError> {
    let name = spec.name.trim();
    let role = spec.role.unwrap_or(Role::Reader);
    // A name is shown in logs, the audit of changes and `keys list`: no control characters
    // (a NUL would not even store on PostgreSQL).
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(KeyError::BadName(name.to_owned()));
    }
    if api_key::Entity::find()
        .filter(api_key::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(KeyError::NameTaken(name.to_owned()));
    }
    let owner = match &spec.owner {
        Some(o) => Some(find_owner(db, o).await?),
        None => None,
    };
    let mut scope: Vec<(&'static str, i32)> = Vec::new();
    if let Some((kind, id)) = owner {
        scope.push((kind, id));
    }
    for c in &spec.csps {
        let id = crate::ingest::store::find_csp(db, c)
            .await?
            .ok_or_else(|| KeyError::NoOrganisation(c.clone()))?;
        scope.push(("csp", id));
    }
    for a in &spec.agencies {
        let id = crate::curation::find_agency(db, a)
            .await
            .map_err(|_| KeyError::NoOrganisation(a.clone()))?
            .id;
        scope.push(("agency", id));
    }
    scope.sort();
    scope.dedup();
    let writes = matches!(role, Role::Editor | Role::Curator);
    if writes && scope.is_empty() && !spec.national {
        return Err(KeyError::NoScope);
    }
    if spec.national && !(spec.csps.is_empty() && spec.agencies.is_empty()) {
        return Err(KeyError::NationalAndScoped);
    }
    let key = new_key()?;
    let row = api_key::ActiveModel {
        id: NotSet,
        name: Set(name.to_owned()),
        role: Set(role.code().to_owned()),
        key_hash: Set(hash(&key)),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
        owner_kind: Set(owner.map(|(k, _)| k.to_owned())),
        owner_id: Set(owner.map(|(_, id)| id)),
        national: Set(spec.national || role == Role::Admin),
    }
    .insert(db)
    .await?;
    let rows: Vec<api_key_scope::ActiveModel> = scope
        .into_iter()
        .map(|(kind, ref_id)| api_key_scope::ActiveModel {
            key_id: Set(row.id),
            kind: Set(kind.to_owned()),
            ref_id: Set(ref_id),
        })
        .collect();
    if !rows.is_empty() {
        api_key_scope::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok((key, row.id))
}

/// A CSP or an agency, by slug or name: `("csp" | "agency", id)`.
async fn find_owner<C: ConnectionTrait>(
    db: &C,
    wanted: &str,
) -> Result<(&'static str, i32), KeyError> {
    if let Some(id) = crate::ingest::store::find_csp(db, wanted).await? {
        return Ok(("csp", id));
    }
    match crate::curation::find_agency(db, wanted).await {
        Ok(a) => Ok(("agency", a.id)),
        Err(crate::curation::CurationError::Db(e)) => Err(e.into()),
        Err(_) => Err(KeyError::NoOrganisation(wanted.to_owned())),
    }
}

/// A key's owner and scope, as [`authenticate`] gives them to its caller.
pub async fn scope_of<C: ConnectionTrait>(db: &C, row: &api_key::Model) -> Result<Scope, DbErr> {
    let mut scope = Scope {
        national: row.national,
        ..Default::default()
    };
    for s in api_key_scope::Entity::find()
        .filter(api_key_scope::Column::KeyId.eq(row.id))
        .all(db)
        .await?
    {
        match s.kind.as_str() {
            "csp" => scope.csps.insert(s.ref_id),
            _ => scope.agencies.insert(s.ref_id),
        };
    }
    if let (Some(kind), Some(id)) = (row.owner_kind.as_deref(), row.owner_id) {
        let (kind, slug) = if kind == "csp" {
            (
                "csp",
                entity::csp::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .map(|c| c.slug),
            )
        } else {
            (
                "agency",
                entity::agency::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .map(|a| a.slug),
            )
        };
        if let Some(slug) = slug {
            scope.owner = Some(Owner { kind, id, slug });
        }
    }
    Ok(scope)
}

/// `csp:kent agency:kent-police`: a key's scope, for `keys list`.
pub async fn describe_scope<C: ConnectionTrait>(
    db: &C,
    row: &api_key::Model,
) -> Result<String, DbErr> {
    let scope = scope_of(db, row).await?;
    let mut parts = Vec::new();
    if let Some(o) = &scope.owner {
        parts.push(format!("owner {}:{}", o.kind, o.slug));
    }
    if scope.national {
        parts.push("national".to_owned());
    }
    for id in &scope.csps {
        if let Some(c) = entity::csp::Entity::find_by_id(*id).one(db).await? {
            parts.push(format!("csp:{}", c.slug));
        }
    }
    for id in &scope.agencies {
        if let Some(a) = entity::agency::Entity::find_by_id(*id).one(db).await? {
            parts.push(format!("agency:{}", a.slug));
        }
    }
    Ok(parts.join(" "))
}

/// Every key, oldest first (never the key itself).
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await
}

/// Revokes the named key; revoking twice is harmless.
pub async fn revoke(path: &WritePath, name: &str) -> Result<api_key::Model, KeyError> {
    path.run(name, |unit, name| {
        Box::pin(async move {
            let key = revoke_in(unit.db(), name).await?;
            unit.log(
                "key.revoked",
                "key",
                key.id,
                Some(serde_json::json!({ "name": key.name })),
            );
            Ok(key)
        })
    })
    .await
}

async fn revoke_in<C: ConnectionTrait>(db: &C, name: &str) -> Result<api_key::Model, KeyError> {
    let key = api_key::Entity::find()
        .filter(api_key::Column::Name.eq(name.trim()))
        .one(db)
        .await?
        .ok_or_else(|| KeyError::NoKey(name.to_owned()))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(chrono::Utc::now()));
    Ok(active.update(db).await?)
}

/// The caller a presented key stands for; `None` when it is unknown or revoked.
pub async fn authenticate<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<Caller>, DbErr> {
    let Some(row) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash(key)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.revoked_at.is_some() {
        return Ok(None);
    }
    let Ok(role) = row.role.parse::<Role>() else {
        return Ok(None);
    };
    let scope = scope_of(db, &row).await?;
    Ok(Some(Caller::Key {
        name: row.name,
        role,
        scope,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let (a, b) = (new_key().unwrap(), new_key().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 43, "{a}");
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
