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
    }
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

    #[test]
    fn notices_carry_no_code() {
        let r = render(&Email::AlreadyRegistered { name: "Ann".into() }).unwrap();
        assert!(r.text.contains("already have an account"));
        assert!(!r.text.chars().any(|c| c.is_ascii_digit()));
        let r = render(&Email::PasswordChanged { name: "Ann".into() }).unwrap();
        assert!(r.html.contains("signed out"));
    }
}
