//! What users did with items, aggregated into the confidence matrix ALS
//! trains on.
//!
//! Two ways in, one aggregation: storefront events ([`Interaction`], weighted
//! by [`Weights`]) and a `user,item,weight` CSV for data teams. Both feed
//! [`InteractionsBuilder::add`], which sums the weights per (user, item), so
//! the same data gives the same matrix whichever path it took.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::RecommenderError;
use crate::csr::Csr;

/// What a user did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    View,
    WishlistAdd,
    CartAdd,
    Purchase,
    /// A review with its stars (1 to 5; out-of-range values are clamped).
    Review(u8),
}

/// How much each [`Kind`] of interaction counts towards a (user, item)
/// weight. A weight of zero ignores that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub view: f32,
    pub wishlist_add: f32,
    pub cart_add: f32,
    pub purchase: f32,
    /// Weight of a review by its stars: `review[0]` for one star, `review[4]` for five.
    pub review: [f32; 5],
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            view: 1.0,
            wishlist_add: 3.0,
            cart_add: 4.0,
            purchase: 8.0,
            review: [1.0, 2.0, 4.0, 6.0, 8.0],
        }
    }
}

impl Weights {
    /// The weight of one interaction of this kind.
    pub fn weight(&self, kind: Kind) -> f32 {
        match kind {
            Kind::View => self.view,
            Kind::WishlistAdd => self.wishlist_add,
            Kind::CartAdd => self.cart_add,
            Kind::Purchase => self.purchase,
            Kind::Review(stars) => self.review[usize::from(stars.clamp(1, 5)) - 1],
        }
    }
}

/// One storefront event: `user` did `kind` with `item` at `at`. Users and
/// items are external ids (account ids, product ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub user: String,
    pub item: String,
    pub kind: Kind,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Maps external string ids to dense indices, in order of first sight.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct IdMap {
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl IdMap {
    pub(crate) fn from_ids(ids: Vec<String>) -> Self {
        let index = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        Self { ids, index }
    }

    pub(crate) fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.to_owned());
        self.index.insert(id.to_owned(), i);
        i
    }

    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    pub(crate) fn id(&self, i: u32) -> &str {
        &self.ids[i as usize]
    }

    pub(crate) fn ids(&self) -> &[String] {
        &self.ids
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// The aggregated users × items weight matrix, with the id maps. This is
/// the record type of the linfa dataset ALS fits on: one sample per user,
/// one feature per item.
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    pub(crate) users: IdMap,
    pub(crate) items: IdMap,
    pub(crate) by_user: Csr,
    pub(crate) by_item: Csr,
}

impl Interactions {
    /// Aggregates storefront events with the given weights.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a Interaction>,
        weights: &Weights,
    ) -> Self {
        let mut builder = InteractionsBuilder::new();
        for event in events {
            builder.add_event(event, weights);
        }
        builder.build()
    }

    /// Reads and aggregates a `user,item,weight` CSV. A first line of exactly
    /// `user,item,weight` is taken as a header. Weights must be finite and
    /// not negative; rows of weight zero are skipped. Errors name the line.
    pub fn from_csv(reader: impl Read) -> Result<Self, RecommenderError> {
        let mut builder = InteractionsBuilder::new();
        for_each_csv_row(reader, |user, item, weight| builder.add(user, item, weight))?;
        Ok(builder.build())
    }

    /// Number of users (rows).
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Number of items (columns).
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Number of distinct (user, item) pairs with a weight.
    pub fn nnz(&self) -> usize {
        self.by_user.nnz()
    }

    /// The dense index of a user id.
    pub fn user_index(&self, user: &str) -> Option<u32> {
        self.users.get(user)
    }

    /// The dense index of an item id.
    pub fn item_index(&self, item: &str) -> Option<u32> {
        self.items.get(item)
    }

    /// User ids by dense index.
    pub fn user_ids(&self) -> &[String] {
        self.users.ids()
    }

    /// Item ids by dense index.
    pub fn item_ids(&self) -> &[String] {
        self.items.ids()
    }

    /// The aggregated weight of one (user, item) pair, 0 when there is none.
    pub fn weight(&self, user: &str, item: &str) -> f32 {
        let (Some(u), Some(i)) = (self.users.get(user), self.items.get(item)) else {
            return 0.0;
        };
        let (cols, vals) = self.by_user.row(u as usize);
        cols.binary_search(&i).map_or(0.0, |at| vals[at])
    }

    /// The items (dense indices, increasing) and weights of one user.
    pub fn user_row(&self, user: u32) -> (&[u32], &[f32]) {
        self.by_user.row(user as usize)
    }

    /// The users × items matrix.
    pub fn matrix(&self) -> &Csr {
        &self.by_user
    }

    /// Writes the aggregated matrix as a `user,item,weight` CSV with a header.
    pub fn write_csv(&self, writer: impl std::io::Write) -> Result<(), RecommenderError> {
        let mut w = csv::Writer::from_writer(writer);
        w.write_record(["user", "item", "weight"])?;
        for (u, i, v) in self.by_user.iter() {
            w.write_record([self.users.id(u), self.items.id(i), &v.to_string()])?;
        }
        w.flush()?;
        Ok(())
    }

    /// Same ids, other entries (used by the hold-out split).
    pub(crate) fn with_matrix(&self, by_user: Csr) -> Self {
        let by_item = by_user.transpose();
        Self {
            users: self.users.clone(),
            items: self.items.clone(),
            by_user,
            by_item,
        }
    }
}

