//! The language of what a phone receives (docs/locales.md): the request's `locale`, else
//! the number's country, else English; an unknown locale is a 400; a client's template
//! for the language comes before its template for every language.

use ringproof_core::i18n::Locale;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The newest message to `to` after running the due jobs: (channel, text).
async fn last_message(app: &TestApp, to: &str) -> (String, String) {
    app.drain().await;
    let m = app.messages(to).await.into_iter().next().unwrap();
    (
        m["channel"].as_str().unwrap().to_owned(),
        m["text"].as_str().unwrap().to_owned(),
    )
}

/// The code in an SMS: its run of digits.
/// The code in an SMS: its first run of digits, which must be a whole code (6 digits, the
/// default length), so a text without its code fails here.
fn code_of(text: &str) -> String {
    let from = text.find(|c: char| c.is_ascii_digit()).unwrap_or(text.len());
    let code: String = text[from..].chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "no 6-digit code in {text:?}");
    code
}

#[tokio::test]
async fn a_verifications_locale_picks_the_language_of_its_sms_and_calls() {
    let app = TestApp::spawn().await;
    let to = "+14155550123";
    let v = app.start(json!({"to": to, "locale": "es", "brand": "Acme"})).await;
    assert_eq!(v["locale"], "es");
    let (channel, sms) = last_message(&app, to).await;
    assert_eq!(channel, "sms");
    let code = code_of(&sms);
    assert_eq!(code.len(), 6, "{sms}");
    assert_eq!(sms, format!("Tu código de Acme es: {code}"));
    // The code it carries is the verification's.
    let r = app.check(v["id"].as_str().unwrap(), &code).await;
    let checked: Value = r.json().await.unwrap();
    assert_eq!(checked["status"], "approved", "{checked}");

    // The tag is kept as given; a call speaks the language, digit by digit, twice.
    let to = "+14155550124";
    let v = app
        .start(json!({"to": to, "locale": "pt-BR", "brand": "Acme", "channel": "voice", "code_length": 4}))
        .await;
    assert_eq!(v["locale"], "pt-BR");
    let (channel, call) = last_message(&app, to).await;
    assert_eq!(channel, "voice");
    let digits: Vec<char> = call.chars().filter(char::is_ascii_digit).collect();
    let said = digits[..4].iter().map(char::to_string).collect::<Vec<_>>().join(", ");
    assert_eq!(call, format!("Seu código Acme é {said}. Repetindo: {said}."));
}

#[tokio::test]
async fn without_a_locale_the_numbers_country_decides_else_english() {
    let app = TestApp::spawn().await;
    for (to, locale, prefix) in [
        ("+819012345678", "ja", "demoの認証コード："),
        ("+34612345678", "es", "Tu código de demo es: "),
        ("+4915112345678", "de", "Ihr Bestätigungscode für demo lautet: "),
        // India: English, as Twilio Verify chooses.
        ("+919812345678", "en", "Your demo verification code is: "),
        ("+14155550125", "en", "Your demo verification code is: "),
    ] {
        let v = app.start(json!({"to": to})).await;
        assert_eq!(v["locale"], locale, "{to}");
        let (_, sms) = last_message(&app, to).await;
        let code = code_of(&sms);
        assert_eq!(sms, format!("{prefix}{code}"), "{to}");
        assert_eq!(code.len(), 6, "{sms}");
    }
}

#[tokio::test]
async fn an_unknown_locale_is_a_400_naming_the_languages() {
    let app = TestApp::spawn().await;
    let to = "+14155550126";
    for locale in ["nl", "nl-NL", "klingon", "x", "en US"] {
        let r = app
            .post("/v1/verifications", &json!({"to": to, "locale": locale}))
            .await;
        assert_eq!(r.status(), 400, "{locale}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
        assert_eq!(body["error"]["field"], "locale", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("en, es, fr, de, pt, it, hi, ar, zh, ja, ru, id"),
            "{message}"
        );
    }
    app.drain().await;
    assert!(app.messages(to).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_clients_template_for_the_language_comes_first() {
    let app = TestApp::spawn().await;
    let id = app.demo_id();
    app.engine
        .set_sms_template(&id, Some(Locale::Es), Some("{brand}: {code} (es)"))
        .await
        .unwrap();
    let es = "+14155550127";
    app.start(json!({"to": es, "locale": "es-MX"})).await;
    let (_, sms) = last_message(&app, es).await;
    assert_eq!(sms, format!("demo: {} (es)", code_of(&sms)));
    let en = "+14155550128";
    app.start(json!({"to": en})).await;
    let (_, sms) = last_message(&app, en).await;
    assert_eq!(sms, format!("Your demo verification code is: {}", code_of(&sms)));

    // A template for every language serves those without their own.
    app.engine
        .set_sms_template(&id, None, Some("{code} is your {brand} code"))
        .await
        .unwrap();
    let fr = "+14155550129";
    app.start(json!({"to": fr, "locale": "fr"})).await;
    let (_, sms) = last_message(&app, fr).await;
    assert!(sms.ends_with(" is your demo code"), "{sms}");
    let es = "+14155550130";
    app.start(json!({"to": es, "locale": "es"})).await;
    let (_, sms) = last_message(&app, es).await;
    assert!(sms.ends_with(" (es)"), "{sms}");
}
