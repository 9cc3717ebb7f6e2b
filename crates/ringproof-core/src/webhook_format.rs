//! Webhook formats: a client's events in ringproof's own shape ([`crate::webhook`]), or in
//! the shape a vendor's receivers already parse, for integrators who came through that
//! vendor's face:
//!
//! - `twilio`: Twilio Event Streams' webhook sink, a JSON array of one CloudEvent per
//!   status change of the verification (`com.twilio.accountsecurity.verify.verification.
//!   pending|approved|canceled|expired|max-attempts-reached`, schema
//!   `AccountSecurity.VerifyEventStreamEvent/3`).
//! - `vonage`: Vonage Verify v2's callbacks, an `event` callback for the channel that
//!   ended the request and the final `summary` with every workflow entry.
//!
//! The translation is here, in core, and runs where the ringproof body is built: in the
//! transaction that records the event ([`announce`] from
//! [`crate::verification::Effects::record`]). A face only gives the verification the names
//! the vendor's body needs ([`FaceIds`], set at start). A verification without them (one
//! started on another face) is announced in ringproof's format even when the client chose a
//! vendor's: nothing is lost, and a receiver tells the two apart by the body's shape (a
//! ringproof body is an object whose `type` starts with `verification.`).
//!
//! No body carries the phone number or a code. Twilio's and Vonage's shapes have the
//! number in places (`to`); it is left out: the integrator has it, and ringproof keeps
//! numbers out of everything it sends to a URL.
//!
//! Each attempt is signed with the client's webhook secret: `Ringproof-Signature` always,
//! and in the vendor's way as far as ringproof can ([`vendor_signing`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::crypto::{base64url, hex, hmac_sha256, random_bytes, sha256};
use crate::event::{EventKind, NewEvent};
use crate::ids::JobId;
use crate::verification::{APPROVED_BY_CLIENT, Verification};
use crate::workflow::Channel;

/// How a client's webhooks are shaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// ringproof's own body, one per event (docs/webhooks.md).
    #[default]
    Ringproof,
    /// Twilio Event Streams' (CloudEvents), for verifications started on the Twilio face.
    Twilio,
    /// Vonage Verify v2's callbacks, for verifications started on the Vonage face.
    Vonage,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 3] = [Self::Ringproof, Self::Twilio, Self::Vonage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ringproof => "ringproof",
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn is_ringproof(&self) -> bool {
        *self == Self::Ringproof
    }

    /// The format the events of a verification with these names are announced in: this
    /// one when the verification has what it needs (the vendor's face started it), else
    /// ringproof's.
    pub fn for_face(self, face: Option<&FaceIds>, service: Option<&str>) -> Self {
        match (self, face) {
            (Self::Twilio, Some(FaceIds::Twilio { .. })) if service.is_some() => Self::Twilio,
            (Self::Vonage, Some(FaceIds::Vonage { .. })) => Self::Vonage,
            _ => Self::Ringproof,
        }
    }
}

/// The names a vendor's face gave a verification when it started, which that vendor's
/// webhook format carries. Set by the face, never changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "face", rename_all = "lowercase")]
pub enum FaceIds {
    /// Started in a Twilio service (whose SID is [`crate::verification::Options::service`]).
    Twilio {
        /// The Account SID the start was authenticated under.
        account_sid: String,
    },
    /// Started on the Vonage face.
    Vonage {
        /// The request's `client_ref`, echoed in every callback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_ref: Option<String>,
        /// The request's `channel_timeout` in seconds, which the summary reports.
        channel_timeout_s: u32,
    },
}

/// The bodies announcing `event` of `v` in `v`'s webhook format: none when the format has
/// nothing for this event (Twilio's stream has status changes only; Vonage calls back when
/// a request ends).
pub(crate) fn bodies(v: &Verification, event: &NewEvent, ids: &mut dyn FnMut() -> JobId) -> Vec<(JobId, Value)> {
    match v.options.webhook_format {
        WebhookFormat::Ringproof => Vec::new(),
        WebhookFormat::Twilio => {
            let id = ids();
            twilio(v, event, &id).map(|b| (id, b)).into_iter().collect()
        }
        WebhookFormat::Vonage => vonage(v, event).into_iter().map(|b| (ids(), b)).collect(),
    }
}

/// The schema Twilio's Verify status events name (`dataschema`).
pub const TWILIO_DATASCHEMA: &str = "https://events-schemas.twilio.com/AccountSecurity.VerifyEventStreamEvent/3";