impl linfa::dataset::Records for Interactions {
    type Elem = f32;

    fn nsamples(&self) -> usize {
        self.n_users()
    }

    fn nfeatures(&self) -> usize {
        self.n_items()
    }
}

/// Collects (user, item, weight) and sums them per pair. The one
/// aggregation both the event path and the CSV path go through.
#[derive(Debug, Default)]
pub struct InteractionsBuilder {
    users: IdMap,
    items: IdMap,
    triplets: Vec<(u32, u32, f32)>,
}

impl InteractionsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives a user an index even if it ends up with no interaction (so a
    /// training split keeps the full id space).
    pub fn register_user(&mut self, user: &str) -> u32 {
        self.users.intern(user)
    }

    /// Gives an item an index even if it ends up with no interaction.
    pub fn register_item(&mut self, item: &str) -> u32 {
        self.items.intern(item)
    }

    /// The index a user id has been given, if any.
    pub fn user(&self, user: &str) -> Option<u32> {
        self.users.get(user)
    }

    /// The index an item id has been given, if any.
    pub fn item(&self, item: &str) -> Option<u32> {
        self.items.get(item)
    }

    /// Adds `weight` to the (user, item) pair. Weights that are not above
    /// zero (or not finite) are ignored, though the ids are still registered.
    pub fn add(&mut self, user: &str, item: &str, weight: f32) {
        let u = self.users.intern(user);
        let i = self.items.intern(item);
        if weight.is_finite() && weight > 0.0 {
            self.triplets.push((u, i, weight));
        }
    }

    /// Adds one storefront event with its kind's weight.
    pub fn add_event(&mut self, event: &Interaction, weights: &Weights) {
        self.add(&event.user, &event.item, weights.weight(event.kind));
    }

    /// The aggregated matrix.
    pub fn build(self) -> Interactions {
        let by_user = Csr::from_triplets(self.users.len(), self.items.len(), self.triplets);
        let by_item = by_user.transpose();
        Interactions {
            users: self.users,
            items: self.items,
            by_user,
            by_item,
        }
    }
}

/// One row of an interactions CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    pub user: String,
    pub item: String,
    pub weight: f32,
}

/// Reads a `user,item,weight` CSV into rows, checking each one. A first
/// line of exactly `user,item,weight` is a header.
pub fn read_csv(reader: impl Read) -> Result<Vec<CsvRow>, RecommenderError> {
    let mut rows = Vec::new();
    for_each_csv_row(reader, |user, item, weight| {
        rows.push(CsvRow {
            user: user.to_owned(),
            item: item.to_owned(),
            weight,
        })
    })?;
    Ok(rows)
}

/// Streams the checked rows of a `user,item,weight` CSV to `row`, without
/// holding the file's rows in memory.
fn for_each_csv_row(
    reader: impl Read,
    mut row: impl FnMut(&str, &str, f32),
) -> Result<(), RecommenderError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut first = true;
    while rdr.read_record(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let bad = |message: String| RecommenderError::Csv { line, message };
        if std::mem::take(&mut first)
            && record.len() == 3
            && record[0].eq_ignore_ascii_case("user")
            && record[1].eq_ignore_ascii_case("item")
            && record[2].eq_ignore_ascii_case("weight")
        {
            continue;
        }
        if record.len() != 3 {
            return Err(bad(format!(
                "expected 3 fields (user,item,weight), found {}",
                record.len()
            )));
        }
        let (user, item, weight) = (&record[0], &record[1], &record[2]);
        if user.is_empty() {
            return Err(bad("empty user id".into()));
        }
        if item.is_empty() {
            return Err(bad("empty item id".into()));
        }
        let weight: f32 = weight
            .parse()
            .map_err(|_| bad(format!("weight {weight:?} is not a number")))?;
        if !weight.is_finite() || weight < 0.0 {
            return Err(bad(format!(
                "weight {weight} must be a finite number, 0 or more"
            )));
        }
        row(user, item, weight);
    }
    Ok(())
}

