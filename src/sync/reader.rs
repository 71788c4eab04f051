//! Reading a source page by page: the items of each page (at `resultsPosition`) and the
//! request for the next page, by whatever paging the source uses. Reading stops at the real
//! end: no next link, the last page number, the total reached, or a short page.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use crate::call::{CallRequest, OnRateLimit};

/// How the source pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    None,
    /// `?page=N` (or another parameter name); the first request carries none.
    PageNumber {
        param: String,
    },
    /// `?offset=N&limit=M`.
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
    },
    /// A cursor from the body sent back as a parameter.
    Cursor {
        param: String,
        position: String,
    },
}

/// What a synchronization's `sourceConfig` says about reading.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub results_position: Option<String>,
    pub id_position: String,
    pub paging: Paging,
    pub max_pages: u32,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn pairs(config: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    config
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| text(v).map(|t| (k.clone(), t)))
                .collect()
        })
        .unwrap_or_default()
}

impl ReadConfig {
    /// Reads `sourceConfig` (already expanded from dot keys).
    pub fn from_source_config(config: &Map<String, Value>) -> Self {
        let get = |key: &str| config.get(key).and_then(text).filter(|s| !s.is_empty());
        let flag = |key: &str| config.get(key).and_then(crate::db::parse_bool);
        let results_position = get("resultsPosition");
        let single = results_position.as_deref() == Some("_object");
        let paging = if single || flag("usesPagination") == Some(false) {
            Paging::None
        } else {
            match get("paginationType").as_deref() {
                Some("offset") => Paging::Offset {
                    offset_param: get("offsetQuery").unwrap_or_else(|| "offset".into()),
                    limit_param: get("limitQuery").unwrap_or_else(|| "limit".into()),
                    limit: get("limit").and_then(|l| l.parse().ok()).unwrap_or(100),
                },
                Some("cursor") => Paging::Cursor {
                    param: get("cursorQuery").unwrap_or_else(|| "cursor".into()),
                    position: get("cursorPosition").unwrap_or_else(|| "next_cursor".into()),
                },
                _ => Paging::PageNumber {
                    param: get("paginationQuery").unwrap_or_else(|| "page".into()),
                },
            }
        };
        Self {
            endpoint: get("endpoint").unwrap_or_default(),
            headers: pairs(config, "headers"),
            query: pairs(config, "query"),
            results_position,
            id_position: get("idPosition").unwrap_or_else(|| "id".into()),
            paging,
            max_pages: get("maxPages")
                .and_then(|m| m.parse().ok())
                .unwrap_or(10_000),
        }
    }

    /// The request for the first page.
    pub fn first_request(&self, synchronization_id: i64) -> CallRequest {
        let mut request = CallRequest::new(Method::GET, self.endpoint.clone());
        request.headers.clone_from(&self.headers);
        request.query.clone_from(&self.query);
        request.on_rate_limit = OnRateLimit::Wait;
        request.synchronization_id = Some(synchronization_id);
        if let Paging::Offset {
            offset_param,
            limit_param,
            limit,
        } = &self.paging
        {
            set_param(&mut request.query, offset_param, "0");
            set_param(&mut request.query, limit_param, &limit.to_string());
        }
        request
    }
}

fn set_param(query: &mut Vec<(String, String)>, name: &str, value: &str) {
    query.retain(|(k, _)| k != name);
    query.push((name.to_owned(), value.to_owned()));
}

/// A value at a dot path.
pub fn at_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// How many objects the source says it has, from its first page: a `total`, else `pages` times
/// the first page's size (for the progress bar; paging never relies on it).
pub fn expected_total(body: &Value, first_page_size: usize) -> Option<u64> {
    let number = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| body.get(*k).and_then(Value::as_u64))
    };
    number(&["total", "count", "totalCount", "total_count"]).or_else(|| {
        number(&["pages", "totalPages", "total_pages", "last_page"])
            .map(|pages| pages * first_page_size as u64)
    })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error(
        "Cannot determine the position of objects in the return body; set sourceConfig.resultsPosition"
    )]
    NoResults,
    #[error("sourceConfig.resultsPosition {0:?} does not hold a list of objects")]
    NotAList(String),
}