/// Twilio's event type suffix and `verification_status` for an event, if it has one.
fn twilio_status(kind: EventKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        EventKind::Created => ("pending", "PENDING"),
        EventKind::Approved => ("approved", "APPROVED"),
        EventKind::Canceled => ("canceled", "CANCELED"),
        EventKind::Expired => ("expired", "EXPIRED"),
        EventKind::MaxAttemptsReached => ("max-attempts-reached", "MAX_ATTEMPTS_REACHED"),
        _ => return None,
    })
}

/// One Event Streams delivery: an array holding the event's CloudEvent.
fn twilio(v: &Verification, event: &NewEvent, id: &JobId) -> Option<Value> {
    let Some(FaceIds::Twilio { account_sid }) = &v.options.face else {
        return None;
    };
    let service = v.options.service.as_deref()?;
    let (suffix, status) = twilio_status(event.kind)?;
    // The checks made: every wrong one, and the right one (not an approval without a code).
    let right = event.kind == EventKind::Approved && event.detail.as_deref() != Some(APPROVED_BY_CLIENT);
    let mut data = json!({
        "account_sid": account_sid,
        "service_sid": service,
        "verification_sid": v.id.as_str(),
        "custom_friendly_name": v.brand,
        "created_at": v.created_at.to_rfc3339(),
        "verification_status": status,
        "country": v.to.region(),
        "code_length": v.code_length,
        "send_code_attempts": { "count": v.sends },
        "check_attempts": { "count": v.wrong_checks + u32::from(right) },
    });
    match event.kind {
        EventKind::Approved => data["verified_at"] = event.at.to_rfc3339().into(),
        EventKind::Expired => data["expired_at"] = event.at.to_rfc3339().into(),
        _ => {}
    }
    Some(json!([{
        "specversion": "1.0",
        "type": format!("com.twilio.accountsecurity.verify.verification.{suffix}"),
        "source": format!("/v2/Services/{service}/Verifications/{}", v.id),
        "id": id.as_str(),
        "dataschema": TWILIO_DATASCHEMA,
        "datacontenttype": "application/json",
        "time": event.at.to_rfc3339(),
        "data": data,
    }]))
}

/// Vonage's status of a request an event ends, if it ends it.
fn vonage_status(kind: EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Approved => "completed",
        EventKind::Expired => "expired",
        // Vonage has no status of its own for a canceled request, nor for one whose
        // channels all failed to deliver.
        EventKind::MaxAttemptsReached | EventKind::Canceled | EventKind::Failed => "failed",
        _ => return None,
    })
}

fn vonage_channel(c: Channel) -> &'static str {
    match c {
        Channel::Sms => "sms",
        Channel::Voice => "voice",
    }
}

/// One entry of a summary's `workflow`.
struct Entry {
    channel: &'static str,
    initiated_at: Option<crate::time::Timestamp>,
    status: &'static str,
}

/// The request's workflow entries as of its end with `status`: a silent step first (if
/// any), then each channel: those that ran before the last `expired`, the last one the
/// request's status, those never reached `unused`. A channel's `initiated_at` is when its
/// step was due (the last one's when it was sent: `next_workflow` may have run it early).
fn vonage_workflow(v: &Verification, status: &'static str) -> Vec<Entry> {
    let ran = usize::from(v.next_step);
    let mut out = Vec::new();
    if let Some(s) = &v.options.silent {
        let verified = s.result.as_deref() == Some("verified");
        out.push(Entry {
            channel: "silent_auth",
            initiated_at: Some(v.created_at),
            status: match (verified, ran) {
                (true, _) => status,
                (false, 0) => status,
                (false, _) => "failed",
            },
        });
    }
    for (i, step) in v.workflow.steps().iter().enumerate() {
        let entry = if i + 1 < ran {
            Entry {
                channel: vonage_channel(step.channel),
                initiated_at: Some(v.created_at.plus_secs(i64::from(step.after_s))),
                status: "expired",
            }
        } else if i + 1 == ran {
            Entry {
                channel: vonage_channel(step.channel),
                initiated_at: Some(v.last_sent_at),
                status,
            }
        } else {
            Entry {
                channel: vonage_channel(step.channel),
                initiated_at: None,
                status: "unused",
            }
        };
        out.push(entry);
    }
    out
}

