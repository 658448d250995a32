//! A websocket client for stories: connects to an edge's `/ws` as the
//! holder of a token, sends client frames and waits for server frames.

use std::time::Duration;

use bazaar_subjects::socket::{ClientFrame, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One open socket.
pub struct Socket {
    stream: Stream,
}

/// How long a story waits for a frame it expects before it fails.
const WAIT: Duration = Duration::from_secs(10);

impl Socket {
    /// Opens `/ws` on the edge at `base_url` with a Bearer token and waits
    /// for the welcome.
    pub async fn open(base_url: &str, token: &str) -> Self {
        let mut socket = Self::try_open(base_url, token, None)
            .await
            .expect("the socket opens");
        match socket.next().await {
            ServerFrame::Welcome { .. } => socket,
            other => panic!("expected a welcome, got {other:?}"),
        }
    }

    /// Opens `/ws` (with an `Origin` header if given); the HTTP status of a
    /// refused upgrade as the error.
    pub async fn try_open(base_url: &str, token: &str, origin: Option<&str>) -> Result<Self, u16> {
        let url = format!("{}/ws", base_url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("a ws request");
        let headers = request.headers_mut();
        headers.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a header"),
        );
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().expect("a header"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("the socket did not open: {e}"),
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        let text = serde_json::to_string(frame).expect("a frame encodes");
        self.send_raw(&text).await;
    }

    /// Sends any text, well-formed or not.
    pub async fn send_raw(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("the frame goes out");
    }

    /// The next server frame (fails the story after 10 s or on close).
    pub async fn next(&mut self) -> ServerFrame {
        loop {
            let msg = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame arrives in time")
                .expect("the socket is open")
                .expect("the socket works");
            match msg {
                Message::Text(t) => {
                    return serde_json::from_str(t.as_str())
                        .unwrap_or_else(|e| panic!("not a server frame ({e}): {t}"));
                }
                Message::Close(frame) => panic!("the socket closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Skips frames until one `wanted` returns `Some` for.
    pub async fn until<T>(&mut self, mut wanted: impl FnMut(ServerFrame) -> Option<T>) -> T {
        loop {
            if let Some(found) = wanted(self.next().await) {
                return found;
            }
        }
    }

    /// Frames that arrive within `window` (for asserting that nothing more
    /// came, e.g. after a reconnect).
    pub async fn drain(&mut self, window: Duration) -> Vec<ServerFrame> {
        let mut out = Vec::new();
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(window, self.stream.next()).await {
            if let Message::Text(t) = msg
                && let Ok(frame) = serde_json::from_str(t.as_str())
            {
                out.push(frame);
            }
        }
        out
    }

    /// Reads until the server closes the socket: the close frame's code
    /// and reason (none when the connection just ended).
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.stream.next())
                .await
                .expect("the server closes the socket in time")
            {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Some((frame.code.into(), frame.reason.to_string()));
                }
                Some(Ok(Message::Close(None))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
