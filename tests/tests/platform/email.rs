//! Email: every message goes through the mail node's work queue to a real
//! SMTP server (aiosmtpd) — or, on one box without SMTP, to the file mailbox
//! that `/dev/mailbox` shows. Codes arrive in both parts, a server that is
//! down or greylisting gets its mail later, a refused address is dropped, and
//! a job queued twice is sent once, however many mail nodes run.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_runtime::jetstream::enqueue_job;
use bazaar_subjects::Domain;
use bazaar_subjects::mail::{self, CodePurpose, Email, SendEmail};
use bazaar_tests::smtp_server::{SmtpServer, smtp_config};
use bazaar_tests::{Options, Platform};
use serde_json::json;

/// Node settings with this mail config (the rest one-box defaults).
fn with_mail(mail: bazaar_mail::MailConfig) -> Options {
    let mut configs = NodeConfigs::in_data_dir(std::path::Path::new("/nonexistent"));
    configs.mail = mail;
    Options {
        configs: Some(configs),
        ..Options::default()
    }
}

fn code_email(id: &str, to: &str, name: &str, code: &str) -> SendEmail {
    SendEmail {
        id: id.into(),
        to: to.into(),
        email: Email::OneTimeCode {
            name: name.into(),
            code: code.into(),
            purpose: CodePurpose::PasswordReset,
            valid_minutes: 10,
        },
    }
}

async fn enqueue(p: &Platform, job: &SendEmail) {
    enqueue_job(&p.ctx.jetstream, job, &job.id)
        .await
        .expect("the job is queued");
}

