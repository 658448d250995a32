//! `bazaar-surreal start …`: SurrealDB's own server command line (the same
//! arguments as `surreal`), for running the distributed mode locally.

// An optimised build lays out SurrealDB's deepest async expression futures
// past the default query depth.
#![recursion_limit = "256"]

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
