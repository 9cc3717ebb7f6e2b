//! Calls as sound: when `espeak-ng` is installed, the sandbox renders the words of each call
//! to `<dir>/<message id>.wav`, for the inbox page to play. Optional, and never in the way
//! of delivery: a call is queued for rendering after it is recorded, one render runs at a
//! time in its own task under a time limit, and a failure (or a full queue) is only logged.
//!
//! The text goes to `espeak-ng` on its standard input, never as an argument, so nothing in
//! it (a client's brand, say) can read as an option. The call's locale picks the voice
//! (`-v`, [`espeak_voice`]): one of espeak-ng's own, from a fixed table, so no part of a
//! request reaches its arguments either. A render is written to `<id>.wav.part`
//! and renamed when complete, so a half-written file is never served.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ringproof_core::i18n::Locale;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::mpsc;

const PROGRAM: &str = "espeak-ng";
/// Calls waiting for their render; beyond this, a call is left silent.
const QUEUE: usize = 64;
/// How long `espeak-ng --version` may take at startup.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one render may take before `espeak-ng` is killed.
const RENDER_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest text rendered (a call speaks a sentence or two).
const MAX_TEXT: usize = 2000;

/// The renderer: a queue into one task that runs `espeak-ng`. It stops when dropped.
pub struct VoiceAudio {
    dir: PathBuf,
    queue: mpsc::Sender<Render>,
}

/// One call to render: its message id, words and espeak-ng voice.
struct Render {
    id: String,
    text: String,
    voice: &'static str,
}

impl VoiceAudio {
    /// A renderer writing to `dir`, if `espeak-ng` runs here (checked once, now) and `dir`
    /// can be created; else `None`.
    pub async fn detect(dir: PathBuf) -> Option<Self> {
        Self::with_program(PROGRAM, dir).await
    }

    pub(super) async fn with_program(program: &str, dir: PathBuf) -> Option<Self> {
        // TMPDIR: see `render` (libpulse's runtime directory).
        let probe = Command::new(program)
            .env("TMPDIR", "/tmp")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(status)) if status.success() => {}
            _ => return None,
        }
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "sandbox audio: cannot create its directory; calls stay silent");
            return None;
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(render_loop(program.to_owned(), dir.clone(), rx));
        Some(Self { dir, queue })
    }

    /// Queues the words of call `id`, in `locale`'s language, for rendering; never waits.
    pub fn queue(&self, id: &str, text: &str, locale: &str) {
        if !is_message_id(id) || text.len() > MAX_TEXT {
            return;
        }
        let render = Render {
            id: id.to_owned(),
            text: text.to_owned(),
            voice: espeak_voice(locale),
        };
        if self.queue.try_send(render).is_err() {
            tracing::warn!("sandbox audio: render queue full; a call is left silent");
        }
    }

    /// Where the WAV of message `id` is (or would be); `None` unless `id` is a sandbox
    /// message id, so no other path can be named through it.
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        is_message_id(id).then(|| self.dir.join(format!("{id}.wav")))
    }
}

/// `SB` and 32 lowercase hex digits, as [`super::SandboxSender`] names messages.
pub fn is_message_id(id: &str) -> bool {
    id.len() == 34 && id.starts_with("SB") && id.bytes().skip(2).all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The espeak-ng voice of a locale (names from `espeak-ng --voices`, version 1.51): the
/// catalogue's languages, with the regional voice espeak-ng has (`es-419` for Latin
/// America, `pt-br` for Brazil, the default Portuguese); Mandarin for Chinese (the texts are
/// Mandarin); English otherwise. Its Japanese voice reads kana only, which is why the
/// Japanese call script is written in kana.
pub fn espeak_voice(locale: &str) -> &'static str {
    let region = ringproof_core::i18n::country::region(locale);
    let r = region.as_deref();
    match Locale::parse(locale) {
        Some(Locale::En) | None => "en",
        Some(Locale::Es) if matches!(r, None | Some("ES")) => "es",
        Some(Locale::Es) => "es-419",
        Some(Locale::Fr) => "fr-fr",
        Some(Locale::De) => "de",
        Some(Locale::Pt) if r == Some("PT") => "pt",
        Some(Locale::Pt) => "pt-br",
        Some(Locale::It) => "it",
        Some(Locale::Hi) => "hi",
        Some(Locale::Ar) => "ar",
        // Its `cmn` voice reads the Pinyin it makes of the characters as English words.
        Some(Locale::Zh) => "cmn-latn-pinyin",
        Some(Locale::Ja) => "ja",
        Some(Locale::Ru) => "ru",
        Some(Locale::Id) => "id",
    }
}

