//! The dashboard's files, embedded in the binary and served under names that carry a hash of
//! their content, so a browser may keep each for a year and still never runs a stale one.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct File {
    name: &'static str,
    bytes: &'static [u8],
    mime: &'static str,
}

macro_rules! file {
    ($name:literal, $path:literal, $mime:expr) => {
        File {
            name: $name,
            bytes: include_bytes!($path),
            mime: $mime,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static FILES: &[File] = &[
    file!("app.css", "assets/app.css", CSS),
    file!("app.js", "assets/app.js", JS),
    file!("charts.js", "assets/charts.js", JS),
    file!("playground.js", "assets/playground.js", JS),
    file!("api-docs.js", "assets/api-docs.js", JS),
    file!("uPlot.js", "assets/vendor/uplot/uPlot.iife.min.js", JS),
    file!("uPlot.css", "assets/vendor/uplot/uPlot.min.css", CSS),
    file!(
        "swagger-ui.js",
        "assets/vendor/swagger-ui/swagger-ui-bundle.js",
        JS
    ),
    file!(
        "swagger-ui.css",
        "assets/vendor/swagger-ui/swagger-ui.css",
        CSS
    ),
];

/// name -> the name it is served under (`app.1a2b3c4d5e.css`), and back.
struct Names {
    hashed: HashMap<&'static str, String>,
    files: HashMap<String, &'static File>,
}

static NAMES: LazyLock<Names> = LazyLock::new(|| {
    let mut names = Names {
        hashed: HashMap::new(),
        files: HashMap::new(),
    };
    for f in FILES {
        let digest = Sha256::digest(f.bytes);
        let mut hash = String::new();
        crate::crypto::push_hex(&mut hash, &digest[..5]);
        let (stem, ext) = f.name.rsplit_once('.').unwrap_or((f.name, ""));
        let served = format!("{stem}.{hash}.{ext}");
        names.hashed.insert(f.name, format!("/assets/{served}"));
        names.files.insert(served, f);
    }
    names
});

/// The URL of an embedded file (`app.css` -> `/assets/app.<hash>.css`).
pub fn url(name: &str) -> String {
    NAMES.hashed.get(name).cloned().unwrap_or_default()
}

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(f) = NAMES.files.get(&file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut response = f.bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(f.mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_hashed_name_that_serves_it() {
        for f in FILES {
            let u = url(f.name);
            assert!(
                u.starts_with("/assets/") && u.len() > f.name.len() + 10,
                "{u}"
            );
            let served = u.trim_start_matches("/assets/");
            assert_eq!(NAMES.files[served].bytes, f.bytes);
            assert!(matches!(f.mime, JS | CSS), "{}", f.name);
        }
    }
}