/// Vonage's callbacks for an event that ends the request: the `event` callback of the
/// channel that was running, then the `summary`.
fn vonage(v: &Verification, event: &NewEvent) -> Vec<Value> {
    let Some(FaceIds::Vonage {
        client_ref,
        channel_timeout_s,
    }) = &v.options.face
    else {
        return Vec::new();
    };
    let Some(status) = vonage_status(event.kind) else {
        return Vec::new();
    };
    let workflow = vonage_workflow(v, status);
    let last = workflow
        .iter()
        .rev()
        .find(|e| e.status != "unused")
        .or(workflow.first());
    let mut callback = json!({
        "request_id": v.id.as_str(),
        "triggered_at": last.and_then(|e| e.initiated_at).unwrap_or(v.created_at).to_rfc3339(),
        "type": "event",
        "channel": last.map_or("sms", |e| e.channel),
        "status": status,
        "finalized_at": event.at.to_rfc3339(),
    });
    let mut summary = json!({
        "request_id": v.id.as_str(),
        "submitted_at": v.created_at.to_rfc3339(),
        "status": status,
        "type": "summary",
        "channel_timeout": channel_timeout_s,
        "workflow": workflow
            .iter()
            .map(|e| {
                let mut w = json!({ "channel": e.channel, "status": e.status });
                if let Some(t) = e.initiated_at {
                    w["initiated_at"] = t.to_rfc3339().into();
                }
                w
            })
            .collect::<Vec<_>>(),
    });
    if let Some(r) = client_ref {
        callback["client_ref"] = r.as_str().into();
        summary["client_ref"] = r.as_str().into();
    }
    vec![callback, summary]
}

