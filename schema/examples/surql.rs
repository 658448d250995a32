//! Runs SurrealQL from stdin against a Bazaar database and prints each
//! statement's result and time: for EXPLAIN and timing queries by hand.
//!
//!     cargo run -p bazaar-schema --example surql -- surrealkv:///path/to/data/db < query.surql
//!
//! Statements are separated by lines holding only `--`; each runs on its own.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: surql DATABASE_URL < query.surql")?;
    let db = bazaar_schema::connect(&url, None).await?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
    for sql in text
        .split("\n--\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let started = std::time::Instant::now();
        let mut res = db.query(sql).await?;
        let elapsed = started.elapsed();
        println!("=== {sql}\n--- {:.1} ms", elapsed.as_secs_f64() * 1000.0);
        for (i, e) in res.take_errors() {
            println!("error in statement {i}: {e}");
        }
        for i in 0..res.num_statements() {
            if let Ok(v) = res.take::<surrealdb::types::Value>(i) {
                let json = v.into_json_value();
                let s = serde_json::to_string_pretty(&json)?;
                // Long results are cut, at a character boundary.
                let shown: String = s.chars().take(4000).collect();
                println!("[{i}] {shown}");
            }
        }
    }
    Ok(())
}
