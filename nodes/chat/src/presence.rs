//! Who is online, from the heartbeats edges keep in JetStream KV.

use async_nats::jetstream::kv;
use bazaar_subjects::chat::{PRESENCE_TTL_SECS, Presence, PresenceBeat};
use bazaar_subjects::socket::account_token;

/// An account's presence: online while its newest beat is younger than the
/// TTL and was not a disconnect; never seen when there is no beat.
pub(crate) async fn of(kv: &kv::Store, account: &str) -> Presence {
    let beat = match kv.get(account_token(account)).await {
        Ok(Some(bytes)) => serde_json::from_slice::<PresenceBeat>(&bytes).ok(),
        _ => None,
    };
    let Some(beat) = beat else {
        return Presence {
            online: false,
            last_seen: None,
        };
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let fresh = now_ms - i128::from(beat.at_ms) < i128::from(PRESENCE_TTL_SECS) * 1000;
    Presence {
        online: beat.online && fresh,
        last_seen: rfc3339_ms(beat.at_ms),
    }
}

fn rfc3339_ms(ms: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
