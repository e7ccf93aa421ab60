//! Reading columns back, from a driver row or from a packed page.
//!
//! Large reads (an incident's 100,000 credentials, hits and usage rows) ask the database to
//! pack each page of rows into one JSON text, `[[col, col, …], …]`: the driver then hands over
//! one value per page instead of one row at a time, which on SQLite means one hand-off between
//! its worker thread and ours per page rather than per row (measured: about 16 µs a row
//! through the driver, about 2 µs packed). Both sources answer the same [`Columns`]
//! questions, so every table has one decoder whichever way its rows arrive.

use jiff::Timestamp;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Row};

use crate::error::query;
use crate::{Backend, StoreError};

/// Rows per packed page: large enough that the per-page cost vanishes, small enough that a
/// page (a few MB of JSON) keeps memory flat.
pub(crate) const PAGE_ROWS: i64 = 5_000;

/// Named columns of one row.
pub(crate) trait Columns {
    /// A text column, `None` when NULL.
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError>;
    /// An integer column, `None` when NULL.
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, StoreError>;
}

impl Columns for AnyRow {
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(query("read a row"))
    }

    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        self.try_get(column).map_err(query("read a row"))
    }
}

/// One row of a packed page: its values in the order of the column list that selected them.
#[derive(Debug)]
pub(crate) struct PackedRow<'a> {
    names: &'a [&'static str],
    values: Vec<Value>,
}

impl PackedRow<'_> {
    fn value(&self, column: &'static str) -> Result<&Value, StoreError> {
        self.names
            .iter()
            .position(|n| *n == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::Corrupt {
                what: column,
                value: String::new(),
                reason: "column missing from the packed row".into(),
            })
    }
}

fn wrong_type(column: &'static str, value: &Value, wanted: &str) -> StoreError {
    StoreError::Corrupt {
        what: column,
        value: value.to_string().chars().take(64).collect(),
        reason: format!("expected {wanted}"),
    }
}

impl Columns for PackedRow<'_> {
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(wrong_type(column, other, "text")),
        }
    }

    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(column, &Value::Number(n.clone()), "an integer")),
            Value::String(s) => s
                .parse()
                .map(Some)
                .map_err(|_| wrong_type(column, &Value::String(s.clone()), "an integer")),
            other => Err(wrong_type(column, other, "an integer")),
        }
    }
}

/// A query whose one row holds a page of rows packed as JSON. `columns` are select
/// expressions (`c.id`, `i.name AS identity_name`); a row's columns are then read by the name
/// after `AS`, or after the last dot. `rest` is the `FROM …` part with `?` placeholders,
/// including any `ORDER BY` and `LIMIT`; the rows come back sorted by the text column named
/// `order` (sorted here: an `ORDER BY` inside the aggregate costs SQLite a temporary B-tree
/// per page, and without one neither database promises an order).
#[derive(Debug)]
pub(crate) struct PackedQuery {
    sql: String,
    names: Vec<&'static str>,
    order: usize,
}

