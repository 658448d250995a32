//! What a valid shop is: every field checked, every problem named.

use bazaar_subjects::sellers::{OpeningHours, ShopInput, SocialLink};
use bazaar_subjects::{ErrorEnvelope, Validator};
use serde::Serialize;

pub const MAX_NAME: usize = 80;
pub const MAX_BIO: usize = 2000;
pub const MAX_ADDRESS: usize = 300;
pub const MAX_URL: usize = 2048;
pub const MAX_SOCIAL_LINKS: usize = 10;
pub const MAX_NETWORK: usize = 30;
pub const MAX_OPENING_HOURS: usize = 14;
/// Slugs are at most 64 characters; a base leaves room for a `-N` suffix.
const MAX_SLUG_BASE: usize = 56;

/// The days of the week, in order, as the wire spells them.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A checked shop, ready to store (`None` fields are left out of the row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidShop {
    pub name: String,
    pub bio: String,
    pub address: String,
    pub opening_hours: Vec<OpeningHours>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner_image: Option<String>,
    /// The slug the seller asked for, if any (checked, not yet made unique).
    #[serde(skip)]
    pub slug: Option<String>,
}

impl ValidShop {
    /// What a new shop's slug starts from: the one asked for, else the name's.
    pub fn slug_base(&self) -> String {
        self.slug
            .clone()
            .unwrap_or_else(|| slug_from_name(&self.name))
    }
}

/// Lowercase letters, digits and single dashes; at most 64 characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A slug for a shop name: transliterated, lowercased, dashed, short enough
/// to take a `-N` suffix; `shop` when the name has no letters or digits.
pub fn slug_from_name(name: &str) -> String {
    let full = slug::slugify(name);
    let mut base = String::new();
    for part in full.split('-').filter(|p| !p.is_empty()) {
        let extra = if base.is_empty() { 0 } else { 1 };
        if base.len() + extra + part.len() > MAX_SLUG_BASE {
            if base.is_empty() {
                base = part[..MAX_SLUG_BASE].to_owned();
            }
            break;
        }
        if extra == 1 {
            base.push('-');
        }
        base.push_str(part);
    }
    if base.is_empty() {
        "shop".to_owned()
    } else {
        base
    }
}

pub use bazaar_subjects::is_image_id;

/// An absolute http(s) URL with a host, of sensible length, without spaces.
pub fn is_web_url(s: &str) -> bool {
    s.len() <= MAX_URL
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(s).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

/// `HH:MM`, 24-hour; `24:00` only as a closing time.
fn is_time(s: &str, closing: bool) -> bool {
    let b = s.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
    {
        return false;
    }
    let (h, m) = (
        (b[0] - b'0') * 10 + (b[1] - b'0'),
        (b[3] - b'0') * 10 + (b[4] - b'0'),
    );
    (h < 24 && m < 60) || (closing && h == 24 && m == 0)
}

fn day_name(day: &str) -> &'static str {
    match day {
        "mon" => "Monday",
        "tue" => "Tuesday",
        "wed" => "Wednesday",
        "thu" => "Thursday",
        "fri" => "Friday",
        "sat" => "Saturday",
        _ => "Sunday",
    }
}

fn clean(s: &str) -> String {
    s.trim().to_owned()
}

