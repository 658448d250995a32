//! `bazaar analytics rebuild`: the analytics rollups emptied and counted
//! again from every event the streams hold, with a progress bar per stream.
//!
//! The analytics nodes may keep running meanwhile: each event is counted
//! once, by whichever of them and the rebuild applies it first. With the
//! embedded database, stop `bazaar dev`/`serve` first (it holds the
//! database's lock); with a SurrealDB server, run it beside them.

use bazaar_analytics::Progress;
use bazaar_schema::Db;

/// One bar per stream, on stderr.
struct Bars {
    quiet: bool,
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Bars {
    fn stream(&self, name: &str, total: u64) {
        let bar = if self.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(total)
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:>16} [{bar:30}] {pos}/{len} events, {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_owned());
        let mut held = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = held.replace(bar) {
            done.finish();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            bar.inc(n);
        }
    }
}

/// Rebuilds the rollups; the number of events counted.
pub async fn rebuild(
    db: &Db,
    js: &async_nats::jetstream::Context,
    quiet: bool,
) -> Result<u64, bazaar_analytics::RebuildError> {
    let bars = Bars {
        quiet,
        bar: std::sync::Mutex::new(None),
    };
    let applied = bazaar_analytics::rebuild(db, js, &bars).await;
    if let Some(bar) = bars.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
        bar.finish();
    }
    applied
}
