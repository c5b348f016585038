//! HAL-style paging (seed 003): `page` (0-based), `size` (default 20, 1..=2000),
//! repeated `sort=field,asc|desc`; responses carry `_links` (self, first, last,
//! next, prev), `_embedded.<items>` and a `page` block. Order is always made
//! total with a final tie-break on the id.

use serde::Serialize;
use utoipa::ToSchema;

use super::{extract::Query, ApiContext, Error, Link, Result};

pub const DEFAULT_SIZE: u32 = 20;
pub const MAX_SIZE: u32 = 2000;
/// Highest page number.
pub const MAX_PAGE: u32 = 1_000_000_000;

/// A sortable field: its wire name and the SQL expression it orders by.
pub type SortField = (&'static str, &'static str);

/// What page the caller asked for.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub page: u32,
    pub size: u32,
    /// (wire name, SQL expression, ascending)
    pub sort: Vec<(&'static str, &'static str, bool)>,
}

impl PageRequest {
    /// Reads `page`, `size` and `sort` (against `allowed`; `default` when absent).
    pub fn from_query(q: &Query, allowed: &[SortField], default: (&'static str, bool)) -> Result<Self> {
        let page = q.parse::<u32>("page", "a page number (0 or more)")?.unwrap_or(0);
        if page > MAX_PAGE {
            return Err(Error::invalid_query("page", format!("must be at most {MAX_PAGE}")));
        }
        let size = q.parse::<u32>("size", "a page size (1 to 2000)")?.unwrap_or(DEFAULT_SIZE);
        if !(1..=MAX_SIZE).contains(&size) {
            return Err(Error::invalid_query("size", format!("must be between 1 and {MAX_SIZE}")));
        }
        let mut sort = Vec::new();
        for spec in q.all("sort") {
            let mut parts = spec.split(',').map(str::trim);
            let field = parts.next().unwrap_or("");
            let dir = parts.next();
            if parts.next().is_some() {
                return Err(Error::invalid_query("sort", "must be `field` or `field,asc|desc`"));
            }
            let Some(&(name, expr)) = allowed.iter().find(|(n, _)| *n == field) else {
                let names: Vec<_> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(Error::invalid_query("sort", format!("unknown sort field; one of {}", names.join(", "))));
            };
            let asc = match dir.map(|d| d.to_ascii_lowercase()) {
                None => true,
                Some(d) if d == "asc" => true,
                Some(d) if d == "desc" => false,
                Some(_) => return Err(Error::invalid_query("sort", "direction must be asc or desc")),
            };
            if sort.iter().any(|(n, _, _)| *n == name) {
                return Err(Error::invalid_query("sort", format!("`{name}` given twice")));
            }
            sort.push((name, expr, asc));
        }
        if sort.is_empty() {
            let (name, asc) = default;
            let expr = allowed.iter().find(|(n, _)| *n == name).map(|(_, e)| *e).unwrap_or("created_at");
            sort.push((name, expr, asc));
        }
        Ok(PageRequest { page, size, sort })
    }

    /// `ORDER BY ...` with the id tie-break, direction of the last sort key.
    pub fn order_by(&self, id_expr: &str) -> String {
        let mut parts: Vec<String> =
            self.sort.iter().map(|(_, e, asc)| format!("{e} {}", if *asc { "ASC NULLS FIRST" } else { "DESC NULLS LAST" })).collect();
        parts.push(format!("{id_expr} ASC"));
        format!(" ORDER BY {}", parts.join(", "))
    }

    pub fn limit(&self) -> i64 {
        self.size as i64
    }

    pub fn offset(&self) -> i64 {
        self.page as i64 * self.size as i64
    }

    fn query_string(&self, page: u64, filters: &[(&str, String)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters {
            s.append_pair(k, v);
        }
        s.append_pair("page", &page.to_string());
        s.append_pair("size", &self.size.to_string());
        for (n, _, asc) in &self.sort {
            s.append_pair("sort", &format!("{n},{}", if *asc { "asc" } else { "desc" }));
        }
        s.finish()
    }

    /// The `_links` and `page` blocks for `total` elements.
    pub fn envelope(&self, ctx: &ApiContext, path: &str, filters: &[(&str, String)], total: i64) -> (PageLinks, PageMeta) {
        let total = total.max(0) as u64;
        let size = self.size as u64;
        let total_pages = total.div_ceil(size);
        let page = self.page as u64;
        let link = |p: u64| Link::new(ctx, format!("{path}?{}", self.query_string(p, filters)));
        let links = PageLinks {
            self_: link(page),
            first: link(0),
            last: link(total_pages.saturating_sub(1)),
            next: (page + 1 < total_pages).then(|| link(page + 1)),
            prev: (page > 0).then(|| link((page - 1).min(total_pages.saturating_sub(1)))),
        };
        let meta = PageMeta { size, total_elements: total, total_pages, number: page };
        (links, meta)
    }
}

/// Paging links.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub first: Link,
    pub last: Link,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// The `page` block.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub size: u64,
    pub total_elements: u64,
    pub total_pages: u64,
    pub number: u64,
}
