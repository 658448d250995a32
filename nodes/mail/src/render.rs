//! Every email's words and layout: a subject, a plain-text part and an HTML
//! part, from askama templates (the HTML ones escape what they insert).

use askama::Template;
use bazaar_subjects::mail::{CodePurpose, Email};

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "one_time_code.txt")]
struct CodeText<'a> {
    name: &'a str,
    code: &'a str,
    action: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "one_time_code.html")]
struct CodeHtml<'a> {
    name: &'a str,
    code: &'a str,
    action: &'a str,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "notice.txt")]
struct NoticeText<'a> {
    name: &'a str,
    lines: &'a [&'a str],
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeHtml<'a> {
    name: &'a str,
    lines: &'a [&'a str],
}

/// The template an email uses: what a log line may say about its content.
pub fn template_name(email: &Email) -> &'static str {
    match email {
        Email::OneTimeCode {
            purpose: CodePurpose::SignUp,
            ..
        } => "one_time_code.sign_up",
        Email::OneTimeCode {
            purpose: CodePurpose::PasswordReset,
            ..
        } => "one_time_code.password_reset",
        Email::AlreadyRegistered { .. } => "already_registered",
        Email::PasswordChanged { .. } => "password_changed",
        Email::OrderPlaced { .. } => "order_placed",
        Email::OrderUpdate { .. } => "order_update",
        Email::NewOrder { .. } => "new_order",
        Email::ChatUnread { .. } => "chat_unread",
    }
}

/// The subject, plain-text and HTML parts of `email`.
pub fn render(email: &Email) -> Result<Rendered, askama::Error> {
    match email {
        Email::OneTimeCode {
            name,
            code,
            purpose,
            valid_minutes,
        } => {
            let (subject, action) = match purpose {
                CodePurpose::SignUp => ("Your Bazaar sign-up code", "confirm your email address"),
                CodePurpose::PasswordReset => {
                    ("Your Bazaar password reset code", "reset your password")
                }
            };
            Ok(Rendered {
                subject: subject.to_owned(),
                text: CodeText {
                    name,
                    code,
                    action,
                    minutes: *valid_minutes,
                }
                .render()?,
                html: CodeHtml {
                    name,
                    code,
                    action,
                    minutes: *valid_minutes,
                }
                .render()?,
            })
        }
        Email::AlreadyRegistered { name } => {
            let lines: &[&str] = &[
                "Someone (maybe you) just tried to create a Bazaar account with this email address.",
                "You already have an account, so nothing was created.",
                "If you forgot your password, use \"Forgot your password?\" on the sign-in page.",
                "If it wasn't you, you can ignore this email.",
            ];
            Ok(Rendered {
                subject: "You already have a Bazaar account".into(),
                text: NoticeText { name, lines }.render()?,
                html: NoticeHtml { name, lines }.render()?,
            })
        }
        Email::PasswordChanged { name } => {
            let lines: &[&str] = &[
                "The password of your Bazaar account was just changed, and every session was signed out.",
                "If that wasn't you, reset your password right away with \"Forgot your password?\".",
            ];
            Ok(Rendered {
                subject: "Your Bazaar password was changed".into(),
                text: NoticeText { name, lines }.render()?,
                html: NoticeHtml { name, lines }.render()?,
            })
        }
        Email::OrderPlaced {
            name,
            number,
            shop,
            total,
            items,
            link,
        } => {
            let mut owned = vec![format!("Thank you for your order {number} from {shop}.")];
            owned.extend(items.iter().cloned());
            owned.push(format!("Total: {total}"));
            owned.push(format!("Follow its delivery at {link}"));
            notice(name, format!("Your order {number} is confirmed"), &owned)
        }
        Email::OrderUpdate {
            name,
            number,
            status,
            link,
        } => {
            let owned = vec![
                format!("Your order {number} is now: {status}."),
                format!("See its timeline at {link}"),
            ];
            notice(name, format!("Order {number}: {status}"), &owned)
        }
        Email::NewOrder {
            shop,
            number,
            total,
            items,
            link,
        } => {
            let mut owned = vec![format!("{shop} has a new order, {number}.")];
            owned.extend(items.iter().cloned());
            owned.push(format!("Total: {total}"));
            owned.push(format!("Pack it from {link}"));
            notice(shop, format!("New order {number}"), &owned)
        }
        Email::ChatUnread {
            name,
            from,
            preview,
            link,
        } => {
            let owned = vec![
                format!("{from} wrote to you on Bazaar:"),
                format!("“{preview}”"),
                format!("Read and answer at {link}"),
            ];
            notice(name, format!("New message from {from}"), &owned)
        }
    }
}

