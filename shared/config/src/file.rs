//! `-f/--config FILE`: options from a YAML or TOML file, overridden by flags.

use crate::{ConfigError, args::ProfileArgs, compat::InertArgs};
use std::path::Path;

/// Reads a config file into [`ProfileArgs`]. Keys naming AIPerf options that have no
/// effect in aiperf-rs are kept in [`ProfileArgs::inert`] (warned about like the
/// flags); other unknown keys are errors.
pub fn load(path: &Path) -> Result<ProfileArgs, ConfigError> {
    let format = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("yaml") | Some("yml") => config::FileFormat::Yaml,
        Some("toml") => config::FileFormat::Toml,
        _ => {
            return Err(ConfigError::new(format!(
                "config file {}: unknown format; use a .yaml, .yml or .toml file",
                path.display()
            )));
        }
    };
    if !path.exists() {
        return Err(ConfigError::new(format!(
            "config file {} does not exist",
            path.display()
        )));
    }
    let cfg = config::Config::builder()
        .add_source(config::File::from(path).format(format))
        .build()
        .map_err(|e| ConfigError::new(format!("config file {}: {e}", path.display())))?;
    let in_file = |e: &dyn std::fmt::Display| {
        ConfigError::new(format!(
            "config file {}: {e} (keys are the long flag names in snake_case)",
            path.display()
        ))
    };
    let mut map = cfg
        .try_deserialize::<serde_json::Map<String, serde_json::Value>>()
        .map_err(|e| in_file(&e))?;
    let inert = InertArgs::take_from_map(&mut map).map_err(|e| in_file(&e))?;
    let mut args: ProfileArgs =
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| in_file(&e))?;
    args.inert = inert;
    Ok(args)
}

/// Flags win over the file: every option set in `flags` replaces the file's value.
pub fn merge(file: ProfileArgs, flags: ProfileArgs) -> ProfileArgs {
    let to_map = |a: &ProfileArgs| match serde_json::to_value(a) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let mut merged = to_map(&file);
    for (k, v) in to_map(&flags) {
        if !v.is_null() {
            merged.insert(k, v);
        }
    }
    let mut out: ProfileArgs =
        serde_json::from_value(serde_json::Value::Object(merged)).unwrap_or(flags.clone());
    // Not config-file keys (serde skips them): taken from the flags.
    out.config_file = flags.config_file;
    out.urls = flags.urls;
    out.inert = file.inert.overridden_by(&flags.inert);
    out
}

/// Loads the file named by `flags.config_file` (if any) and merges the flags over it.
pub fn apply(flags: ProfileArgs) -> Result<ProfileArgs, ConfigError> {
    match &flags.config_file {
        Some(path) => Ok(merge(load(path)?, flags)),
        None => Ok(flags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(ext: &str, body: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::new(ext, body)
    }

    mod tempfile_path {
        use super::*;
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn new(ext: &str, body: &str) -> Self {
                let p = std::env::temp_dir().join(format!(
                    "aiperf-cfg-{}-{}.{ext}",
                    std::process::id(),
                    body.len()
                ));
                std::fs::File::create(&p)
                    .unwrap()
                    .write_all(body.as_bytes())
                    .unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn yaml_file_sets_options_and_flags_override() {
        let f = write(
            "yaml",
            "model: [m1]\nconcurrency: 8\nstreaming: true\nisl: 123\nheader: ['X-A:1']\n",
        );
        let file = load(&f.0).unwrap();
        assert_eq!(file.models, Some(vec!["m1".to_string()]));
        assert_eq!(file.concurrency, Some(vec![8]));
        assert_eq!(file.streaming, Some(true));
        assert_eq!(file.prompt_input_tokens_mean, Some(123.0));
        let flags = ProfileArgs {
            concurrency: Some(vec![2]),
            ..Default::default()
        };
        let merged = merge(file, flags);
        assert_eq!(merged.concurrency, Some(vec![2]));
        assert_eq!(merged.streaming, Some(true));
        assert_eq!(merged.header, Some(vec!["X-A:1".to_string()]));
    }

    #[test]
    fn toml_file_is_read() {
        let f = write("toml", "request_count = 42\nurl = \"http://127.0.0.1:9\"\n");
        let file = load(&f.0).unwrap();
        assert_eq!(file.request_count, Some(42));
        assert_eq!(file.url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let f = write("yaml", "concurency: 8\n");
        let err = load(&f.0).unwrap_err().to_string();
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn inert_aiperf_keys_are_accepted_with_a_warning() {
        let f = write(
            "yaml",
            "model: [m1]\nwandb_project: proj\nno_open_loop_replay: true\naudio_depths: [16, 24]\n",
        );
        let file = load(&f.0).unwrap();
        assert_eq!(file.models, Some(vec!["m1".to_string()]));
        let w = crate::warnings(&file);
        assert_eq!(w.len(), 3, "{w:?}");
        for flag in [
            "--wandb-project ",
            "--no-open-loop-replay ",
            "--audio-depths ",
        ] {
            assert!(
                w.iter()
                    .any(|l| l.starts_with(flag) && l.contains("no effect")),
                "{flag}: {w:?}"
            );
        }
        // A flag given on the command line replaces the file's value.
        let flags = ProfileArgs::try_parse_args(["--wandb-project", "other", "--open-loop-replay"])
            .unwrap();
        let merged = merge(file, flags);
        assert_eq!(
            merged.inert.get("wandb-project"),
            Some(&crate::compat::InertValue::Values(vec!["other".into()]))
        );
        assert_eq!(
            merged.inert.get("open-loop-replay"),
            Some(&crate::compat::InertValue::Flag(true))
        );
    }
}
