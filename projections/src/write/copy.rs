//! A batch of usage events on Postgres, written through the typed driver: the audit and
//! usage-log rows with binary `COPY`, which Postgres loads without parsing array literals or
//! running `unnest`, and which the gateway encodes without formatting numbers as text.

use sqlx::PgConnection;

use super::bulk::{Bulk, AUDIT_COLUMNS, SPEND_CONFLICT, USAGE_COLUMNS};
use super::pg_array::Val;
use super::pg_array::{storable, storable_owned};
use crate::Result;

/// The binary format's header: signature, flags, header-extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The trailer: a field count of -1.
const TRAILER: &[u8] = &[0xff, 0xff];

/// `rows` in `COPY … (FORMAT binary)` form. Every column is `bigint` (`Val::I`/`OI`) or
/// `text` (`Val::T`/`OT`), the types of the read-model tables written this way.
pub(crate) fn encode(rows: &[Vec<Val>]) -> Vec<u8> {
    let size: usize = rows
        .iter()
        .map(|r| 2 + r.iter().map(|v| 4 + len(v)).sum::<usize>())
        .sum();
    let mut out = Vec::with_capacity(HEADER.len() + size + TRAILER.len());
    out.extend_from_slice(HEADER);
    for row in rows {
        out.extend_from_slice(&(row.len() as i16).to_be_bytes());
        for v in row {
            match v {
                Val::I(n) | Val::OI(Some(n)) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                }
                Val::T(t) | Val::OT(Some(t)) => {
                    let t = storable(t);
                    // Read-model text is far below a field's 1 GiB limit.
                    out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    out.extend_from_slice(t.as_bytes());
                }
                Val::OI(None) | Val::OT(None) => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
    }
    out.extend_from_slice(TRAILER);
    out
}

fn len(v: &Val) -> usize {
    match v {
        Val::I(_) | Val::OI(Some(_)) => 8,
        Val::T(t) | Val::OT(Some(t)) => t.len(),
        Val::OI(None) | Val::OT(None) => 0,
    }
}

async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val>],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "COPY {table} ({}) FROM STDIN (FORMAT binary)",
        columns.join(", ")
    );
    let mut copy = conn.copy_in_raw(&sql).await?;
    copy.send(encode(rows)).await?;
    copy.finish().await?;
    Ok(())
}

impl Bulk {
    /// The batch's rows on Postgres's typed connection, in its transaction: what `flush`
    /// writes, with `COPY` for the two tables that get a row per event or record.
    pub(crate) async fn flush_copy(mut self, conn: &mut PgConnection) -> Result<()> {
        let hourly = self.take_hourly();
        if !hourly.is_empty() {
            let mut cols = (vec![], vec![], vec![], vec![], vec![]);
            for (scope, id, hour, n, cost) in hourly {
                cols.0.push(scope);
                cols.1.push(storable_owned(id));
                cols.2.push(hour);
                cols.3.push(n);
                cols.4.push(cost);
            }
            sqlx::query(concat!(
                "INSERT INTO rm_spend_hourly (scope, id, hour_start, requests, cost_nano_usd) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], \
                 $5::bigint[]) ",
                super::bulk::hourly_conflict!()
            ))
            .bind(cols.0)
            .bind(cols.1)
            .bind(cols.2)
            .bind(cols.3)
            .bind(cols.4)
            .execute(&mut *conn)
            .await?;
        }
        for (sql, keys, counts) in self.take_daily() {
            let mut q = sqlx::query(sql);
            for k in keys {
                q = q.bind(storable_owned(k));
            }
            for v in counts.values() {
                q = q.bind(v);
            }
            q.execute(&mut *conn).await?;
        }
        let (audit, usage, spend, credits) = self.into_parts();
        copy_in(conn, "rm_audit", AUDIT_COLUMNS, &audit).await?;
        copy_in(conn, "rm_usage_logs", USAGE_COLUMNS, &usage).await?;
        let (mut scopes, mut ids, mut requests, mut costs) = (vec![], vec![], vec![], vec![]);
        for (scope, id, (n, cost)) in spend {
            scopes.push(scope);
            ids.push(storable_owned(id));
            requests.push(n);
            costs.push(cost);
        }
        if !ids.is_empty() {
            // Arrays bound natively (binary), not as literals.
            sqlx::query(&format!(
                "INSERT INTO rm_spend (scope, id, requests, cost_nano_usd) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
                 {SPEND_CONFLICT}"
            ))
            .bind(scopes)
            .bind(ids)
            .bind(requests)
            .bind(costs)
            .execute(&mut *conn)
            .await?;
        }
        for (org, charged) in credits {
            sqlx::query(concat!(
                "UPDATE rm_organizations SET credits_nano_usd = ",
                super::clamped_sum!("credits_nano_usd - $1"),
                " WHERE id = $2"
            ))
            .bind(charged)
            .bind(storable_owned(org))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_framed_as_the_binary_format_defines() {
        let rows = vec![
            vec![Val::I(-2), Val::T("ab".into())],
            vec![Val::OI(None), Val::OT(None)],
        ];
        let mut want = HEADER.to_vec();
        want.extend([0, 2]);
        want.extend([0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        want.extend([0, 0, 0, 2, b'a', b'b']);
        want.extend([0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        want.extend(TRAILER);
        assert_eq!(encode(&rows), want);
        assert_eq!(HEADER.len(), 19);
    }

    #[test]
    fn nul_is_stored_as_the_replacement_character() {
        let out = encode(&[vec![Val::T("a\0b".into())]]);
        let field = &out[HEADER.len() + 2..out.len() - TRAILER.len()];
        assert_eq!(field, [&[0, 0, 0, 5][..], "a\u{fffd}b".as_bytes()].concat());
    }
}