fn optional(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Checks a shop as a seller filled it in. `category_exists` is the admin
/// node's answer about `input.category` (false when it is blank).
pub fn validate_shop(input: ShopInput, category_exists: bool) -> Result<ValidShop, ErrorEnvelope> {
    let name = clean(&input.name);
    let bio = input.bio.trim().to_owned();
    let address = clean(&input.address);
    let website = optional(input.website);
    let category = clean(&input.category);
    let avatar_image = optional(input.avatar_image);
    let banner_image = optional(input.banner_image);
    let slug = optional(input.slug);

    let mut v = Validator::default();
    v.check(!name.is_empty(), "name", "your shop needs a name")
        .check(
            name.chars().count() <= MAX_NAME,
            "name",
            "keep the name to 80 characters",
        )
        .check(
            !name.chars().any(char::is_control),
            "name",
            "the name must be a single line of text",
        )
        .check(
            slug.as_deref()
                .is_none_or(|s| is_slug(s) && s.len() <= MAX_SLUG_BASE),
            "slug",
            "use lowercase letters, digits and single dashes (at most 56)",
        )
        .check(
            bio.chars().count() <= MAX_BIO,
            "bio",
            "keep the bio to 2000 characters",
        )
        .check(
            address.chars().count() <= MAX_ADDRESS,
            "address",
            "keep the address to 300 characters",
        )
        .check(
            !address.chars().any(|c| c.is_control() && c != '\n'),
            "address",
            "the address may only contain text and line breaks",
        )
        .check(
            website.as_deref().is_none_or(is_web_url),
            "website",
            "use a full web address starting with http:// or https://",
        )
        .check(!category.is_empty(), "category", "choose a category");
    if !category.is_empty() {
        v.check(
            category_exists,
            "category",
            "there is no such category: choose one from the list",
        );
    }
    v.check(
        avatar_image.as_deref().is_none_or(is_image_id),
        "avatar_image",
        "upload the avatar as an image first and use its id",
    )
    .check(
        banner_image.as_deref().is_none_or(is_image_id),
        "banner_image",
        "upload the banner as an image first and use its id",
    );

    let social_links = social_links(input.social_links, &mut v);
    let opening_hours = opening_hours(input.opening_hours, &mut v);
    v.finish()?;
    Ok(ValidShop {
        name,
        bio,
        address,
        opening_hours,
        website,
        social_links,
        category,
        avatar_image,
        banner_image,
        slug,
    })
}

fn social_links(links: Vec<SocialLink>, v: &mut Validator) -> Vec<SocialLink> {
    v.check(
        links.len() <= MAX_SOCIAL_LINKS,
        "social_links",
        "add at most 10 social links",
    );
    links
        .into_iter()
        .enumerate()
        .map(|(i, link)| {
            let network = link.network.trim().to_lowercase();
            let url = clean(&link.url);
            let n = i + 1;
            v.check(
                (1..=MAX_NETWORK).contains(&network.chars().count())
                    && network
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '+')),
                "social_links",
                &format!(
                    "link {n}: name the network (e.g. instagram) in 1 to 30 letters or digits"
                ),
            )
            .check(
                is_web_url(&url),
                "social_links",
                &format!("link {n}: use a full web address starting with http:// or https://"),
            );
            SocialLink { network, url }
        })
        .collect()
}

