//! Indexes N synthetic products and times a mix of searches, filtered
//! listings and suggestions at concurrency 8, cold (a freshly opened index,
//! each query the first of its kind) and warm (the same queries again).
//!
//! ```text
//! cargo build --release -p bazaar -p bazaar-search --example bench_index
//! $CARGO_TARGET_DIR/release/examples/bench_index 10000 100000 1000000
//! ```
//!
//! Products are seeded (the same N gives the same catalog) and made of a
//! small sample of the seed vocabulary. A benchmark, not a test.
//!
//! `BENCH_INDEX_DIR=dir` keeps each size's index in `dir/N` for the next
//! run; `BENCH_ONLY=search|listing|suggest` runs only that kind of query
//! (for a profile of one of them); `BENCH_SLOW_MS=n` prints every query
//! slower than `n` ms with its place in the pass; `BENCH_THREADS=n` runs
//! the queries on `n` query threads (default: one a core, as the node).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on the first failure

// The allocator the `bazaar` binary runs on, so the numbers are its numbers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bazaar_search::{ProductDoc, QueryPool, SearchIndex};
use bazaar_subjects::catalog::{FlashSale, SearchProducts, SortOrder, SuggestRequest};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CONCURRENCY: usize = 8;
const QUERIES_PER_KIND: usize = 400;

struct Kind {
    category: &'static str,
    subcategory: &'static str,
    nouns: &'static [(&'static str, i64, i64)],
    adjectives: &'static [&'static str],
    materials: &'static [&'static str],
    brands: &'static [&'static str],
    colors: &'static [&'static str],
    sizes: &'static [&'static str],
}

