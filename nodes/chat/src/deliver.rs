//! Frames to the sockets of the people in a conversation, wherever they are
//! connected: one core NATS publish per account on `deliver.<account>`.
//! Nothing is stored here: a client that was away catches up from the
//! database with the last sequence it holds.

use bazaar_subjects::socket::{ServerFrame, deliver_subject};

pub(crate) async fn frame(nats: &async_nats::Client, accounts: &[String], frame: &ServerFrame) {
    let Ok(payload) = serde_json::to_vec(frame) else {
        return;
    };
    let payload = bytes::Bytes::from(payload);
    for account in accounts {
        if let Err(e) = nats
            .publish(deliver_subject(account), payload.clone())
            .await
        {
            tracing::warn!(error = %e, "frame not delivered");
        }
    }
}