fn opening_hours(hours: Vec<OpeningHours>, v: &mut Validator) -> Vec<OpeningHours> {
    v.check(
        hours.len() <= MAX_OPENING_HOURS,
        "opening_hours",
        "give at most 14 opening times (two a day)",
    );
    let mut valid: Vec<OpeningHours> = Vec::new();
    for h in hours {
        let day = h.day.trim().to_lowercase();
        let opens = clean(&h.opens);
        let closes = clean(&h.closes);
        if !DAYS.contains(&day.as_str()) {
            v.check(
                false,
                "opening_hours",
                &format!("`{day}` is not a day: use mon, tue, wed, thu, fri, sat or sun"),
            );
            continue;
        }
        let label = day_name(&day);
        if !is_time(&opens, false) || !is_time(&closes, true) {
            v.check(
                false,
                "opening_hours",
                &format!("{label}: write times as HH:MM, e.g. 09:00 and 17:30"),
            );
            continue;
        }
        if opens >= closes {
            v.check(
                false,
                "opening_hours",
                &format!("{label}: the shop must open before it closes ({opens}–{closes})"),
            );
            continue;
        }
        valid.push(OpeningHours { day, opens, closes });
    }
    let order = |d: &str| DAYS.iter().position(|x| *x == d).unwrap_or(7);
    valid.sort_by(|a, b| {
        order(&a.day)
            .cmp(&order(&b.day))
            .then_with(|| a.opens.cmp(&b.opens))
    });
    for pair in valid.windows(2) {
        if pair[0].day == pair[1].day && pair[1].opens < pair[0].closes {
            v.check(
                false,
                "opening_hours",
                &format!("{}: the opening times overlap", day_name(&pair[0].day)),
            );
        }
    }
    valid
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop right there
mod tests {
    use super::*;

    fn input() -> ShopInput {
        ShopInput {
            name: "  Ada's Bakery ".into(),
            category: "home-garden".into(),
            ..Default::default()
        }
    }

    fn fields(e: &ErrorEnvelope) -> Vec<&str> {
        e.fields.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn a_minimal_shop_is_trimmed_and_accepted() {
        let shop = validate_shop(input(), true).unwrap();
        assert_eq!(shop.name, "Ada's Bakery");
        assert_eq!(shop.slug_base(), "ada-s-bakery");
        assert_eq!(shop.website, None);
        assert!(shop.opening_hours.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ShopInput {
            name: " ".into(),
            slug: Some("Not A Slug".into()),
            bio: "b".repeat(2001),
            address: "a".repeat(301),
            website: Some("javascript:alert(1)".into()),
            category: "nope".into(),
            avatar_image: Some("../etc/passwd".into()),
            banner_image: Some("https://example.com/x.png".into()),
            social_links: vec![SocialLink {
                network: "".into(),
                url: "ftp://x".into(),
            }],
            opening_hours: vec![OpeningHours {
                day: "funday".into(),
                opens: "09:00".into(),
                closes: "17:00".into(),
            }],
        };
        let e = validate_shop(bad, false).unwrap_err();
        assert_eq!(e.status, 422);
        assert_eq!(
            fields(&e),
            [
                "name",
                "slug",
                "bio",
                "address",
                "website",
                "category",
                "avatar_image",
                "banner_image",
                "social_links",
                "social_links",
                "opening_hours"
            ]
        );
        assert!(e.fields[5].message.contains("no such category"));
    }

    #[test]
    fn limits_are_inclusive() {
        let mut ok = input();
        ok.name = "n".repeat(80);
        ok.bio = "é".repeat(2000);
        ok.address = "a".repeat(300);
        ok.website = Some(format!("https://example.com/{}", "p".repeat(2048 - 20)));
        assert!(validate_shop(ok.clone(), true).is_ok());
        ok.name.push('n');
        let e = validate_shop(ok, true).unwrap_err();
        assert_eq!(fields(&e), ["name"]);
    }

    #[test]
    fn a_blank_category_asks_for_one_and_an_unknown_one_says_so() {
        let mut blank = input();
        blank.category = " ".into();
        let e = validate_shop(blank, false).unwrap_err();
        assert_eq!(e.fields.len(), 1);
        assert_eq!(e.fields[0].message, "choose a category");
        let e = validate_shop(input(), false).unwrap_err();
        assert_eq!(fields(&e), ["category"]);
    }

    #[test]
    fn websites_must_be_http_urls() {
        for good in [
            "https://ada.example",
            "http://ada.example/shop?x=1",
            " https://ada.example ",
        ] {
            let mut i = input();
            i.website = Some(good.into());
            assert!(validate_shop(i, true).is_ok(), "{good}");
        }
        for bad in [
            "ada.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://",
            "https://a b.example",
            "mailto:ada@example.com",
        ] {
            let mut i = input();
            i.website = Some(bad.into());
            let e = validate_shop(i, true).unwrap_err();
            assert_eq!(fields(&e), ["website"], "{bad}");
        }
        let mut empty = input();
        empty.website = Some("  ".into());
        assert_eq!(validate_shop(empty, true).unwrap().website, None);
    }

    #[test]
    fn social_links_are_limited_and_checked() {
        let link = |n: &str, u: &str| SocialLink {
            network: n.into(),
            url: u.into(),
        };
        let mut i = input();
        i.social_links = vec![link(" Instagram ", "https://instagram.com/ada")];
        let shop = validate_shop(i, true).unwrap();
        assert_eq!(shop.social_links[0].network, "instagram");
        let mut many = input();
        many.social_links = vec![link("x", "https://x.com/ada"); 11];
        let e = validate_shop(many, true).unwrap_err();
        assert_eq!(e.fields[0].message, "add at most 10 social links");
        let mut bad = input();
        bad.social_links = vec![
            link("ok", "https://ok.example"),
            link(&"n".repeat(31), "https://ok.example"),
            link("<script>", "https://ok.example"),
            link("web", "not a url"),
        ];
        let e = validate_shop(bad, true).unwrap_err();
        let messages: Vec<_> = e.fields.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages.len(), 3);
        assert!(messages[0].starts_with("link 2:"));
        assert!(messages[1].starts_with("link 3:"));
        assert!(messages[2].starts_with("link 4:"));
    }

    #[test]
    fn opening_hours_are_real_times_on_real_days_in_order() {
        let h = |d: &str, o: &str, c: &str| OpeningHours {
            day: d.into(),
            opens: o.into(),
            closes: c.into(),
        };
        let mut i = input();
        i.opening_hours = vec![
            h("sat", "10:00", "14:00"),
            h("MON", "14:00", "18:00"),
            h("mon", "09:00", "13:00"),
            h("fri", "18:00", "24:00"),
        ];
        let shop = validate_shop(i, true).unwrap();
        let order: Vec<_> = shop
            .opening_hours
            .iter()
            .map(|h| format!("{} {}", h.day, h.opens))
            .collect();
        assert_eq!(order, ["mon 09:00", "mon 14:00", "fri 18:00", "sat 10:00"]);

        for (bad, why) in [
            (h("mon", "9:00", "17:00"), "HH:MM"),
            (h("mon", "09:00", "25:00"), "HH:MM"),
            (h("mon", "24:00", "24:00"), "HH:MM"),
            (h("mon", "09:60", "17:00"), "HH:MM"),
            (h("mon", "17:00", "09:00"), "open before it closes"),
            (h("mon", "09:00", "09:00"), "open before it closes"),
            (h("someday", "09:00", "17:00"), "not a day"),
        ] {
            let mut i = input();
            i.opening_hours = vec![bad.clone()];
            let e = validate_shop(i, true).unwrap_err();
            assert_eq!(fields(&e), ["opening_hours"], "{bad:?}");
            assert!(
                e.fields[0].message.contains(why),
                "{bad:?}: {}",
                e.fields[0].message
            );
        }
        let mut overlap = input();
        overlap.opening_hours = vec![h("tue", "09:00", "13:00"), h("tue", "12:00", "18:00")];
        let e = validate_shop(overlap, true).unwrap_err();
        assert!(
            e.fields[0]
                .message
                .contains("Tuesday: the opening times overlap")
        );
        let mut too_many = input();
        too_many.opening_hours = (0..15)
            .map(|n| {
                h(
                    DAYS[n % 7],
                    &format!("{:02}:00", n / 7),
                    &format!("{:02}:30", n / 7),
                )
            })
            .collect();
        let e = validate_shop(too_many, true).unwrap_err();
        assert!(e.fields.iter().any(|f| f.message.contains("at most 14")));
    }

    #[test]
    fn images_are_upload_ids_or_nothing() {
        let mut i = input();
        i.avatar_image = Some("0193a1b2c3d4e5f60718293a4b5c6d7e".into());
        i.banner_image = Some(String::new());
        let shop = validate_shop(i, true).unwrap();
        assert!(shop.avatar_image.is_some());
        assert_eq!(shop.banner_image, None);
        for bad in [
            "0193A1B2C3D4E5F60718293A4B5C6D7E",
            "0193a1b2c3d4e5f60718293a4b5c6d7",
            "/images/0193a1b2c3d4e5f60718293a4b5c6d7e",
        ] {
            assert!(!is_image_id(bad), "{bad}");
        }
    }

    #[test]
    fn slugs_come_from_names_and_fit() {
        assert_eq!(slug_from_name("Ada's Bakery & Café"), "ada-s-bakery-cafe");
        assert_eq!(slug_from_name("!!!"), "shop");
        let long = slug_from_name(&"word ".repeat(40));
        assert!(long.len() <= MAX_SLUG_BASE && is_slug(&long), "{long}");
        let one_long_word = slug_from_name(&"x".repeat(100));
        assert_eq!(one_long_word.len(), MAX_SLUG_BASE);
        let mut asked = input();
        asked.slug = Some("ada".into());
        assert_eq!(validate_shop(asked, true).unwrap().slug_base(), "ada");
    }
}
