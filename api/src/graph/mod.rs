//! The graph questions: which agencies recur, how agencies connect through shared reviews,
//! and how sectors spread over years and areas. Each answer is one SQL statement over the
//! aggregates `derived` keeps at write time, or over the edge tables; nothing here knows
//! GraphQL.

pub mod derived;
pub mod recurrence;

pub use recurrence::*;
