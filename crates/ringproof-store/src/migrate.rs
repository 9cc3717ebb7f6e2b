//! The schema migrations of both backends and the pieces of the runner they share.
//!
//! Migrations are plain SQL files compiled into the binary, so a server never depends on
//! files next to it at run time. The runner records applied versions in
//! `ringproof_migrations(version, applied_at)` and applies each missing file in one
//! transaction, so a failed migration leaves no half-built schema; its steps are written
//! once (`apply_migration` in `query.rs`), each backend only beginning the transaction its
//! own way (SQLite `BEGIN IMMEDIATE`, PostgreSQL under an advisory lock).

/// One migration: its version and its SQL.
pub(crate) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_session_purge.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/sqlite/0004_links.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/sqlite/0005_client_controls.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/sqlite/0006_webhooks.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/sqlite/0007_deliveries.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/sqlite/0008_guard_counters.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/sqlite/0010_fair_claims.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../migrations/sqlite/0011_auth_throttle.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/sqlite/0012_audit_retention.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/sqlite/0013_link_netauth.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/sqlite/0014_sim_swap.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/sqlite/0015_brand_color.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/sqlite/0016_access_keys_services.sql"),
    },
    Migration {
        version: 17,
        sql: include_str!("../migrations/sqlite/0017_vonage_applications.sql"),
    },
    Migration {
        version: 18,
        sql: include_str!("../migrations/sqlite/0018_verification_service.sql"),
    },
    Migration {
        version: 19,
        sql: include_str!("../migrations/sqlite/0019_service_rate_limits.sql"),
    },
    Migration {
        version: 20,
        sql: include_str!("../migrations/sqlite/0020_vonage_templates.sql"),
    },
    Migration {
        version: 22,
        sql: include_str!("../migrations/sqlite/0022_settings.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/postgres/0003_session_purge.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/postgres/0004_links.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/postgres/0005_client_controls.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/postgres/0006_webhooks.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/postgres/0007_deliveries.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/postgres/0008_guard_counters.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/postgres/0010_fair_claims.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../migrations/postgres/0011_auth_throttle.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/postgres/0012_audit_retention.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/postgres/0013_link_netauth.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/postgres/0014_sim_swap.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/postgres/0015_brand_color.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/postgres/0016_access_keys_services.sql"),
    },
    Migration {
        version: 17,
        sql: include_str!("../migrations/postgres/0017_vonage_applications.sql"),
    },
    Migration {
        version: 18,
        sql: include_str!("../migrations/postgres/0018_verification_service.sql"),
    },
    Migration {
        version: 19,
        sql: include_str!("../migrations/postgres/0019_service_rate_limits.sql"),
    },
    Migration {
        version: 20,
        sql: include_str!("../migrations/postgres/0020_vonage_templates.sql"),
    },
    Migration {
        version: 22,
        sql: include_str!("../migrations/postgres/0022_settings.sql"),
    },
];

/// The bookkeeping table; the same DDL works on both backends.
pub(crate) const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS ringproof_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

/// Splits a migration into statements at lines ending with `;`. Comment-only chunks are
/// dropped (some drivers reject an empty statement). The slices stay `'static`, so they are
/// passed to the driver as the literal SQL they are.
pub(crate) fn statements(sql: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for line in sql.split_inclusive('\n') {
        pos += line.len();
        if line.trim_end().ends_with(';') {
            push_statement(&mut out, &sql[start..pos]);
            start = pos;
        }
    }
    push_statement(&mut out, &sql[start..]);
    out
}

fn push_statement(out: &mut Vec<&'static str>, chunk: &'static str) {
    let has_code = chunk.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("--")
    });
    if has_code {
        out.push(chunk.trim());
    }
}

/// Wall-clock milliseconds, only for the `applied_at` bookkeeping column.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_line_end_semicolons_and_drops_comments() {
        let sql: &'static str =
            "-- head\nCREATE TABLE a (x TEXT DEFAULT ';');\n\n-- only a comment\nCREATE INDEX i ON a (x);\n-- tail\n";
        assert_eq!(
            statements(sql),
            vec![
                "-- head\nCREATE TABLE a (x TEXT DEFAULT ';');",
                "-- only a comment\nCREATE INDEX i ON a (x);"
            ]
        );
    }

    #[test]
    fn both_schemas_define_the_same_tables() {
        for set in [SQLITE, POSTGRES] {
            let stmts: Vec<_> = set.iter().flat_map(|m| statements(m.sql)).collect();
            let tables = stmts.iter().filter(|s| s.contains("CREATE TABLE")).count();
            assert_eq!(tables, 20);
            assert!(stmts.iter().all(|s| s.ends_with(';')));
        }
    }
}
