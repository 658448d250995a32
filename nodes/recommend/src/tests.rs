//! The swap logic, the bundle format and the filters, without NATS.

use std::collections::HashSet;
use std::sync::Arc;

use bazaar_recommender::{AlsModel, AlsParams, Interaction, Interactions, Kind};
use bazaar_subjects::catalog::{Product, ProductStatus};
use bazaar_subjects::recommend::ModelPointer;
use linfa::prelude::*;

use crate::bundle::{Bundle, BundleError, Extras};
use crate::handlers::{co_purchased, visible_in_order};
use crate::served::{Loaded, Served};

fn model(seed: u64) -> AlsModel {
    let mut csv = String::from("user,item,weight\n");
    for u in 0..20 {
        for i in 0..6 {
            if (u + i) % 3 != 0 {
                csv.push_str(&format!("u{u},p{},{}\n", (u % 2) * 6 + i, 1 + i % 3));
            }
        }
    }
    let data = Interactions::from_csv(csv.as_bytes()).unwrap();
    AlsParams::new()
        .factors(4)
        .iterations(3)
        .seed(seed)
        .fit(&DatasetBase::new(data, ()))
        .unwrap()
}

fn pointer(version: &str) -> ModelPointer {
    ModelPointer {
        version: version.to_owned(),
        trained_at: "2026-12-06T09:00:00Z".to_owned(),
        precision_at_10: 0.2,
        baseline_precision_at_10: 0.1,
    }
}

fn bundle(seed: u64) -> Bundle {
    let events: Vec<Interaction> = [
        ("a", "p1"),
        ("a", "p2"),
        ("b", "p1"),
        ("b", "p2"),
        ("b", "p3"),
    ]
    .into_iter()
    .map(|(user, item)| Interaction {
        user: user.to_owned(),
        item: item.to_owned(),
        kind: Kind::Purchase,
        at: time::OffsetDateTime::UNIX_EPOCH,
    })
    .collect();
    Bundle {
        model: model(seed),
        extras: Extras::from_events(&events),
    }
}

#[test]
fn a_bundle_round_trips() {
    let b = bundle(1);
    let back = Bundle::from_bytes(&b.to_bytes()).unwrap();
    assert_eq!(back.model, b.model);
    assert_eq!(back.extras, b.extras);
}

#[test]
fn a_bundle_refuses_every_truncation_and_flipped_byte() {
    let bytes = bundle(1).to_bytes();
    for len in 0..bytes.len() {
        assert!(
            Bundle::from_bytes(&bytes[..len]).is_err(),
            "truncated at {len}"
        );
    }
    for at in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5a;
        assert!(Bundle::from_bytes(&bad).is_err(), "flipped byte {at}");
    }
    // A bare ALS artifact (no bundle header) is refused too.
    assert!(matches!(
        Bundle::from_bytes(&model(1).to_bytes()),
        Err(BundleError::BadMagic)
    ));
    let mut future = bytes.clone();
    future[8] = 9;
    assert!(matches!(
        Bundle::from_bytes(&future),
        Err(BundleError::UnsupportedVersion(9))
    ));
}

#[test]
fn a_swap_replaces_the_model_and_in_flight_readers_keep_theirs() {
    let served = Served::default();
    assert!(served.current().is_none());
    served
        .try_swap(pointer("v1"), &bundle(1).to_bytes())
        .unwrap();
    let in_flight = served.current().unwrap();
    served
        .try_swap(pointer("v2"), &bundle(2).to_bytes())
        .unwrap();
    assert_eq!(in_flight.pointer.version, "v1", "a request keeps its model");
    assert_eq!(served.current().unwrap().pointer.version, "v2");
}

#[test]
fn a_corrupt_artifact_is_refused_and_the_old_model_kept() {
    let served = Served::default();
    served
        .try_swap(pointer("v1"), &bundle(1).to_bytes())
        .unwrap();
    let mut corrupt = bundle(2).to_bytes();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    assert!(served.try_swap(pointer("v2"), &corrupt).is_err());
    assert!(served.try_swap(pointer("v3"), b"not a model").is_err());
    assert_eq!(served.current().unwrap().pointer.version, "v1");
}

#[test]
fn readers_never_wait_or_fail_while_models_swap() {
    let served = Arc::new(Served::default());
    served.swap(Arc::new(Loaded::new(pointer("v0"), bundle(0))));
    let models: Vec<Arc<Loaded>> = (1..4)
        .map(|s| Arc::new(Loaded::new(pointer(&format!("v{s}")), bundle(s))))
        .collect();
    let reader = {
        let served = served.clone();
        std::thread::spawn(move || {
            let mut seen = HashSet::new();
            for _ in 0..20_000 {
                let m = served.current().expect("always a model");
                seen.insert(m.pointer.version.clone());
            }
            seen
        })
    };
    for _ in 0..200 {
        for m in &models {
            served.swap(m.clone());
        }
    }
    let seen = reader.join().unwrap();
    assert!(!seen.is_empty());
}

#[test]
fn co_purchases_rank_by_count_and_skip_the_excluded() {
    let loaded = Loaded::new(pointer("v1"), bundle(1));
    assert_eq!(
        loaded.bundle.extras.also_bought["p1"][0],
        ("p2".to_owned(), 2)
    );
    let ids = co_purchased(&loaded, &["p1".to_owned()], &HashSet::new(), 10);
    assert_eq!(ids, ["p2", "p3"]);
    let exclude: HashSet<String> = ["p2".to_owned()].into();
    assert_eq!(
        co_purchased(&loaded, &["p1".to_owned()], &exclude, 10),
        ["p3"]
    );
    assert_eq!(
        loaded.purchased("a").unwrap(),
        &HashSet::from(["p1".to_owned(), "p2".to_owned()])
    );
}

fn product(id: &str) -> Product {
    serde_json::from_value(serde_json::json!({
        "id": id, "slug": id, "shop_id": "s", "shop_slug": "s", "shop_name": "S",
        "title": id, "description": "", "category": "c", "subcategory": null,
        "tags": [], "brand": null, "colors": [], "sizes": [], "specifications": [],
        "properties": [], "images": ["/images/x"], "regular_price": 100, "sale_price": null,
        "price": 100, "currency": "USD", "stock": 3, "warranty": null,
        "cash_on_delivery": false, "video_url": null, "status": "active",
        "flash_sale": null, "event_live": false, "rating_avg": 0.0, "rating_count": 0,
        "sales": 0, "views": 0, "created_at": "", "updated_at": "", "deleted_at": null
    }))
    .unwrap()
}

#[test]
fn deleted_unlisted_and_out_of_stock_products_are_dropped_and_order_kept() {
    let mut deleted = product("deleted");
    deleted.deleted_at = Some("2026-12-06T00:00:00Z".to_owned());
    let mut draft = product("draft");
    draft.status = ProductStatus::Draft;
    let mut empty = product("empty");
    empty.stock = 0;
    let ids: Vec<String> = ["b", "deleted", "draft", "a", "empty", "c", "missing"]
        .map(str::to_owned)
        .to_vec();
    let found = vec![
        product("a"),
        deleted,
        draft,
        empty,
        product("b"),
        product("c"),
    ];
    let shown: Vec<String> = visible_in_order(&ids, found.clone(), 10)
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(shown, ["b", "a", "c"]);
    assert_eq!(visible_in_order(&ids, found, 2).len(), 2);
}
