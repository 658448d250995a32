//! `bazaar-surreal start …`: SurrealDB's own server command line (the same
//! arguments as `surreal`), for running the distributed mode locally.

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
