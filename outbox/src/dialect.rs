//! [`Dialect`]: the two databases a store runs on, and the few places their SQL differs.

/// The database behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: a file (or memory) of one process.
    Sqlite,
    /// PostgreSQL: shared by every instance of a service.
    Postgres,
}

impl Dialect {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The column type of an auto-incrementing 64-bit primary key.
    pub fn serial_key(self) -> &'static str {
        match self {
            Self::Sqlite => "integer primary key autoincrement",
            Self::Postgres => "bigint generated always as identity primary key",
        }
    }

    /// The column type of bytes.
    pub fn bytes(self) -> &'static str {
        match self {
            Self::Sqlite => "blob",
            Self::Postgres => "bytea",
        }
    }

    /// `sql` with its dialect placeholders filled: `{serial_key}`, `{bytes}` and `{prefix}`.
    pub fn render(self, sql: &str, prefix: &str) -> String {
        sql.replace("{serial_key}", self.serial_key())
            .replace("{bytes}", self.bytes())
            .replace("{prefix}", prefix)
    }
}

/// `($1, $2, ...), (...)`: `rows` groups of `columns` numbered placeholders, for one
/// multi-row statement.
pub(crate) fn value_groups(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$1, $2, ...`: `n` numbered placeholders starting at `$first`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_groups_and_placeholders() {
        assert_eq!(value_groups(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(
            Dialect::Postgres.render("create table {prefix}_x (k {serial_key}, b {bytes})", "p"),
            "create table p_x (k bigint generated always as identity primary key, b bytea)"
        );
    }
}
