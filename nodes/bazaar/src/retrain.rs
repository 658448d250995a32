//! `bazaar retrain`: read interactions (the event streams since a date, or
//! a CSV), hold out each user's latest items, train, evaluate against the
//! popularity baseline, and publish the model — versioned into the models
//! Object Store, then the pointer moved — only when it beats the baseline
//! (or `--force`). Every recommend node swaps to it on its own.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::jetstream::{self, consumer, consumer::DeliverPolicy};
use bazaar_recommend::{Bundle, Extras, ModelStore};
use bazaar_recommender::{
    AlsParams, Interaction, Interactions, Kind, Report, Split, Weights, fit_and_evaluate,
    split_by_time, split_random,
};
use bazaar_subjects::recommend::ModelPointer;
use bazaar_subjects::{Event, catalog, orders};
use futures::StreamExt;
use linfa::prelude::ParamGuard;
use time::OffsetDateTime;

/// How long a stream may stay silent before it counts as read to the end.
const IDLE: Duration = Duration::from_secs(2);
/// The seed of the random hold-out for CSV input (it has no times).
const SPLIT_SEED: u64 = 42;

#[derive(Debug, Clone, clap::Args)]
pub struct RetrainArgs {
    /// Read interactions from the event streams since this date
    /// (YYYY-MM-DD or RFC 3339; default: 90 days ago).
    #[arg(long, value_parser = parse_since, conflicts_with = "from_csv")]
    pub since: Option<OffsetDateTime>,
    /// Read `user,item,weight` rows from this CSV instead of the streams.
    #[arg(long)]
    pub from_csv: Option<PathBuf>,
    /// Write the evaluation report here as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Publish even when the model does not beat the popularity baseline.
    #[arg(long)]
    pub force: bool,
    /// Items held out per user for the evaluation.
    #[arg(long, default_value_t = 2)]
    pub holdout: usize,
    /// Evaluate the top k.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = 64)]
    pub factors: usize,
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
    #[arg(long, default_value_t = 10.0)]
    pub alpha: f32,
    #[arg(long, default_value_t = 1.0)]
    pub regularization: f32,
    /// Seed of the factors' initialisation (the same data and seed give the
    /// same model).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress bars (for logs and tests).
    #[arg(long)]
    pub quiet: bool,
}

impl Default for RetrainArgs {
    fn default() -> Self {
        Self {
            since: None,
            from_csv: None,
            report: None,
            force: false,
            holdout: 2,
            k: 10,
            factors: 64,
            iterations: 15,
            alpha: 10.0,
            regularization: 1.0,
            seed: 42,
            quiet: true,
        }
    }
}

fn parse_since(s: &str) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]")
        .map_err(|e| e.to_string())?;
    time::Date::parse(s, &format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("`{s}` is neither YYYY-MM-DD nor RFC 3339"))
}

/// What a retrain did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub version: String,
    pub published: bool,
    pub source: String,
    pub interactions: usize,
    pub report: Report,
}

/// Runs a retrain against the platform behind `nats`. Refusing to publish a
/// model that does not beat the baseline is an error (after the report).
pub async fn retrain(nats: &async_nats::Client, args: &RetrainArgs) -> anyhow::Result<Outcome> {
    let js = jetstream::new(nats.clone());
    let (split, full, extras, source) = match &args.from_csv {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let data = Interactions::from_csv(std::io::BufReader::new(file))
                .with_context(|| format!("cannot read {}", path.display()))?;
            let split = split_random(&data, args.holdout, SPLIT_SEED);
            (
                split,
                data,
                Extras::default(),
                format!("csv {}", path.display()),
            )
        }
        None => {
            let since = args
                .since
                .unwrap_or_else(|| OffsetDateTime::now_utc() - time::Duration::days(90));
            let events = read_events(&js, since).await?;
            let weights = Weights::default();
            let split = split_by_time(&events, &weights, args.holdout);
            let full = Interactions::from_events(&events, &weights);
            let extras = Extras::from_events(&events);
            (split, full, extras, format!("events since {since}"))
        }
    };
    if full.nnz() == 0 {
        bail!("no interactions to train on ({source})");
    }
    println!(
        "{} users × {} items, {} interactions ({source}); {} held out",
        full.n_users(),
        full.n_items(),
        full.nnz(),
        split.held_out()
    );
    let params = AlsParams::new()
        .factors(args.factors)
        .iterations(args.iterations)
        .alpha(args.alpha)
        .regularization(args.regularization)
        .seed(args.seed)
        .check()?;
    let (model, report) = train(args, &params, split, full).await?;
    println!("{report}");
    let version = model.version();
    let beats = report.beats_baseline();
    let published = beats || args.force;
    let outcome = Outcome {
        version: version.clone(),
        published,
        source,
        interactions: model.metadata().interactions,
        report,
    };
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&outcome)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !published {
        bail!(
            "the model does not beat the popularity baseline (P@{k} {:.4} vs {:.4}, nDCG@{k} {:.4} vs {:.4}): not published; --force publishes it anyway",
            outcome.report.model.precision,
            outcome.report.baseline.precision,
            outcome.report.model.ndcg,
            outcome.report.baseline.ndcg,
            k = outcome.report.k,
        );
    }
    let pointer = ModelPointer {
        version: version.clone(),
        trained_at: OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        precision_at_10: outcome.report.model.precision,
        baseline_precision_at_10: outcome.report.baseline.precision,
    };
    let bytes = Bundle { model, extras }.to_bytes();
    let store = ModelStore::open(&js).await?;
    store
        .publish(&pointer, bytes)
        .await
        .map_err(|e| anyhow::anyhow!("publishing model {version}: {e}"))?;
    println!("published model {version}");
    Ok(outcome)
}

