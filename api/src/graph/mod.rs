//! The graph questions: which agencies recur, how agencies connect through shared reviews,
//! and how sectors spread over years and areas. Each answer is one SQL statement over the
//! edge tables; nothing here knows GraphQL.

pub mod recurrence;

pub use recurrence::*;
