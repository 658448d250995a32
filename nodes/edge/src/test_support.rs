//! What the edge's unit tests share: a state whose NATS client never
//! connects (for middleware and mappings that make no call), and reading a
//! response back.

use std::time::Duration;

use axum::response::Response;

use crate::config::EdgeConfig;
use crate::state::EdgeState;

/// A state for tests that make no NATS call: its client points at a closed
/// port and keeps trying in the background.
pub(crate) async fn offline_state(config: EdgeConfig) -> EdgeState {
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect("127.0.0.1:1")
        .await
        .unwrap();
    EdgeState::new(nats, Duration::from_millis(100), Vec::new(), config)
}

/// The response's body as text.
pub(crate) async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}