/// Evaluates on the hold-out, then fits the model to publish on everything.
async fn train(
    args: &RetrainArgs,
    params: &bazaar_recommender::AlsValidParams,
    split: Split,
    full: Interactions,
) -> anyhow::Result<(bazaar_recommender::AlsModel, Report)> {
    let params = params.clone();
    let (k, quiet) = (args.k, args.quiet);
    tokio::task::spawn_blocking(move || {
        let bar = progress(quiet, params.iterations(), "evaluating");
        let (_, report) = fit_and_evaluate(&params, &split, k, |_| bar.inc(1))?;
        bar.finish();
        let bar = progress(quiet, params.iterations(), "training");
        let model = params.fit_with_progress(&full, |_| bar.inc(1))?;
        bar.finish();
        Ok((model, report))
    })
    .await?
}

fn progress(quiet: bool, iterations: usize, what: &'static str) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(iterations as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>10} [{bar:30}] {pos}/{len} iterations, {elapsed}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// Every interaction on the catalog and orders event streams since `since`:
/// product views, cart and wishlist adds (signed-in accounts only) and the
/// products of placed orders, and product reviews with their stars.
pub async fn read_events(
    js: &jetstream::Context,
    since: OffsetDateTime,
) -> anyhow::Result<Vec<Interaction>> {
    let mut out = Vec::new();
    read_stream(
        js,
        catalog::EVENTS.name,
        vec![catalog::VIEW_EVENTS.to_owned()],
        since,
        &mut out,
    )
    .await?;
    read_stream(
        js,
        orders::EVENTS.name,
        vec![
            orders::CartItemAdded::SUBJECT.to_owned(),
            orders::WishlistItemAdded::SUBJECT.to_owned(),
            orders::OrderPlaced::SUBJECT.to_owned(),
            orders::ReviewChanged::SUBJECT.to_owned(),
        ],
        since,
        &mut out,
    )
    .await?;
    Ok(out)
}

async fn read_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: Vec<String>,
    since: OffsetDateTime,
    out: &mut Vec<Interaction>,
) -> anyhow::Result<()> {
    let Ok(stream) = js.get_stream(name).await else {
        tracing::warn!(stream = name, "no such event stream: nothing read from it");
        return Ok(());
    };
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subjects: subjects,
            deliver_policy: DeliverPolicy::ByStartTime { start_time: since },
            ..Default::default()
        })
        .await
        .with_context(|| format!("reading {name}"))?;
    let mut messages = consumer.messages().await?;
    loop {
        let message = match tokio::time::timeout(IDLE, messages.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(m)) => m?,
        };
        let (at, pending) = match message.info() {
            Ok(info) => (info.published, info.pending),
            Err(_) => (OffsetDateTime::now_utc(), 1),
        };
        interactions(&message.subject, &message.payload, at, out);
        if pending == 0 {
            break;
        }
    }
    Ok(())
}