/// Twilio's header with the signature of a request.
pub const TWILIO_SIGNATURE_HEADER: &str = "X-Twilio-Signature";
/// Twilio's header naming the shared key and algorithm of the signature, when it is not
/// the Auth Token's HMAC-SHA1.
pub const TWILIO_SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// How one attempt in a vendor's format is signed besides `Ringproof-Signature`: the URL
/// to POST to and the extra headers, under the client's webhook `secret` at Unix time `t`.
///
/// - `twilio`: Twilio's signature of a JSON-bodied request: `bodySHA256=<hex SHA-256 of
///   the body>` is added to the URL's query, and `X-Twilio-Signature` is the base64
///   HMAC of that whole URL. Twilio keys it with the account's Auth Token, which ringproof
///   only has hashed and so cannot sign with; it signs the way Twilio signs with a
///   *shared key* instead: HMAC-SHA256 under the webhook secret, named in
///   `X-Twilio-Webhooks-Signature-Settings: key=<fingerprint>,algorithm=HMAC_SHA256`.
///   Twilio's helper libraries check it given the webhook secret as the shared key secret.
/// - `vonage`: `Authorization: Bearer <JWT>`, HS256 under the webhook secret (Vonage uses
///   the account's signature secret) with Vonage's claims: `iat`, `jti`, `iss`, and
///   `payload_hash`, the hex SHA-256 of the body.
/// - `ringproof`: the URL as configured, nothing more.
pub fn vendor_signing(
    format: WebhookFormat,
    secret: &str,
    url: &str,
    body: &[u8],
    t: i64,
) -> (String, Vec<(&'static str, String)>) {
    match format {
        WebhookFormat::Ringproof => (url.to_owned(), Vec::new()),
        WebhookFormat::Twilio => {
            let sep = if url.contains('?') { '&' } else { '?' };
            let signed_url = format!("{url}{sep}bodySHA256={}", hex(&sha256(body)));
            let signature = base64_std(&hmac_sha256(secret.as_bytes(), &[signed_url.as_bytes()]));
            let settings = format!("key={},algorithm=HMAC_SHA256", key_fingerprint(secret));
            (
                signed_url,
                vec![
                    (TWILIO_SIGNATURE_HEADER, signature),
                    (TWILIO_SIGNATURE_SETTINGS_HEADER, settings),
                ],
            )
        }
        WebhookFormat::Vonage => {
            let claims = json!({
                "iat": t,
                "jti": hex(&random_bytes::<16>()),
                "iss": "Vonage",
                "payload_hash": hex(&sha256(body)),
            });
            (
                url.to_owned(),
                vec![("Authorization", format!("Bearer {}", hs256(secret, &claims)))],
            )
        }
    }
}

/// Which secret signed (for a receiver that keeps two during a rotation): the first 16 hex
/// digits of its SHA-256, which say nothing of a 192-bit secret.
pub fn key_fingerprint(secret: &str) -> String {
    hex(&sha256(secret.as_bytes()))[..16].to_owned()
}

/// A compact JWS (RFC 7515), HS256 under `secret` (its UTF-8 bytes).
fn hs256(secret: &str, claims: &Value) -> String {
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64url(claims.to_string().as_bytes());
    let input = format!("{header}.{payload}");
    let mac = hmac_sha256(secret.as_bytes(), &[input.as_bytes()]);
    format!("{input}.{}", base64url(&mac))
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Keys, unbase64url};
    use crate::ids::ClientId;
    use crate::phone::PhoneNumber;
    use crate::policy::Policy;
    use crate::time::Timestamp;
    use crate::verification::{Effects, Options, StartParams};
    use crate::workflow::{CodeMode, StepInput, Workflow};

    const T0: i64 = 1_767_225_600_000;

    fn start(options: Options, steps: &[StepInput]) -> (Verification, Effects, Keys) {
        let keys = Keys::derive(b"test server secret of 32 bytes!!");
        let policy = Policy::default();
        let (v, fx) = Verification::start(
            StartParams {
                client_id: ClientId::generate(),
                to: PhoneNumber::parse_e164("+447911123456").unwrap(),
                workflow: Workflow::build(steps, &policy).unwrap(),
                locale: "en".into(),
                brand: "Acme".into(),
                code_length: 6,
                policy,
                sms_template: None,
                options,
                sim_swap: None,
                now: Timestamp::from_millis(T0),
            },
            &keys,
            &crate::code::Code::from_digits("123456").unwrap(),
        );
        (v, fx, keys)
    }

    fn webhook_bodies(fx: &Effects) -> Vec<Value> {
        fx.jobs
            .iter()
            .filter(|j| j.kind == crate::job::JobKind::Webhook)
            .map(|j| serde_json::from_slice(&j.payload).unwrap_or_default())
            .collect()
    }

    fn twilio_options() -> Options {
        Options {
            notify: true,
            webhook_format: WebhookFormat::Twilio,
            service: Some("VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into()),
            face: Some(FaceIds::Twilio {
                account_sid: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            }),
            ..Options::default()
        }
    }

    fn sms() -> Vec<StepInput> {
        vec![StepInput {
            channel: Some(Channel::Sms),
            ..StepInput::default()
        }]
    }

    /// The field set of Twilio's documented example event, less `to` (no number is sent)
    /// and the service's `friendly_name` / `custom_code_enabled` (not the verification's).
    #[test]
    fn twilio_bodies_are_event_streams_cloudevents() {
        let (mut v, fx, keys) = start(twilio_options(), &sms());
        let created = webhook_bodies(&fx);
        assert_eq!(created.len(), 1, "only `pending`, not send_queued: {created:?}");
        let e = &created[0][0];
        assert_eq!(e["type"], "com.twilio.accountsecurity.verify.verification.pending");
        assert_eq!(e["data"]["verification_status"], "PENDING");

        let mut fx = Effects::default();
        let now = Timestamp::from_millis(T0 + 5_000);
        assert!(v.check("000000", &keys, now, &mut fx).is_ok());
        assert!(webhook_bodies(&fx).is_empty(), "a wrong code is no status change");
        let mut fx = Effects::default();
        assert!(v.check("123456", &keys, now, &mut fx).is_ok_and(|o| o.valid));
        let bodies = webhook_bodies(&fx);
        let Value::Array(events) = &bodies[0] else {
            panic!("an array of CloudEvents: {bodies:?}");
        };
        assert_eq!(events.len(), 1);
        let e = &events[0];
        let keys_of = |o: &Value| {
            o.as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut top = keys_of(e);
        top.sort();
        assert_eq!(
            top,
            [
                "data",
                "datacontenttype",
                "dataschema",
                "id",
                "source",
                "specversion",
                "time",
                "type"
            ]
        );
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["type"], "com.twilio.accountsecurity.verify.verification.approved");
        assert_eq!(e["id"], fx.jobs[0].id.as_str());
        assert_eq!(e["dataschema"], TWILIO_DATASCHEMA);
        assert_eq!(e["datacontenttype"], "application/json");
        assert_eq!(e["time"], now.to_rfc3339());
        assert_eq!(
            e["source"],
            format!("/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Verifications/{}", v.id)
        );
        let d = &e["data"];
        let mut fields = keys_of(d);
        fields.sort();
        assert_eq!(
            fields,
            [
                "account_sid",
                "check_attempts",
                "code_length",
                "country",
                "created_at",
                "custom_friendly_name",
                "send_code_attempts",
                "service_sid",
                "verification_sid",
                "verification_status",
                "verified_at"
            ]
        );
        assert_eq!(d["account_sid"], "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(d["verification_sid"], v.id.as_str());
        assert_eq!(d["verification_status"], "APPROVED");
        assert_eq!(d["country"], json!(v.to.region()));
        assert!(d["country"].is_string());
        assert_eq!(d["code_length"], 6);
        assert_eq!(d["send_code_attempts"]["count"], 1);
        assert_eq!(d["check_attempts"]["count"], 2);
        assert_eq!(d["verified_at"], now.to_rfc3339());
        let text = bodies[0].to_string();
        assert!(!text.contains("7911123456") && !text.contains("123456\""), "{text}");
    }

    #[test]
    fn twilio_type_names() {
        let names: Vec<_> = [
            EventKind::Created,
            EventKind::Approved,
            EventKind::Canceled,
            EventKind::Expired,
            EventKind::MaxAttemptsReached,
        ]
        .into_iter()
        .filter_map(twilio_status)
        .map(|(s, _)| s)
        .collect();
        assert_eq!(
            names,
            ["pending", "approved", "canceled", "expired", "max-attempts-reached"]
        );
        for k in [
            EventKind::SendQueued,
            EventKind::Sent,
            EventKind::CheckWrong,
            EventKind::Failed,
        ] {
            assert_eq!(twilio_status(k), None);
        }
    }

    #[test]
    fn without_the_face_names_the_format_falls_back_to_ringproof() {
        assert_eq!(WebhookFormat::Twilio.for_face(None, None), WebhookFormat::Ringproof);
        let tw = FaceIds::Twilio {
            account_sid: "AC".into(),
        };
        assert_eq!(
            WebhookFormat::Twilio.for_face(Some(&tw), None),
            WebhookFormat::Ringproof
        );
        assert_eq!(
            WebhookFormat::Twilio.for_face(Some(&tw), Some("VA")),
            WebhookFormat::Twilio
        );
        assert_eq!(
            WebhookFormat::Vonage.for_face(Some(&tw), Some("VA")),
            WebhookFormat::Ringproof
        );
        let vo = FaceIds::Vonage {
            client_ref: None,
            channel_timeout_s: 300,
        };
        assert_eq!(WebhookFormat::Vonage.for_face(Some(&vo), None), WebhookFormat::Vonage);
        assert_eq!(
            WebhookFormat::Ringproof.for_face(Some(&vo), None),
            WebhookFormat::Ringproof
        );
        for f in WebhookFormat::ALL {
            assert_eq!(WebhookFormat::parse(f.as_str()), Some(f));
        }
    }

    /// The field sets of Vonage's documented `event` and `summary` callbacks (less
    /// `price`: ringproof has no prices).
    #[test]
    fn vonage_callbacks_event_then_summary() {
        let steps = vec![
            StepInput {
                channel: Some(Channel::Sms),
                after_s: Some(0),
                code: Some(CodeMode::New),
                valid_for_s: Some(240),
            },
            StepInput {
                channel: Some(Channel::Voice),
                after_s: Some(120),
                code: Some(CodeMode::Same),
                valid_for_s: None,
            },
        ];
        let options = Options {
            notify: true,
            webhook_format: WebhookFormat::Vonage,
            face: Some(FaceIds::Vonage {
                client_ref: Some("my-personal-reference".into()),
                channel_timeout_s: 120,
            }),
            ..Options::default()
        };
        let (mut v, fx, keys) = start(options, &steps);
        assert!(webhook_bodies(&fx).is_empty(), "nothing until the request ends");
        let now = Timestamp::from_millis(T0 + 30_000);
        let mut fx = Effects::default();
        assert!(v.check("123456", &keys, now, &mut fx).is_ok_and(|o| o.valid));
        let bodies = webhook_bodies(&fx);
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        let (event, summary) = (&bodies[0], &bodies[1]);
        let keys_of = |o: &Value| {
            let mut k = o
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            k.sort();
            k
        };
        assert_eq!(
            keys_of(event),
            [
                "channel",
                "client_ref",
                "finalized_at",
                "request_id",
                "status",
                "triggered_at",
                "type"
            ]
        );
        assert_eq!(event["type"], "event");
        assert_eq!(event["request_id"], v.id.as_str());
        assert_eq!(event["channel"], "sms");
        assert_eq!(event["status"], "completed");
        assert_eq!(event["triggered_at"], Timestamp::from_millis(T0).to_rfc3339());
        assert_eq!(event["finalized_at"], now.to_rfc3339());
        assert_eq!(event["client_ref"], "my-personal-reference");
        assert_eq!(
            keys_of(summary),
            [
                "channel_timeout",
                "client_ref",
                "request_id",
                "status",
                "submitted_at",
                "type",
                "workflow"
            ]
        );
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["status"], "completed");
        assert_eq!(summary["channel_timeout"], 120);
        assert_eq!(summary["submitted_at"], Timestamp::from_millis(T0).to_rfc3339());
        assert_eq!(
            summary["workflow"],
            json!([
                {"channel": "sms", "initiated_at": Timestamp::from_millis(T0).to_rfc3339(), "status": "completed"},
                {"channel": "voice", "status": "unused"}
            ])
        );
        assert_ne!(fx.jobs[0].id, fx.jobs[1].id);
        let text = format!("{event}{summary}");
        assert!(!text.contains("7911123456"), "{text}");
    }

    #[test]
    fn vonage_status_names() {
        assert_eq!(vonage_status(EventKind::Approved), Some("completed"));
        assert_eq!(vonage_status(EventKind::Expired), Some("expired"));
        assert_eq!(vonage_status(EventKind::MaxAttemptsReached), Some("failed"));
        assert_eq!(vonage_status(EventKind::SendQueued), None);
    }

    /// Twilio's helper libraries compute the signature of a JSON request as the base64
    /// HMAC of the URL with `bodySHA256` (twilio-node `getExpectedTwilioSignature`); the
    /// API test checks it with the real library.
    #[test]
    fn twilio_signing() {
        let body = br#"[{"id":"JB1"}]"#;
        let (url, headers) = vendor_signing(WebhookFormat::Twilio, "whsec_k", "https://h/p?x=1", body, 1);
        let hash = hex(&sha256(body));
        assert_eq!(url, format!("https://h/p?x=1&bodySHA256={hash}"));
        assert_eq!(headers[0].0, "X-Twilio-Signature");
        assert_eq!(headers[0].1, base64_std(&hmac_sha256(b"whsec_k", &[url.as_bytes()])));
        assert_eq!(
            headers[1],
            (
                "X-Twilio-Webhooks-Signature-Settings",
                format!("key={},algorithm=HMAC_SHA256", key_fingerprint("whsec_k"))
            )
        );
        let (url, _) = vendor_signing(WebhookFormat::Twilio, "whsec_k", "https://h/p", body, 1);
        assert!(url.starts_with("https://h/p?bodySHA256="));
        assert_eq!(
            vendor_signing(WebhookFormat::Ringproof, "whsec_k", "https://h/p", body, 1),
            ("https://h/p".to_owned(), vec![])
        );
    }

    #[test]
    fn vonage_signing_is_an_hs256_jwt_with_the_payload_hash() {
        let body = br#"{"request_id":"VE1"}"#;
        let (url, headers) = vendor_signing(WebhookFormat::Vonage, "whsec_k", "https://h/p", body, 1_767_225_600);
        assert_eq!(url, "https://h/p");
        let (name, value) = &headers[0];
        assert_eq!(*name, "Authorization");
        let jwt = value.strip_prefix("Bearer ").unwrap_or_default();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&unbase64url(parts[0]).unwrap_or_default()).unwrap_or_default();
        assert_eq!(header["alg"], "HS256");
        let claims: Value = serde_json::from_slice(&unbase64url(parts[1]).unwrap_or_default()).unwrap_or_default();
        assert_eq!(claims["iat"], 1_767_225_600);
        assert_eq!(claims["iss"], "Vonage");
        assert_eq!(claims["payload_hash"], hex(&sha256(body)));
        assert_eq!(claims["jti"].as_str().map(str::len), Some(32));
        let mac = hmac_sha256(b"whsec_k", &[format!("{}.{}", parts[0], parts[1]).as_bytes()]);
        assert_eq!(unbase64url(parts[2]), Some(mac.to_vec()));
    }
}
