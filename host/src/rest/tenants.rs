//! `/admin/tenants` (beyond Kafka Connect, the operator's only): creating, reading, changing and
//! deleting tenants. A created tenant's bearer token is answered once and never again; no
//! response carries a password or a token's hash. And `/secrets`, a tenant's own secrets:
//! written and deleted, never read back.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{ApiError, Caller, parse_body};
use crate::{
    coordinator::Herder,
    tenancy::{TenantError, TenantSpec},
};

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> Self {
        match error {
            TenantError::Invalid(_) => Self::BadRequest(error.to_string()),
            TenantError::Exists(_) | TenantError::InUse { .. } => Self::Conflict(error.to_string()),
            TenantError::NotFound(_) | TenantError::SecretNotFound(_) => {
                Self::NotFound(error.to_string())
            }
            TenantError::TooMany(_) => Self::Forbidden(error.to_string()),
            TenantError::Store(_) => Self::Internal(crate::error_chain(&error)),
        }
    }
}

fn enabled(herder: &Herder) -> Result<(), ApiError> {
    if herder.tenants().enabled() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "tenancy is off on this worker; set tenancy.enabled=true and \
             tenancy.operator.password.hash to manage tenants"
                .into(),
        ))
    }
}

/// The tenant in a request body, its filesystem roots resolved and held to the worker's
/// policy (each must be a directory the worker would grant).
fn spec(herder: &Herder, body: &[u8]) -> Result<TenantSpec, ApiError> {
    let json = parse_body(body)?;
    let mut spec: TenantSpec = serde_json::from_value(json)
        .map_err(|error| ApiError::BadRequest(format!("Invalid tenant: {error}")))?;
    if let Some(filesystem) = &mut spec.filesystem {
        let worker = &herder.worker_config().fs;
        for root in &mut filesystem.roots {
            *root = worker
                .check("filesystem.roots", root)
                .map_err(ApiError::BadRequest)?;
        }
    }
    Ok(spec)
}

fn tenant_json(herder: &Herder, tenant: &crate::tenancy::Tenant) -> Value {
    tenant.public_json(&herder.tenant_usage(&tenant.name, None))
}

/// `GET /admin/tenants`: every tenant with its quotas, use and topics.
pub async fn list(State(herder): State<Herder>) -> Result<Json<Value>, ApiError> {
    enabled(&herder)?;
    let tenants = herder.tenants().list();
    Ok(Json(Value::Array(
        tenants.iter().map(|t| tenant_json(&herder, t)).collect(),
    )))
}

/// `POST /admin/tenants` with `{"name", "password"?, "quotas"?, "topics"?, "filesystem"?}`:
/// 201 with the
/// tenant and its bearer `token`, shown this once.
pub async fn create(State(herder): State<Herder>, body: Bytes) -> Result<Response, ApiError> {
    enabled(&herder)?;
    let (tenant, token) = herder.tenants().create(spec(&herder, &body)?).await?;
    let mut json = tenant_json(&herder, &tenant);
    json["token"] = Value::String(token);
    tracing::info!(tenant = %tenant.name, "Tenant created.");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/admin/tenants/{}", tenant.name))],
        Json(json),
    )
        .into_response())
}

/// `GET /admin/tenants/{tenant}`.
pub async fn get(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    enabled(&herder)?;
    let tenant = herder
        .tenants()
        .get(&name)
        .ok_or(TenantError::NotFound(name))?;
    Ok(Json(tenant_json(&herder, &tenant)))
}

/// `PUT /admin/tenants/{tenant}`: changes what the body sets (`password`, `quotas`, `topics`);
/// `"rotate_token": true` issues a new token, answered as `token`. Lowered quotas bind new
/// connectors, not running ones.
pub async fn update(
    State(herder): State<Herder>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    enabled(&herder)?;
    let (tenant, token) = herder
        .tenants()
        .update(&name, spec(&herder, &body)?)
        .await?;
    let mut json = tenant_json(&herder, &tenant);
    if let Some(token) = token {
        json["token"] = Value::String(token);
    }
    tracing::info!(tenant = %tenant.name, "Tenant changed.");
    Ok(Json(json))
}

/// `DELETE /admin/tenants/{tenant}`: 204, its secrets and uploaded plugins gone with it; 409
/// while it owns connectors.
pub async fn delete(
    State(herder): State<Herder>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    enabled(&herder)?;
    herder.delete_tenant(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling tenant, for its secrets: 400 with tenancy off, 403 for the operator.
fn secret_owner(herder: &Herder, caller: &Caller) -> Result<String, ApiError> {
    enabled(herder)?;
    caller.tenant().map(str::to_owned).ok_or_else(|| {
        ApiError::Forbidden(
            "secrets belong to tenants: a tenant writes its own under /secrets".into(),
        )
    })
}

/// `GET /secrets` (a tenant's): the names of its secrets, never a value.
pub async fn list_secrets(
    State(herder): State<Herder>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let tenant = secret_owner(&herder, &caller)?;
    Ok(Json(serde_json::json!(
        herder.tenants().secret_names(&tenant)
    )))
}

/// `PUT /secrets/{name}` with `{"value": "..."}`: 204; the value is sealed at rest and never
/// answered. A connector of the tenant refers to it as `${secret:name}`.
pub async fn put_secret(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let tenant = secret_owner(&herder, &caller)?;
    let json = parse_body(&body)?;
    let value = json
        .get("value")
        .and_then(Value::as_str)
        .filter(|_| json.as_object().is_some_and(|o| o.len() == 1))
        .ok_or_else(|| {
            ApiError::BadRequest("A secret must be a JSON object {\"value\": \"...\"}".into())
        })?;
    herder.tenants().put_secret(&tenant, &name, value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /secrets/{name}`: 204; 404 if the tenant has no such secret. Connectors that refer
/// to it keep running with the value they started with, and fail to start again.
pub async fn delete_secret(
    State(herder): State<Herder>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = secret_owner(&herder, &caller)?;
    herder.tenants().delete_secret(&tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
