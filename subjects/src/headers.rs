//! NATS header names shared by edges and nodes.

/// The request id, minted by the edge (or taken from `x-request-id`) and
/// carried into every log line of every node that handles the request.
pub const REQUEST_ID: &str = "Bazaar-Request-Id";
/// The caller's access token (a JWT), verified by the node, never by trust.
pub const AUTHORIZATION: &str = "Bazaar-Authorization";
/// Set by the NATS service API on an error reply: a human message.
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// Set by the NATS service API on an error reply: the HTTP-compatible status.
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