/// The objects of one page, taken out of its body: the rest of the body (next link, totals)
/// stays for paging, and the objects are not copied.
pub fn take_items(
    body: &mut Value,
    results_position: Option<&str>,
) -> Result<Vec<Value>, ReadError> {
    let list = match results_position {
        Some("_root") => body.take(),
        Some("_object") => return Ok(vec![body.take()]),
        Some(path) => match at_path_mut(body, path) {
            Some(found) => found.take(),
            None => return Ok(Vec::new()),
        },
        None => match body {
            Value::Array(_) => body.take(),
            Value::Object(map) => ["results", "items", "result", "data", "_embedded"]
                .iter()
                .find_map(|key| map.get_mut(*key).filter(|v| v.is_array()).map(Value::take))
                .ok_or(ReadError::NoResults)?,
            _ => return Err(ReadError::NoResults),
        },
    };
    match list {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        _ => Err(ReadError::NotAList(
            results_position.unwrap_or_default().to_owned(),
        )),
    }
}

fn at_path_mut<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(map) => map.get_mut(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        })
}

/// Where reading stands after a page.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    /// The number of the page just read, from 1.
    pub page: u32,
    /// How many objects it held.
    pub count: usize,
    /// How many the first page held (a shorter page is the last).
    pub first_page_size: usize,
    /// How many objects all pages so far held.
    pub seen: usize,
}

impl Position {
    pub fn new(page: u32, count: usize, first_page_size: usize, seen: usize) -> Self {
        Self {
            page,
            count,
            first_page_size,
            seen,
        }
    }
}

/// Where the next page is, if there is one.
pub fn next_request(
    config: &ReadConfig,
    current: &CallRequest,
    body: &Value,
    headers: &HeaderMap,
    position: Position,
) -> Option<CallRequest> {
    let Position {
        page,
        count,
        first_page_size,
        seen,
    } = position;
    if count == 0 || page >= config.max_pages {
        return None;
    }
    // A link the source gives wins over counting.
    let link = at_path(body, "_links.next.href")
        .or_else(|| at_path(body, "links.next"))
        .or_else(|| body.get("next"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| link_header_next(headers));
    let mut next = current.clone();
    if let Some(link) = link.filter(|l| !l.is_empty()) {
        if link == current.endpoint {
            return None;
        }
        next.endpoint = link;
        next.query.clear();
        return Some(next);
    }
    if body.get("next").is_some_and(Value::is_null) {
        return None;
    }
    let total = ["total", "count", "totalCount", "total_count"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64));
    if total.is_some_and(|total| seen as u64 >= total) {
        return None;
    }
    match &config.paging {
        Paging::None => None,
        Paging::PageNumber { param } => {
            let pages = ["pages", "totalPages", "total_pages", "last_page"]
                .iter()
                .find_map(|k| body.get(*k).and_then(Value::as_u64));
            if pages.is_some_and(|pages| u64::from(page) >= pages) {
                return None;
            }
            if pages.is_none() && total.is_none() && count < first_page_size {
                return None;
            }
            set_param(&mut next.query, param, &(page + 1).to_string());
            Some(next)
        }
        Paging::Offset {
            offset_param,
            limit,
            ..
        } => {
            if total.is_none() && (count as u64) < *limit {
                return None;
            }
            set_param(&mut next.query, offset_param, &seen.to_string());
            Some(next)
        }
        Paging::Cursor { param, position } => {
            let cursor = at_path(body, position)
                .and_then(text)
                .filter(|c| !c.is_empty())?;
            set_param(&mut next.query, param, &cursor);
            Some(next)
        }
    }
}

