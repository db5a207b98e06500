//! Document checks async-graphql does not make itself: the alias cap (a document of a
//! thousand aliased cheap fields passes the depth and complexity limits), and a clear refusal
//! of introspection when it is switched off (async-graphql would answer null, silently).

use async_graphql::ErrorExtensions;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Refuses a document with more than `max_aliases` aliased fields, or one that asks for
/// `__schema` or `__type` when introspection is off.
#[derive(Clone, Copy)]
pub struct DocumentLimits {
    pub max_aliases: usize,
    pub introspection: bool,
}

fn introspects(doc: &ExecutableDocument) -> bool {
    doc.operations.iter().any(|(_, op)| {
        op.node.selection_set.node.items.iter().any(|item| {
            matches!(&item.node, Selection::Field(f) if matches!(f.node.name.node.as_str(), "__schema" | "__type"))
        })
    })
}

fn refusal(message: String, code: &'static str) -> async_graphql::ServerError {
    async_graphql::Error::new(message)
        .extend_with(|_, e| e.set("code", code))
        .into_server_error(Default::default())
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases in every operation and fragment of the document (a fragment spread many times is
/// counted once: its cost is what the complexity limit is for).
pub fn count(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    ops + frags
}

impl DocumentLimits {
    /// The refusal of a document that asks too much, if it does.
    pub fn check(&self, doc: &ExecutableDocument) -> Result<(), async_graphql::ServerError> {
        let n = count(doc);
        if n > self.max_aliases {
            return Err(refusal(
                format!(
                    "the query has {n} aliases; at most {} are allowed",
                    self.max_aliases
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        if !self.introspection && introspects(doc) {
            return Err(refusal(
                "introspection is switched off on this server; the schema is published as \
                 schema.graphql"
                    .into(),
                "INTROSPECTION_DISABLED",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "{ a: reviews { nodes { t: title } } b: reviews { totalCount } ...F }
             fragment F on Query { c: agencies { totalCount } }",
        )
        .unwrap();
        assert_eq!(count(&doc), 4);
    }
}