fn notice(name: &str, subject: String, owned: &[String]) -> Result<Rendered, askama::Error> {
    let lines: Vec<&str> = owned.iter().map(String::as_str).collect();
    let lines = lines.as_slice();
    Ok(Rendered {
        subject,
        text: NoticeText { name, lines }.render()?,
        html: NoticeHtml { name, lines }.render()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_show_in_both_parts_and_names_are_escaped_in_html() {
        let r = render(&Email::OneTimeCode {
            name: "<b>Eve</b>".into(),
            code: "042917".into(),
            purpose: CodePurpose::SignUp,
            valid_minutes: 5,
        })
        .unwrap();
        assert!(r.subject.contains("code"));
        assert!(r.text.contains("042917") && r.html.contains("042917"));
        assert!(r.text.contains("5 minutes"));
        assert!(r.text.contains("<b>Eve</b>"), "plain text is not HTML");
        assert!(!r.html.contains("<b>Eve</b>"));
        assert!(r.html.contains("&#60;b&#62;Eve&#60;/b&#62;"), "{}", r.html);
    }

    fn every_email() -> Vec<Email> {
        let code = |purpose| Email::OneTimeCode {
            name: "Ann".into(),
            code: "123456".into(),
            purpose,
            valid_minutes: 10,
        };
        vec![
            code(CodePurpose::SignUp),
            code(CodePurpose::PasswordReset),
            Email::AlreadyRegistered { name: "Ann".into() },
            Email::PasswordChanged { name: "Ann".into() },
            Email::OrderPlaced {
                name: "Ann".into(),
                number: "BZ-1".into(),
                shop: "Acme".into(),
                total: "1.00 USD".into(),
                items: vec!["1 × Kettle".into()],
                link: "http://x/orders/1".into(),
            },
            Email::OrderUpdate {
                name: "Ann".into(),
                number: "BZ-1".into(),
                status: "Shipped".into(),
                link: "http://x/orders/1".into(),
            },
            Email::NewOrder {
                shop: "Ann".into(),
                number: "BZ-2".into(),
                total: "1.00 USD".into(),
                items: vec!["1 × Kettle".into()],
                link: "http://x/seller/orders/2".into(),
            },
            Email::ChatUnread {
                name: "Ann".into(),
                from: "Bea Buyer".into(),
                preview: "Does it ship today?".into(),
                link: "http://x/seller/messages/3".into(),
            },
        ]
    }

    #[test]
    fn every_email_has_its_own_subject_and_both_parts() {
        let rendered: Vec<Rendered> = every_email().iter().map(|e| render(e).unwrap()).collect();
        let mut subjects: Vec<&str> = rendered.iter().map(|r| r.subject.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        assert_eq!(subjects.len(), rendered.len(), "one subject per email");
        for r in &rendered {
            assert!(r.text.contains("Hello Ann,"), "{}", r.text);
            assert!(
                !r.text.contains('<'),
                "plain text has no markup: {}",
                r.text
            );
            assert!(r.html.starts_with("<!doctype html>"));
            assert!(r.html.contains("<p>Hello Ann,</p>"), "{}", r.html);
        }
        assert_eq!(
            render(&every_email()[1]).unwrap().subject,
            "Your Bazaar password reset code"
        );
    }

    #[test]
    fn markup_and_quotes_in_names_cannot_break_out_of_the_html() {
        let hostile = r#"Tom & "Jerry" <script>alert('x')</script>"#;
        for email in [
            Email::AlreadyRegistered {
                name: hostile.into(),
            },
            Email::OneTimeCode {
                name: hostile.into(),
                code: "123456".into(),
                purpose: CodePurpose::PasswordReset,
                valid_minutes: 10,
            },
            Email::ChatUnread {
                name: hostile.into(),
                from: hostile.into(),
                preview: hostile.into(),
                link: "http://x/messages/3".into(),
            },
        ] {
            let r = render(&email).unwrap();
            assert!(!r.html.contains("<script>"), "{}", r.html);
            assert!(!r.html.contains(r#""Jerry""#), "{}", r.html);
            assert!(r.html.contains("Tom &#38; &#34;Jerry&#34;"), "{}", r.html);
            assert!(
                r.text.contains(hostile),
                "the text part shows the name as typed"
            );
        }
    }

    #[test]
    fn template_names_say_what_was_sent_but_not_to_whom() {
        let names: Vec<&str> = every_email().iter().map(template_name).collect();
        assert_eq!(
            names,
            [
                "one_time_code.sign_up",
                "one_time_code.password_reset",
                "already_registered",
                "password_changed",
                "order_placed",
                "order_update",
                "new_order",
                "chat_unread"
            ]
        );
    }

    #[test]
    fn notices_carry_no_code() {
        let r = render(&Email::AlreadyRegistered { name: "Ann".into() }).unwrap();
        assert!(r.text.contains("already have an account"));
        assert!(!r.text.chars().any(|c| c.is_ascii_digit()));
        let r = render(&Email::PasswordChanged { name: "Ann".into() }).unwrap();
        assert!(r.html.contains("signed out"));
    }
}
