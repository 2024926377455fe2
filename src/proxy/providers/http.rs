//! The HTTP client the adapters call providers with: HTTP/1 connections pooled per thread
//! (`pool.rs`), TLS by rustls with the webpki roots. A general-purpose client (URL parsing on
//! every request, a redirect layer, cookie and proxy hooks) was a tenth of the gateway's
//! instructions per request; this one takes a prepared URI and does only what a provider call
//! needs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;

use super::guard::GuardResolver;
use super::pool::{Connector, Guard, Host, Lease, Pool};
use crate::upstream_policy::UpstreamPolicy;

pub use super::http_error::HttpError;

#[derive(Clone)]
pub struct Http {
    pool: Pool,
}

impl Http {
    /// `pool_idle_timeout`: how long an unused connection is kept for reuse. Every host may
    /// be reached (tests, tools); the gateway uses [`Http::guarded`].
    pub fn new(pool_idle_timeout: Duration) -> Result<Self, HttpError> {
        Ok(Self {
            pool: Pool::new(
                connector(GuardResolver::default())?,
                None,
                pool_idle_timeout,
            ),
        })
    }

    /// A client that opens connections to any host but `trusted` (the operator's provider
    /// URLs) only to addresses `policy` allows.
    pub fn guarded(
        pool_idle_timeout: Duration,
        policy: Arc<UpstreamPolicy>,
        trusted: &[&str],
    ) -> Result<Self, HttpError> {
        let guard = Guard {
            trusted: trusted
                .iter()
                .filter_map(|u| u.parse::<Uri>().ok().as_ref().and_then(Host::of))
                .collect(),
            connector: connector(GuardResolver::checking(policy.clone()))?,
            policy,
        };
        Ok(Self {
            pool: Pool::new(
                connector(GuardResolver::default())?,
                Some(guard),
                pool_idle_timeout,
            ),
        })
    }
    pub fn post(&self, uri: Uri) -> Req<'_> {
        Req {
            http: self,
            uri,
            headers: HeaderMap::with_capacity(4),
            body: Bytes::new(),
            invalid: None,
        }
    }
}

fn connector(resolver: GuardResolver) -> Result<Connector, HttpError> {
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.set_nodelay(true);
    // `https_or_http`: providers are HTTPS; tests and local hosts are plain HTTP.
    http.enforce_http(false);
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| HttpError::from(format!("TLS configuration: {e}")))?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// A request being prepared; errors in its parts surface when it is sent. Headers go
/// straight into a map (`http::request::Builder` moves its whole state on every call).
pub struct Req<'a> {
    http: &'a Http,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// Why the request cannot be sent, found while it was prepared.
    invalid: Option<&'static str>,
}

impl Req<'_> {
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            // Names are the adapters' constants; a value is a provider key or version.
            _ => self.invalid = self.invalid.or(Some("a header value is not valid")),
        }
        self
    }

    /// The `Host` header, prepared once per URL (else the client formats it per request).
    pub fn host(mut self, host: Option<HeaderValue>) -> Self {
        if let Some(h) = host {
            self.headers.insert(http::header::HOST, h);
        }
        self
    }

    pub fn bearer_auth(self, token: &str) -> Self {
        // Built once per provider key: formatting and validating it was a per-request cost.
        static BUILT: std::sync::LazyLock<crate::proxy::FastMap<String, HeaderValue>> =
            std::sync::LazyLock::new(Default::default);
        let value = match BUILT.get(token) {
            Some(v) => Ok(v.clone()),
            None => HeaderValue::from_str(&format!("Bearer {token}")).map(|mut v| {
                v.set_sensitive(true);
                // Bounded: keys come from configuration and projects' provider keys.
                if BUILT.len() >= 10_000 {
                    BUILT.clear();
                }
                BUILT.insert(token.to_string(), v.clone());
                v
            }),
        };
        match value {
            Ok(v) => self.header(AUTHORIZATION, v),
            Err(_) => Self {
                invalid: Some("the provider key is not a valid header value"),
                ..self
            },
        }
    }

    pub fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Self {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.header(CONTENT_TYPE, "application/json")
            .body(Bytes::from(bytes))
    }

    pub fn body(mut self, body: Bytes) -> Self {
        self.body = body;
        self
    }

    pub async fn send(self) -> Result<Resp, HttpError> {
        if let Some(why) = self.invalid {
            return Err(HttpError::from(format!("invalid request: {why}")));
        }
        let mut headers = self.headers;
        if !headers.contains_key(http::header::HOST) {
            match host_header(&self.uri) {
                Some(h) => headers.insert(http::header::HOST, h),
                None => return Err(HttpError::new("invalid request: the URL has no host")),
            };
        }
        let mut request = http::Request::new(Full::new(self.body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = headers;
        let (response, lease) = self.http.pool.send(request).await?;
        Ok(Resp { response, lease })
    }
}

/// An answer; its connection returns to the pool once the body is read or dropped.
pub struct Resp {
    response: http::Response<Incoming>,
    lease: Lease,
}

/// What the client would put in `Host` for `uri`: its host, with the port when it is not the
/// scheme's default.
pub fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    match uri.port_u16() {
        Some(port) if Some(port) != default => HeaderValue::from_str(&format!("{host}:{port}")),
        _ => HeaderValue::from_str(host),
    }
    .ok()
}