/// The interactions one event stands for (none for undecodable payloads
/// and guests).
pub fn interactions(subject: &str, payload: &[u8], at: OffsetDateTime, out: &mut Vec<Interaction>) {
    let mut push = |user: &str, item: &str, kind: Kind| {
        out.push(Interaction {
            user: user.to_owned(),
            item: item.to_owned(),
            kind,
            at,
        })
    };
    match subject {
        s if s == catalog::ProductViewed::SUBJECT || s == catalog::ProductsViewed::SUBJECT => {
            for e in catalog::views_of(s, payload) {
                if let Some(user) = &e.account_id {
                    push(user, &e.product_id, Kind::View);
                }
            }
        }
        s if s == orders::CartItemAdded::SUBJECT => {
            if let Ok(e) = serde_json::from_slice::<orders::CartItemAdded>(payload)
                && let Some(user) = &e.account_id
            {
                push(user, &e.product_id, Kind::CartAdd);
            }
        }
        s if s == orders::WishlistItemAdded::SUBJECT => {
            if let Ok(e) = serde_json::from_slice::<orders::WishlistItemAdded>(payload)
                && let Some(user) = &e.account_id
            {
                push(user, &e.product_id, Kind::WishlistAdd);
            }
        }
        s if s == orders::OrderPlaced::SUBJECT => {
            if let Ok(orders::OrderPlaced(e)) = serde_json::from_slice(payload) {
                let items: HashSet<&String> = e.product_ids.iter().collect();
                for item in items {
                    push(&e.buyer_id, item, Kind::Purchase);
                }
            }
        }
        s if s == orders::ReviewChanged::SUBJECT => {
            if let Ok(e) = serde_json::from_slice::<orders::ReviewChanged>(payload)
                && e.target == orders::ReviewTarget::Product
                && let (Some(user), Some(stars)) = (&e.author_id, e.stars)
            {
                push(user, &e.target_id, Kind::Review(stars));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_recommender::interactions::write_events_csv;
    use bazaar_subjects::Currency;
    use bazaar_subjects::orders::{OrderEvent, OrderStatus, PaymentStatus};

    #[test]
    fn events_become_interactions_and_match_their_csv() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut out = Vec::new();
        let view = catalog::ProductViewed {
            product_id: "p1".into(),
            shop_id: "s".into(),
            account_id: Some("a1".into()),
            at: String::new(),
            visitor_id: None,
        };
        let guest_view = catalog::ProductViewed {
            account_id: None,
            ..view.clone()
        };
        let cart = orders::CartItemAdded {
            product_id: "p2".into(),
            account_id: Some("a1".into()),
            quantity: 2,
            at: String::new(),
        };
        let wish = orders::WishlistItemAdded {
            product_id: "p3".into(),
            account_id: Some("a2".into()),
            at: String::new(),
        };
        let placed = orders::OrderPlaced(OrderEvent {
            order_id: "o".into(),
            number: "1".into(),
            buyer_id: "a2".into(),
            shop_id: "s".into(),
            status: OrderStatus::Ordered,
            payment_status: PaymentStatus::Pending,
            total: 1,
            currency: Currency::USD,
            product_ids: vec!["p1".into(), "p1".into(), "p3".into()],
            items: Vec::new(),
            platform_fee: 0,
            at: None,
        });
        let review = orders::ReviewChanged {
            target: orders::ReviewTarget::Product,
            target_id: "p2".into(),
            average: 4.0,
            count: 1,
            revision: 1,
            author_id: Some("a2".into()),
            stars: Some(4),
        };
        let shop_review = orders::ReviewChanged {
            target: orders::ReviewTarget::Shop,
            target_id: "s".into(),
            ..review.clone()
        };
        let json = |v: &dyn erased::Json| v.bytes();
        interactions(catalog::ProductViewed::SUBJECT, &json(&view), at, &mut out);
        interactions(
            catalog::ProductViewed::SUBJECT,
            &json(&guest_view),
            at,
            &mut out,
        );
        let batch = catalog::ProductsViewed {
            views: vec![
                catalog::ProductViewed {
                    product_id: "p4".into(),
                    account_id: Some("a2".into()),
                    ..view.clone()
                },
                guest_view.clone(),
            ],
        };
        interactions(
            catalog::ProductsViewed::SUBJECT,
            &json(&batch),
            at,
            &mut out,
        );
        interactions(orders::CartItemAdded::SUBJECT, &json(&cart), at, &mut out);
        interactions(
            orders::WishlistItemAdded::SUBJECT,
            &json(&wish),
            at,
            &mut out,
        );
        interactions(orders::OrderPlaced::SUBJECT, &json(&placed), at, &mut out);
        interactions(orders::OrderPlaced::SUBJECT, b"not json", at, &mut out);
        interactions(orders::ReviewChanged::SUBJECT, &json(&review), at, &mut out);
        interactions(
            orders::ReviewChanged::SUBJECT,
            &json(&shop_review),
            at,
            &mut out,
        );
        let mut seen: Vec<(String, String, Kind)> = out
            .iter()
            .map(|i| (i.user.clone(), i.item.clone(), i.kind))
            .collect();
        seen.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        assert_eq!(
            seen,
            [
                ("a1".into(), "p1".into(), Kind::View),
                ("a1".into(), "p2".into(), Kind::CartAdd),
                ("a2".into(), "p1".into(), Kind::Purchase),
                ("a2".into(), "p2".into(), Kind::Review(4)),
                ("a2".into(), "p3".into(), Kind::WishlistAdd),
                ("a2".into(), "p3".into(), Kind::Purchase),
                ("a2".into(), "p4".into(), Kind::View),
            ]
        );

        // The event path and the CSV a data team would export agree.
        let weights = Weights::default();
        let from_events = Interactions::from_events(&out, &weights);
        let mut csv = Vec::new();
        write_events_csv(&out, &weights, &mut csv).unwrap();
        let from_csv = Interactions::from_csv(csv.as_slice()).unwrap();
        for (user, item) in [
            ("a1", "p1"),
            ("a1", "p2"),
            ("a2", "p1"),
            ("a2", "p2"),
            ("a2", "p3"),
            ("a2", "p4"),
        ] {
            assert_eq!(
                from_events.weight(user, item),
                from_csv.weight(user, item),
                "{user} {item}"
            );
        }
        assert_eq!(from_events.nnz(), from_csv.nnz());
    }

    mod erased {
        pub trait Json {
            fn bytes(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Json for T {
            fn bytes(&self) -> Vec<u8> {
                serde_json::to_vec(self).unwrap()
            }
        }
    }
}
