//! Side-by-side benchmark of Bazaar's ALS and the `implicit` Python library
//! on one seeded synthetic data set and one hold-out. Run it through
//! `scripts/bench-recommender`, which builds it in release, prepares the
//! Python environment and passes `--python` and `--implicit-script`.
//!
//! Steps: generate the data and write it as CSV; read the CSV back (the
//! data-team path); hold out 2 random items per user; write the training
//! pairs for Python; train `implicit` (subprocess) and Bazaar's ALS with the
//! same factors, λ, alpha, iterations and threads; evaluate both and the
//! popularity baseline with the same code; time top-k and similar items at
//! 100k items (brute force against linfa-nn's ball tree).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bazaar_recommender::synthetic::{self, SyntheticConfig};
use bazaar_recommender::{
    AlsModel, AlsParams, Interactions, InteractionsBuilder, Popularity, Weights, evaluate,
    evaluate::evaluate_ranker, split_random,
};
use linfa::ParamGuard;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour, distance::L2Dist};
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng, rngs::StdRng};

struct Args {
    users: usize,
    items: usize,
    interactions: usize,
    factors: usize,
    regularization: f32,
    alpha: f32,
    iterations: usize,
    seed: u64,
    dir: PathBuf,
    python: Option<String>,
    implicit_script: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        users: 100_000,
        items: 20_000,
        interactions: 2_000_000,
        factors: 64,
        regularization: 1.0,
        alpha: 10.0,
        iterations: 15,
        seed: 42,
        dir: std::env::temp_dir().join("bazaar-bench-recommender"),
        python: None,
        implicit_script: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (flag, value) = (pair[0].as_str(), pair.get(1).cloned().unwrap_or_default());
        let num = || {
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{flag} wants a number"))
        };
        match flag {
            "--users" => a.users = num() as usize,
            "--items" => a.items = num() as usize,
            "--interactions" => a.interactions = num() as usize,
            "--factors" => a.factors = num() as usize,
            "--regularization" => a.regularization = num() as f32,
            "--alpha" => a.alpha = num() as f32,
            "--iterations" => a.iterations = num() as usize,
            "--seed" => a.seed = num() as u64,
            "--dir" => a.dir = value.into(),
            "--python" => a.python = Some(value),
            "--implicit-script" => a.implicit_script = Some(value),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

fn mean_secs(d: &[Duration]) -> f64 {
    d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len().max(1) as f64
}

fn read_f32s(path: &PathBuf, rows: usize, cols: usize) -> Array2<f32> {
    let bytes = std::fs::read(path).expect("read factors");
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Array2::from_shape_vec((rows, cols), data).expect("factor shape")
}

fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).expect("bench dir");
    let threads = rayon::current_num_threads();
    println!(
        "data: {} users × {} items × {} events, seed {}; ALS: {} factors, λ {}, alpha {}, {} iterations, {} threads",
        args.users,
        args.items,
        args.interactions,
        args.seed,
        args.factors,
        args.regularization,
        args.alpha,
        args.iterations,
        threads
    );

    let t = Instant::now();
    let config = SyntheticConfig {
        groups: 200,
        ..SyntheticConfig::new(args.users, args.items, args.interactions, args.seed)
    };
    let data = synthetic::generate(&config);
    let csv_path = args.dir.join("interactions.csv");
    data.write_csv(
        &Weights::default(),
        BufWriter::new(File::create(&csv_path).expect("create csv")),
    )
    .expect("write csv");
    drop(data);
    println!(
        "generated and wrote {} in {:.1?}",
        csv_path.display(),
        t.elapsed()
    );

    let t = Instant::now();
    let all = Interactions::from_csv(File::open(&csv_path).expect("open csv")).expect("read csv");
    println!(
        "read CSV: {} users, {} items, {} pairs in {:.1?}",
        all.n_users(),
        all.n_items(),
        all.nnz(),
        t.elapsed()
    );
    let split = split_random(&all, 2, args.seed);
    let train = &split.train;
    println!(
        "hold-out: 2 random items for each of {} users ({} pairs held out, {} to train on)",
        split.test.len(),
        split.held_out(),
        train.nnz()
    );

    let params = AlsParams::new()
        .factors(args.factors)
        .regularization(args.regularization)
        .alpha(args.alpha)
        .iterations(args.iterations)
        .seed(args.seed)
        .check()
        .expect("valid parameters");

