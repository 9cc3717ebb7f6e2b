//! The words a phone receives, per language: the default SMS, the call's script and the
//! one-time link's SMS. [`crate::message`] fills them in; this is only the catalogue.
//!
//! Every text has the same placeholders, checked by this module's tests: an SMS carries
//! `{brand}` and `{code}` once each; a call script `{brand}` once and `{code}` twice (the
//! code is said, then said again after [`Texts::repeat`]); a link SMS `{link}` once. The
//! code is always ASCII digits, whatever the language: the person types them, and a
//! text-to-speech voice reads ASCII digits in its own language. In a call they are
//! separated by the language's list pause ([`Texts::digit_pause`]: `, `, `、`, `، `) so the
//! voice says them one by one.
//!
//! SMS lengths: with the longest brand and code a verification may have (40 characters, 10
//! digits), every SMS fits one segment in the encoding its language needs (160 GSM-7
//! septets, or 70 UCS-2 characters), which `ringproof-providers` tests against its GSM
//! 03.38 table (`tests/locales.rs`); docs/locales.md has the budget per language. That is
//! why the UCS-2 languages' SMS are terse.

use super::Locale;

/// One language's texts. See the module doc for their placeholders.
#[derive(Debug)]
pub struct Texts {
    /// The default verification SMS (a client's template replaces it).
    pub sms: &'static str,
    /// What a call says: the code, then [`Texts::repeat`] and the code again.
    pub voice: &'static str,
    /// The words that introduce the repetition in [`Texts::voice`] (`Again:`): where a
    /// provider may put a pause ([`crate::message::split_repetition`]).
    pub repeat: &'static str,
    /// What goes between two digits of a spoken code.
    pub digit_pause: &'static str,
    /// The default SMS of a one-time link.
    pub link_sms: &'static str,
    /// [`Texts::sms`] followed by a warning not to share the code (a Twilio-face service
    /// with `DoNotShareWarningEnabled`): the same placeholders. One GSM-7 segment, or two
    /// UCS-2 ones, with the longest brand and code (`ringproof-providers`'
    /// `tests/locales.rs`).
    pub sms_do_not_share: &'static str,
}

impl Locale {
    /// This language's texts.
    pub fn texts(self) -> &'static Texts {
        match self {
            Locale::En => &EN,
            Locale::Es => &ES,
            Locale::Fr => &FR,
            Locale::De => &DE,
            Locale::Pt => &PT,
            Locale::It => &IT,
            Locale::Hi => &HI,
            Locale::Ar => &AR,
            Locale::Zh => &ZH,
            Locale::Ja => &JA,
            Locale::Ru => &RU,
            Locale::Id => &ID,
        }
    }
}

// English is the texts ringproof always sent (the link SMS is Signzy's own wording).
const EN: Texts = Texts {
    sms: "Your {brand} verification code is: {code}",
    voice: "Your {brand} verification code is {code}. Again: {code}.",
    repeat: "Again:",
    digit_pause: ", ",
    link_sms: "Your identity verification journey has started, please click on the following link to \
               verify possession of the device {link}",
    sms_do_not_share: "Your {brand} verification code is: {code}. Don't share this code with anyone; \
                       our employees will never ask for the code.",
};

const ES: Texts = Texts {
    sms: "Tu código de {brand} es: {code}",
    voice: "Tu código de {brand} es {code}. Repito: {code}.",
    repeat: "Repito:",
    digit_pause: ", ",
    link_sms: "Tu verificación de identidad ha comenzado. Abre este enlace para confirmar que tienes \
               este dispositivo: {link}",
    sms_do_not_share: "Tu código de {brand} es: {code}. No lo compartas con nadie; nunca te lo pediremos.",
};

const FR: Texts = Texts {
    sms: "Votre code de vérification {brand} est : {code}",
    voice: "Votre code de vérification {brand} est {code}. Je répète : {code}.",
    repeat: "Je répète :",
    digit_pause: ", ",
    link_sms: "Votre vérification d'identité a commencé. Ouvrez ce lien pour confirmer que vous avez \
               cet appareil : {link}",
    sms_do_not_share: "Votre code de vérification {brand} est : {code}. Ne le communiquez à personne ; \
                       nous ne vous le demanderons jamais.",
};

const DE: Texts = Texts {
    sms: "Ihr Bestätigungscode für {brand} lautet: {code}",
    voice: "Ihr Bestätigungscode für {brand} lautet {code}. Noch einmal: {code}.",
    repeat: "Noch einmal:",
    digit_pause: ", ",
    link_sms: "Ihre Identitätsprüfung hat begonnen. Öffnen Sie diesen Link, um zu bestätigen, dass Sie \
               dieses Gerät besitzen: {link}",
    sms_do_not_share: "Ihr Bestätigungscode für {brand} lautet: {code}. Geben Sie ihn an niemanden \
                       weiter; wir fragen nie danach.",
};

const PT: Texts = Texts {
    sms: "Seu código {brand} é: {code}",
    voice: "Seu código {brand} é {code}. Repetindo: {code}.",
    repeat: "Repetindo:",
    digit_pause: ", ",
    link_sms: "Sua verificação de identidade começou. Abra este link para confirmar que você está com \
               este aparelho: {link}",
    sms_do_not_share: "Seu código {brand} é: {code}. Não o compartilhe com ninguém; nunca pediremos este código.",
};

const IT: Texts = Texts {
    sms: "Il tuo codice di verifica {brand} è: {code}",
    voice: "Il tuo codice di verifica {brand} è {code}. Ripeto: {code}.",
    repeat: "Ripeto:",
    digit_pause: ", ",
    link_sms: "La verifica della tua identità è iniziata. Apri questo link per confermare che hai \
               questo dispositivo: {link}",
    sms_do_not_share: "Il tuo codice di verifica {brand} è: {code}. Non condividerlo con nessuno; non \
                       te lo chiederemo mai.",
};

