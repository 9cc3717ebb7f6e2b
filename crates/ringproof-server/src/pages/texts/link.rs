//! The texts of the one-time link pages (`pages/link_click.rs`): the confirm page and the
//! pages of a link that did not reach its target. Each of those says what happened and
//! what to do next; the person is on a phone, usually came from an app or a website
//! ("where you started"), and cannot do anything on this server but open the link again.

use super::{PerLocale, texts};

texts! {
    /// The link pages' texts in one language.
    pub struct LinkTexts {
        /// The confirm page's heading (and title) while the click is confirmed.
        confirm_title,
        /// The confirm page's sentence under the heading.
        confirm_body,
        /// The confirm page's button (submitted by script; tapped when script is off).
        confirm_button,
        /// Shown when JavaScript is off; `{button}` is the button's label.
        noscript,
        /// Shown by the page's script while it confirms (a check through the mobile
        /// network can take a few seconds).
        working,
        /// An unknown or malformed link.
        not_valid_title,
        not_valid_body,
        /// A link opened (or confirmed) before.
        used_title,
        used_body,
        /// A link past its validity (minutes).
        expired_title,
        expired_body,
        /// The database cannot answer now; nothing was used.
        busy_title,
        busy_body,
        /// Anything else went wrong; nothing was used.
        failed_title,
        failed_body,
    }
}

