//! The audit log's use cases (recording and listing administrative actions) and the
//! retention of personal data and audit entries (docs/privacy.md).

use serde_json::{Map, Value, json};

use crate::audit::{AuditAction, AuditEntry, AuditQuery};
use crate::client::Client;
use crate::error::CoreError;
use crate::ids::ClientId;
use crate::ports::ClientWrite;

use super::Engine;

/// What one run of [`Engine::enforce_retention`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Rows of the main database deleted or stripped of a number or an IP.
    pub personal_data_rows: u64,
    pub audit_entries: u64,
}

impl Engine {
    /// An audit entry for `action` by this engine's actor, now. For callers that record it
    /// inside their own store transaction (the guard's block and unblock); others use
    /// [`Engine::audit`]. Fails if `detail` holds a secret or a phone number.
    pub fn audit_entry(
        &self,
        action: AuditAction,
        client_id: Option<&ClientId>,
        detail: Value,
    ) -> Result<AuditEntry, CoreError> {
        AuditEntry::new(self.now(), self.actor.clone(), action, client_id.cloned(), detail)
            .map_err(|m| CoreError::invalid("audit_detail", m))
    }

    /// Records an administrative action that has no client write of its own (see
    /// [`Engine::audit_entry`] for the detail's rule).
    pub async fn audit(
        &self,
        action: AuditAction,
        client_id: Option<&ClientId>,
        detail: Value,
    ) -> Result<(), CoreError> {
        let entry = self.audit_entry(action, client_id, detail)?;
        Ok(self.store.insert_audit(&entry).await?)
    }

    /// Audit entries, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, CoreError> {
        Ok(self.store.list_audit(query).await?)
    }

    /// Writes a client's changed settings (`after`, read as `before`) with a
    /// `client.updated` entry naming what changed, in one transaction.
    /// Nothing is written (or recorded) when nothing changed.
    pub(crate) async fn write_settings(&self, before: &Client, after: &Client) -> Result<(), CoreError> {
        if settings_json(before) == settings_json(after) {
            return Ok(());
        }
        let entry = self.audit_entry(
            AuditAction::ClientUpdated,
            Some(&after.id),
            settings_change(before, after),
        )?;
        if self
            .store
            .audited_client_write(ClientWrite::Settings(after), &entry)
            .await?
            > 0
        {
            Ok(())
        } else {
            Err(CoreError::invalid("client_id", "no such client"))
        }
    }

    /// The scheduled erasure (the worker runs it with the purge): personal data of rows
    /// older than `personal_data_retention_s`, and audit entries older than
    /// `audit_retention_s`.
    pub async fn enforce_retention(
        &self,
        personal_data_retention_s: i64,
        audit_retention_s: i64,
    ) -> Result<RetentionReport, CoreError> {
        let now = self.now();
        Ok(RetentionReport {
            personal_data_rows: self
                .store
                .erase_personal_data(now.plus_secs(-personal_data_retention_s))
                .await?,
            audit_entries: self.store.purge_audit(now.plus_secs(-audit_retention_s)).await?,
        })
    }
}

/// The settings a client write may change, as JSON: the same fields
/// [`Store::update_client_settings`](crate::ports::Store::update_client_settings) writes.
/// A setting added to [`Client`]'s policy or controls is covered without a change here.
fn settings_json(c: &Client) -> Value {
    json!({
        "brand": c.brand,
        "brand_color": c.brand_color,
        "allowed_origins": c.allowed_origins,
        "templates": c.templates,
        "policy": c.policy,
        "controls": c.controls,
    })
}

/// `{"changed": ["controls.blocked_numbers", "policy.max_checks"], "sizes":
/// {"controls.blocked_numbers": 3}}`: the names of the settings that differ (one level
/// into objects) and, for lists, how long they are now. Never a value: lists hold phone
/// numbers and texts may.
pub(crate) fn settings_change(before: &Client, after: &Client) -> Value {
    let (b, a) = (settings_json(before), settings_json(after));
    let mut changed: Vec<String> = Vec::new();
    let mut sizes = Map::new();
    let empty = Map::new();
    let (bo, ao) = (b.as_object().unwrap_or(&empty), a.as_object().unwrap_or(&empty));
    for (key, av) in ao {
        let bv = bo.get(key).unwrap_or(&Value::Null);
        if av == bv {
            continue;
        }
        match (bv, av) {
            (Value::Object(bm), Value::Object(am)) => {
                let keys: std::collections::BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                for k in keys {
                    let (x, y) = (bm.get(k), am.get(k));
                    if x != y {
                        let name = format!("{key}.{k}");
                        if let Some(Value::Array(list)) = y {
                            sizes.insert(name.clone(), list.len().into());
                        }
                        changed.push(name);
                    }
                }
            }
            _ => {
                if let Value::Array(list) = av {
                    sizes.insert(key.clone(), list.len().into());
                }
                changed.push(key.clone());
            }
        }
    }
    changed.sort();
    json!({ "changed": changed, "sizes": sizes })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn a_settings_change_names_fields_and_sizes_never_values() {
        let before = Client::create("Acme", vec![], Timestamp(0)).client;
        let mut after = before.clone();
        after.brand = "Acme Two".into();
        after.brand_color = crate::client::BrandColor::parse("#0a7d5a").ok();
        after.controls.blocked_numbers.insert("+14155550123".into());
        after.controls.blocked_numbers.insert("+14155550124".into());
        after.policy.max_checks = Some(3);
        let d = settings_change(&before, &after);
        assert_eq!(
            d,
            json!({
                "changed": ["brand", "brand_color", "controls.blocked_numbers", "policy.max_checks"],
                "sizes": {"controls.blocked_numbers": 2},
            })
        );
        let text = d.to_string();
        assert!(
            !text.contains("+1415") && !text.contains("Acme") && !text.contains("0a7d5a"),
            "{text}"
        );
        assert_eq!(settings_change(&before, &before), json!({"changed": [], "sizes": {}}));
    }
}