const KINDS: &[Kind] = &[
    Kind {
        category: "electronics",
        subcategory: "phones",
        nouns: &[
            ("Smartphone", 149, 1299),
            ("Phone Case", 9, 49),
            ("Screen Protector", 6, 29),
            ("Wireless Charger", 15, 79),
            ("Power Bank", 19, 89),
            ("Charging Cable", 7, 29),
        ],
        adjectives: &[
            "Slim",
            "Rugged",
            "Foldable",
            "Ultra",
            "Compact",
            "Magnetic",
            "Waterproof",
        ],
        materials: &[
            "Aluminium",
            "Silicone",
            "Tempered Glass",
            "Carbon Fiber",
            "Leather",
        ],
        brands: &["Voltix", "Nexaphone", "Lumio", "Orbitel", "Kestrel Mobile"],
        colors: &["black", "white", "silver", "graphite", "blue"],
        sizes: &[],
    },
    Kind {
        category: "electronics",
        subcategory: "audio",
        nouns: &[
            ("Headphones", 29, 399),
            ("Earbuds", 19, 249),
            ("Bluetooth Speaker", 25, 299),
            ("Soundbar", 99, 699),
            ("Turntable", 129, 899),
        ],
        adjectives: &[
            "Wireless",
            "Noise-Cancelling",
            "Portable",
            "Studio",
            "Hi-Fi",
            "Compact",
        ],
        materials: &["Aluminium", "Walnut", "Fabric", "Leather"],
        brands: &["Sonora", "Basswell", "Lumio", "Echoline"],
        colors: &["black", "white", "silver", "red"],
        sizes: &[],
    },
    Kind {
        category: "fashion",
        subcategory: "shoes",
        nouns: &[
            ("Hiking Boots", 59, 249),
            ("Running Shoes", 39, 189),
            ("Sneakers", 29, 159),
            ("Sandals", 15, 89),
            ("Chelsea Boots", 69, 229),
        ],
        adjectives: &[
            "Waterproof",
            "Lightweight",
            "Classic",
            "Vintage",
            "Breathable",
            "Cushioned",
        ],
        materials: &["Leather", "Suede", "Canvas", "Mesh", "Rubber"],
        brands: &["Trailmark", "Northstep", "Urbanfoot", "Kestrel"],
        colors: &["black", "brown", "white", "navy", "olive", "red"],
        sizes: &["38", "39", "40", "41", "42", "43", "44", "45"],
    },
    Kind {
        category: "fashion",
        subcategory: "jackets",
        nouns: &[
            ("Rain Jacket", 49, 249),
            ("Puffer Jacket", 69, 299),
            ("Denim Jacket", 39, 149),
            ("Wool Coat", 99, 399),
            ("Fleece", 29, 99),
        ],
        adjectives: &[
            "Insulated",
            "Packable",
            "Oversized",
            "Tailored",
            "Windproof",
            "Classic",
        ],
        materials: &["Cotton", "Wool", "Nylon", "Denim", "Recycled Polyester"],
        brands: &["Northstep", "Fjellwear", "Urbanfoot", "Linea"],
        colors: &["black", "navy", "olive", "beige", "red", "grey"],
        sizes: &["XS", "S", "M", "L", "XL", "XXL"],
    },
    Kind {
        category: "home",
        subcategory: "kitchen",
        nouns: &[
            ("Coffee Grinder", 19, 199),
            ("Chef Knife", 25, 249),
            ("Cast Iron Skillet", 29, 129),
            ("Kettle", 19, 149),
            ("Cutting Board", 12, 79),
            ("Teapot", 15, 89),
        ],
        adjectives: &[
            "Handmade",
            "Stainless",
            "Ceramic",
            "Professional",
            "Nordic",
            "Rustic",
        ],
        materials: &[
            "Stainless Steel",
            "Cast Iron",
            "Oak",
            "Bamboo",
            "Copper",
            "Stoneware",
        ],
        brands: &["Hearthware", "Kitchenry", "Oakhaus", "Copperline"],
        colors: &["black", "white", "copper", "green", "cream"],
        sizes: &[],
    },
    Kind {
        category: "home",
        subcategory: "lighting",
        nouns: &[
            ("Desk Lamp", 19, 149),
            ("Floor Lamp", 49, 299),
            ("Pendant Light", 39, 249),
            ("String Lights", 9, 49),
            ("Lantern", 15, 89),
        ],
        adjectives: &[
            "Dimmable",
            "Adjustable",
            "Minimalist",
            "Industrial",
            "Smart",
            "Vintage",
        ],
        materials: &["Brass", "Rattan", "Glass", "Linen", "Steel"],
        brands: &["Lumio", "Glowhaus", "Oakhaus", "Brightly"],
        colors: &["black", "white", "brass", "green"],
        sizes: &[],
    },
    Kind {
        category: "garden",
        subcategory: "tools",
        nouns: &[
            ("Garden Spade", 15, 79),
            ("Pruning Shears", 9, 59),
            ("Watering Can", 12, 49),
            ("Wheelbarrow", 49, 199),
            ("Hose Reel", 25, 129),
        ],
        adjectives: &[
            "Heavy-Duty",
            "Ergonomic",
            "Foldable",
            "Rust-Proof",
            "Classic",
        ],
        materials: &[
            "Stainless Steel",
            "Ash Wood",
            "Galvanised Steel",
            "Recycled Plastic",
        ],
        brands: &["Greenhand", "Rootwell", "Fieldcraft"],
        colors: &["green", "black", "red", "grey"],
        sizes: &[],
    },
    Kind {
        category: "sports",
        subcategory: "fitness",
        nouns: &[
            ("Yoga Mat", 15, 89),
            ("Kettlebell", 19, 129),
            ("Resistance Bands", 9, 39),
            ("Dumbbell Set", 39, 299),
            ("Jump Rope", 7, 29),
        ],
        adjectives: &["Non-Slip", "Adjustable", "Eco-Friendly", "Pro", "Compact"],
        materials: &["Natural Rubber", "Cork", "Cast Iron", "Neoprene", "TPE"],
        brands: &["Corestrong", "Flexa", "Peakform"],
        colors: &["black", "purple", "blue", "green", "pink"],
        sizes: &["S", "M", "L"],
    },
];