pub static LINK: PerLocale<LinkTexts> = PerLocale {
    en: LinkTexts {
        confirm_title: "Verifying that this phone is yours…",
        confirm_body: "This confirms that you opened the link on the phone it was sent to.",
        confirm_button: "Continue",
        noscript: "JavaScript is off: tap {button} to finish.",
        working: "Checking… this takes a few seconds.",
        not_valid_title: "This link is not valid",
        not_valid_body: "Check that you opened the whole link from the message, or ask for a new one where you started.",
        used_title: "This link was already used",
        used_body: "Each link works only once. If you opened it a moment ago, go back to where you started: \
                    you are done. If it was not you, ask for a new link.",
        expired_title: "This link has expired",
        expired_body: "Links work for a few minutes only. Go back to where you started and ask for a new one.",
        busy_title: "Please try again",
        busy_body: "The service is busy right now and your link was not used. Wait a moment, then open it again.",
        failed_title: "Something went wrong",
        failed_body: "Your link was not used. Open it again in a moment, or ask for a new one where you started.",
    },
    es: LinkTexts {
        confirm_title: "Comprobando que este teléfono es tuyo…",
        confirm_body: "Así confirmamos que abriste el enlace en el teléfono al que se envió.",
        confirm_button: "Continuar",
        noscript: "JavaScript está desactivado: toca {button} para terminar.",
        working: "Comprobando… tarda unos segundos.",
        not_valid_title: "Este enlace no es válido",
        not_valid_body: "Comprueba que abriste el enlace completo del mensaje o pide uno nuevo donde empezaste.",
        used_title: "Este enlace ya se usó",
        used_body: "Cada enlace funciona una sola vez. Si lo abriste hace un momento, vuelve a donde empezaste: \
                    ya está hecho. Si no fuiste tú, pide un enlace nuevo.",
        expired_title: "Este enlace ha caducado",
        expired_body: "Los enlaces solo funcionan unos minutos. Vuelve a donde empezaste y pide uno nuevo.",
        busy_title: "Inténtalo de nuevo",
        busy_body: "El servicio está ocupado en este momento y tu enlace no se ha usado. Espera un momento y \
                    vuelve a abrirlo.",
        failed_title: "Algo salió mal",
        failed_body: "Tu enlace no se ha usado. Vuelve a abrirlo en un momento o pide uno nuevo donde empezaste.",
    },
    fr: LinkTexts {
        confirm_title: "Vérification que ce téléphone est bien le vôtre…",
        confirm_body: "Cela confirme que vous avez ouvert le lien sur le téléphone auquel il a été envoyé.",
        confirm_button: "Continuer",
        noscript: "JavaScript est désactivé\u{a0}: touchez {button} pour terminer.",
        working: "Vérification en cours… cela prend quelques secondes.",
        not_valid_title: "Ce lien n’est pas valide",
        not_valid_body: "Vérifiez que vous avez ouvert le lien complet du message, ou demandez-en un nouveau là où \
                         vous avez commencé.",
        used_title: "Ce lien a déjà été utilisé",
        used_body: "Chaque lien ne fonctionne qu’une fois. Si vous venez de l’ouvrir, revenez là où vous avez \
                    commencé\u{a0}: c’est terminé. Sinon, demandez un nouveau lien.",
        expired_title: "Ce lien a expiré",
        expired_body: "Les liens ne fonctionnent que quelques minutes. Revenez là où vous avez commencé et \
                       demandez-en un nouveau.",
        busy_title: "Veuillez réessayer",
        busy_body: "Le service est très sollicité en ce moment et votre lien n’a pas été utilisé. Patientez un \
                    instant, puis ouvrez-le à nouveau.",
        failed_title: "Une erreur s’est produite",
        failed_body: "Votre lien n’a pas été utilisé. Ouvrez-le à nouveau dans un instant, ou demandez-en un \
                      nouveau là où vous avez commencé.",
    },
    de: LinkTexts {
        confirm_title: "Wir prüfen, ob dieses Telefon Ihnen gehört…",
        confirm_body: "Damit wird bestätigt, dass Sie den Link auf dem Telefon geöffnet haben, an das er \
                       gesendet wurde.",
        confirm_button: "Weiter",
        noscript: "JavaScript ist deaktiviert: Tippen Sie auf {button}, um abzuschließen.",
        working: "Wird geprüft … das dauert einige Sekunden.",
        not_valid_title: "Dieser Link ist ungültig",
        not_valid_body: "Prüfen Sie, ob Sie den vollständigen Link aus der Nachricht geöffnet haben, oder fordern \
                         Sie dort, wo Sie begonnen haben, einen neuen an.",
        used_title: "Dieser Link wurde bereits verwendet",
        used_body: "Jeder Link funktioniert nur einmal. Wenn Sie ihn gerade geöffnet haben, kehren Sie dorthin \
                    zurück, wo Sie begonnen haben: Sie sind fertig. Andernfalls fordern Sie einen neuen Link an.",
        expired_title: "Dieser Link ist abgelaufen",
        expired_body: "Links sind nur wenige Minuten gültig. Kehren Sie dorthin zurück, wo Sie begonnen haben, \
                       und fordern Sie einen neuen an.",
        busy_title: "Bitte versuchen Sie es erneut",
        busy_body: "Der Dienst ist gerade ausgelastet, und Ihr Link wurde nicht verwendet. Warten Sie einen \
                    Moment und öffnen Sie ihn dann erneut.",
        failed_title: "Etwas ist schiefgelaufen",
        failed_body: "Ihr Link wurde nicht verwendet. Öffnen Sie ihn gleich noch einmal, oder fordern Sie dort, \
                      wo Sie begonnen haben, einen neuen an.",
    },
    pt: LinkTexts {
        confirm_title: "Verificando se este telefone é seu…",
        confirm_body: "Isso confirma que você abriu o link no telefone para o qual ele foi enviado.",
        confirm_button: "Continuar",
        noscript: "O JavaScript está desativado: toque em {button} para concluir.",
        working: "Verificando… isso leva alguns segundos.",
        not_valid_title: "Este link não é válido",
        not_valid_body: "Confira se você abriu o link completo da mensagem ou peça um novo onde você começou.",
        used_title: "Este link já foi usado",
        used_body: "Cada link funciona uma única vez. Se você acabou de abri-lo, volte para onde começou: está \
                    tudo pronto. Se não foi você, peça um novo link.",
        expired_title: "Este link expirou",
        expired_body: "Os links funcionam apenas por alguns minutos. Volte para onde você começou e peça um novo.",
        busy_title: "Tente novamente",
        busy_body: "O serviço está ocupado agora e seu link não foi usado. Aguarde um momento e abra-o novamente.",
        failed_title: "Algo deu errado",
        failed_body: "Seu link não foi usado. Abra-o novamente em instantes ou peça um novo onde você começou.",
    },
    it: LinkTexts {
        confirm_title: "Stiamo verificando che questo telefono sia tuo…",
        confirm_body: "Così confermiamo che hai aperto il link sul telefono a cui è stato inviato.",
        confirm_button: "Continua",
        noscript: "JavaScript è disattivato: tocca {button} per completare.",
        working: "Verifica in corso… ci vuole qualche secondo.",
        not_valid_title: "Questo link non è valido",
        not_valid_body: "Controlla di aver aperto il link completo del messaggio, oppure richiedine uno nuovo da \
                         dove hai iniziato.",
        used_title: "Questo link è già stato usato",
        used_body: "Ogni link funziona una sola volta. Se lo hai appena aperto, torna da dove hai iniziato: hai \
                    finito. Altrimenti, richiedi un nuovo link.",
        expired_title: "Questo link è scaduto",
        expired_body: "I link funzionano solo per pochi minuti. Torna da dove hai iniziato e richiedine uno nuovo.",
        busy_title: "Riprova",
        busy_body: "Il servizio è occupato in questo momento e il tuo link non è stato usato. Attendi un attimo, \
                    poi aprilo di nuovo.",
        failed_title: "Qualcosa è andato storto",
        failed_body: "Il tuo link non è stato usato. Riaprilo tra un attimo, oppure richiedine uno nuovo da dove \
                      hai iniziato.",
    },
    hi: LinkTexts {
        confirm_title: "पुष्टि की जा रही है कि यह फ़ोन आपका है…",
        confirm_body: "इससे पुष्टि होती है कि आपने लिंक उसी फ़ोन पर खोला है जिस पर वह भेजा गया था।",
        confirm_button: "जारी रखें",
        noscript: "JavaScript बंद है: पूरा करने के लिए {button} पर टैप करें।",
        working: "जाँच हो रही है… इसमें कुछ सेकंड लगते हैं।",
        not_valid_title: "यह लिंक मान्य नहीं है",
        not_valid_body: "देख लें कि आपने संदेश का पूरा लिंक खोला है, या जहाँ से आपने शुरू किया था वहाँ नया लिंक \
                         माँगें।",
        used_title: "यह लिंक पहले ही इस्तेमाल हो चुका है",
        used_body: "हर लिंक सिर्फ़ एक बार काम करता है। अगर आपने इसे अभी-अभी खोला था, तो वहीं लौट जाएँ जहाँ से \
                    आपने शुरू किया था: आपका काम हो गया है। अगर वह आप नहीं थे, तो नया लिंक माँगें।",
        expired_title: "इस लिंक की समय-सीमा समाप्त हो गई है",
        expired_body: "लिंक सिर्फ़ कुछ मिनट तक काम करते हैं। जहाँ से आपने शुरू किया था वहाँ लौटें और नया लिंक \
                       माँगें।",
        busy_title: "कृपया फिर से कोशिश करें",
        busy_body: "सेवा अभी व्यस्त है और आपका लिंक इस्तेमाल नहीं हुआ है। थोड़ी देर रुकें, फिर इसे दोबारा खोलें।",
        failed_title: "कुछ गड़बड़ हो गई",
        failed_body: "आपका लिंक इस्तेमाल नहीं हुआ है। थोड़ी देर में इसे दोबारा खोलें, या जहाँ से आपने शुरू किया था \
                      वहाँ नया लिंक माँगें।",
    },
    ar: LinkTexts {
        confirm_title: "جارٍ التحقق من أن هذا الهاتف لك…",
        confirm_body: "يؤكد هذا أنك فتحت الرابط على الهاتف الذي أُرسل إليه.",
        confirm_button: "متابعة",
        noscript: "JavaScript معطّل: اضغط على {button} للإنهاء.",
        working: "جارٍ التحقق… يستغرق ذلك بضع ثوانٍ.",
        not_valid_title: "هذا الرابط غير صالح",
        not_valid_body: "تأكد من أنك فتحت الرابط كاملًا من الرسالة، أو اطلب رابطًا جديدًا من حيث بدأت.",
        used_title: "تم استخدام هذا الرابط من قبل",
        used_body: "يعمل كل رابط مرة واحدة فقط. إذا كنت قد فتحته للتو، فارجع إلى حيث بدأت: لقد انتهيت. وإن لم \
                    تكن أنت، فاطلب رابطًا جديدًا.",
        expired_title: "انتهت صلاحية هذا الرابط",
        expired_body: "تعمل الروابط لبضع دقائق فقط. ارجع إلى حيث بدأت واطلب رابطًا جديدًا.",
        busy_title: "يرجى المحاولة مرة أخرى",
        busy_body: "الخدمة مشغولة الآن ولم يُستخدم رابطك. انتظر لحظة ثم افتحه مرة أخرى.",
        failed_title: "حدث خطأ ما",
        failed_body: "لم يُستخدم رابطك. افتحه مرة أخرى بعد لحظة، أو اطلب رابطًا جديدًا من حيث بدأت.",
    },
    zh: LinkTexts {
        confirm_title: "正在验证这部手机是否属于您…",
        confirm_body: "这一步用于确认您是在接收该链接的手机上打开了它。",
        confirm_button: "继续",
        noscript: "JavaScript 已关闭：请点按“{button}”完成。",
        working: "正在验证…需要几秒钟。",
        not_valid_title: "此链接无效",
        not_valid_body: "请确认您打开的是消息中的完整链接，或回到您开始的地方申请新链接。",
        used_title: "此链接已被使用",
        used_body: "每个链接只能使用一次。如果您刚刚打开过它，请回到您开始的地方：验证已完成。如果不是您本人打开的，请申请新链接。",
        expired_title: "此链接已过期",
        expired_body: "链接仅在几分钟内有效。请回到您开始的地方，申请新链接。",
        busy_title: "请重试",
        busy_body: "服务当前繁忙，您的链接尚未被使用。请稍等片刻，然后重新打开它。",
        failed_title: "出现问题",
        failed_body: "您的链接尚未被使用。请稍后重新打开，或回到您开始的地方申请新链接。",
    },
    ja: LinkTexts {
        confirm_title: "この電話があなたのものか確認しています…",
        confirm_body: "リンクが送信された電話で開かれたことを確認します。",
        confirm_button: "続ける",
        noscript: "JavaScript がオフです。「{button}」をタップして完了してください。",
        working: "確認しています…数秒かかります。",
        not_valid_title: "このリンクは無効です",
        not_valid_body: "メッセージ内のリンクを最後まで開いたか確認するか、手続きを始めた画面で新しいリンクをリクエストしてください。",
        used_title: "このリンクはすでに使用されています",
        used_body: "リンクは1回だけ使用できます。今開いたばかりの場合は、手続きを始めた画面に戻ってください。確認は完了しています。\
                    心当たりがない場合は、新しいリンクをリクエストしてください。",
        expired_title: "このリンクは有効期限が切れています",
        expired_body: "リンクの有効期間は数分間です。手続きを始めた画面に戻り、新しいリンクをリクエストしてください。",
        busy_title: "もう一度お試しください",
        busy_body: "現在サービスが混み合っているため、リンクは使用されていません。しばらく待ってから、もう一度開いてください。",
        failed_title: "問題が発生しました",
        failed_body: "リンクは使用されていません。しばらくしてからもう一度開くか、手続きを始めた画面で新しいリンクをリクエストしてください。",
    },
    ru: LinkTexts {
        confirm_title: "Проверяем, что этот телефон ваш…",
        confirm_body: "Так мы убеждаемся, что вы открыли ссылку на телефоне, на который она была отправлена.",
        confirm_button: "Продолжить",
        noscript: "JavaScript отключён: нажмите «{button}», чтобы завершить.",
        working: "Проверяем… это займёт несколько секунд.",
        not_valid_title: "Эта ссылка недействительна",
        not_valid_body: "Убедитесь, что вы открыли ссылку из сообщения целиком, или запросите новую там, где \
                         начинали.",
        used_title: "Эта ссылка уже использована",
        used_body: "Каждая ссылка работает только один раз. Если вы только что её открыли, вернитесь туда, где \
                    начинали: всё готово. Если это были не вы, запросите новую ссылку.",
        expired_title: "Срок действия ссылки истёк",
        expired_body: "Ссылки действуют всего несколько минут. Вернитесь туда, где начинали, и запросите новую.",
        busy_title: "Попробуйте ещё раз",
        busy_body: "Сервис сейчас перегружен, и ваша ссылка не была использована. Подождите немного и откройте её \
                    снова.",
        failed_title: "Что-то пошло не так",
        failed_body: "Ваша ссылка не была использована. Откройте её снова чуть позже или запросите новую там, где \
                      начинали.",
    },
    id: LinkTexts {
        confirm_title: "Memverifikasi bahwa ponsel ini milik Anda…",
        confirm_body: "Ini memastikan bahwa Anda membuka tautan di ponsel yang menerimanya.",
        confirm_button: "Lanjutkan",
        noscript: "JavaScript nonaktif: ketuk {button} untuk menyelesaikan.",
        working: "Memeriksa… ini butuh beberapa detik.",
        not_valid_title: "Tautan ini tidak valid",
        not_valid_body: "Pastikan Anda membuka tautan lengkap dari pesan, atau minta tautan baru di tempat Anda \
                         memulai.",
        used_title: "Tautan ini sudah digunakan",
        used_body: "Setiap tautan hanya berfungsi sekali. Jika Anda baru saja membukanya, kembalilah ke tempat Anda \
                    memulai: prosesnya sudah selesai. Jika bukan Anda, minta tautan baru.",
        expired_title: "Tautan ini sudah kedaluwarsa",
        expired_body: "Tautan hanya berlaku beberapa menit. Kembali ke tempat Anda memulai dan minta tautan baru.",
        busy_title: "Silakan coba lagi",
        busy_body: "Layanan sedang sibuk dan tautan Anda belum digunakan. Tunggu sebentar, lalu buka lagi.",
        failed_title: "Terjadi kesalahan",
        failed_body: "Tautan Anda belum digunakan. Buka lagi sebentar lagi, atau minta tautan baru di tempat Anda \
                      memulai.",
    },
};
