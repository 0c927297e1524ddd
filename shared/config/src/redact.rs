//! Keeping secrets out of every file, log line and console line: API keys,
//! secret-looking header values and URL credentials (`http://user:pass@host`).
//!
//! This is the one home of redaction; it is applied where text leaves the process
//! (the console, every export, the log file, `run_config.json`, error messages).
//!
//! * [`is_secret_header`] says which header values are secret by name;
//!   [`ProfileConfig::header_is_secret`] adds the names marked with `--redact-header`;
//! * [`redact_url`] / [`redact_urls_in`] drop the userinfo of URLs;
//! * [`redact_cli_command`] redacts a recorded command line;
//! * [`Redactor`] knows the secret values of one configuration and removes them
//!   (and URL credentials) from any text, e.g. an error message or a log line;
//! * [`ProfileConfig::redacted`] is the configuration with its secrets replaced
//!   (what `run_config.json` holds).

use crate::ProfileConfig;

/// Text replacing secrets (API keys, authorization headers) in exported files.
pub const REDACTED: &str = "<redacted>";

/// Authorization schemes that precede a credential in a header value
/// (`Bearer sk-…`): the word itself is not secret.
const AUTH_SCHEMES: [&str; 4] = ["bearer", "basic", "token", "digest"];

/// Whether an HTTP header's value is a secret to redact in exports (its name
/// mentions auth, key, token, secret, cookie, passw(ord) or credential).
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "auth",
        "key",
        "token",
        "secret",
        "cookie",
        "passw",
        "credential",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `url` with its userinfo (`user` or `user:password` before `@`) replaced by
/// [`REDACTED`]: `http://bob:pw@host:8000/v1` → `http://<redacted>@host:8000/v1`.
/// A URL without userinfo is returned unchanged.
pub fn redact_url(url: &str) -> String {
    redact_urls_in(url)
}

/// Every URL in `text` with its userinfo replaced by [`REDACTED`] (see
/// [`redact_url`]); the rest of the text is unchanged.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the path, query, fragment or anything that
        // cannot be part of a URL in running text.
        let end = tail
            .find(|c: char| "/?#".contains(c) || c.is_whitespace() || "\"'()<>,".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The command line with secrets replaced by [`REDACTED`]: the value of
/// `--api-key` (`--api-key VALUE` and `--api-key=VALUE`), the value of a secret
/// header given with `--header`/`-H` (`NAME:VALUE` → `NAME:<redacted>`; a JSON
/// object of headers is redacted whole when it names one), and URL credentials.
/// Single-quoted arguments (as the recorded command line quotes them) count as one
/// token; whitespace is kept as is.
pub fn redact_cli_command(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut pending: Option<&str> = None;
    let mut rest = cmd;
    while !rest.is_empty() {
        let ws_len = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws_len]);
        rest = &rest[ws_len..];
        if rest.is_empty() {
            break;
        }
        let tok_len = token_len(rest);
        let tok = &rest[..tok_len];
        rest = &rest[tok_len..];
        if let Some(option) = pending.take() {
            out.push_str(&redact_option_value(option, tok));
            continue;
        }
        match tok.split_once('=') {
            Some((opt, value)) if is_secret_option(opt) => {
                out.push_str(opt);
                out.push('=');
                out.push_str(&redact_option_value(opt, value));
            }
            _ if is_secret_option(tok) => {
                out.push_str(tok);
                pending = Some(option_name(tok));
            }
            _ => out.push_str(&redact_urls_in(tok)),
        }
    }
    out
}

/// Length of the token at the start of `s`: up to the next whitespace outside
/// single quotes.
fn token_len(s: &str) -> usize {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return i,
            _ => {}
        }
    }
    s.len()
}

fn option_name(tok: &str) -> &'static str {
    match tok {
        "--api-key" => "--api-key",
        _ => "--header",
    }
}

fn is_secret_option(tok: &str) -> bool {
    matches!(tok, "--api-key" | "--header" | "-H")
}

/// The value of a secret-bearing option, redacted (quotes kept around it).
fn redact_option_value(option: &str, value: &str) -> String {
    if option == "--api-key" {
        return REDACTED.to_string();
    }
    let (open, inner, close) = match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => ("'", inner, "'"),
        None => ("", value, ""),
    };
    let redacted = if inner.trim_start().starts_with('{') {
        let secret = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(inner)
            .map(|m| m.keys().any(|k| is_secret_header(k)))
            .unwrap_or(true);
        if secret {
            REDACTED.to_string()
        } else {
            inner.to_string()
        }
    } else {
        match inner.split_once(':') {
            Some((name, _)) if is_secret_header(name.trim()) => format!("{name}:{REDACTED}"),
            Some(_) => inner.to_string(),
            None => inner.to_string(),
        }
    };
    format!("{open}{redacted}{close}")
}