const FEATURES: &[&str] = &[
    "Charges fully in under two hours.",
    "Cut for a comfortable, true-to-size fit.",
    "Reinforced seams that last season after season.",
    "Made in a small family-run workshop.",
    "Dishwasher safe and built for daily use.",
    "Drop-tested from 1.5 metres.",
    "Ethically sourced materials and recycled packaging.",
    "Finished by hand and checked before it ships.",
    "Easy care: wipe clean with a damp cloth.",
    "Works with voice assistants.",
];
const USES: &[&str] = &[
    "everyday use",
    "travel",
    "the daily commute",
    "weekends away",
    "small kitchens",
    "long flights",
    "the garden shed",
    "home workouts",
];
const SHOPS: &[&str] = &[
    "north", "harbour", "maple", "copper", "atlas", "meadow", "summit", "river",
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn timestamp(seconds: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

fn product(i: usize, rng: &mut StdRng) -> ProductDoc {
    let kind = pick(rng, KINDS);
    let (noun, lo, hi) = *pick(rng, kind.nouns);
    let adjective = pick(rng, kind.adjectives);
    let material = pick(rng, kind.materials);
    let brand = pick(rng, kind.brands);
    let title = format!("{adjective} {material} {noun}");
    let mut description = format!("{brand} {title} for {}.", pick(rng, USES));
    for _ in 0..rng.random_range(3..7) {
        description.push(' ');
        let feature = *pick(rng, FEATURES);
        description.push_str(feature);
    }
    let regular = rng.random_range(lo..=hi) * 100 - 1;
    let sale = rng
        .random_bool(0.2)
        .then(|| regular * rng.random_range(60..95) / 100);
    let colors: Vec<String> = kind
        .colors
        .iter()
        .filter(|_| rng.random_bool(0.35))
        .map(|c| c.to_string())
        .collect();
    let sizes: Vec<String> = if kind.sizes.is_empty() {
        Vec::new()
    } else {
        let from = rng.random_range(0..kind.sizes.len());
        let to = rng.random_range(from..kind.sizes.len());
        kind.sizes[from..=to]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let shop = format!("{}-{}", pick(rng, SHOPS), i % 500);
    let created = 1_700_000_000 + i as i64 * 30 + rng.random_range(0..30);
    let flash_sale = (sale.is_some() && rng.random_bool(0.1)).then(|| {
        let starts = 1_760_000_000 + rng.random_range(-86_400 * 30..86_400 * 30);
        FlashSale {
            starts_at: timestamp(starts),
            ends_at: timestamp(starts + 86_400 * 3),
        }
    });
    ProductDoc {
        id: format!("p{i}"),
        slug: format!("{}-{i}", title.to_lowercase().replace(' ', "-")),
        title,
        description,
        category: kind.category.into(),
        subcategory: Some(kind.subcategory.into()),
        shop_name: shop.replace('-', " "),
        shop_slug: shop,
        tags: vec![kind.subcategory.into(), material.to_lowercase()],
        brand: Some(brand.to_string()),
        colors,
        sizes,
        image: Some(format!("img-{i}")),
        regular_price: regular,
        sale_price: sale,
        price: sale.unwrap_or(regular),
        currency: "USD".into(),
        stock: if rng.random_bool(0.1) {
            0
        } else {
            rng.random_range(1..200)
        },
        rating_avg: f64::from(rng.random_range(0..=50)) / 10.0,
        rating_count: rng.random_range(0..500),
        sales: rng.random_range(0..5_000),
        flash_sale,
        created_at: timestamp(created),
        live: true,
    }
}

/// One word of the vocabulary, lowercased.
fn vocab_word(rng: &mut StdRng) -> String {
    let kind = pick(rng, KINDS);
    let phrase = match rng.random_range(0..4) {
        0 => pick(rng, kind.nouns).0,
        1 => pick(rng, kind.adjectives),
        2 => pick(rng, kind.materials),
        _ => pick(rng, kind.brands),
    };
    let words: Vec<&str> = phrase.split(' ').collect();
    pick(rng, &words).to_lowercase()
}

/// The word with one letter dropped, when long enough for typo tolerance.
fn typo(word: &str, rng: &mut StdRng) -> String {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 6 {
        return word.to_owned();
    }
    let at = rng.random_range(1..chars.len() - 1);
    chars
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, c)| c)
        .collect()
}

#[derive(Clone)]
enum Query {
    Search(SearchProducts),
    Listing(SearchProducts),
    Suggest(SuggestRequest),
}

impl Query {
    fn kind(&self) -> &'static str {
        match self {
            Query::Search(_) => "search",
            Query::Listing(_) => "listing",
            Query::Suggest(_) => "suggest",
        }
    }

    /// The request, for the slow queries' report.
    fn describe(&self) -> String {
        match self {
            Query::Search(r) | Query::Listing(r) => format!("{r:?}"),
            Query::Suggest(r) => format!("{r:?}"),
        }
    }
}

