//! Access keys per cloud. Loaded from each vendor SDK's own variables at start-up; runtimes that
//! receive per-invocation temporary credentials (SCF `X-Scf-*`, FunctionGraph `X-CFF-*`) replace
//! them with [`CredentialSlots::set`], as does the refresher of the self-hosted commands
//! ([`super::refresh`]: instance roles, web identity, container credentials), and every store or
//! analyzer reads the current value for each request. Debug output never shows a secret.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    /// Session / security token of temporary credentials.
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    /// From three variables of `vars`; `None` unless both keys are set and non-empty.
    pub fn from_vars(
        vars: &BTreeMap<String, String>,
        access_key: &str,
        secret_key: &str,
        token: &str,
    ) -> Option<Self> {
        let get = |n: &str| {
            vars.get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Some(Credentials {
            access_key: get(access_key)?,
            secret_key: get(secret_key)?,
            token: get(token),
        })
    }
}

/// Which cloud a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cloud {
    Tencent,
    Huawei,
    Aws,
}

/// The current credentials per cloud, shared by every clone of the config.
#[derive(Clone, Default)]
pub struct CredentialSlots(Arc<RwLock<BTreeMap<Cloud, Credentials>>>);

impl std::fmt::Debug for CredentialSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clouds: Vec<Cloud> = self
            .0
            .read()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        f.debug_tuple("CredentialSlots").field(&clouds).finish()
    }
}

impl CredentialSlots {
    /// Each vendor SDK's own variables: `TENCENTCLOUD_SECRETID/SECRETKEY/SESSIONTOKEN`,
    /// `HUAWEICLOUD_SDK_AK/SK/SECURITY_TOKEN`, `AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Self {
        let slots = CredentialSlots::default();
        let known = [
            (Cloud::Tencent, crate::cloud::tencent::CREDENTIAL_VARS),
            (Cloud::Huawei, crate::cloud::huawei::CREDENTIAL_VARS),
            (Cloud::Aws, crate::cloud::aws::CREDENTIAL_VARS),
        ];
        for (cloud, [ak, sk, token]) in known {
            if let Some(c) = Credentials::from_vars(vars, ak, sk, token) {
                slots.set(cloud, c);
            }
        }
        slots
    }

    pub fn get(&self, cloud: Cloud) -> Option<Credentials> {
        self.0.read().ok().and_then(|m| m.get(&cloud).cloned())
    }

    pub fn set(&self, cloud: Cloud, credentials: Credentials) {
        if let Ok(mut m) = self.0.write() {
            m.insert(cloud, credentials);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_each_sdk_variables_and_hides_secrets() {
        let vars: BTreeMap<String, String> = [
            ("TENCENTCLOUD_SECRETID", "AKID"),
            ("TENCENTCLOUD_SECRETKEY", "sk-tencent"),
            ("HUAWEICLOUD_SDK_AK", "HWAK"),
            ("HUAWEICLOUD_SDK_SK", ""),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "sk-aws"),
            ("AWS_SESSION_TOKEN", "sess-xyz"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let slots = CredentialSlots::from_vars(&vars);
        assert_eq!(slots.get(Cloud::Tencent).unwrap().token, None);
        assert!(
            slots.get(Cloud::Huawei).is_none(),
            "an empty secret is no credential"
        );
        assert_eq!(
            slots.get(Cloud::Aws).unwrap().token.as_deref(),
            Some("sess-xyz")
        );
        let shown = format!("{:?}", slots.get(Cloud::Aws).unwrap());
        assert!(
            !shown.contains("sk-aws") && !shown.contains("sess-xyz"),
            "{shown}"
        );

        let clone = slots.clone();
        clone.set(
            Cloud::Huawei,
            Credentials {
                access_key: "a".into(),
                secret_key: "b".into(),
                token: Some("t".into()),
            },
        );
        assert!(slots.get(Cloud::Huawei).is_some(), "clones share the slots");
    }
}
