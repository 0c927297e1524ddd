//! Checking a server URL (`--url`, `--server-metrics`) when the configuration is
//! resolved, so that a typo fails at once with a message naming the problem (exit
//! code 2) instead of as a DNS or connection failure of every request.
//!
//! Accepted: `http://` or `https://`, an optional `user:password@`, a host (a name,
//! an IPv4 address or a bracketed IPv6 address), an optional port 1–65535, a path.
//! A URL without a scheme (`localhost:8000`, AIPerf's default form) gets `http://`.
//! Messages never show a URL password ([`redact_url`]).

use crate::ConfigError;
use crate::redact::redact_url;
use std::net::Ipv6Addr;

/// The URL with a scheme (`http://` added when it has none) and no trailing slash,
/// or an error naming what is wrong with it. `option` names the flag in messages
/// (`--url`).
pub fn check_url(option: &str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    let shown = redact_url(url);
    let bad = |why: String| Err(ConfigError::new(format!("{option} {shown}: {why}")));
    if url.is_empty() {
        return Err(ConfigError::new(format!(
            "{option} is empty; give the server address, e.g. {option} http://127.0.0.1:8000"
        )));
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => {
            if let Some((scheme, _)) = url.split_once(':')
                && ["http", "https"].contains(&scheme.to_ascii_lowercase().as_str())
            {
                return bad(format!(
                    "the scheme must be followed by `//`, e.g. {scheme}://127.0.0.1:8000"
                ));
            }
            ("http".to_string(), url)
        }
    };
    if scheme.is_empty() {
        return bad("missing scheme before `://`; use http:// or https://".into());
    }
    if scheme != "http" && scheme != "https" {
        return bad(format!(
            "unsupported scheme `{scheme}://`; use http:// or https://"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // `user:password@host:port` connects to `host:port`.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return bad(
                "malformed IPv6 address: `[` without a closing `]`; write it as http://[::1]:8000"
                    .into(),
            );
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return bad(format!(
                "malformed IPv6 address `[{addr}]`; write it as http://[::1]:8000"
            ));
        }
        match after {
            "" => (addr, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => {
                    return bad(format!(
                        "unexpected `{after}` after the IPv6 address; write it as http://[::1]:8000"
                    ));
                }
            },
        }
    } else {
        if host_port.contains(['[', ']']) {
            return bad(
                "malformed IPv6 address: put it in brackets, e.g. http://[::1]:8000".into(),
            );
        }
        match host_port.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return bad("an IPv6 address must be in brackets, e.g. http://[::1]:8000".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return bad("no host; e.g. http://127.0.0.1:8000".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_alphanumeric() || "-._:%".contains(*c)))
    {
        return bad(format!("invalid character {c:?} in the host name `{host}`"));
    }
    if let Some(p) = port {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => {}
            Ok(n) => return bad(format!("port {n} is out of range (1-65535)")),
            Err(_) if p.is_empty() => return bad("empty port after `:`".into()),
            Err(_) => return bad(format!("port `{p}` is not a number (1-65535)")),
        }
    }
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    // Whatever the checks above let through must also be a URL the HTTP client takes.
    if let Err(e) = url::Url::parse(&with_scheme) {
        return bad(format!("not a valid URL: {e}"));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// `--url`: the URL with a scheme and no trailing slash ([`check_url`]).
pub fn normalize_url(url: &str) -> Result<String, ConfigError> {
    check_url("--url", url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        normalize_url(url).unwrap_err().to_string()
    }

    #[test]
    fn good_urls_are_normalized() {
        for (given, want) in [
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
            ("localhost:8000", "http://localhost:8000"),
            ("127.0.0.1", "http://127.0.0.1"),
            ("https://h.example/v1", "https://h.example/v1"),
            ("http://[::1]:8000", "http://[::1]:8000"),
            ("http://[::1]", "http://[::1]"),
            (
                "http://u:p%40w@127.0.0.1:1/x",
                "http://u:p%40w@127.0.0.1:1/x",
            ),
            ("HTTP://h:65535", "HTTP://h:65535"),
        ] {
            assert_eq!(normalize_url(given).unwrap(), want, "{given}");
        }
    }

    #[test]
    fn each_problem_is_named() {
        for (url, want) in [
            (
                "http://127.0.0.1:99999",
                "--url http://127.0.0.1:99999: port 99999 is out of range (1-65535)",
            ),
            ("http://127.0.0.1:0", "port 0 is out of range"),
            ("http://127.0.0.1:80a", "port `80a` is not a number"),
            ("http://127.0.0.1:", "empty port after `:`"),
            (
                "http://[::1:8000",
                "malformed IPv6 address: `[` without a closing `]`",
            ),
            ("http://[::zz]:8000", "malformed IPv6 address `[::zz]`"),
            ("http://::1:8000", "an IPv6 address must be in brackets"),
            (
                "http://[::1]8000",
                "unexpected `8000` after the IPv6 address",
            ),
            (
                "ftp://h:21",
                "unsupported scheme `ftp://`; use http:// or https://",
            ),
            ("://127.0.0.1:8000", "missing scheme before `://`"),
            (
                "http:/127.0.0.1:8000",
                "the scheme must be followed by `//`",
            ),
            ("http://", "no host"),
            ("http://:8000/v1", "no host"),
            ("http://user:pw@:8000", "no host"),
            (
                "http://exa mple:80",
                "invalid character ' ' in the host name",
            ),
            ("", "--url is empty"),
        ] {
            let e = error(url);
            assert!(e.contains(want), "{url}: {e}");
        }
    }

    #[test]
    fn a_password_is_never_shown() {
        let e = error("http://bob:hunter2@127.0.0.1:99999");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("http://<redacted>@127.0.0.1:99999"), "{e}");
    }
}
