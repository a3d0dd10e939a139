//! `ApiError`: every failure of the REST API, rendered as Kafka Connect's `ErrorMessage` body
//! `{"error_code": <status>, "message": "..."}` with the same status codes Kafka Connect's
//! `ConnectExceptionMapper` gives.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::{config::ConfigError, coordinator::HerderError};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request (its body, a config in it) is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong credentials (with tenancy on); answered with `WWW-Authenticate`.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: e.g. `Topic tracking is disabled.`
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such connector, task or path.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: e.g. `Connector <name> already exists`.
    #[error("{0}")]
    Conflict(String),
    /// 415: a request body that is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: the worker could not complete the request (e.g. it timed out).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), message = %self, "REST request failed.");
        }
        let body = serde_json::json!({
            "error_code": status.as_u16(),
            "message": super::auth::for_caller(self.to_string()),
        });
        if status == StatusCode::UNAUTHORIZED {
            return (
                status,
                [(
                    axum::http::header::WWW_AUTHENTICATE,
                    r#"Basic realm="wasm-connect", Bearer realm="wasm-connect""#,
                )],
                Json(body),
            )
                .into_response();
        }
        (status, Json(body)).into_response()
    }
}

impl From<HerderError> for ApiError {
    fn from(error: HerderError) -> Self {
        match error {
            HerderError::AlreadyExists(_) | HerderError::Stale | HerderError::AtCapacity(_) => {
                Self::Conflict(error.to_string())
            }
            HerderError::Quota(_) => Self::Forbidden(error.to_string()),
            HerderError::NotFound(_) => Self::NotFound(error.to_string()),
            HerderError::Config(error) => error.into(),
            HerderError::Plugin(_) | HerderError::Invalid(_) | HerderError::Validation(_) => {
                Self::BadRequest(crate::error_chain(&error))
            }
            HerderError::NotStopped(name) => Self::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )),
            HerderError::BadOffsets(_) => Self::BadRequest(error.to_string()),
            HerderError::OffsetsFailed(_) | HerderError::Store(_) => {
                Self::Internal(crate::error_chain(&error))
            }
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> Self {
        Self::BadRequest(crate::error_chain(&error))
    }
}
