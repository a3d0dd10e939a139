//! The web console at `/ui/`: static assets compiled into the binary (`host/console/`), served
//! without credentials because they hold none. The console is a client of the REST API like
//! any other: it sends the user's credentials with each API call and reads `/metrics`.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

/// Each asset: its name under `/ui/`, its media type and its bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/form.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/dom.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../console/favicon.svg"),
    ),
];

/// Scripts, styles and requests only from the worker itself; no framing, no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The console's routes: `/ui` redirects to `/ui/`, which serves the page.
pub(super) fn router() -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| asset(Path("index.html".to_owned()))))
        .route("/ui/{file}", get(asset))
}

/// One asset, or 404.
async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, media_type, body)) = ASSETS.iter().find(|(name, ..)| *name == file) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("The console has no file {file}."),
        )
            .into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The assets change with the binary; revalidating is cheap on loopback and never stale.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_page_imports_is_served() {
        let served = |name: &str| ASSETS.iter().any(|(asset, ..)| *asset == name);
        for (_, _, body) in ASSETS {
            for part in body.split(['"', '\'']) {
                if let Some(name) = part.strip_prefix("./").or(part.strip_prefix("/ui/"))
                    && (name.ends_with(".js") || name.ends_with(".css") || name.ends_with(".svg"))
                {
                    assert!(served(name), "{name} is referenced but not served");
                }
            }
        }
    }
}