fn queries(seed: u64) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for _ in 0..QUERIES_PER_KIND {
        let mut q = vocab_word(&mut rng);
        if rng.random_bool(0.4) {
            q = format!("{q} {}", vocab_word(&mut rng));
        }
        if rng.random_bool(0.15) {
            q = typo(&q, &mut rng);
        }
        out.push(Query::Search(SearchProducts {
            q: Some(q),
            page: Some(rng.random_range(1..3)),
            ..Default::default()
        }));
        let kind = pick(&mut rng, KINDS);
        let lo = rng.random_range(0..100) * 100;
        out.push(Query::Listing(SearchProducts {
            category: Some(kind.category.into()),
            subcategory: rng.random_bool(0.5).then(|| kind.subcategory.into()),
            min_price: rng.random_bool(0.5).then_some(lo),
            max_price: rng
                .random_bool(0.5)
                .then_some(lo + rng.random_range(1..200) * 100),
            colors: if rng.random_bool(0.3) {
                vec![pick(&mut rng, kind.colors).to_string()]
            } else {
                Vec::new()
            },
            in_stock: rng.random_bool(0.3),
            on_sale: rng.random_bool(0.1),
            sort: *pick(&mut rng, &SortOrder::ALL),
            page: Some(rng.random_range(1..5)),
            ..Default::default()
        }));
        let word = vocab_word(&mut rng);
        let n = rng.random_range(2..=word.chars().count().clamp(2, 6));
        out.push(Query::Suggest(SuggestRequest {
            q: word.chars().take(n).collect(),
        }));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Runs every query once, `concurrency` clients at a time, each waiting
/// for its answer before asking the next, through a [`QueryPool`] as the
/// node runs them; prints p50/p99 per kind (a query's time includes its
/// wait for a free query thread).
fn pass(
    label: &str,
    concurrency: usize,
    (index, pool): (&Arc<SearchIndex>, &Arc<QueryPool>),
    queries: &Arc<Vec<Query>>,
) {
    let slow = std::env::var("BENCH_SLOW_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let threads = pool.threads();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let all = runtime.block_on(async {
        let clients: Vec<_> = (0..concurrency)
            .map(|_| {
                let (index, queries, next, pool) =
                    (index.clone(), queries.clone(), next.clone(), pool.clone());
                let label = label.to_owned();
                tokio::spawn(async move {
                    let mut times: [Vec<Duration>; 3] = Default::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(q) = queries.get(i).cloned() else {
                            break;
                        };
                        let index = index.clone();
                        let t = Instant::now();
                        let slot = pool
                            .run(move || match q {
                                Query::Search(r) => index.search(&r).map(|_| 0),
                                Query::Listing(r) => index.search(&r).map(|_| 1),
                                Query::Suggest(r) => index.suggest(&r).map(|_| 2),
                            })
                            .await
                            .unwrap()
                            .unwrap();
                        times[slot].push(t.elapsed());
                        if slow.is_some_and(|slow| t.elapsed() > slow) {
                            eprintln!(
                                "  {label:<5} slow: query {i} ({}) took {:.1} ms: {}",
                                queries[i].kind(),
                                ms(t.elapsed()),
                                queries[i].describe()
                            );
                        }
                    }
                    times
                })
            })
            .collect();
        let mut all: [Vec<Duration>; 3] = Default::default();
        for c in clients {
            for (into, from) in all.iter_mut().zip(c.await.unwrap()) {
                into.extend(from);
            }
        }
        all
    });
    let wall = started.elapsed();
    let total: usize = all.iter().map(Vec::len).sum();
    for (name, mut times) in ["search", "listing", "suggest"].into_iter().zip(all) {
        times.sort();
        println!(
            "  {label:<5} {name:<8} n={:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            times.len(),
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.99)),
            ms(times.last().copied().unwrap_or_default()),
        );
    }
    println!(
        "  {label:<5} all      {total} queries in {:.2} s on {threads} query threads: {:.0} queries/s, {:.2} ms of CPU a query",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        (cpu_seconds() - cpu_before) * 1_000.0 / total as f64
    );
}