const HI: Texts = Texts {
    sms: "{brand} सत्यापन कोड: {code}",
    voice: "आपका {brand} सत्यापन कोड है {code}। फिर से: {code}।",
    repeat: "फिर से:",
    digit_pause: ", ",
    link_sms: "आपकी पहचान का सत्यापन शुरू हो गया है। यह डिवाइस आपके पास है, इसकी पुष्टि के लिए यह लिंक खोलें: {link}",
    sms_do_not_share: "{brand} सत्यापन कोड: {code}। इसे किसी से साझा न करें; हम यह कोड कभी नहीं मांगेंगे।",
};

const AR: Texts = Texts {
    sms: "رمز التحقق من {brand}: {code}",
    voice: "رمز التحقق من {brand} هو {code}. مرة أخرى: {code}.",
    repeat: "مرة أخرى:",
    digit_pause: "، ",
    link_sms: "بدأ التحقق من هويتك. افتح هذا الرابط لتأكيد أن هذا الجهاز بحوزتك: {link}",
    sms_do_not_share: "رمز التحقق من {brand}: {code}. لا تشاركه مع أحد؛ لن نطلبه منك أبدًا.",
};

// Chinese SMS carry the sender's name in 【】 first, as carriers there require.
const ZH: Texts = Texts {
    sms: "【{brand}】您的验证码是：{code}",
    voice: "您的{brand}验证码是{code}。再说一遍：{code}。",
    repeat: "再说一遍：",
    digit_pause: "、",
    link_sms: "您的身份验证已开始。请打开此链接，确认此设备在您手中：{link}",
    sms_do_not_share: "【{brand}】您的验证码是：{code}。请勿告诉他人，我们绝不会向您索要验证码。",
};

// The call is written in kana: every voice reads it, espeak-ng's (which reads no kanji) too.
const JA: Texts = Texts {
    sms: "{brand}の認証コード：{code}",
    voice: "{brand}の にんしょうコードを おしらせします。{code}。くりかえします。{code}。",
    repeat: "くりかえします。",
    digit_pause: "、",
    link_sms: "本人確認を開始しました。この端末をお持ちであることを確認するため、次のリンクを開いてください：{link}",
    sms_do_not_share: "{brand}の認証コード：{code}。このコードは誰にも教えないでください。当社からお尋ねすることはありません。",
};

const RU: Texts = Texts {
    sms: "Код подтверждения {brand}: {code}",
    voice: "Ваш код подтверждения {brand}: {code}. Повторяю: {code}.",
    repeat: "Повторяю:",
    digit_pause: ", ",
    link_sms: "Проверка личности началась. Откройте эту ссылку, чтобы подтвердить, что это устройство у вас: {link}",
    sms_do_not_share: "Код подтверждения {brand}: {code}. Никому его не сообщайте; мы никогда его не попросим.",
};

const ID: Texts = Texts {
    sms: "Kode verifikasi {brand} Anda adalah: {code}",
    voice: "Kode verifikasi {brand} Anda adalah {code}. Sekali lagi: {code}.",
    repeat: "Sekali lagi:",
    digit_pause: ", ",
    link_sms: "Verifikasi identitas Anda telah dimulai. Buka tautan ini untuk memastikan perangkat ini \
               ada pada Anda: {link}",
    sms_do_not_share: "Kode verifikasi {brand} Anda adalah: {code}. Jangan bagikan kode ini kepada \
                       siapa pun; kami tidak akan pernah memintanya.",
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The placeholders of `text`, in order (`{brand}` → `brand`).
    fn placeholders(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                out.push("<unclosed>");
                break;
            };
            out.push(&rest[open + 1..open + close]);
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            out.push("<unopened>");
        }
        out
    }

    #[test]
    fn every_language_has_every_text_and_exactly_its_placeholders() {
        for l in Locale::ALL {
            let t = l.texts();
            let mut sms = placeholders(t.sms);
            sms.sort_unstable();
            assert_eq!(sms, ["brand", "code"], "{l}: sms");
            assert_eq!(placeholders(t.voice), ["brand", "code", "code"], "{l}: voice");
            assert_eq!(placeholders(t.link_sms), ["link"], "{l}: link_sms");
            let mut warned = placeholders(t.sms_do_not_share);
            warned.sort_unstable();
            assert_eq!(warned, ["brand", "code"], "{l}: sms_do_not_share");
            // The repetition marker is there once, between the two codes.
            assert!(!t.repeat.trim().is_empty(), "{l}");
            assert_eq!(t.voice.matches(t.repeat).count(), 1, "{l}: repeat");
            let (first, again) = t.voice.split_once(t.repeat).unwrap_or_default();
            assert!(
                first.contains("{code}") && again.contains("{code}"),
                "{l}: repeat placement"
            );
            assert!(
                !t.digit_pause.is_empty() && !t.digit_pause.contains(char::is_numeric),
                "{l}"
            );
            // The link is last, so nothing an SMS app might read as part of the URL follows it.
            assert!(t.link_sms.ends_with("{link}"), "{l}: link_sms");
            for text in [t.sms, t.voice, t.link_sms, t.sms_do_not_share] {
                assert!(!text.contains(char::is_control), "{l}: {text}");
                assert_eq!(text.trim(), text, "{l}: {text}");
            }
        }
    }

    #[test]
    fn english_is_what_ringproof_always_sent() {
        let t = Locale::En.texts();
        assert_eq!(t.sms, "Your {brand} verification code is: {code}");
        assert_eq!(
            t.link_sms,
            format!("{} {{link}}", crate::engine::link::DEFAULT_LINK_SMS)
        );
    }
}
