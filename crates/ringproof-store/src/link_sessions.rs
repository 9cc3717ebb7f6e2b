//! The row mapping of `link_sessions`, shared by both backends (see `codec` for the
//! conventions: timestamps as BIGINT milliseconds, hashes as bytes, anything that does not
//! decode reported as [`StoreError::Corrupt`]).

use std::net::IpAddr;

use ringproof_core::StoreError;
use ringproof_core::ids::LinkId;
use ringproof_core::link_session::LinkRecord;
use ringproof_core::link_session::{Click, LinkSession, PendingAuth, PhoneMatch};
use ringproof_core::lookup::LineKind;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::simswap::SimSwapResult;
use ringproof_core::time::Timestamp;

use crate::codec::{DbRow, client_id, col, hash32};
use crate::error::corrupt;

/// Columns of `link_sessions`, in the order the inserts bind them.
macro_rules! link_columns {
    () => {
        "request_id, session_id, client_id, to_e164, target_url, source_ip, token_hash, vfp_hash, carrier, \
         line_type, transaction_id, created_at, expires_at, clicked_at, click_ip, user_agent, phone_match, ip_match, \
         match_reason, auth_state_hash, auth_deadline, auth_sealed, sim_swap"
    };
}
pub(crate) use link_columns;

fn link_id(s: &str) -> Result<LinkId, StoreError> {
    LinkId::parse(s).ok_or_else(|| corrupt("malformed link id"))
}

fn ip(s: &str, name: &str) -> Result<IpAddr, StoreError> {
    s.parse()
        .map_err(|_| corrupt(format_args!("column {name} is not an IP address")))
}

pub(crate) fn link(row: &impl DbRow) -> Result<LinkRecord, StoreError> {
    let to: String = col(row, "to_e164")?;
    let source_ip: Option<String> = col(row, "source_ip")?;
    let vfp_hash: Option<Vec<u8>> = col(row, "vfp_hash")?;
    let line: String = col(row, "line_type")?;
    let clicked_at: Option<i64> = col(row, "clicked_at")?;
    let click = match clicked_at {
        None => None,
        Some(at) => {
            let click_ip: Option<String> = col(row, "click_ip")?;
            let phone_match: Option<String> = col(row, "phone_match")?;
            let ip_match: Option<bool> = col(row, "ip_match")?;
            let (Some(click_ip), Some(phone_match), Some(ip_match)) = (click_ip, phone_match, ip_match) else {
                return Err(corrupt("a clicked link session lacks click columns"));
            };
            Some(Click {
                at: Timestamp(at),
                ip: ip(&click_ip, "click_ip")?,
                user_agent: col::<Option<String>>(row, "user_agent")?.unwrap_or_default(),
                phone_match: PhoneMatch::parse(&phone_match).ok_or_else(|| corrupt("unknown phone_match"))?,
                ip_match,
                reason: col::<Option<String>>(row, "match_reason")?.unwrap_or_default(),
            })
        }
    };
    let auth_state: Option<Vec<u8>> = col(row, "auth_state_hash")?;
    let auth = match auth_state {
        None => None,
        Some(h) => Some(PendingAuth {
            state_hash: hash32(h, "auth_state_hash")?,
            deadline: Timestamp(
                col::<Option<i64>>(row, "auth_deadline")?
                    .ok_or_else(|| corrupt("a link in authentication lacks its deadline"))?,
            ),
            sealed: col(row, "auth_sealed")?,
        }),
    };
    Ok(LinkRecord {
        request_id: link_id(&col::<String>(row, "request_id")?)?,
        session_id: link_id(&col::<String>(row, "session_id")?)?,
        transaction_id: col(row, "transaction_id")?,
        session: LinkSession {
            client_id: client_id(&col::<String>(row, "client_id")?)?,
            to: PhoneNumber::parse_e164(&to).map_err(|_| corrupt("column to_e164 is not a valid E.164 number"))?,
            target_url: col(row, "target_url")?,
            source_ip: source_ip.as_deref().map(|s| ip(s, "source_ip")).transpose()?,
            token_hash: hash32(col(row, "token_hash")?, "token_hash")?,
            carrier: col(row, "carrier")?,
            line: LineKind::parse(&line).ok_or_else(|| corrupt("unknown line_type"))?,
            created_at: Timestamp(col(row, "created_at")?),
            expires_at: Timestamp(col(row, "expires_at")?),
            click,
            vfp_hash: vfp_hash.map(|h| hash32(h, "vfp_hash")).transpose()?,
            auth,
            sim_swap: col::<Option<String>>(row, "sim_swap")?
                .map(|s| SimSwapResult::parse(&s).ok_or_else(|| corrupt("unknown sim_swap")))
                .transpose()?,
        },
    })
}

/// The click columns of a session as plain values, for the write-back of a click.
pub(crate) struct ClickCols {
    pub clicked_at: Option<i64>,
    pub click_ip: Option<String>,
    pub user_agent: Option<String>,
    pub phone_match: Option<&'static str>,
    pub ip_match: Option<bool>,
    pub vfp_hash: Option<Vec<u8>>,
    pub match_reason: Option<String>,
    pub auth_state_hash: Option<Vec<u8>>,
    pub auth_deadline: Option<i64>,
    pub auth_sealed: Option<Vec<u8>>,
}

impl ClickCols {
    pub(crate) fn of(s: &LinkSession) -> Self {
        let c = s.click.as_ref();
        Self {
            clicked_at: c.map(|c| c.at.millis()),
            click_ip: c.map(|c| c.ip.to_string()),
            user_agent: c.map(|c| c.user_agent.clone()),
            phone_match: c.map(|c| c.phone_match.as_str()),
            ip_match: c.map(|c| c.ip_match),
            vfp_hash: s.vfp_hash.map(|h| h.to_vec()),
            match_reason: c.map(|c| c.reason.clone()),
            auth_state_hash: s.auth.as_ref().map(|a| a.state_hash.to_vec()),
            auth_deadline: s.auth.as_ref().map(|a| a.deadline.millis()),
            auth_sealed: s.auth.as_ref().and_then(|a| a.sealed.clone()),
        }
    }
}