async fn render_loop(program: String, dir: PathBuf, mut queue: mpsc::Receiver<Render>) {
    while let Some(Render { id, text, voice }) = queue.recv().await {
        if let Err(e) = render(&program, &dir, &id, &text, voice).await {
            tracing::warn!(error = %e, "sandbox audio: rendering a call failed");
        }
    }
}

async fn render(program: &str, dir: &Path, id: &str, text: &str, voice: &str) -> Result<(), String> {
    // The directory may be gone (a data directory removed while the queue still held
    // calls, as a test's is): render nothing, and never make it again.
    if !dir.is_dir() {
        return Err("the audio directory is gone".into());
    }
    let part = dir.join(format!("{id}.wav.part"));
    let done = dir.join(format!("{id}.wav"));
    // The WAV comes on standard output and is written here, so espeak-ng touches no file
    // of ours. Its audio library (libpulse) still makes itself a runtime directory,
    // `pulse-<machine>` in the temp directory, one per machine and reused: in the system's
    // `/tmp`, not in a `TMPDIR` this process may have been given for its own files (a
    // test's, which must be left empty). (Pointing `PULSE_RUNTIME_PATH` here instead makes
    // libpulse recreate this directory, parents and all, after a data directory's removal.)
    let mut child = Command::new(program)
        .env("TMPDIR", "/tmp")
        .arg("-v")
        .arg(voice)
        .arg("--stdout")
        .arg("--stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let run = async {
        stdin.write_all(text.as_bytes()).await?;
        drop(stdin);
        child.wait_with_output().await
    };
    let mut wav = match tokio::time::timeout(RENDER_TIMEOUT, run).await {
        Ok(Ok(out)) if out.status.success() && !out.stdout.is_empty() => out.stdout,
        Ok(Ok(out)) => return Err(format!("{program} exited with {}", out.status)),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("{program} took longer than {RENDER_TIMEOUT:?}")),
    };
    fix_wav_sizes(&mut wav)?;
    // `create_new` in an existing directory only: a removed one stays removed.
    let write = async {
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .await?;
        f.write_all(&wav).await?;
        f.sync_all().await?;
        tokio::fs::rename(&part, &done).await
    };
    let outcome = write.await.map_err(|e| e.to_string());
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    outcome
}

