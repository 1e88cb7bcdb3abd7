//! Okta's error answers (`E0000001`, `E0000006`, `E0000007`, `E0000009`, `E0000011`,
//! `E0000022`, `E0000047`) as one type the simulator's handlers return. Only shapes the
//! error body; deciding *when* to fail is the caller's job.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::ids::error_id;
use super::wire::{ErrorBody, ErrorCause};

/// An Okta error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub summary: String,
    pub causes: Vec<String>,
}

impl ApiError {
    /// 400 `E0000001`, with one `errorCauses` entry per cause.
    #[must_use]
    pub fn validation(what: &str, causes: Vec<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "E0000001",
            summary: format!("Api validation failed: {what}"),
            causes,
        }
    }

    /// 401 `E0000011`.
    #[must_use]
    pub fn invalid_token() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "E0000011",
            summary: "Invalid token provided".into(),
            causes: Vec::new(),
        }
    }

    /// 403 `E0000006`.
    #[must_use]
    pub fn forbidden() -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "E0000006",
            summary: "You do not have permission to perform the requested action".into(),
            causes: Vec::new(),
        }
    }

    /// 404 `E0000007`: `Not found: Resource not found: {id} ({kind})`.
    #[must_use]
    pub fn not_found(id: &str, kind: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "E0000007",
            summary: format!("Not found: Resource not found: {id} ({kind})"),
            causes: Vec::new(),
        }
    }

    /// 405 `E0000022`.
    #[must_use]
    pub fn method_not_allowed() -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "E0000022",
            summary: "The endpoint does not support the provided HTTP method".into(),
            causes: Vec::new(),
        }
    }

    /// 429 `E0000047`.
    #[must_use]
    pub fn rate_limited() -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "E0000047",
            summary: "API call exceeded rate limit due to too many requests.".into(),
            causes: Vec::new(),
        }
    }

    /// A 5xx `E0000009` (500 unless another 5xx status is given).
    #[must_use]
    pub fn server_error(status: u16) -> ApiError {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(StatusCode::is_server_error)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code: "E0000009",
            summary: "Internal Server Error".into(),
            causes: Vec::new(),
        }
    }

    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.code.to_string(),
            error_summary: self.summary.clone(),
            error_link: self.code.to_string(),
            error_id: error_id(),
            error_causes: self
                .causes
                .iter()
                .map(|c| ErrorCause {
                    error_summary: c.clone(),
                })
                .collect(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
