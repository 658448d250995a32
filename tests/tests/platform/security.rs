//! Security stories: what an attacker tries, and what they get instead.

use bazaar_subjects::orders::Notifications;
use bazaar_tests::Platform;
use bazaar_tests::story::{envelope, ok_as};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn marking_notifications_read_refuses_ids_it_never_gave_out() {
    let p = Platform::spawn().await;
    let buyer = p.sign_up_buyer("nina@example.com").await;
    for ids in [
        json!([""]),
        json!(["x'; DELETE notification; --"]),
        json!(["a".repeat(65)]),
    ] {
        let r = p
            .send(
                Method::POST,
                "/api/notifications/read",
                &buyer,
                Some(json!({ "ids": ids })),
            )
            .await;
        let (status, e) = envelope(r).await;
        assert_eq!(status, 422, "{ids}: {e:?}");
        assert_eq!(e.fields[0].field, "ids");
    }
    let fine: Notifications = ok_as(
        p.send(
            Method::POST,
            "/api/notifications/read",
            &buyer,
            Some(json!({ "ids": ["abcDEF123"] })),
        )
        .await,
    )
    .await;
    assert_eq!(fine.unread, 0);
}

#[tokio::test]
async fn signing_in_never_sends_the_browser_to_another_site() {
    let p = Platform::spawn().await;
    p.sign_up_buyer("olga@example.com").await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (next, lands) in [
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/orders", "/orders"),
    ] {
        let r = no_redirects
            .post(p.url("/login"))
            .form(&[
                ("email", "olga@example.com"),
                ("password", "a long and secret password"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{next:?}: {}", r.status());
        assert_eq!(r.headers()["location"], lands, "{next:?}");
    }
}

#[tokio::test]
async fn the_sign_in_form_has_the_strict_limit_of_the_sign_in_api() {
    let p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        edge: bazaar_edge::EdgeConfig {
            auth_rate_limit_per_minute: 5,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let r = p
            .http
            .post(p.url("/login"))
            .form(&[
                ("email", format!("guess{i}@example.com")),
                ("password", "wrong password, again".to_owned()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429, 429], "{statuses:?}");
}

#[tokio::test]
async fn a_seller_cannot_buy_from_their_own_shop() {
    let p = crate::commerce::with_test_payments().await;
    crate::catalog::categories(&p).await;
    let (seller_a, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let (seller_b, _) = p.seller_with_shop("Ben's Books", "electronics").await;
    let amp = crate::catalog::create(
        &p,
        &seller_a,
        &crate::commerce::cod_product("Tube Amplifier", 40_000, 5),
    )
    .await;
    let book = crate::catalog::create(
        &p,
        &seller_b,
        &crate::commerce::cod_product("Poetry Collection", 2_500, 10),
    )
    .await;
    // Anna puts her own amplifier and Ben's book in her cart.
    crate::commerce::add(&p, &seller_a, &amp.id, 1).await;
    crate::commerce::add(&p, &seller_a, &book.id, 1).await;
    let body = json!({ "address": crate::commerce::address(), "payment": "cod" });
    let r = crate::commerce::checkout(&p, &seller_a, "own-1", body.clone()).await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422, "{e:?}");
    assert_eq!(e.fields[0].field, "cart");
    assert!(e.fields[0].message.contains("Anna's Audio"), "{e:?}");
    // Without her own product she checks out Ben's book as any buyer would.
    let cart: bazaar_subjects::orders::Cart =
        ok_as(p.send(Method::GET, "/api/cart", &seller_a, None).await).await;
    let own_line = cart.lines.iter().find(|l| l.product_id == amp.id).unwrap();
    let r = p
        .send(
            Method::DELETE,
            &format!("/api/cart/items/{}", own_line.line_id),
            &seller_a,
            None,
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let r = crate::commerce::checkout(&p, &seller_a, "own-2", body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test]
async fn a_read_of_the_code_bucket_reveals_neither_codes_nor_addresses() {
    use futures::StreamExt;
    use sha2::{Digest, Sha256};
    let p = Platform::spawn().await;
    let email = "quinn@example.com";
    let r = p
        .http
        .post(p.url("/api/register/user"))
        .json(&json!({ "name": "Quinn", "email": email, "password": "a long and secret password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let code = bazaar_tests::six_digit_code(&p.last_email(email).await.text).unwrap();

    // Whoever reads the bucket (the bus is all they need) sees keys and
    // hashes, and nothing in them is the address or the code unkeyed.
    let bucket = p.ctx.jetstream.get_key_value("auth_codes").await.unwrap();
    let keys: Vec<String> = bucket
        .keys()
        .await
        .unwrap()
        .filter_map(|k| async move { k.ok() })
        .collect()
        .await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let unkeyed = |parts: &[&str]| {
        let mut h = Sha256::new();
        for part in parts {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    };
    assert!(!keys[0].contains(&unkeyed(&[email])), "{}", keys[0]);
    assert!(!keys[0].contains(email));
    let stored = String::from_utf8(bucket.get(&keys[0]).await.unwrap().unwrap().to_vec()).unwrap();
    assert!(!stored.contains(&code), "{stored}");
    let purpose = keys[0].split('.').next().unwrap();
    // Trying every six-digit code against the stored hash finds nothing.
    let held: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let hash = held["code_hash"].as_str().unwrap();
    let found = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|c| unkeyed(&[purpose, email, c]) == hash);
    assert_eq!(found, None);
    // And the code still works.
    let r = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": email, "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test]
async fn on_an_https_site_the_google_sign_in_state_cookie_is_secure() {
    let provider = bazaar_tests::oidc::OidcProvider::start(bazaar_tests::oidc::GoogleUser {
        sub: "google-1".into(),
        email: "gia@gmail.test".into(),
        name: "Gia".into(),
        email_verified: true,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut configs = bazaar::platform::NodeConfigs::in_data_dir(dir.path());
    configs.auth.google = provider.google_config();
    let mut p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        configs: Some(configs),
        edge: bazaar_edge::EdgeConfig {
            google_sign_in: true,
            public_url: "https://shop.example".into(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    p.keep(dir);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(p.url("/auth/google"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("bazaar_oidc_state="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn refreshing_never_keeps_a_session_past_its_maximum_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = bazaar::platform::NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    configs.auth.session_max_age_secs = 2;
    let mut p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        configs: Some(configs),
        ..Default::default()
    })
    .await;
    p.keep(dir);
    p.sign_up_buyer("rhea@example.com").await;
    let login = |p: &Platform| {
        p.http
            .post(p.url("/api/login"))
            .json(&json!({ "email": "rhea@example.com", "password": "a long and secret password" }))
            .send()
    };
    let session: bazaar_subjects::auth::Session = ok_as(login(&p).await.unwrap()).await;
    let refresh = |token: String| {
        p.http
            .post(p.url("/api/refresh-token"))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    // Rotating works while the session is young…
    let next: bazaar_subjects::auth::Session =
        ok_as(refresh(session.refresh_token).await.unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // …and not once it is older than its maximum age, however fresh the
    // token presented.
    let (status, _) = envelope(refresh(next.refresh_token).await.unwrap()).await;
    assert_eq!(status, 401);
}

/// A PNG that says it is `w`×`h` pixels (its header only, with a valid
/// checksum): what a decompression bomb looks like before it is decoded.
fn png_header_claiming(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend(((idat.len() - 4) as u32).to_be_bytes());
    png.extend(idat);
    png.extend(crc32(idat).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

/// A JPEG photo as a phone sends it: with an EXIF block naming where it
/// was taken.
fn jpeg_with_location() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend(b"GPS 52.5200N 13.4050E");
    let mut out = jpeg[..2].to_vec();
    out.extend([0xff, 0xe1]);
    out.extend(((exif.len() + 2) as u16).to_be_bytes());
    out.extend(exif);
    out.extend(&jpeg[2..]);
    out
}

#[tokio::test]
async fn uploads_lose_their_location_and_bombs_are_refused_before_decoding() {
    let p = Platform::spawn().await;
    let token = p.sign_up_buyer("pia@example.com").await;

    let sent = jpeg_with_location();
    assert!(sent.windows(4).any(|w| w == b"Exif"));
    let r = p.upload_image(&token, sent, "holiday.jpg").await;
    assert_eq!(r.status(), 201);
    let up: serde_json::Value = r.json().await.unwrap();
    let served = p
        .http
        .get(p.url(up["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!served.windows(4).any(|w| w == b"Exif"), "EXIF was served");
    assert!(!served.windows(3).any(|w| w == b"GPS"));
    assert_eq!(image::load_from_memory(&served).unwrap().width(), 64);

    // 7000×7000 is under 8000 a side but 49 megapixels: refused from its
    // header, before a single pixel is decoded.
    let r = p
        .upload_image(&token, png_header_claiming(7000, 7000), "bomb.png")
        .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422, "{e:?}");
    assert!(e.fields[0].message.contains("40 megapixels"), "{e:?}");
}

#[tokio::test]
async fn asking_twice_for_a_reset_code_answers_the_same_for_any_address() {
    let p = Platform::spawn().await;
    p.sign_up_buyer("sara@example.com").await;
    let mut answers = Vec::new();
    for email in ["sara@example.com", "nobody-here@example.com"] {
        let mut statuses = Vec::new();
        for _ in 0..2 {
            let r = p
                .http
                .post(p.url("/api/forgot-password"))
                .json(&json!({ "email": email }))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        answers.push(statuses);
    }
    assert_eq!(answers[0], answers[1], "{answers:?}");
    assert_eq!(answers[0], [202, 429]);
}

#[tokio::test]
async fn bazaar_serve_has_no_development_pages_and_needs_a_mail_transport() {
    bazaar_tests::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let dead_nats = bazaar::natsd::free_port().unwrap();
    let serve = |port: u16| {
        let mut command = tokio::process::Command::new(bazaar_tests::bazaar_binary());
        command
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(dir.path())
            .env("BAZAAR_NATS_URL", format!("nats://127.0.0.1:{dead_nats}"))
            .env_remove("BAZAAR_SMTP_URL")
            .env_remove("BAZAAR_MAILBOX_DIR")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        command
    };
    // Without SMTP or an explicit mailbox it refuses to start, and says why.
    let refused = serve(bazaar::natsd::free_port().unwrap())
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("BAZAAR_SMTP_URL"), "{why}");
    // An images cap larger than the disk stops it too, instead of a site
    // that never becomes ready.
    let refused = serve(bazaar::natsd::free_port().unwrap())
        .env("BAZAAR_MAILBOX_DIR", dir.path().join("mail"))
        .env("BAZAAR_IMAGES_MAX_BYTES", "1000000000000000000")
        .stderr(std::process::Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("BAZAAR_IMAGES_MAX_BYTES"), "{why}");

    let port = bazaar::natsd::free_port().unwrap();
    let mut child = serve(port)
        .env("BAZAAR_MAILBOX_DIR", dir.path().join("mail"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    bazaar_tests::ready_at(&http, &base).await;
    for path in ["/dev/mailbox", "/pay/test/0123456789abcdef0123456789abcdef"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // No demo data unless asked for.
    let list: bazaar_subjects::admin::CategoryList = http
        .get(format!("{base}/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.categories.is_empty());
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("it stops on SIGTERM")
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn discount_codes_belong_to_their_shop_and_cannot_be_probed() {
    let p = crate::commerce::with_test_payments().await;
    let (anna, ben, _amp, book) = crate::commerce::two_shops(&p).await;
    async fn code(p: &Platform, token: &str, code: &str) -> u16 {
        p.send(
            Method::POST,
            "/api/seller/coupons",
            token,
            Some(json!({ "code": code, "kind": "percent", "amount": 10 })),
        )
        .await
        .status()
        .as_u16()
    }
    // Both shops may have the same code.
    assert_eq!(code(&p, &anna, "WELCOME10").await, 201);
    assert_eq!(code(&p, &ben, "WELCOME10").await, 201);
    assert_eq!(code(&p, &anna, "ANNA5").await, 201);
    assert_eq!(code(&p, &anna, "ANNA5").await, 422, "one shop, one ANNA5");

    // A buyer with Ben's book only: Anna's code and a made-up one get the
    // same answer; Ben's WELCOME10 applies to his book.
    let buyer = p.sign_up_buyer("cody@example.com").await;
    crate::commerce::add(&p, &buyer, &book.id, 1).await;
    async fn apply(p: &Platform, buyer: &str, c: &str) -> reqwest::Response {
        p.send(
            Method::POST,
            "/api/cart/coupon",
            buyer,
            Some(json!({ "code": c })),
        )
        .await
    }
    let (s1, e1) = envelope(apply(&p, &buyer, "ANNA5").await).await;
    let (s2, e2) = envelope(apply(&p, &buyer, "NOSUCHCODE").await).await;
    assert_eq!((s1, &e1.fields), (s2, &e2.fields));
    assert_eq!(s1, 422);
    let cart: bazaar_subjects::orders::Cart = ok_as(apply(&p, &buyer, "welcome10").await).await;
    assert_eq!(cart.coupon.as_ref().unwrap().code, "WELCOME10");
    assert!(cart.discount > 0, "{cart:?}");
}

#[tokio::test]
async fn without_its_counters_the_sign_in_limit_fails_closed_and_browsing_goes_on() {
    let p = Platform::spawn().await;
    p.sign_up_buyer("tess@example.com").await;
    // The counters' bucket goes away (an outage of the limiter's store).
    p.ctx
        .jetstream
        .delete_key_value("edge_rate_limits")
        .await
        .unwrap();
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "tess@example.com", "password": "a long and secret password" }))
        .send()
        .await
        .unwrap();
    let (status, e) = envelope(r).await;
    assert_eq!(status, 503, "{e:?}");
    let r = p.http.get(p.url("/api/categories")).send().await.unwrap();
    assert_eq!(r.status(), 200, "browsing is not rate-limited shut");
}

/// Lets a minute pass for the sign-up code cooldown: every send log entry
/// is moved back two minutes.
async fn skip_code_cooldown(p: &Platform) {
    use futures::StreamExt;
    let sends = p
        .ctx
        .jetstream
        .get_key_value("auth_code_sends")
        .await
        .unwrap();
    let keys: Vec<String> = sends
        .keys()
        .await
        .unwrap()
        .filter_map(|k| async move { k.ok() })
        .collect()
        .await;
    let earlier = time::OffsetDateTime::now_utc().unix_timestamp() - 120;
    for k in keys {
        let log = json!({ "count": 1, "last_sent": earlier });
        sends
            .put(&k, serde_json::to_vec(&log).unwrap().into())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_second_sign_up_for_a_waiting_address_cannot_set_its_password() {
    let p = Platform::spawn().await;
    let sign_up = |password: &'static str| {
        let body =
            json!({ "name": "Vera Victim", "email": "vera@example.com", "password": password });
        let http = p.http.clone();
        let url = p.url("/api/register/user");
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let login = |password: &'static str| {
        let body = json!({ "email": "vera@example.com", "password": password });
        let http = p.http.clone();
        let url = p.url("/api/login");
        async move { http.post(url).json(&body).send().await.unwrap().status() }
    };
    // Vera signs up; before she enters her code, a minute later, Mallory
    // signs up with her address and his own password.
    assert_eq!(sign_up("vera's own long password").await.status(), 202);
    p.last_email("vera@example.com").await;
    let before = p.email_count("vera@example.com").await;
    skip_code_cooldown(&p).await;
    assert_eq!(
        sign_up("mallory's chosen password").await.status(),
        202,
        "the same answer as any sign-up"
    );
    // The new code goes to Vera's mailbox, not Mallory's.
    let code = bazaar_tests::six_digit_code(&p.email_after("vera@example.com", before).await.text)
        .expect("a code");
    let r = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": "vera@example.com", "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "Vera, who holds the code, gets her account"
    );
    assert_eq!(
        login("mallory's chosen password").await,
        401,
        "Mallory's password does not open Vera's account"
    );

    // Signing up twice with the same password is just asking for the code again.
    let body =
        json!({ "name": "Walt", "email": "walt@example.com", "password": "walt's long password" });
    for before in 0..2 {
        if before > 0 {
            skip_code_cooldown(&p).await;
        }
        let r = p
            .http
            .post(p.url("/api/register/user"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        p.email_after("walt@example.com", before).await;
    }
    let code = bazaar_tests::six_digit_code(&p.last_email("walt@example.com").await.text).unwrap();
    let r = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": "walt@example.com", "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "walt@example.com", "password": "walt's long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "his password stands");
}

#[tokio::test]
async fn a_seller_can_neither_show_nor_purge_someone_elses_image() {
    use crate::catalog::{categories, create, product, upload, with_fast_maintenance};
    let p = with_fast_maintenance().await;
    categories(&p).await;
    // Bea's shop has a banner she uploaded.
    let bea = p.sign_up_seller("bea-banner@example.com").await;
    let banner = upload(&p, &bea).await;
    let r = p
        .send(
            Method::POST,
            "/api/shops",
            &bea,
            Some(json!({ "name": "Bea's Bags", "category": "fashion", "banner_image": banner })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let served = |image: String| {
        let r = p.http.get(p.url(&format!("/images/{image}")));
        async move { r.send().await.unwrap().status().as_u16() }
    };

    // Max cannot put her banner on a product of his.
    let (max, _) = p.real_seller_with_shop("Max Mischief", "electronics").await;
    let mut body = product("Decoy", "electronics", 1_000);
    body["images"] = json!([banner]);
    let r = p
        .send(
            Method::POST,
            "/api/seller/products",
            &max,
            Some(body.clone()),
        )
        .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422, "{e:?}");
    assert_eq!(e.fields[0].field, "images");
    // His own photo is fine, and an edit keeps it; hers still is not.
    let own = upload(&p, &max).await;
    body["images"] = json!([own]);
    let made = create(&p, &max, &body).await;
    let path = format!("/api/seller/products/{}", made.id);
    body["images"] = json!([own, banner]);
    let r = p.send(Method::PUT, &path, &max, Some(body.clone())).await;
    assert_eq!(envelope(r).await.0, 422);

    // A product that shows her banner anyway (one listed before images
    // were checked) goes to the bin and is purged: the banner stays, only
    // the photo nothing else shows goes.
    p.db.query("UPDATE type::record('product', $id) SET images = [$own, $banner]")
        .bind(("id", made.id.clone()))
        .bind(("own", own.clone()))
        .bind(("banner", banner.clone()))
        .await
        .unwrap()
        .check()
        .unwrap();
    let r = p.send(Method::DELETE, &path, &max, None).await;
    assert_eq!(r.status(), 200);
    bazaar_tests::eventually(
        "the binned product's own photo to be purged",
        || served(own.clone()),
        |s| *s == 404,
    )
    .await;
    assert_eq!(
        served(banner.clone()).await,
        200,
        "Bea's banner is still hers"
    );
}

#[tokio::test]
async fn a_locked_out_account_still_lets_its_owner_in_from_a_device_they_signed_in_on() {
    let p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        edge: bazaar_edge::EdgeConfig {
            // Everyone here comes from one address: only the per-account
            // limit is in play.
            auth_rate_limit_per_minute: 10_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    p.sign_up_buyer("ulla@example.com").await;
    let sign_in = |password: &'static str, cookie: Option<String>| {
        let mut r = p.http.post(p.url("/api/login")).json(&json!({
            "email": "ulla@example.com", "password": password,
        }));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap() }
    };
    // Ulla signs in on her laptop, which remembers it.
    let r = sign_in("a long and secret password", None).await;
    assert_eq!(r.status(), 200);
    let device = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("bazaar_device="))
        .expect("a device cookie")
        .to_owned();
    assert!(device.contains("HttpOnly"), "{device}");
    assert!(device.contains("Max-Age="), "long-lived: {device}");
    let device = device.split(';').next().unwrap().to_owned();

    // Someone guesses her password until her account is locked.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            sign_in("one more wrong guess", None)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // On a new phone, even her right password waits out the lock.
    assert_eq!(
        sign_in("a long and secret password", None).await.status(),
        429
    );
    // A device cookie of hers is not a way in for a wrong password either.
    assert_eq!(
        sign_in("one more wrong guess", Some(device.clone()))
            .await
            .status(),
        401
    );
    // Her laptop gets in.
    let r = sign_in("a long and secret password", Some(device.clone())).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn two_edges_enforce_one_general_limit_decided_in_memory() {
    let p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        edge: bazaar_edge::EdgeConfig {
            rate_limit_per_minute: 20,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let second = p.start_edge().await;
    // One client, alternating between the two edges, a request every 50 ms.
    let mut admitted = 0;
    let mut refused = None;
    for i in 0..60 {
        let base = if i % 2 == 0 { &p.base_url } else { &second };
        let r = p
            .http
            .get(format!("{base}/api/categories"))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => admitted += 1,
            429 => refused = Some(r),
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The limit is one burst of 20 that refills one every 3 s; each edge
    // hears the other's hits within 250 ms, so the overshoot is a few hits.
    assert!(
        (20..=28).contains(&admitted),
        "one limit across both edges: {admitted} admitted"
    );
    let refused = refused.expect("the limit was reached");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    let body: bazaar_subjects::ErrorEnvelope = refused.json().await.unwrap();
    assert_eq!(body.status, 429);
}
