//! The resolved configuration as the protocol's [`ConfigDocument`]: what the
//! controller sends with `configure` and what a Rust service reads back.

use crate::{ConfigError, ProfileConfig};
use aiperf_protocol::ConfigDocument;

impl ProfileConfig {
    /// This configuration as a protocol document: a nested map with this type's
    /// serde field names as keys.
    pub fn to_document(&self) -> ConfigDocument {
        ConfigDocument::encode(self)
            .expect("a resolved configuration always encodes as MessagePack")
    }

    /// The configuration a controller sent in `configure`.
    pub fn from_document(doc: &ConfigDocument) -> Result<ProfileConfig, ConfigError> {
        doc.decode()
            .map_err(|e| ConfigError::new(format!("unreadable run configuration: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, ProfileArgs, ProfileConfig, resolve};

    fn resolved(args: ProfileArgs) -> ProfileConfig {
        let ctx = Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: "aiperf-rs profile".into(),
        };
        resolve(&args, &ctx).unwrap()
    }

    #[test]
    fn a_configuration_survives_the_trip_through_its_document() {
        let config = resolved(ProfileArgs {
            models: Some(vec!["mock-model".into()]),
            streaming: Some(true),
            request_rate: Some(vec![12.5]),
            random_seed: Some(7),
            ..Default::default()
        });
        let doc = config.to_document();
        let back = ProfileConfig::from_document(&doc).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.to_document(), doc);
        assert_eq!(back.request_rate, Some(12.5));
        assert_eq!(back.random_seed, Some(7));
        assert_eq!(
            doc.get("models"),
            Some(&aiperf_protocol::document::Value::Array(vec![
                aiperf_protocol::document::Value::Str("mock-model".into())
            ]))
        );
    }
}
