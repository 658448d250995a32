//! Email through a real SMTP server: codes arrive, late servers get their
//! mail after retries, and a job queued twice is sent once.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_subjects::mail::{CodePurpose, Email, SendEmail};
use bazaar_tests::smtp_server::{SmtpServer, smtp_config};
use bazaar_tests::{Options, Platform, six_digit_code};
use serde_json::json;

fn with_mail(mail: bazaar_mail::MailConfig, dir: &std::path::Path) -> Options {
    let mut configs = NodeConfigs::in_data_dir(dir);
    configs.mail = mail;
    Options {
        configs: Some(configs),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_sign_up_code_arrives_at_a_real_smtp_server_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("maildir")).await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config(), dir.path())).await;
    let r = p
        .http
        .post(p.url("/api/register/user"))
        .json(&json!({ "name": "Mia <Mail>", "email": "mia@example.com", "password": "mia's long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mails = smtp
        .wait_for("mia@example.com", Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Your Bazaar sign-up code")
    );
    assert!(mail.header("From").unwrap().contains("shop@bazaar.test"));
    let text = mail.part("text/plain").expect("a plain-text part");
    let html = mail.part("text/html").expect("an HTML part");
    let code = six_digit_code(&text).expect("the code in the text");
    assert!(html.contains(&code), "the code in the HTML too");
    assert!(
        html.contains("Mia &#60;Mail&#62;") || html.contains("Mia &lt;Mail&gt;"),
        "{html}"
    );
    let r = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": "mia@example.com", "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn mail_waits_for_an_smtp_server_that_is_down_and_then_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let port = bazaar::natsd::free_port().unwrap();
    let p = Platform::spawn_with(with_mail(smtp_config(port), dir.path())).await;
    let r = p
        .http
        .post(p.url("/api/forgot-password"))
        .json(&json!({ "email": "nobody@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Queue one email while the server is down.
    let job = SendEmail {
        id: "late-1".into(),
        to: "late@example.com".into(),
        email: Email::OneTimeCode {
            name: "Lee".into(),
            code: "314159".into(),
            purpose: CodePurpose::PasswordReset,
            valid_minutes: 5,
        },
    };
    bazaar_runtime::jetstream::enqueue_job(&p.ctx.jetstream, &job, &job.id)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let smtp = SmtpServer::start_on(&dir.path().join("maildir"), port).await;
    let mails = smtp
        .wait_for("late@example.com", Duration::from_secs(30))
        .await;
    assert_eq!(mails.len(), 1, "delivered after retries");
    assert!(mails[0].part("text/plain").unwrap().contains("314159"));
}

#[tokio::test]
async fn a_job_queued_twice_is_sent_once_even_with_two_mail_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&dir.path().join("maildir")).await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config(), dir.path())).await;
    let second = p.start_node(bazaar_subjects::Domain::Mail);
    for i in 0..5 {
        let job = SendEmail {
            id: format!("once-{i}"),
            to: "once@example.com".into(),
            email: Email::PasswordChanged { name: "Olu".into() },
        };
        // A retried publish: same dedupe id.
        for _ in 0..2 {
            bazaar_runtime::jetstream::enqueue_job(&p.ctx.jetstream, &job, &job.id)
                .await
                .unwrap();
        }
    }
    for _ in 0..200 {
        if smtp
            .wait_for("once@example.com", Duration::ZERO)
            .await
            .len()
            >= 5
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give any duplicate time to show up, then count.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        smtp.wait_for("once@example.com", Duration::ZERO)
            .await
            .len(),
        5
    );
    second.stop().await;
}
