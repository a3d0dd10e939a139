//! `/connectors/{name}/offsets` (KIP-875): reading a connector's offsets in any state, and
//! altering (`PATCH`) or resetting (`DELETE`) them while it is STOPPED, with Kafka Connect's
//! bodies (`ConnectorOffsets`, `{"message": ...}`) and messages.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{ApiError, connectors::timed, parse_body};
use crate::coordinator::Herder;

/// `GET /connectors/{name}/offsets`.
pub async fn get(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(timed(herder.offsets(&name)).await??))
}

/// `PATCH /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn alter(
    State(herder): State<Herder>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "Partitions / offsets need to be provided for an alter offsets request".into(),
        ));
    }
    let body = parse_body(&body)?;
    let message = timed(herder.alter_offsets(&name, &body)).await??;
    Ok(Json(json!({ "message": message })))
}

/// `DELETE /connectors/{name}/offsets`: 200 `{"message": ...}`.
pub async fn reset(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let message = timed(herder.reset_offsets(&name)).await??;
    Ok(Json(json!({ "message": message })))
}