/// Writes events as a `user,item,weight` CSV (one row per event, with its
/// kind's weight), the format [`Interactions::from_csv`] reads.
pub fn write_events_csv<'a>(
    events: impl IntoIterator<Item = &'a Interaction>,
    weights: &Weights,
    writer: impl std::io::Write,
) -> Result<(), RecommenderError> {
    let mut w = csv::Writer::from_writer(writer);
    w.write_record(["user", "item", "weight"])?;
    let mut buf = String::new();
    for e in events {
        buf.clear();
        buf.push_str(&weights.weight(e.kind).to_string());
        w.write_record([e.user.as_str(), e.item.as_str(), buf.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).expect("valid timestamp")
    }

    fn event(user: &str, item: &str, kind: Kind, secs: i64) -> Interaction {
        Interaction {
            user: user.into(),
            item: item.into(),
            kind,
            at: at(secs),
        }
    }

    fn events() -> Vec<Interaction> {
        vec![
            event("alice", "p1", Kind::View, 0),
            event("alice", "p1", Kind::CartAdd, 1),
            event("alice", "p1", Kind::Purchase, 2),
            event("alice", "p2", Kind::WishlistAdd, 3),
            event("bob", "p2", Kind::View, 4),
            event("bob", "p3", Kind::Review(5), 5),
            event("bob", "p3", Kind::Review(1), 6),
            event("carol", "p1", Kind::View, 7),
        ]
    }

    #[test]
    fn events_are_weighted_and_summed_per_pair() {
        let m = Interactions::from_events(&events(), &Weights::default());
        assert_eq!((m.n_users(), m.n_items(), m.nnz()), (3, 3, 5));
        assert_eq!(m.weight("alice", "p1"), 1.0 + 4.0 + 8.0);
        assert_eq!(m.weight("alice", "p2"), 3.0);
        assert_eq!(m.weight("bob", "p3"), 8.0 + 1.0);
        assert_eq!(m.weight("carol", "p2"), 0.0);
        assert_eq!(m.weight("nobody", "p2"), 0.0);
    }

    #[test]
    fn csv_path_and_event_path_give_the_same_matrix() {
        let weights = Weights {
            view: 0.5,
            ..Weights::default()
        };
        let from_events = Interactions::from_events(&events(), &weights);
        let mut csv = Vec::new();
        write_events_csv(&events(), &weights, &mut csv).expect("write csv");
        let from_csv = Interactions::from_csv(&csv[..]).expect("read csv");
        assert_eq!(from_csv, from_events);

        // The aggregated CSV reads back to the same matrix as well.
        let mut aggregated = Vec::new();
        from_events.write_csv(&mut aggregated).expect("write csv");
        assert_eq!(
            Interactions::from_csv(&aggregated[..]).expect("read csv"),
            from_events
        );
    }

    #[test]
    fn csv_without_header_and_zero_weights() {
        let m = Interactions::from_csv("u1,i1,2\nu1,i2,0\nu2,i1,1.5\nu1,i1,1\n".as_bytes())
            .expect("read csv");
        assert_eq!(m.nnz(), 2);
        assert_eq!(m.n_items(), 2, "a zero-weight row still names its item");
        assert_eq!(m.weight("u1", "i1"), 3.0);
    }

    #[test]
    fn csv_errors_name_the_bad_line() {
        let cases = [
            ("user,item,weight\nu1,i1,1\nu2,i2,lots\n", 3, "not a number"),
            ("u1,i1,1\nu2,i2\n", 2, "expected 3 fields"),
            ("u1,i1,1\n\nu1,i1,1\n,i2,1\n", 4, "empty user"),
            ("u1,i1,-1\n", 1, "0 or more"),
            ("u1,i1,NaN\n", 1, "finite"),
            ("u1,,1\n", 1, "empty item"),
        ];
        for (text, want_line, want) in cases {
            match Interactions::from_csv(text.as_bytes()) {
                Err(RecommenderError::Csv { line, message }) => {
                    assert_eq!(line, want_line, "{text:?}: {message}");
                    assert!(message.contains(want), "{text:?}: {message}");
                }
                other => panic!("{text:?}: expected a CSV error, got {other:?}"),
            }
        }
    }

    #[test]
    fn review_weight_follows_stars() {
        let w = Weights::default();
        assert_eq!(w.weight(Kind::Review(0)), w.review[0]);
        assert_eq!(w.weight(Kind::Review(5)), w.review[4]);
        assert_eq!(w.weight(Kind::Review(9)), w.review[4]);
    }
}
