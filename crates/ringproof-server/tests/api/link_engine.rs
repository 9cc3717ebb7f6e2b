//! Instant links at the engine level, over the real SQLite store, sandbox provider and
//! sandbox number lookup of a running server (the HTTP face comes on top of these).

use ringproof_core::crypto::sha256;
use ringproof_core::engine::link::{LinkError, NewLinkRequest};
use ringproof_core::link_session::{ClickError, LinkOutcome, PhoneMatch, TargetUrlError};
use ringproof_core::lookup::LineKind;
use ringproof_core::phone::PhoneNumber;

use crate::helpers::TestApp;

const MOBILE: &str = "+14155550100";
const TARGET: &str = "http://localhost:8080/done?x=1";

fn req(to: &str, target: &str) -> NewLinkRequest {
    NewLinkRequest {
        to: PhoneNumber::parse_e164(to).unwrap(),
        target_url: target.into(),
        source_ip: Some("203.0.113.7".parse().unwrap()),
        custom_sms: None,
        locale: None,
    }
}

/// The token of the newest link SMS to `to`.
async fn token_in_sms(app: &TestApp, to: &str) -> (String, String) {
    app.drain().await;
    let text = app.messages(to).await[0]["text"].as_str().unwrap().to_owned();
    let token = text.split("/l/").nth(1).expect("a link in the SMS").to_owned();
    (text, token)
}

