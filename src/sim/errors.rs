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
    /// A `WWW-Authenticate` challenge to send along (OAuth callers).
    pub www_authenticate: Option<String>,
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
            www_authenticate: None,
        }
    }

    /// 400 `E0000053`: a System Log `filter` the org cannot evaluate.
    #[must_use]
    pub fn invalid_filter(cause: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "E0000053",
            summary: "Invalid filter parameter".into(),
            causes: vec![cause.to_string()],
            www_authenticate: None,
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
            www_authenticate: None,
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
            www_authenticate: None,
        }
    }

    /// 403 `E0000006` for an OAuth token without `scope`, with Okta's
    /// `insufficient_scope` challenge.
    #[must_use]
    pub fn insufficient_scope(scope: &str, dpop: bool, path: &str) -> ApiError {
        let scheme = if dpop {
            "DPoP algs=\"ES256 RS256\","
        } else {
            "Bearer realm=\"IdP\","
        };
        ApiError {
            www_authenticate: Some(format!(
                "{scheme} error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", resource=\"{path}\""
            )),
            causes: vec![format!("The access token does not contain the required scope `{scope}`.")],
            ..ApiError::forbidden()
        }
    }

    /// 401 `E0000011` with an OAuth challenge (and, for `use_dpop_nonce`, the nonce).
    #[must_use]
    pub fn oauth_unauthorized(challenge: String) -> ApiError {
        ApiError {
            www_authenticate: Some(challenge),
            ..ApiError::invalid_token()
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
            www_authenticate: None,
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
            www_authenticate: None,
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
            www_authenticate: None,
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
            www_authenticate: None,
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
        let mut resp = (self.status, Json(self.body())).into_response();
        if let Some(challenge) = &self.www_authenticate {
            if let Ok(v) = axum::http::HeaderValue::from_str(challenge) {
                resp.headers_mut()
                    .insert(axum::http::header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}
