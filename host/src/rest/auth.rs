//! Who is calling (with `tenancy.enabled`): the credentials of every request but `/`, `/health`
//! and `/openapi.json` name the operator or a tenant ([`Caller`]); missing or wrong ones are a
//! 401 with `WWW-Authenticate`, and a tenant asking for a worker-wide operation (`/admin/*`,
//! `/topics`, `/metrics`) a 403. A tenant addresses its connectors by
//! its own names, which the worker keeps as `<tenant>/<name>`; [`Caller`] maps between the two,
//! so another tenant's connector is as absent as one that does not exist.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts},
    middleware::Next,
    response::{IntoResponse as _, Response},
};

use super::ApiError;
use crate::{
    config::Settings,
    coordinator::Herder,
    tenancy::{self, AuthError, Principal},
};

tokio::task_local! {
    /// The calling tenant while its request is handled, so error messages show its own
    /// connector names.
    static TENANT: Option<Arc<str>>;
}

/// `message` as the calling tenant should read it: its connectors by their own names.
pub(super) fn for_caller(message: String) -> String {
    match TENANT.try_with(Clone::clone) {
        Ok(Some(tenant)) => message.replace(&format!("{tenant}{}", tenancy::SEPARATOR), ""),
        _ => message,
    }
}

/// Whether a request needs no credentials.
fn public(path: &str) -> bool {
    matches!(path, "/" | "/health" | "/openapi.json")
}

/// Whether only the operator may make a request.
fn operator_only(path: &str) -> bool {
    path.starts_with("/admin/")
        || path == "/topics"
        || path.starts_with("/topics/")
        || path == "/metrics"
}

/// Names the caller of every request (the operator for all when tenancy is off).
pub(super) async fn authenticate(
    State(herder): State<Herder>,
    mut request: Request,
    next: Next,
) -> Response {
    let tenants = herder.tenants();
    if !tenants.enabled() {
        request.extensions_mut().insert(Caller(Principal::Operator));
        let mut response = next.run(request).await;
        response
            .extensions_mut()
            .insert(Caller(Principal::Operator));
        return response;
    }
    let path = request.uri().path().to_owned();
    if public(&path) {
        return next.run(request).await;
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let principal = match tenants.authenticate(authorization) {
        Ok(principal) => principal,
        Err(error) => return ApiError::Unauthorized(error.to_string()).into_response(),
    };
    let tenant: Option<Arc<str>> = match &principal {
        Principal::Operator => None,
        Principal::Tenant(name) => Some(name.clone()),
    };
    let caller = Caller(principal);
    if tenant.is_some() && operator_only(&path) {
        let mut response = ApiError::Forbidden(format!(
            "{} {path} is the operator's; a tenant may not use it",
            request.method()
        ))
        .into_response();
        response.extensions_mut().insert(caller);
        return response;
    }
    request.extensions_mut().insert(caller.clone());
    // On the response too, for the audit log.
    let mut response = TENANT.scope(tenant, next.run(request)).await;
    response.extensions_mut().insert(caller);
    response
}

/// The caller of a request, and the mapping between its connector names and the worker's.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized(AuthError::Missing.to_string()))
    }
}

impl Caller {
    pub fn tenant(&self) -> Option<&str> {
        self.0.tenant()
    }

    /// The worker's name of the caller's connector `name`.
    pub fn internal(&self, name: &str) -> String {
        match self.tenant() {
            None => name.to_owned(),
            Some(tenant) => tenancy::qualify(tenant, name),
        }
    }

    /// The caller's name of the worker's connector `name` (which it owns).
    pub fn external<'a>(&self, name: &'a str) -> &'a str {
        match self.tenant() {
            None => name,
            Some(tenant) => name
                .strip_prefix(tenant)
                .and_then(|rest| rest.strip_prefix(tenancy::SEPARATOR))
                .unwrap_or(name),
        }
    }

    /// Whether the caller may see the worker's connector `name`.
    pub fn owns(&self, name: &str) -> bool {
        match self.tenant() {
            None => true,
            Some(tenant) => tenancy::split(name).is_some_and(|(owner, _)| owner == tenant),
        }
    }

    /// A connector config as the caller wrote it: `name` its own.
    pub fn external_config(&self, config: &Settings) -> Settings {
        let mut config = config.clone();
        if let Some(name) = config.get("name").cloned() {
            config.insert("name".into(), self.external(&name).to_owned());
        }
        config
    }

    /// Checks a name the caller gives a new connector: a tenant's may not contain the
    /// separator.
    pub fn check_new_name(&self, name: &str) -> Result<(), ApiError> {
        if self.tenant().is_some() && name.contains(tenancy::SEPARATOR) {
            return Err(ApiError::BadRequest(format!(
                "Connector name `{name}` may not contain `{}`",
                tenancy::SEPARATOR
            )));
        }
        Ok(())
    }

    /// 403 unless the caller is the operator.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.0 {
            Principal::Operator => Ok(()),
            Principal::Tenant(_) => {
                Err(ApiError::Forbidden("only the operator may do this".into()))
            }
        }
    }
}
