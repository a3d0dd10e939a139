//! The audit log: one JSON line per control-plane request (every `POST`, `PUT`, `PATCH` and
//! `DELETE` but config validation) with its time, principal, tenant, action (the method and
//! route), target (the path as requested) and outcome (the status code), appended to
//! `audit.log.file`. Bodies are never recorded, so no config value, password or token is.

use std::{
    io::Write as _,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use serde_json::json;

use super::Caller;
use crate::tenancy::Principal;

/// Where audit events go; opened at the first event.
pub(super) struct AuditLog {
    path: Option<PathBuf>,
    file: Mutex<Option<std::fs::File>>,
}

impl AuditLog {
    pub(super) fn new(path: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            path,
            file: Mutex::new(None),
        })
    }

    fn write(&self, line: &str) {
        let Some(path) = &self.path else {
            return;
        };
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if file.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(opened) => *file = Some(opened),
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "Cannot open the audit log (audit.log.file); this event is not recorded.");
                    return;
                }
            }
        }
        if let Some(open) = file.as_mut()
            && let Err(error) = open.write_all(format!("{line}\n").as_bytes())
        {
            tracing::error!(path = %path.display(), %error, "Cannot write the audit log (audit.log.file).");
            *file = None;
        }
    }
}

/// Notes which route answered a request on its response, for [`record`].
pub(super) async fn note_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Records the request once it was answered, if it asks for a change; also when it was refused
/// before reaching a handler (no or wrong credentials, a tenant at an operator's path).
pub(super) async fn record(
    State(log): State<Arc<AuditLog>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let target = request.uri().path().to_owned();
    let changes = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !changes || log.path.is_none() || target.ends_with("/config/validate") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let status = response.status();
    let (principal, tenant) = match response.extensions().get::<Caller>().map(|c| &c.0) {
        Some(Principal::Tenant(tenant)) => (tenant.to_string(), Some(tenant.to_string())),
        Some(Principal::Operator) => ("operator".to_owned(), None),
        None => ("anonymous".to_owned(), None),
    };
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or(target.as_str(), MatchedPath::as_str);
    let event = json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "principal": principal,
        "tenant": tenant,
        "action": format!("{method} {route}"),
        "target": target,
        "outcome": if status.is_success() { "success" } else { "failure" },
        "status": status.as_u16(),
    });
    log.write(&event.to_string());
    response
}