/// Jobs still in the work queue (sent and dropped ones are gone).
async fn queued_jobs(p: &Platform) -> u64 {
    let mut stream = p.ctx.jetstream.get_stream(mail::JOBS.name).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn a_sign_up_code_arrives_at_a_real_smtp_server_and_works() {
    let smtp = SmtpServer::start().await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config())).await;
    let r = p
        .http
        .post(p.url("/api/register/user"))
        .json(&json!({ "name": "Mia <Mail>", "email": "mia@example.com", "password": "mia's long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    let mail = smtp.wait_for("mia@example.com").await;
    assert_eq!(mail.subject, "Your Bazaar sign-up code");
    assert!(mail.from.contains("shop@bazaar.test"), "{}", mail.from);
    let code = mail.code().expect("the code in the text part");
    assert!(mail.html.contains(&code), "the code in the HTML part too");
    assert!(mail.html.contains("Mia &#60;Mail&#62;"), "{}", mail.html);

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
async fn a_queued_code_email_arrives_as_text_and_html_with_its_subject() {
    let smtp = SmtpServer::start().await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config())).await;
    enqueue(
        &p,
        &code_email("reset-1", "zoe@example.com", "Zoë <b>&</b>", "271828"),
    )
    .await;

    let mail = smtp.wait_for("zoe@example.com").await;
    assert_eq!(mail.content_type, "multipart/alternative");
    assert_eq!(mail.subject, "Your Bazaar password reset code");
    assert_eq!(mail.to, "zoe@example.com");
    assert_eq!(mail.mail_from, "shop@bazaar.test");
    assert!(
        mail.message_id.ends_with("@bazaar.test>"),
        "{}",
        mail.message_id
    );
    assert_eq!(mail.code().as_deref(), Some("271828"));
    assert!(mail.text.contains("Hello Zoë <b>&</b>,"), "{}", mail.text);
    assert!(mail.text.contains("10 minutes"));
    assert!(mail.html.contains("271828"));
    assert!(
        mail.html
            .contains("Hello Zoë &#60;b&#62;&#38;&#60;/b&#62;,"),
        "the name is escaped in HTML: {}",
        mail.html
    );
    assert!(!mail.html.contains("<b>&</b>"));
    assert_eq!(queued_jobs(&p).await, 0, "a sent job leaves the queue");
}

#[tokio::test]
async fn mail_waits_for_an_smtp_server_that_is_down_and_then_arrives() {
    let port = bazaar::natsd::free_port().unwrap();
    let p = Platform::spawn_with(with_mail(smtp_config(port))).await;
    enqueue(
        &p,
        &code_email("late-1", "late@example.com", "Lee", "314159"),
    )
    .await;
    // A few failed tries (200 ms, 400 ms, …) while nothing listens.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(queued_jobs(&p).await, 1, "kept for a retry");

    let smtp = SmtpServer::start_on(port).await;
    let started = std::time::Instant::now();
    let mails = smtp
        .wait_for_count("late@example.com", 1, Duration::from_secs(15))
        .await;
    assert_eq!(mails.len(), 1, "delivered after retries");
    assert_eq!(mails[0].code().as_deref(), Some("314159"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "retried on the node's own schedule, not the 30 s ack wait: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_greylisting_server_gets_the_mail_on_a_later_try() {
    let smtp = SmtpServer::start().await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config())).await;
    // The server answers 451 to the first try for this address.
    enqueue(
        &p,
        &code_email("grey-1", "greylist.gus@example.com", "Gus", "161803"),
    )
    .await;
    let mail = smtp.wait_for("greylist.gus@example.com").await;
    assert_eq!(mail.code().as_deref(), Some("161803"));
}

#[tokio::test]
async fn an_address_the_server_refuses_is_dropped_and_the_queue_moves_on() {
    let smtp = SmtpServer::start().await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config())).await;
    // 550 from the server, and an address that is no address at all.
    enqueue(
        &p,
        &code_email("refused-1", "reject.rae@example.com", "Rae", "000001"),
    )
    .await;
    enqueue(
        &p,
        &code_email("refused-2", "not an address", "Rae", "000002"),
    )
    .await;
    enqueue(
        &p,
        &code_email("fine-1", "fay@example.com", "Fay", "000003"),
    )
    .await;

    smtp.wait_for("fay@example.com").await;
    // Dropped (terminated), not waiting for a retry.
    for _ in 0..100 {
        if queued_jobs(&p).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(queued_jobs(&p).await, 0);
    assert!(smtp.received_by("reject.rae@example.com").is_empty());
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_job_queued_twice_is_sent_once_even_with_two_mail_nodes() {
    let smtp = SmtpServer::start().await;
    let p = Platform::spawn_with(with_mail(smtp.mail_config())).await;
    let second = p.start_node(Domain::Mail);
    for i in 0..5 {
        let job = SendEmail {
            id: format!("once-{i}"),
            to: "once@example.com".into(),
            email: Email::PasswordChanged { name: "Olu".into() },
        };
        // A retried publish: same dedupe id.
        for _ in 0..2 {
            enqueue(&p, &job).await;
        }
    }
    let mails = smtp
        .wait_for_count("once@example.com", 5, Duration::from_secs(20))
        .await;
    assert_eq!(mails.len(), 5);
    // Give any duplicate time to show up, then count again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(smtp.received_by("once@example.com").len(), 5);
    assert_eq!(mails[0].subject, "Your Bazaar password was changed");
    second.stop().await;
}

#[tokio::test]
async fn mail_queued_before_any_mail_node_runs_is_sent_once_one_starts() {
    // No nodes at all: the queue does not exist until the first publish.
    let p = Platform::spawn_with(Options {
        nodes: false,
        ..Options::default()
    })
    .await;
    enqueue(
        &p,
        &code_email("early-1", "early@example.com", "Eli", "577215"),
    )
    .await;
    assert_eq!(queued_jobs(&p).await, 1);

    let node = p.start_node(Domain::Mail);
    let mail = p.last_email("early@example.com").await;
    assert!(mail.text.contains("577215"));
    node.stop().await;
}

#[tokio::test]
async fn on_one_box_mail_lands_in_the_mailbox_and_dev_mailbox_shows_it_escaped() {
    // Default settings: no SMTP, files under the data dir, mailbox served.
    let p = Platform::spawn().await;
    enqueue(
        &p,
        &code_email(
            "box-1",
            "ann@example.com",
            "<script>alert('hi')</script>",
            "424242",
        ),
    )
    .await;
    p.last_email("ann@example.com").await;
    enqueue(
        &p,
        &SendEmail {
            id: "box-2".into(),
            to: "ann@example.com".into(),
            email: Email::PasswordChanged { name: "Ann".into() },
        },
    )
    .await;
    for _ in 0..200 {
        if p.email_count("ann@example.com").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let newest = p.last_email("ann@example.com").await;
    assert_eq!(newest.id, "box-2", "newest first");

    let listed = bazaar_runtime::call::<mail::ListMailbox>(
        &p.ctx.nats,
        &bazaar_runtime::RequestMeta::default(),
        &bazaar_subjects::Empty {},
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let ids: Vec<&str> = listed.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["box-2", "box-1"]);

    // Every message is also in an mbox a mail client opens as a folder.
    let mbox = std::fs::read_to_string(p.data_dir().join("mailbox").join("mailbox.mbox")).unwrap();
    assert_eq!(mbox.matches("\n\nFrom ").count() + 1, 2, "{mbox}");
    assert!(mbox.starts_with("From "), "{mbox}");

    let page = p.http.get(p.url("/dev/mailbox")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("424242"), "the code is on the page");
    assert!(html.contains("Your Bazaar password was changed"));
    assert!(!html.contains("<script>alert"), "escaped: {html}");
    assert!(html.contains("&#60;script&#62;"), "{html}");
    assert!(
        html.find("password was changed") < html.find("424242"),
        "newest first"
    );
}

#[tokio::test]
async fn without_a_file_mailbox_dev_mailbox_explains_where_mail_goes() {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = false;
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        ..Options::default()
    })
    .await;
    p.keep(dir);
    let page = p.http.get(p.url("/dev/mailbox")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("only available under <code>bazaar dev</code>"),
        "{html}"
    );
}
