//! The simulator's record of every Okta API request it received: what was asked, how it was
//! answered, and the bodies, so tests can assert on what the client did. Not for `/sim/`
//! admin requests, and it never stores the `Authorization` header.

use serde::Serialize;

/// One request to the simulated Okta API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RecordedRequest {
    /// 1-based arrival order.
    pub seq: u64,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// The status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// `X-Okta-Request-Id` of the answer.
    pub request_id: String,
    /// `true` for PUT / PATCH / POST / DELETE.
    pub write: bool,
    /// When the request arrived (RFC 3339, ms).
    pub timestamp: String,
    /// `true` when the connection was dropped (reset or lost response).
    pub dropped: bool,
    /// The request body, when there was one (UTF-8, lossy).
    #[serde(skip)]
    pub request_body: Option<String>,
    /// The response body that was (or, for a lost response, would have been) sent.
    #[serde(skip)]
    pub response_body: Option<String>,
}

impl RecordedRequest {
    /// The path without the query string.
    #[must_use]
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}