/// A streamed WAV (espeak-ng's `--stdout`) carries placeholder sizes, its length unknown
/// while it wrote the header: set the RIFF and `data` chunk sizes to the real ones. The
/// header is the canonical 44 bytes (`RIFF`, `WAVE`, a 16-byte `fmt ` chunk, `data`).
fn fix_wav_sizes(wav: &mut [u8]) -> Result<(), String> {
    let canonical = wav.len() >= 44
        && &wav[0..4] == b"RIFF"
        && &wav[8..16] == b"WAVEfmt "
        && wav[16..20] == 16u32.to_le_bytes()
        && &wav[36..40] == b"data";
    let sizes = canonical
        .then(|| Some((u32::try_from(wav.len() - 8).ok()?, u32::try_from(wav.len() - 44).ok()?)))
        .flatten();
    let Some((riff, data)) = sizes else {
        return Err("espeak-ng wrote no WAV of the expected shape".into());
    };
    wav[4..8].copy_from_slice(&riff.to_le_bytes());
    wav[40..44].copy_from_slice(&data.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_streamed_wav_gets_its_real_sizes_and_anything_else_is_refused() {
        let mut wav = b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\0\0\0".to_vec();
        wav.extend_from_slice(&[0; 16]);
        wav.extend_from_slice(b"data\0\xf0\xff\x7f");
        wav.extend_from_slice(&[7; 100]);
        fix_wav_sizes(&mut wav).unwrap();
        assert_eq!(wav[4..8], 136u32.to_le_bytes());
        assert_eq!(wav[40..44], 100u32.to_le_bytes());
        assert!(fix_wav_sizes(&mut b"RIFF".to_vec()).is_err());
        assert!(fix_wav_sizes(&mut [0; 64]).is_err());
    }

    #[test]
    fn only_message_ids_name_a_file() {
        assert!(is_message_id("SB0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "SB",
            "SB0123456789abcdef0123456789abcde",
            "SB0123456789abcdef0123456789abcdef0",
            "SB0123456789ABCDEF0123456789abcdef",
            "XX0123456789abcdef0123456789abcdef",
            "SB0123456789abcdef0123456789abc/..",
            "SB../../../../../../etc/passwd000000",
        ] {
            assert!(!is_message_id(bad), "{bad}");
        }
    }

    #[test]
    fn each_language_is_spoken_by_its_espeak_ng_voice() {
        for (locale, voice) in [
            ("en", "en"),
            ("en-US", "en"),
            ("nl", "en"),
            ("es", "es"),
            ("es-ES", "es"),
            ("es-MX", "es-419"),
            ("fr-CA", "fr-fr"),
            ("de", "de"),
            ("pt", "pt-br"),
            ("pt-PT", "pt"),
            ("it", "it"),
            ("hi", "hi"),
            ("ar", "ar"),
            ("zh-TW", "cmn-latn-pinyin"),
            ("ja", "ja"),
            ("ru", "ru"),
            ("id", "id"),
        ] {
            assert_eq!(espeak_voice(locale), voice, "{locale}");
        }
    }

    /// The renderer passes the voice as `-v` and the words on standard input: a stand-in
    /// for espeak-ng records both and writes an empty WAV.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_call_is_rendered_with_its_languages_voice() {
        let tmp = tempfile::tempdir().unwrap();
        let (program, log) = fake::espeak_ng(tmp.path());
        let dir = tmp.path().join("audio");
        std::fs::create_dir(&dir).unwrap();
        let id = "SB0123456789abcdef0123456789abcdef";
        let words = "Tu código de Acme es 1, 2. Repito: 1, 2.";
        render(program.to_str().unwrap(), &dir, id, words, espeak_voice("es-MX"))
            .await
            .unwrap();
        assert_eq!(fake::args(&log), "-v es-419 --stdout --stdin");
        assert_eq!(std::fs::read_to_string(log.with_extension("stdin")).unwrap(), words);
        assert_eq!(std::fs::read(dir.join(format!("{id}.wav"))).unwrap().len(), 44);
    }

    #[tokio::test]
    async fn absent_program_means_no_audio() {
        let dir = std::env::temp_dir().join("rp-no-espeak");
        assert!(
            VoiceAudio::with_program("ringproof-no-such-program", dir)
                .await
                .is_none()
        );
    }
}

/// A stand-in for espeak-ng, for tests where it is not installed.
#[cfg(all(test, unix))]
pub(super) mod fake {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    /// A shell script in `dir` that answers `--version`, and otherwise writes its arguments
    /// to `<log>.args`, its standard input to `<log>.stdin`, and an empty 44-byte WAV to
    /// standard output. Returns the script and `<log>`.
    pub fn espeak_ng(dir: &Path) -> (PathBuf, PathBuf) {
        let program = dir.join("fake-espeak-ng");
        let log = dir.join("espeak");
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho \"$@\" > {log}.args\ncat > {log}.stdin\n\
             printf 'RIFF\\044\\0\\0\\0WAVEfmt \\020\\0\\0\\0'\n\
             printf '\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0data\\0\\0\\0\\0'\n",
            log = log.display()
        );
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        (program, log)
    }

    /// The arguments of the stand-in's last render.
    pub fn args(log: &Path) -> String {
        std::fs::read_to_string(log.with_extension("args"))
            .unwrap()
            .trim()
            .to_owned()
    }
}