impl Resp {
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    pub async fn bytes(self) -> Result<Bytes, HttpError> {
        let Self { response, lease } = self;
        let body = response.into_body().collect().await;
        drop(lease);
        body.map(|c| c.to_bytes())
            .map_err(|e| HttpError::from_chain(&e))
    }

    pub async fn text(self) -> Result<String, HttpError> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, HttpError>> + Send {
        use futures::StreamExt;
        let Self { response, lease } = self;
        BodyDataStream::new(response.into_body()).map(move |r| {
            // The stream holds the connection until it is dropped.
            let _held = &lease;
            r.map_err(|e| HttpError::from_chain(&e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_names_the_port_only_when_it_is_not_the_default() {
        let host =
            |u: &str| host_header(&u.parse().unwrap()).map(|h| h.to_str().unwrap().to_string());
        assert_eq!(
            host("http://127.0.0.1:8080/v1").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host("https://api.openai.com/v1").as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(
            host("https://example.com:443/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host("http://example.com:80/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host("https://example.com:80/x").as_deref(),
            Some("example.com:80")
        );
        assert_eq!(host("http://[::1]:9/x").as_deref(), Some("[::1]:9"));
        assert_eq!(host("/no/host"), None);
    }

    /// HTTPS goes through TLS (here: a server that is not speaking it), HTTP does not.
    #[tokio::test]
    async fn https_uses_tls_and_failures_are_errors_not_panics() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                // A TLS ClientHello starts with a handshake record (0x16).
                let tls = n > 0 && buf[0] == 0x16;
                let answer = if tls {
                    "not tls".to_string()
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_string()
                };
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        let http = Http::new(Duration::from_secs(5)).expect("client");
        let plain = http
            .post(format!("http://127.0.0.1:{port}/x").parse().unwrap())
            .send()
            .await
            .expect("plain HTTP answer");
        assert_eq!(plain.bytes().await.unwrap(), "ok");
        let err = http
            .post(format!("https://127.0.0.1:{port}/x").parse().unwrap())
            .send()
            .await
            .err()
            .expect("a TLS failure");
        assert!(!err.to_string().is_empty());
        let bad = http.post(Uri::default()).send().await;
        assert!(bad.is_err(), "a URI without a host is an error");
        let uri: Uri = format!("http://127.0.0.1:{port}/x").parse().unwrap();
        let err = http
            .post(uri)
            .bearer_auth("key\nwith a newline")
            .send()
            .await;
        let err = err.err().expect("an unusable key is an error").to_string();
        assert!(err.contains("not a valid header value"), "{err}");
        let uri: Uri = format!("http://127.0.0.1:{port}/x").parse().unwrap();
        let err = http.post(uri).header("x-api-key", "key\nwith a newline");
        let err = err.send().await.err().expect("an unusable key is an error");
        assert!(
            err.to_string().contains("header value is not valid"),
            "{err}"
        );
    }
}
