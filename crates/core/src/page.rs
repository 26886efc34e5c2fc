//! Cursor pagination.

use uuid::Uuid;

use crate::{Error, Result};

/// A request for one page of a list ordered by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Items per page, 1 to [`PageRequest::MAX_LIMIT`].
    pub limit: u32,
    /// Return items after this id.
    pub after: Option<Uuid>,
}

impl PageRequest {
    /// Default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 200;

    /// Validates `limit` and decodes `cursor` (the wire form is the last
    /// id of the previous page, as a UUID string).
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(Error::invalid("invalid_limit", format!("limit must be between 1 and {}", Self::MAX_LIMIT)));
        }
        // Only the hyphenated form this server writes (the documented `uuid`).
        let after = match cursor {
            None => None,
            Some(c) => Some(
                Some(c)
                    .filter(|c| c.len() == 36)
                    .and_then(|c| Uuid::parse_str(c).ok())
                    .ok_or_else(|| Error::invalid("invalid_cursor", "cursor is not one this server gave out"))?,
            ),
        };
        Ok(Self { limit, after })
    }

    /// The first page of the default size.
    pub fn first() -> Self {
        Self { limit: Self::DEFAULT_LIMIT, after: None }
    }
}

/// Every item of a paged list, read page by page at the largest page size
/// (`fetch` answers one page; the pages' cursors lead on to the end). For
/// lists a caller needs whole and knows to be bounded: an album's photos,
/// an album's orders.
pub async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = fetch(PageRequest::new(Some(PageRequest::MAX_LIMIT), cursor.as_deref())?).await?;
        items.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(items);
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page, if there may be one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only
    /// says that another page exists.
    pub fn from_rows(mut rows: Vec<T>, req: PageRequest, id_of: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() > req.limit as usize;
        rows.truncate(req.limit as usize);
        let next_cursor = if more { rows.last().map(|r| id_of(r).to_string()) } else { None };
        Page { items: rows, next_cursor }
    }

    /// Maps the items.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}
