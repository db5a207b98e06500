//! API keys: created with a role, shown once, stored as a SHA-256, revoked by name.

use base64::Engine;
use entity::api_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, QueryFilter,
    QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::{Caller, Role};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key named {0:?} exists already")]
    NameTaken(String),
    #[error("no key named {0:?}")]
    NoKey(String),
    #[error("a key name must be 1 to 100 characters without control characters, not {0:?}")]
    BadName(String),
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

/// Creates a key; returns it. This is the only time the key exists outside its holder.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    name: &str,
    role: Role,
) -> Result<String, KeyError> {
    let name = name.trim();
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
    let key = new_key()?;
    api_key::ActiveModel {
        id: NotSet,
        name: Set(name.to_owned()),
        role: Set(role.code().to_owned()),
        key_hash: Set(hash(&key)),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(key)
}

/// Every key, oldest first (never the key itself).
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await
}

/// Revokes the named key; revoking twice is harmless.
pub async fn revoke<C: ConnectionTrait>(db: &C, name: &str) -> Result<api_key::Model, KeyError> {
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
    Ok(row.role.parse().ok().map(|role| Caller::Key {
        name: row.name,
        role,
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