    // implicit: the same training pairs, by index.
    let mut implicit_iter = None;
    let mut implicit_model = None;
    if let (Some(python), Some(script)) = (&args.python, &args.implicit_script) {
        let mut out = BufWriter::new(File::create(args.dir.join("train.bin")).expect("create"));
        for (u, i, w) in train.matrix().iter() {
            out.write_all(&u.to_le_bytes()).expect("write");
            out.write_all(&i.to_le_bytes()).expect("write");
            out.write_all(&w.to_le_bytes()).expect("write");
        }
        out.flush().expect("flush");
        let status = Command::new(python)
            .arg(script)
            .arg(&args.dir)
            .args(
                [
                    train.n_users(),
                    train.n_items(),
                    args.factors,
                    args.iterations,
                ]
                .map(|n| n.to_string()),
            )
            .args([args.regularization, args.alpha].map(|x| x.to_string()))
            .arg(args.seed.to_string())
            .arg(threads.to_string())
            .status()
            .expect("run python");
        assert!(status.success(), "implicit failed: {status}");
        let timings: Vec<f64> = std::fs::read_to_string(args.dir.join("implicit-iterations.txt"))
            .expect("implicit timings")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        implicit_iter = Some(timings.iter().sum::<f64>() / timings.len().max(1) as f64);
        let uf = read_f32s(
            &args.dir.join("implicit-users.f32"),
            train.n_users(),
            args.factors,
        );
        let itf = read_f32s(
            &args.dir.join("implicit-items.f32"),
            train.n_items(),
            args.factors,
        );
        implicit_model =
            Some(AlsModel::from_factors(train, uf, itf, params.clone()).expect("implicit factors"));
    }

    let mut iterations = Vec::new();
    let t = Instant::now();
    let model = params
        .fit_with_progress(train, |s| {
            eprintln!(
                "bazaar ALS iteration {}/{}: {:.2?}",
                s.iteration, s.iterations, s.elapsed
            );
            iterations.push(s.elapsed);
        })
        .expect("fit");
    println!("bazaar ALS trained in {:.1?}", t.elapsed());

    let t = Instant::now();
    let popularity = Popularity::fit(train);
    let report = evaluate(&model, &popularity, &split, 10);
    println!("evaluated in {:.1?}\n\n{report}", t.elapsed());

    println!(
        "{:<22} {:>14} {:>8} {:>8} {:>10} {:>9}",
        "at k=10", "s / iteration", "P@10", "nDCG@10", "recall@10", "coverage"
    );
    let row = |name: &str, iter: Option<f64>, m: &bazaar_recommender::Metrics| {
        let iter = iter.map_or("-".to_owned(), |s| format!("{s:.3}"));
        println!(
            "{name:<22} {iter:>14} {:>8.4} {:>8.4} {:>10.4} {:>9.4}",
            m.precision, m.ndcg, m.recall, m.coverage
        );
    };
    row("bazaar ALS", Some(mean_secs(&iterations)), &report.model);
    if let Some(m) = &implicit_model {
        row("implicit", implicit_iter, &evaluate_ranker(m, &split, 10));
    }
    row("popularity", None, &report.baseline);

    serve_at_scale(args.factors, args.seed);
}

/// Top-k and similar items on a catalogue of 100k items.
fn serve_at_scale(factors: usize, seed: u64) {
    const ITEMS: usize = 100_000;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = InteractionsBuilder::new();
    for i in 0..ITEMS {
        b.add("someone", &format!("p{i}"), 1.0);
    }
    let data = b.build();
    let params = AlsParams::new().factors(factors).check().expect("valid");
    let users = Array2::from_shape_simple_fn((1, factors), || rng.random::<f32>() - 0.5);
    let items = Array2::from_shape_simple_fn((ITEMS, factors), || rng.random::<f32>() - 0.5);
    let model = AlsModel::from_factors(&data, users, items, params).expect("model");
    let exclude: HashSet<String> = (0..50).map(|i| format!("p{}", i * 7)).collect();

    let time = |f: &mut dyn FnMut()| {
        f();
        let mut runs: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        runs.sort();
        (runs[runs.len() / 2], runs[runs.len() * 99 / 100])
    };
    println!("\nserving at {ITEMS} items × {factors} factors (one thread, 200 runs):");
    let (p50, p99) = time(&mut || {
        std::hint::black_box(model.recommend("someone", 10, &exclude));
    });
    println!("  recommend top-10 (50 excluded):      p50 {p50:.2?}  p99 {p99:.2?}");
    let (p50, p99) = time(&mut || {
        std::hint::black_box(model.similar_items("p123", 10));
    });
    println!("  similar_items brute force:           p50 {p50:.2?}  p99 {p99:.2?}");

    let mut unit = model.item_factors().clone();
    for mut row in unit.axis_iter_mut(Axis(0)) {
        let n = row.dot(&row).sqrt();
        row /= n;
    }
    for (name, kind) in [
        ("linfa-nn ball tree", CommonNearestNeighbour::BallTree),
        (
            "linfa-nn linear search",
            CommonNearestNeighbour::LinearSearch,
        ),
    ] {
        let t = Instant::now();
        let index = kind.from_batch(&unit, L2Dist).expect("index");
        let built = t.elapsed();
        let q = unit.row(123);
        let runs = if matches!(kind, CommonNearestNeighbour::BallTree) {
            20
        } else {
            200
        };
        let mut d: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(index.k_nearest(q, 11).expect("query"));
                t.elapsed()
            })
            .collect();
        d.sort();
        println!(
            "  similar_items {name:<22} p50 {:.2?}  (index built in {built:.1?})",
            d[d.len() / 2]
        );
    }
}