/// The password of a URL's userinfo (`http://user:password@host`), as written and
/// percent-decoded; empty when there is none.
fn url_passwords(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return Vec::new();
    };
    let Some((_, password)) = userinfo.split_once(':') else {
        return Vec::new();
    };
    let mut out = vec![password.to_string()];
    let decoded = percent_decode(password);
    if decoded != password {
        out.push(decoded);
    }
    out
}

/// `%XX` escapes decoded (invalid escapes and non-UTF-8 results left as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// Secret values shorter than this are not searched for in free text (a 1-character
/// "secret" would mangle every line); structured places (headers, the API key, URL
/// userinfo) are redacted whatever their length.
pub const MIN_SECRET_LEN: usize = 4;

impl ProfileConfig {
    /// Whether the value of header `name` is secret in this configuration: a
    /// secret-looking name ([`is_secret_header`]) or one marked with
    /// `--redact-header` (case-insensitive).
    pub fn header_is_secret(&self, name: &str) -> bool {
        is_secret_header(name)
            || self
                .redact_headers
                .iter()
                .any(|h| h.trim().eq_ignore_ascii_case(name.trim()))
    }

    /// This configuration with every secret replaced by [`REDACTED`]: the API key,
    /// secret header values, URL credentials and the command line (what
    /// `run_config.json` holds).
    pub fn redacted(&self) -> ProfileConfig {
        let redactor = Redactor::for_config(self);
        let mut c = self.clone();
        c.api_key = c.api_key.as_ref().map(|_| REDACTED.to_string());
        for (name, value) in &mut c.headers {
            if self.header_is_secret(name) {
                *value = REDACTED.to_string();
            }
        }
        c.url = redact_url(&c.url);
        for u in &mut c.server_metrics.urls {
            *u = redact_url(u);
        }
        c.cli_command = redactor.cli_command(&c.cli_command);
        c
    }
}

/// Removes the secrets of one configuration from any text: the API key, the
/// values of secret headers ([`ProfileConfig::header_is_secret`]; with a
/// `Bearer`-style scheme, the credential after it too), URL passwords and URL
/// credentials ([`redact_urls_in`]).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first (so a value containing another is replaced whole).
    secrets: Vec<String>,
}

impl Redactor {
    /// The redactor of a run's configuration.
    pub fn for_config(config: &ProfileConfig) -> Redactor {
        let mut secrets = Vec::new();
        if let Some(k) = &config.api_key {
            secrets.push(k.clone());
        }
        for (name, value) in &config.headers {
            if config.header_is_secret(name) {
                secrets.push(value.clone());
                let mut words = value.split_whitespace();
                if let (Some(scheme), Some(credential)) = (words.next(), words.next())
                    && AUTH_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
                {
                    secrets.push(credential.to_string());
                }
            }
        }
        secrets.extend(url_passwords(&config.url));
        for u in &config.server_metrics.urls {
            secrets.extend(url_passwords(u));
        }
        Redactor::new(secrets)
    }

