//! Uploading and serving images (avatars now, product photos with the
//! catalog), and the demo catalog's pictures, served the same way.

use bazaar_subjects::Role;
use bazaar_subjects::auth::{Account, Session};
use bazaar_subjects::catalog::SearchResults;
use bazaar_tests::story::ok_as;
use bazaar_tests::{Platform, eventually};
use serde_json::{Value, json};

fn form(bytes: Vec<u8>, name: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

async fn signed_in(p: &Platform) -> String {
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "Ima", "email": "ima@example.com", "password": "ima's long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "ima@example.com", "password": "ima's long password" }))
        .send()
        .await
        .unwrap();
    ok_as::<Session>(r).await.access_token
}

#[tokio::test]
async fn an_uploaded_image_is_served_with_a_thumbnail_and_becomes_an_avatar() {
    let p = Platform::spawn().await;
    let token = signed_in(&p).await;
    let r = p
        .http
        .post(p.url("/api/images"))
        .bearer_auth(&token)
        .multipart(form(bazaar_tests::png(1200, 800), "x.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    assert_eq!(up["content_type"], "image/png");
    assert_eq!(
        (up["width"].as_u64(), up["height"].as_u64()),
        (Some(1200), Some(800))
    );

    let r = p
        .http
        .get(p.url(up["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = r.headers()["etag"].clone();
    // The same picture, pixel for pixel (stored re-encoded, without metadata).
    let served = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    let sent = image::load_from_memory(&bazaar_tests::png(1200, 800)).unwrap();
    assert_eq!(served.to_rgb8(), sent.to_rgb8());
    let again = p
        .http
        .get(p.url(up["url"].as_str().unwrap()))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let thumb = p
        .http
        .get(p.url(up["thumbnail_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 213));

    let r = p
        .http
        .patch(p.url("/api/me"))
        .bearer_auth(&token)
        .json(&json!({ "avatar_url": up["url"] }))
        .send()
        .await
        .unwrap();
    let me: Account = ok_as(r).await;
    assert_eq!(me.avatar_url.as_deref(), up["url"].as_str());
    let r = p
        .http
        .patch(p.url("/api/me"))
        .bearer_auth(&token)
        .json(&json!({ "avatar_url": "https://evil.example/x.png" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn non_images_oversized_files_and_strangers_are_refused() {
    let p = Platform::spawn().await;
    let token = signed_in(&p).await;
    let r = p
        .http
        .post(p.url("/api/images"))
        .multipart(form(bazaar_tests::png(10, 10), "a.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "anonymous uploads are refused");
    let r = p
        .http
        .post(p.url("/api/images"))
        .bearer_auth(&token)
        .multipart(form(
            b"<html><script>alert(1)</script></html>".to_vec(),
            "cat.png",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        422,
        "the name says png, the content says otherwise"
    );
    let mut truncated = bazaar_tests::png(200, 200);
    truncated.truncate(truncated.len() / 2);
    let r = p
        .http
        .post(p.url("/api/images"))
        .bearer_auth(&token)
        .multipart(form(truncated, "half.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let big = vec![0x89u8; 6 * 1024 * 1024];
    let r = p
        .http
        .post(p.url("/api/images"))
        .bearer_auth(&token)
        .multipart(form(big, "big.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = p
        .http
        .get(p.url("/images/doesnotexist"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_demo_catalog_has_a_picture_on_every_product_served_like_an_upload() {
    let p = Platform::spawn().await;
    bazaar::platform::seed(&p.ctx, &p.db).await.unwrap();
    // The seeder loads the database directly; search rebuilds from it.
    let found: SearchResults = eventually(
        "the demo catalog in search",
        || async {
            p.http
                .get(p.url("/api/products?page_size=60"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        },
        |found: &SearchResults| !found.items.is_empty(),
    )
    .await;
    let images: Vec<&str> = found
        .items
        .iter()
        .map(|i| {
            i.image
                .as_deref()
                .expect("every demo product has a picture")
        })
        .collect();
    let distinct: std::collections::HashSet<&str> = images.iter().copied().collect();
    assert!(distinct.len() >= 10, "the pictures differ: {distinct:?}");

    let item = &found.items[0];
    let view = crate::catalog::product_page(&p, &item.slug).await;
    assert_eq!(view.product.images[0], images[0]);
    let r = p
        .http
        .get(p.url(&format!("/products/{}", item.slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(&format!("/images/{}", images[0])),
        "the product page shows it"
    );
    for path in [
        format!("/images/{}", images[0]),
        format!("/images/{}?size=thumb", images[0]),
    ] {
        let r = p.http.get(p.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("image/"), "{path}: {content_type}");
        let picture = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
        assert!(picture.width() >= 320 && picture.height() >= 320, "{path}");
    }

    // The storefront's product cards show them.
    let listing = p
        .http
        .get(p.url("/products"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        images
            .iter()
            .any(|id| listing.contains(&format!("/images/{id}?size=thumb"))),
        "a card shows its picture"
    );
}

#[tokio::test]
async fn a_full_image_store_refuses_uploads_with_507_and_a_cap_reaches_an_existing_bucket() {
    let p = Platform::spawn().await;
    let token = signed_in(&p).await;
    let r = p
        .upload_image(&token, bazaar_tests::png(300, 200), "first.png")
        .await;
    assert_eq!(r.status(), 201, "the bucket exists, with the default cap");
    let first: Value = r.json().await.unwrap();
    // The catalog starts again with a small cap (what it does at every start).
    bazaar_runtime::jetstream::ensure_capped_object_store(
        &p.ctx.jetstream,
        bazaar_subjects::catalog::IMAGES_BUCKET,
        100_000,
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    let mut refusal = None;
    for i in 0..60 {
        let r = p
            .upload_image(&token, bazaar_tests::png(300, 200 + i), "more.png")
            .await;
        statuses.push(r.status().as_u16());
        if r.status() != 201 {
            refusal = Some(r.json::<bazaar_subjects::ErrorEnvelope>().await.unwrap());
            break;
        }
    }
    let refusal = refusal.unwrap_or_else(|| panic!("never full: {statuses:?}"));
    assert!(statuses.len() > 1, "some fit first: {statuses:?}");
    assert_eq!(refusal.status, 507, "{refusal:?}");
    assert_eq!(
        refusal.code,
        bazaar_subjects::ErrorCode::InsufficientStorage
    );
    assert!(refusal.message.contains("full"), "{}", refusal.message);
    // What is stored is still served.
    let r = p.get(first["url"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200);
}

/// The largest cap (to 8 MiB) JetStream still reserves for a new bucket.
async fn store_room(js: &async_nats::jetstream::Context) -> u64 {
    let (mut fits, mut refused) = (0u64, 1u64 << 50);
    while refused - fits > 8 << 20 {
        let cap = fits + (refused - fits) / 2;
        let made = js
            .create_object_store(async_nats::jetstream::object_store::Config {
                bucket: "room-probe".into(),
                storage: async_nats::jetstream::stream::StorageType::File,
                max_bytes: i64::try_from(cap).unwrap(),
                ..Default::default()
            })
            .await;
        if made.is_ok() {
            js.delete_object_store("room-probe").await.unwrap();
            fits = cap;
        } else {
            refused = cap;
        }
    }
    fits
}

#[tokio::test]
async fn a_box_short_of_disk_gets_a_smaller_images_cap_and_a_chosen_cap_is_kept_or_refused() {
    let p = Platform::spawn_with(bazaar_tests::Options {
        without: vec![bazaar_subjects::Domain::Catalog],
        ..Default::default()
    })
    .await;
    let js = &p.ctx.jetstream;
    // Leave the store about 300 MiB of room, however big the disk is.
    let room = store_room(js).await;
    if room > 400 << 20 {
        js.create_object_store(async_nats::jetstream::object_store::Config {
            bucket: "filler".into(),
            storage: async_nats::jetstream::stream::StorageType::File,
            max_bytes: i64::try_from(room - (300 << 20)).unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let room = store_room(js).await;
    assert!(
        room < bazaar_catalog::maintenance::DEFAULT_IMAGES_MAX_BYTES,
        "{room}"
    );

    // The default does not fit: the catalog starts with a cap that does.
    let mut configs = p.configs.clone();
    configs.catalog.images_max_bytes = bazaar_catalog::maintenance::DEFAULT_IMAGES_MAX_BYTES;
    let catalog = p.start_with(bazaar_subjects::Domain::Catalog, configs.clone());
    let token = signed_in(&p).await;
    let r = eventually(
        "the catalog serves",
        || p.upload_image(&token, bazaar_tests::png(300, 200), "first.png"),
        |r| r.status() != 503,
    )
    .await;
    assert_eq!(r.status(), 201, "the shop works with the smaller cap");
    let cap =
        bazaar_runtime::jetstream::object_store_room(js, bazaar_subjects::catalog::IMAGES_BUCKET)
            .await
            .unwrap()
            .expect("a cap");
    assert!(cap >= 64 << 20 && cap <= room, "cap {cap}, room {room}");
    catalog.stop().await;

    // A cap the operator chose that does not fit is refused, saying what to change.
    configs.catalog.images_max_bytes = 2 * bazaar_catalog::maintenance::DEFAULT_IMAGES_MAX_BYTES;
    let refused = p
        .start_with(bazaar_subjects::Domain::Catalog, configs.clone())
        .ended()
        .await
        .expect_err("a cap larger than the store is refused");
    assert!(
        refused.to_string().contains("BAZAAR_IMAGES_MAX_BYTES"),
        "{refused}"
    );
    // One that fits is kept as chosen.
    configs.catalog.images_max_bytes = 100 << 20;
    let catalog = p.start_with(bazaar_subjects::Domain::Catalog, configs);
    let r = eventually(
        "the catalog serves",
        || p.upload_image(&token, bazaar_tests::png(300, 201), "second.png"),
        |r| r.status() != 503,
    )
    .await;
    assert_eq!(r.status(), 201);
    let left =
        bazaar_runtime::jetstream::object_store_room(js, bazaar_subjects::catalog::IMAGES_BUCKET)
            .await
            .unwrap()
            .expect("a cap");
    assert!(left <= 100 << 20 && left > 99 << 20, "{left}");
    catalog.stop().await;
}