impl PackedQuery {
    pub(crate) fn new(
        backend: Backend,
        columns: &[&'static str],
        rest: &str,
        order: &'static str,
    ) -> PackedQuery {
        let (expressions, names): (Vec<&str>, Vec<&'static str>) = columns
            .iter()
            .map(|c| match c.rsplit_once(" AS ") {
                Some((expression, name)) => (expression, name.trim()),
                None => (*c, c.rsplit_once('.').map_or(*c, |(_, name)| name).trim()),
            })
            .unzip();
        let list = expressions.join(", ");
        // PostgreSQL builds a text array faster than a JSON array (2 µs a row against 5);
        // numbers then come back as text, which `opt_int` reads.
        let texts = expressions
            .iter()
            .map(|e| format!("({e})::text"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = match backend {
            Backend::Sqlite => format!(
                "SELECT '[' || COALESCE(group_concat(packed_row, ','), '') || ']' \
                 FROM (SELECT json_array({list}) AS packed_row {rest})"
            ),
            Backend::Postgres => format!(
                "SELECT COALESCE(array_to_json(array_agg(packed_row))::text, '[]') \
                 FROM (SELECT ARRAY[{texts}] AS packed_row {rest}) AS packed"
            ),
        };
        let sql = crate::hunts::placeholders(backend, &sql).into_owned();
        let order = names
            .iter()
            .position(|n| *n == order)
            .expect("a packed query's order column is one of its columns");
        PackedQuery { sql, names, order }
    }

    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }

    /// Reads every row of a keyset-paged query — one whose `rest` ends `… key > ? ORDER BY
    /// key LIMIT ?` — binding `values` first, then the last key seen and the page size, up to
    /// `limit` rows. `decode` gives each row's key with its value; `each` gets the values in
    /// key order. Memory stays at one page however many rows there are.
    pub(crate) async fn page_through<T>(
        &self,
        pool: &sqlx::AnyPool,
        values: &[String],
        limit: Option<u64>,
        what: &'static str,
        mut decode: impl FnMut(&PackedRow<'_>) -> Result<(String, T), StoreError>,
        mut each: impl FnMut(T),
    ) -> Result<u64, StoreError> {
        let mut after = String::new();
        let mut seen = 0u64;
        loop {
            let page = limit.map_or(PAGE_ROWS, |l| {
                i64::try_from(l - seen).unwrap_or(PAGE_ROWS).min(PAGE_ROWS)
            });
            if page == 0 {
                break;
            }
            let mut q = sqlx::query(self.sql());
            for v in values {
                q = q.bind(v.clone());
            }
            let rows = self
                .rows(pool, q.bind(after.clone()).bind(page), what)
                .await?;
            let n = rows.len();
            for row in &rows {
                let (key, value) = decode(row)?;
                after = key;
                each(value);
            }
            seen += n as u64;
            if (n as i64) < page {
                break;
            }
        }
        Ok(seen)
    }

    /// Runs the query (built on [`PackedQuery::sql`], with its values bound) and unpacks
    /// its rows.
    pub(crate) async fn rows<'q>(
        &'q self,
        pool: &sqlx::AnyPool,
        bound: sqlx::query::Query<'q, Any, AnyArguments<'q>>,
        what: &'static str,
    ) -> Result<Vec<PackedRow<'q>>, StoreError> {
        let row = bound.fetch_one(pool).await.map_err(query(what))?;
        let page: String = row.try_get(0).map_err(query(what))?;
        let mut rows: Vec<Vec<Value>> =
            serde_json::from_str(&page).map_err(|e| StoreError::Corrupt {
                what,
                value: page.chars().take(64).collect(),
                reason: e.to_string(),
            })?;
        rows.sort_by(|a, b| sort_key(a, self.order).cmp(&sort_key(b, self.order)));
        Ok(rows
            .into_iter()
            .map(|values| PackedRow {
                names: &self.names,
                values,
            })
            .collect())
    }
}

fn missing(column: &'static str) -> StoreError {
    StoreError::Corrupt {
        what: column,
        value: String::new(),
        reason: "missing".into(),
    }
}

fn sort_key(row: &[Value], order: usize) -> Option<&str> {
    row.get(order).and_then(Value::as_str)
}

/// Runs `jobs` two at a time and hands each result to `each` in order, as it comes: with two
/// cores, SQLite reads on two connections (each on its own thread) while the answer of the
/// last is decoded, and only two answers are held at once.
pub(crate) async fn two_at_a_time<T>(
    jobs: Vec<impl Future<Output = Result<T, StoreError>>>,
    mut each: impl FnMut(T),
) -> Result<(), StoreError> {
    use futures_util::StreamExt;
    let mut results = futures_util::stream::iter(jobs).buffered(2);
    while let Some(result) = results.next().await {
        each(result?);
    }
    Ok(())
}

pub(crate) fn text(row: &impl Columns, column: &'static str) -> Result<String, StoreError> {
    row.opt_text(column)?.ok_or_else(|| missing(column))
}

pub(crate) fn int(row: &impl Columns, column: &'static str) -> Result<i64, StoreError> {
    row.opt_int(column)?.ok_or_else(|| missing(column))
}

pub(crate) fn opt_text(
    row: &impl Columns,
    column: &'static str,
) -> Result<Option<String>, StoreError> {
    row.opt_text(column)
}

pub(crate) fn parsed<T>(row: &impl Columns, column: &'static str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let value = text(row, column)?;
    value.parse().map_err(|e: T::Err| StoreError::Corrupt {
        what: column,
        value,
        reason: e.to_string(),
    })
}

/// A JSON column (a list, a location, a plan), or a "corrupt" error naming the column and
/// showing the start of what is stored.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &impl Columns,
    column: &'static str,
) -> Result<T, StoreError> {
    let value = text(row, column)?;
    serde_json::from_str(&value).map_err(|e| StoreError::Corrupt {
        what: column,
        value: value.chars().take(64).collect(),
        reason: e.to_string(),
    })
}

/// A time column that must hold a time.
pub(crate) fn required_time(
    row: &impl Columns,
    column: &'static str,
) -> Result<Timestamp, StoreError> {
    opt_time(row, column)?.ok_or_else(|| missing(column))
}

pub(crate) fn opt_time(
    row: &impl Columns,
    column: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    opt_text(row, column)?
        .map(|value| {
            value.parse().map_err(|e: jiff::Error| StoreError::Corrupt {
                what: column,
                value,
                reason: e.to_string(),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_alias_or_the_last_dot() {
        let q = PackedQuery::new(
            Backend::Postgres,
            &["c.id", "i.name AS identity_name", "kind"],
            "FROM credentials c WHERE c.provider = ? LIMIT ?",
            "id",
        );
        assert_eq!(q.names, ["id", "identity_name", "kind"]);
        assert!(q.sql().contains("c.provider = $1 LIMIT $2"), "{}", q.sql());
        assert!(
            q.sql()
                .contains("ARRAY[(c.id)::text, (i.name)::text, (kind)::text]"),
            "aliases stay out of the packed list: {}",
            q.sql()
        );
    }

    #[test]
    fn packed_values_are_read_by_name_and_type_checked() {
        let names = ["id", "n", "gone"];
        let row = PackedRow {
            names: &names,
            values: vec![Value::from("c_1"), Value::from(7), Value::Null],
        };
        assert_eq!(text(&row, "id").unwrap(), "c_1");
        assert_eq!(row.opt_int("n").unwrap(), Some(7));
        assert_eq!(opt_text(&row, "gone").unwrap(), None);
        assert!(matches!(
            text(&row, "gone"),
            Err(StoreError::Corrupt { reason, .. }) if reason == "missing"
        ));
        assert!(text(&row, "n").is_err(), "a number is not text");
        let numbers_as_text = PackedRow {
            names: &names,
            values: vec![Value::from("c_1"), Value::from("42"), Value::from("x")],
        };
        assert_eq!(numbers_as_text.opt_int("n").unwrap(), Some(42));
        assert!(numbers_as_text.opt_int("gone").is_err(), "'x' is no number");
        assert!(text(&row, "absent").is_err());
    }
}