    /// A redactor of the given secret values (values shorter than
    /// [`MIN_SECRET_LEN`] are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every secret value and URL credential replaced by [`REDACTED`].
    pub fn apply(&self, text: &str) -> String {
        let mut out = redact_urls_in(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// A recorded command line with its secrets replaced: the options that carry
    /// them ([`redact_cli_command`]) and, wherever they appear, this
    /// configuration's secret values (a second `-H` value, a config file, …).
    pub fn cli_command(&self, cmd: &str) -> String {
        self.apply(&redact_cli_command(cmd))
    }

    /// Whether this redactor knows no secret value (it still removes URL credentials).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_redaction() {
        assert_eq!(
            redact_cli_command("aiperf-rs profile --api-key sk-123 -m m"),
            "aiperf-rs profile --api-key <redacted> -m m"
        );
        assert_eq!(
            redact_cli_command("x --api-key=sk-1  --url u"),
            "x --api-key=<redacted>  --url u"
        );
        assert_eq!(redact_cli_command("x --api-key"), "x --api-key");
        assert_eq!(redact_cli_command(""), "");
        assert_eq!(redact_cli_command("  a  b "), "  a  b ");
        assert!(is_secret_header("Authorization"));
        assert!(is_secret_header("X-API-Key"));
        assert!(is_secret_header("Proxy-Authorization"));
        assert!(is_secret_header("X-Passwd"));
        assert!(is_secret_header("X-Client-Credential"));
        assert!(!is_secret_header("X-Team"));
    }

    #[test]
    fn header_and_url_redaction_in_command_lines() {
        assert_eq!(
            redact_cli_command(
                "aiperf-rs profile -H 'Authorization:Bearer sk-9' --header X-Team:llm \
                 --header=X-Api-Key:abc --url http://bob:pw@h:1 -H '{\"Cookie\":\"c\"}'"
            ),
            "aiperf-rs profile -H 'Authorization:<redacted>' --header X-Team:llm \
             --header=X-Api-Key:<redacted> --url http://<redacted>@h:1 -H '<redacted>'"
        );
        assert_eq!(
            redact_cli_command("x -H '{\"X-Team\":\"llm\"}'"),
            "x -H '{\"X-Team\":\"llm\"}'"
        );
    }

    #[test]
    fn url_credentials() {
        assert_eq!(
            redact_url("http://bob:hunter2@127.0.0.1:8000/v1/chat"),
            "http://<redacted>@127.0.0.1:8000/v1/chat"
        );
        assert_eq!(redact_url("https://token@h"), "https://<redacted>@h");
        assert_eq!(redact_url("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(
            redact_urls_in(
                "error sending request for url (http://u:p@h/x): refused; see https://docs/a@b"
            ),
            "error sending request for url (http://<redacted>@h/x): refused; see https://docs/a@b"
        );
    }

    #[test]
    fn redactor_removes_the_secrets_of_a_configuration() {
        let r = Redactor::new([
            "sk-secret".to_string(),
            "Bearer tok-1".to_string(),
            String::new(),
        ]);
        assert_eq!(
            r.apply("key sk-secret, header Bearer tok-1, url http://a:b@h/"),
            "key <redacted>, header <redacted>, url http://<redacted>@h/"
        );
        assert_eq!(r.apply("nothing secret"), "nothing secret");
    }

    fn config(args: crate::ProfileArgs) -> ProfileConfig {
        crate::resolve(
            &crate::ProfileArgs {
                models: Some(vec!["m".into()]),
                ..args
            },
            &crate::Context {
                cpus: 2,
                stdout_is_tty: false,
                cli_command:
                    "aiperf-rs profile -H 'Authorization: Bearer tok-abc' 'X-Api-Key: k-123' \
                              -H 'X-Tenant: t-secret' --redact-header X-Tenant \
                              --url http://bob:p%40ss-9@127.0.0.1:1"
                        .into(),
            },
        )
        .unwrap()
    }

    fn secret_config() -> ProfileConfig {
        config(crate::ProfileArgs {
            header: Some(vec![
                "Authorization: Bearer tok-abc".into(),
                "X-Api-Key: k-123".into(),
                "X-Tenant: t-secret".into(),
                "X-Team: llm".into(),
            ]),
            redact_header: Some(vec!["x-tenant".into()]),
            urls: Some(vec!["http://bob:p%40ss-9@127.0.0.1:1".into()]),
            ..Default::default()
        })
    }

    #[test]
    fn marked_headers_are_secret() {
        let c = secret_config();
        assert!(c.header_is_secret("X-TENANT"));
        assert!(c.header_is_secret("Proxy-Authorization"));
        assert!(!c.header_is_secret("X-Team"));
        assert!(!config(Default::default()).header_is_secret("X-Tenant"));
    }

    #[test]
    fn the_redactor_of_a_configuration_knows_every_secret() {
        let r = Redactor::for_config(&secret_config());
        assert_eq!(
            r.apply("tok-abc k-123 t-secret p%40ss-9 p@ss-9 llm"),
            "<redacted> <redacted> <redacted> <redacted> <redacted> llm"
        );
        // A value given after a first -H value (clap takes several) is caught by value.
        let cli = r.cli_command(&secret_config().cli_command);
        for s in ["tok-abc", "k-123", "t-secret", "p%40ss-9"] {
            assert!(!cli.contains(s), "{cli}");
        }
        assert!(
            cli.contains("'X-Team: llm'") || !cli.contains("X-Team"),
            "{cli}"
        );
    }

    #[test]
    fn a_redacted_configuration_holds_no_secret() {
        let c = secret_config();
        let text = serde_json::to_string(&c.redacted()).unwrap();
        for s in ["tok-abc", "k-123", "t-secret", "p%40ss-9"] {
            assert!(!text.contains(s), "{s} in {text}");
        }
        let r = c.redacted();
        assert_eq!(r.url, "http://<redacted>@127.0.0.1:1");
        assert!(r.headers.contains(&("X-Team".into(), "llm".into())));
        assert!(r.headers.contains(&("X-Tenant".into(), REDACTED.into())));
    }

    #[test]
    fn url_passwords_as_written_and_decoded() {
        assert_eq!(
            url_passwords("http://u:p%40w-1@h:1/x?q=a@b"),
            vec!["p%40w-1".to_string(), "p@w-1".to_string()]
        );
        assert!(url_passwords("http://u@h").is_empty());
        assert!(url_passwords("http://h/a:b@c").is_empty());
        assert_eq!(percent_decode("a%zzb%4"), "a%zzb%4");
    }
}
