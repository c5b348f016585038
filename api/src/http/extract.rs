//! Request extractors that never fail with anything but an [`Error`]: JSON bodies
//! (content type, size limit, syntax, and the path of the offending field), path
//! ids, and query strings with repeated parameters (`sort=a,asc&sort=b,desc`).

use std::str::FromStr;

use axum::{
    body::Bytes,
    extract::{
        rejection::{PathRejection, QueryRejection},
        FromRequest, FromRequestParts, Request,
    },
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{
    error::{Error, Location, Result},
    ApiContext,
};

/// A JSON body, parsed into `T`, with the raw bytes kept (for idempotency hashes).
pub struct Json<T> {
    pub value: T,
    pub raw: Bytes,
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Reads the body bytes, mapping the size limit to 413.
pub async fn body_bytes(req: Request, ctx: &ApiContext) -> Result<Bytes> {
    Bytes::from_request(req, ctx).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge(ctx.config().max_body_bytes)
        } else {
            Error::Invalid { field: "body".into(), location: Location::Body, reason: rejection.body_text() }
        }
    })
}

/// Deserializes a JSON object body: syntax errors → `malformed_json` (with line and
/// column); anything but an object, wrong types, missing or unknown fields →
/// `invalid_request` naming the field by its path (`externalIban.accountNumber`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let m = e.to_string();
        Error::MalformedJson {
            reason: m.find(" at line ").map(|i| m[..i].to_owned()).unwrap_or(m),
            line: e.line(),
            column: e.column(),
        }
    })?;
    if !value.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // "missing field `x`" is reported at the parent's path; name the field itself
        let missing = msg.strip_prefix("missing field `").and_then(|r| r.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(n), ".") => n.to_owned(),
            (Some(n), p) => format!("{p}.{n}"),
            (None, ".") => "body".to_owned(),
            (None, p) => p.to_owned(),
        };
        Error::Invalid { field, location: Location::Body, reason: msg }
    })
}

impl<T: DeserializeOwned> FromRequest<ApiContext> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &ApiContext) -> Result<Self> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !is_json(ct) {
            return Err(Error::UnsupportedMediaType("application/json"));
        }
        let raw = body_bytes(req, state).await?;
        let value = parse_json(&raw)?;
        Ok(Json { value, raw })
    }
}

/// A raw body of any content type, with the size limit answered in the envelope
/// (413 `payload_too_large`, not axum's plain-text answer).
pub struct RawBody(pub Bytes);

impl FromRequest<ApiContext> for RawBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &ApiContext) -> Result<Self> {
        body_bytes(req, state).await.map(RawBody)
    }
}

/// A query string deserialized into `T`, refusals in the envelope (400 naming the query).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct TypedQuery<T>(pub T);

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        let reason = rejection.body_text();
        let reason = reason.strip_prefix("Failed to deserialize query string: ").unwrap_or(&reason).to_owned();
        // serde_urlencoded names the field in its message ("invalid digit found in string" has none)
        let field = ["status", "limit", "name"].into_iter().find(|f| reason.contains(&format!("`{f}`"))).unwrap_or("query");
        Error::Invalid { field: field.into(), location: Location::Query, reason }
    }
}

/// An optional integer field that also takes a JSON number with a zero fractional
/// part (`2.0`): JSON Schema calls it an integer, so the OpenAPI's `integer` does.
pub fn optional_integer<'de, D, T>(deserializer: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::Deserialize;
    let Some(n) = Option::<serde_json::Number>::deserialize(deserializer)? else { return Ok(None) };
    let whole = n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64).map(|f| f as u64));
    let out_of_range = || serde::de::Error::custom(format!("`{n}` is not an integer in range"));
    whole.ok_or_else(out_of_range).and_then(|w| T::try_from(w).map_err(|_| out_of_range())).map(Some)
}

/// A JSON number with a zero fractional part (`5.0`) as the integer it is; any
/// other value as given.
pub fn integral_number(value: serde_json::Value) -> serde_json::Value {
    match &value {
        serde_json::Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => serde_json::Value::from(f as i64),
            _ => value,
        },
        _ => value,
    }
}

/// Path parameters, with a bad value reported as 400 naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let (field, reason) = match &rejection {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                    (key.clone(), format!("`{value}` is not a valid {}", friendly(expected_type)))
                }
                ErrorKind::ParseErrorAtIndex { index, value, expected_type } => {
                    (format!("path[{index}]"), format!("`{value}` is not a valid {}", friendly(expected_type)))
                }
                _ => ("path".into(), e.body_text()),
            },
            other => ("path".into(), other.body_text()),
        };
        Error::Invalid { field, location: Location::Path, reason }
    }
}

fn friendly(t: &str) -> &str {
    if t.contains("Uuid") {
        "UUID"
    } else {
        t
    }
}

/// Path segments we take as strings and parse ourselves, naming the field.
pub fn path_uuid(field: &'static str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text)
        .map_err(|_| Error::Invalid { field: field.into(), location: Location::Path, reason: format!("`{}` is not a valid UUID", truncate(text)) })
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The query string as ordered (name, value) pairs; never rejects.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let q = parts.uri.query().unwrap_or("");
        Ok(Query(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl Query {
    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The single value of `name`; repeated → 400.
    pub fn one<'a>(&'a self, name: &str) -> Result<Option<&'a str>> {
        let mut it = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = it.next();
        if it.next().is_some() {
            return Err(Error::invalid_query(name, "given more than once"));
        }
        Ok(first)
    }

    /// `name` parsed as `T`.
    pub fn parse<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>> {
        match self.one(name)? {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Error::invalid_query(name, format!("`{}` is not {what}", truncate(v)))),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>> {
        self.parse::<Uuid>(name, "a valid UUID")
    }
}