/// The `rel="next"` target of a `Link` header.
fn link_header_next(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().trim_start_matches("rel=").trim_matches('"') == "next")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> ReadConfig {
        ReadConfig::from_source_config(value.as_object().expect("object"))
    }

    fn items(mut body: Value, position: Option<&str>) -> Result<Vec<Value>, ReadError> {
        take_items(&mut body, position)
    }

    #[test]
    fn taking_the_items_leaves_the_rest_of_the_page() {
        let mut body = json!({"results": [1], "next": "/objects?page=2", "total": 3});
        assert_eq!(take_items(&mut body, None), Ok(vec![json!(1)]));
        assert_eq!(body["next"], "/objects?page=2");
        assert_eq!(body["total"], 3);
    }

    #[test]
    fn items_come_from_the_position_or_a_known_key() {
        assert_eq!(
            items(json!({"results": [1, 2]}), None),
            Ok(vec![json!(1), json!(2)])
        );
        assert_eq!(
            items(json!({"data": {"list": [3]}}), Some("data.list")),
            Ok(vec![json!(3)])
        );
        assert_eq!(items(json!([4]), Some("_root")), Ok(vec![json!(4)]));
        assert_eq!(
            items(json!({"id": 5}), Some("_object")),
            Ok(vec![json!({"id": 5})])
        );
        assert_eq!(items(json!({"other": 1}), None), Err(ReadError::NoResults));
        assert_eq!(items(json!({"x": 1}), Some("missing")), Ok(Vec::new()));
    }

    #[test]
    fn page_numbers_stop_at_the_last_page_or_a_short_page() {
        let config = config(json!({"endpoint": "/items"}));
        let first = config.first_request(1);
        let headers = HeaderMap::new();
        let next = next_request(
            &config,
            &first,
            &json!({"results": []}),
            &headers,
            Position::new(1, 10, 10, 10),
        )
        .expect("next page");
        assert_eq!(next.query, vec![("page".to_owned(), "2".to_owned())]);
        assert!(
            next_request(
                &config,
                &next,
                &json!({"pages": 2}),
                &headers,
                Position::new(2, 10, 10, 20)
            )
            .is_none()
        );
        assert!(
            next_request(
                &config,
                &next,
                &json!({}),
                &headers,
                Position {
                    page: 2,
                    count: 3,
                    first_page_size: 10,
                    seen: 13
                }
            )
            .is_none(),
            "a short page is the last"
        );
        assert!(
            next_request(
                &config,
                &next,
                &json!({"total": 20}),
                &headers,
                Position::new(2, 10, 10, 20)
            )
            .is_none()
        );
    }

    #[test]
    fn links_in_the_body_or_headers_lead_the_way() {
        let config = config(json!({}));
        let first = config.first_request(1);
        let mut headers = HeaderMap::new();
        let hal = next_request(
            &config,
            &first,
            &json!({"_links": {"next": {"href": "http://h/items?p=2"}}}),
            &headers,
            Position::new(1, 5, 5, 5),
        );
        assert_eq!(
            hal.map(|r| r.endpoint),
            Some("http://h/items?p=2".to_owned())
        );
        assert!(
            next_request(
                &config,
                &first,
                &json!({"next": null}),
                &headers,
                Position::new(1, 5, 5, 5)
            )
            .is_none()
        );
        headers.insert(
            "link",
            "<http://h/items?page=3>; rel=\"next\", <http://h/items?page=9>; rel=\"last\""
                .parse()
                .expect("header"),
        );
        let linked = next_request(
            &config,
            &first,
            &json!({}),
            &headers,
            Position {
                page: 2,
                count: 5,
                first_page_size: 5,
                seen: 10,
            },
        );
        assert_eq!(
            linked.map(|r| r.endpoint),
            Some("http://h/items?page=3".to_owned())
        );
    }

    #[test]
    fn offsets_and_cursors_page_too() {
        let offsets = config(json!({"paginationType": "offset", "limit": 2}));
        let first = offsets.first_request(1);
        assert!(first.query.contains(&("limit".to_owned(), "2".to_owned())));
        let next = next_request(
            &offsets,
            &first,
            &json!({}),
            &HeaderMap::new(),
            Position {
                page: 1,
                count: 2,
                first_page_size: 2,
                seen: 2,
            },
        )
        .expect("next");
        assert!(next.query.contains(&("offset".to_owned(), "2".to_owned())));
        let cursors = config(
            json!({"paginationType": "cursor", "cursorQuery": "after", "cursorPosition": "meta.next"}),
        );
        let next = next_request(
            &cursors,
            &cursors.first_request(1),
            &json!({"meta": {"next": "abc"}}),
            &HeaderMap::new(),
            Position::new(1, 2, 2, 2),
        );
        assert!(next.is_some_and(|r| r.query.contains(&("after".to_owned(), "abc".to_owned()))));
    }
}