/// User and system CPU time of this process so far (whatever else runs on
/// the machine), from /proc: what a query costs, apart from waiting.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th; in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0)
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    // As the `bazaar` binary does.
    bazaar_runtime::pages::prefer_small_pages();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("product counts, e.g. 10000 100000"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    for n in sizes {
        // BENCH_INDEX_DIR keeps the index between runs (one per size).
        let kept = std::env::var_os("BENCH_INDEX_DIR").map(|d| Path::new(&d).join(n.to_string()));
        let temp = tempfile::tempdir().unwrap();
        let dir = kept.as_deref().unwrap_or(temp.path());
        println!("{n} products, index in {}", dir.display());
        let mut rng = StdRng::seed_from_u64(n as u64);
        let started = Instant::now();
        {
            let index = SearchIndex::open_or_create(dir).unwrap();
            if index.doc_count() != n as u64 {
                index.delete_all().unwrap();
                for i in 0..n {
                    index.upsert(&product(i, &mut rng)).unwrap();
                }
                index.mark_applied(n as u64);
                index.commit_if_dirty().unwrap();
                let committed = started.elapsed();
                index.wait_for_merges().unwrap();
                println!(
                    "  indexed in {:.1} s (committed at {:.1} s, merges done at {:.1} s), {:.0} products/s",
                    started.elapsed().as_secs_f64(),
                    committed.as_secs_f64(),
                    started.elapsed().as_secs_f64(),
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
        println!(
            "  index size {:.1} MB, {}",
            dir_size(dir) as f64 / 1e6,
            rss()
        );
        // Cold: a fresh open, every query seen for the first time.
        let opening = Instant::now();
        let index = Arc::new(SearchIndex::open_or_create(dir).unwrap());
        println!(
            "  opened in {:.0} ms (facet masks and price ladders built), {}",
            ms(opening.elapsed()),
            rss()
        );
        assert_eq!(index.doc_count(), n as u64);
        assert_eq!(index.last_applied_sequence(), Some(n as u64));
        let only = std::env::var("BENCH_ONLY").ok();
        let queries: Vec<Query> = queries(n as u64 + 1)
            .into_iter()
            .filter(|q| only.as_deref().is_none_or(|only| only == q.kind()))
            .collect();
        let queries = Arc::new(queries);
        // One pool for the three passes, as a node keeps one; the cold pass
        // starts on threads that have never run a query.
        let threads = std::env::var("BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(bazaar_search::default_threads);
        let pool = Arc::new(QueryPool::new(threads).unwrap());
        pass("cold", CONCURRENCY, (&index, &pool), &queries);
        pass("warm", CONCURRENCY, (&index, &pool), &queries);
        pass("1-cli", 1, (&index, &pool), &queries);
        // Freshness: an edit, committed and reloaded, then found.
        for (round, word) in ["zanzibar", "quixotic", "flummox"].into_iter().enumerate() {
            let mut edited = product(round, &mut StdRng::seed_from_u64(round as u64));
            edited.id = format!("p{round}");
            edited.title = format!("{word} Teapot");
            let t = Instant::now();
            index.upsert(&edited).unwrap();
            index.commit_if_dirty().unwrap();
            let found = index
                .search(&SearchProducts {
                    q: Some(word.into()),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(found.total, 1);
            println!(
                "  edit {round}: committed, reloaded and found in {:.1} ms",
                ms(t.elapsed())
            );
        }
        println!("  after queries: {}", rss());
    }
}