#[tokio::test]
async fn a_link_is_sent_clicked_once_and_redirects_with_a_vfp() {
    let app = TestApp::spawn().await;
    let c = app.demo().await;
    let started = app.engine.start_link(&c, req(MOBILE, TARGET)).await.unwrap();
    assert_eq!(started.request_id.as_str().len(), 24);
    assert_ne!(started.request_id, started.session_id);

    let (text, token) = token_in_sms(&app, MOBILE).await;
    assert_eq!(
        text,
        format!(
            "Your identity verification journey has started, please click on the following link to verify \
             possession of the device {}/l/{token}",
            app.base
        ),
        "the link points at the bound address when public_base_url is unset"
    );
    let stored = app
        .engine
        .store()
        .link_by_token_hash(&sha256(token.as_bytes()))
        .await
        .unwrap()
        .expect("the SMS token is the stored one");
    assert_eq!(stored.request_id, started.request_id);
    assert_eq!(stored.transaction_id.len(), 11);

    let view = app
        .engine
        .link_result(&c.id, &started.request_id, &started.session_id)
        .await
        .unwrap();
    assert_eq!(view.outcome, LinkOutcome::Waiting);
    assert_eq!(
        (view.record.session.carrier.as_str(), view.record.session.line),
        ("Sandbox Mobile", LineKind::Mobile)
    );

    app.clock.advance_secs(30);
    let ip = "::ffff:203.0.113.7".parse().unwrap();
    let to = crate::helpers::click(&app.engine, &token, ip, "Mozilla/5.0")
        .await
        .unwrap();
    let vfp = to
        .strip_prefix("http://localhost:8080/done?x=1&vfp=")
        .expect("the target keeps its query")
        .to_owned();
    assert_eq!(
        crate::helpers::click(&app.engine, &token, ip, "Mozilla/5.0").await,
        Err(LinkError::Click(ClickError::AlreadyUsed))
    );

    let final_outcome = LinkOutcome::Final {
        link_clicked: true,
        phone_match: PhoneMatch::Indeterminate,
        ip_match: true,
    };
    let view = app
        .engine
        .link_result(&c.id, &started.request_id, &started.session_id)
        .await
        .unwrap();
    assert_eq!(view.outcome, final_outcome);

    // The VFP gives the same result, to its client only, until the link expires.
    let by_vfp = app.engine.link_result_by_vfp(&c.id, &vfp).await.unwrap();
    assert_eq!(by_vfp, view);
    let other = app
        .engine
        .create_client("other", vec!["http://localhost:8080".into()])
        .await
        .unwrap()
        .client;
    assert_eq!(
        app.engine.link_result_by_vfp(&other.id, &vfp).await,
        Err(LinkError::NotFound)
    );
    assert_eq!(
        app.engine
            .link_result(&other.id, &started.request_id, &started.session_id)
            .await,
        Err(LinkError::NotFound),
        "another client's ids are unknown ids"
    );
    assert_eq!(
        app.engine.link_result_by_vfp(&c.id, "not a vfp").await,
        Err(LinkError::NotFound)
    );
    app.clock.advance_secs(270);
    assert_eq!(
        app.engine.link_result_by_vfp(&c.id, &vfp).await,
        Err(LinkError::NotFound),
        "the VFP expires with the link"
    );
    // Polling still shows the final result after expiry.
    assert_eq!(
        app.engine
            .link_result(&c.id, &started.request_id, &started.session_id)
            .await
            .unwrap()
            .outcome,
        final_outcome
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unclicked_link_expires_by_the_clock() {
    let app = TestApp::spawn().await;
    let c = app.demo().await;
    let mut r = req(MOBILE, TARGET);
    r.source_ip = None;
    r.custom_sms = Some("Acme: tap {link} to continue".into());
    let started = app.engine.start_link(&c, r).await.unwrap();
    let (text, _) = token_in_sms(&app, MOBILE).await;
    assert!(text.starts_with(&format!("Acme: tap {}/l/", app.base)) && text.ends_with(" to continue"));
    let token = text.split("/l/").nth(1).unwrap().split(' ').next().unwrap().to_owned();

    app.clock.advance_secs(299);
    let view = app
        .engine
        .link_result(&c.id, &started.request_id, &started.session_id)
        .await
        .unwrap();
    assert_eq!(view.outcome, LinkOutcome::Waiting);
    app.clock.advance_secs(1);
    let view = app
        .engine
        .link_result(&c.id, &started.request_id, &started.session_id)
        .await
        .unwrap();
    assert_eq!(
        view.outcome,
        LinkOutcome::Final {
            link_clicked: false,
            phone_match: PhoneMatch::False,
            ip_match: false
        }
    );
    assert_eq!(
        crate::helpers::click(&app.engine, &token, "198.51.100.1".parse().unwrap(), "UA").await,
        Err(LinkError::Click(ClickError::Expired))
    );
    assert_eq!(
        crate::helpers::click(
            &app.engine,
            "AAAAAAAAAAAAAAAAAAAAAA",
            "198.51.100.1".parse().unwrap(),
            "UA"
        )
        .await,
        Err(LinkError::NotFound)
    );
    app.stop().await;
}

#[tokio::test]
async fn open_redirects_and_bad_texts_are_refused_before_anything_is_sent() {
    let app = TestApp::spawn().await;
    let c = app.demo().await;
    for (target, err) in [
        ("https://evil.example/", TargetUrlError::OriginNotAllowed),
        ("http://localhost:8080.evil.example/", TargetUrlError::OriginNotAllowed),
        ("http://localhost:8080@evil.example/", TargetUrlError::NotHttp),
        ("javascript:alert(1)", TargetUrlError::NotHttp),
        ("//localhost:8080/", TargetUrlError::NotHttp),
    ] {
        assert_eq!(
            app.engine.start_link(&c, req(MOBILE, target)).await,
            Err(LinkError::InvalidTarget(err)),
            "{target}"
        );
    }
    let mut r = req(MOBILE, TARGET);
    r.custom_sms = Some("  ".into());
    assert!(matches!(
        app.engine.start_link(&c, r).await,
        Err(LinkError::Core(ringproof_core::CoreError::InvalidParameter { .. }))
    ));
    app.drain().await;
    assert!(app.messages(MOBILE).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn each_lookup_answer_of_the_sandbox_table_is_its_own_outcome() {
    let app = TestApp::spawn().await;
    let c = app.demo().await;
    for (number, expected) in [
        ("+14155550101", LinkError::LineNotSupported(LineKind::Landline)),
        ("+14155550102", LinkError::LineNotSupported(LineKind::Voip)),
        ("+14155550111", LinkError::LineNotSupported(LineKind::TollFree)),
        ("+14155550103", LinkError::SubscriberSuspended),
        ("+14155550104", LinkError::SubscriberDeactivated),
        ("+14155550105", LinkError::SubscriberNotEligible),
        ("+14155550106", LinkError::CannotIdentifySubscriber),
        ("+14155550107", LinkError::NoCrmData),
        ("+14155550108", LinkError::CarrierMismatch),
        ("+14155550109", LinkError::NotValidNumber),
    ] {
        assert_eq!(
            app.engine.start_link(&c, req(number, TARGET)).await,
            Err(expected),
            "{number}"
        );
    }
    assert!(matches!(
        app.engine.start_link(&c, req("+14155550110", TARGET)).await,
        Err(LinkError::LookupUnreachable(_))
    ));
    // A number not in the table: the numbering plan, carrier unknown.
    let s = app.engine.start_link(&c, req("+14155550123", TARGET)).await.unwrap();
    let v = app
        .engine
        .link_result(&c.id, &s.request_id, &s.session_id)
        .await
        .unwrap();
    assert_eq!(
        (v.record.session.carrier.as_str(), v.record.session.line),
        ("unknown", LineKind::FixedLineOrMobile)
    );
    app.drain().await;
    assert_eq!(app.messages("+14155550103").await.len(), 0);
    assert_eq!(app.messages("+14155550123").await.len(), 1);
    app.stop().await;
}

/// A link started with a language gets that language's SMS, and the client's text for
/// that language before its text for every language; without one, English.
#[tokio::test]
async fn a_links_sms_is_in_its_language() {
    use ringproof_core::i18n::Locale;
    let app = TestApp::spawn().await;
    let c = app.demo().await;
    let mut r = req(MOBILE, TARGET);
    r.locale = Some(Locale::Fr);
    app.engine.start_link(&c, r).await.unwrap();
    let (text, token) = token_in_sms(&app, MOBILE).await;
    assert_eq!(
        text,
        format!(
            "Votre vérification d'identité a commencé. Ouvrez ce lien pour confirmer que vous avez cet \
             appareil : {}/l/{token}",
            app.base
        )
    );

    app.engine
        .set_link_template(&c.id, Some(Locale::Fr), Some("Acme : {link}"))
        .await
        .unwrap();
    app.engine
        .set_link_template(&c.id, None, Some("Acme: {link}"))
        .await
        .unwrap();
    let c = app.demo().await;
    for (locale, prefix) in [
        (Some(Locale::Fr), "Acme : "),
        (Some(Locale::De), "Acme: "),
        (None, "Acme: "),
    ] {
        let mut r = req(MOBILE, TARGET);
        r.locale = locale;
        app.engine.start_link(&c, r).await.unwrap();
        let (text, _) = token_in_sms(&app, MOBILE).await;
        assert!(
            text.starts_with(&format!("{prefix}{}/l/", app.base)),
            "{locale:?}: {text}"
        );
    }
}
