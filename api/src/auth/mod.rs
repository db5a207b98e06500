//! Who may do what: API keys with a role, the caller of a request, and the guard that
//! checks a field's role before its resolver runs (so a refused write writes nothing).

pub mod keys;

use async_graphql::{Context, Guard, Result};

use crate::error::ApiError;

/// What a key may do. Ordered: each role may do everything the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    /// Writes reviews and plans, within its scope.
    Editor,
    /// Also curates agencies: aliases, merges, sectors.
    Curator,
    Admin,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Curator => "curator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "editor" => Ok(Role::Editor),
            "curator" => Ok(Role::Curator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (reader, editor, curator or admin)"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Who is asking: nobody in particular, or the holder of a valid key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Key {
        name: String,
        role: Role,
        scope: Scope,
    },
}

/// The organisation that holds a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `csp` or `agency`.
    pub kind: &'static str,
    pub id: i32,
    pub slug: String,
}

impl Owner {
    /// The namespace of the owner's `externalRef`s: `csp:kent/`.
    pub fn ref_prefix(&self) -> String {
        format!("{}:{}/", self.kind, self.slug)
    }
}

/// Where a key may write. Admin keys, and editor or curator keys made `national`, may write
/// anywhere; other editor keys only inside their CSPs and agencies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub owner: Option<Owner>,
    pub national: bool,
    /// Whose reviews it may write (and whose reviews' plans it may update).
    pub csps: std::collections::BTreeSet<i32>,
    /// Whose plans it may update: recommendations addressed to them or led by them.
    pub agencies: std::collections::BTreeSet<i32>,
}

impl Scope {
    /// A scope without limits (the command line, an admin).
    pub fn everywhere() -> Self {
        Scope {
            national: true,
            ..Default::default()
        }
    }

    pub fn unlimited(&self) -> bool {
        self.national
    }
}

impl Caller {
    /// The name recorded as the actor of a change.
    pub fn actor(&self) -> &str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::Key { name, .. } => name,
        }
    }

    /// Where the caller may write (nowhere without a key).
    pub fn scope(&self) -> Scope {
        match self {
            Caller::Anonymous => Scope::default(),
            Caller::Key { role, .. } if *role >= Role::Admin => Scope::everywhere(),
            Caller::Key { scope, .. } => scope.clone(),
        }
    }

    /// Can this caller do what needs `needed`? A missing key and a too-weak one fail with
    /// different codes, so a client knows whether to log in or to ask for more rights.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::Unauthenticated(format!(
                "this needs a key with the {needed} role: send `Authorization: Bearer KEY`"
            ))),
            Caller::Key { role, .. } if *role >= needed => Ok(()),
            Caller::Key { .. } => Err(ApiError::Forbidden {
                needed: needed.code(),
            }),
        }
    }
}

/// The bearer token of an `Authorization` header value (or a websocket init payload's).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Field guard: `#[graphql(guard = "RoleGuard(Role::Editor)")]`.
pub struct RoleGuard(pub Role);

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
        caller.require(self.0).map_err(|e| e.to_graphql())
    }
}

/// The caller of the current request.
pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_checked() {
        let editor = Caller::Key {
            name: "cms".into(),
            role: Role::Editor,
            scope: Scope::default(),
        };
        assert!(editor.require(Role::Reader).is_ok());
        assert!(editor.require(Role::Editor).is_ok());
        assert_eq!(
            editor.require(Role::Curator).unwrap_err().code(),
            "FORBIDDEN"
        );
        assert_eq!(editor.require(Role::Admin).unwrap_err().code(), "FORBIDDEN");
        assert_eq!(
            Caller::Anonymous.require(Role::Reader).unwrap_err().code(),
            "UNAUTHENTICATED"
        );
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
