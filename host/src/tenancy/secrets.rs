//! Tenants' secrets at rest: each value sealed with XChaCha20-Poly1305 under the worker's key
//! (`tenancy.secrets.key.file`, 32 random bytes made at the first start, readable by the
//! worker's user only), with a random nonce, and bound to its tenant and name (the associated
//! data), so a sealed value copied to another tenant or name does not open.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use rand_core::{OsRng, RngCore as _};

/// The worker's key for tenants' secrets.
pub struct SecretKey(XChaCha20Poly1305);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The key in `path`, made (32 random bytes, mode 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
                    format!(
                        "tenancy.secrets.key.file `{shown}` holds {} bytes, not a 32-byte key; \
                         restore the worker's key (secrets sealed with another cannot be read)",
                        bytes.len()
                    )
                })?;
                Ok(Self(XChaCha20Poly1305::new(&key.into())))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                let mut key = [0_u8; 32];
                OsRng.fill_bytes(&mut key);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|error| {
                        format!("cannot create `{}`: {error}", parent.display())
                    })?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|error| format!("cannot create `{shown}`: {error}"))?;
                file.write_all(&key)
                    .and_then(|()| file.sync_all())
                    .map_err(|error| format!("cannot write `{shown}`: {error}"))?;
                Ok(Self(XChaCha20Poly1305::new(&key.into())))
            }
            Err(error) => Err(format!(
                "cannot read tenancy.secrets.key.file `{shown}`: {error}"
            )),
        }
    }

    /// `value` sealed for `tenant`'s secret `name`: base64 of the nonce and the ciphertext.
    pub fn seal(&self, tenant: &str, name: &str, value: &str) -> String {
        let mut nonce = [0_u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let aad = associated(tenant, name);
        let ciphertext = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        base64::engine::general_purpose::STANDARD.encode(sealed)
    }

    /// The value of `tenant`'s secret `name` sealed as `sealed`.
    pub fn open(&self, tenant: &str, name: &str, sealed: &str) -> Result<String, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| format!("secret `{name}` is not stored as base64"))?;
        if bytes.len() < 24 {
            return Err(format!("secret `{name}` is stored cut short"));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let aad = associated(tenant, name);
        let plain = self
            .0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                format!(
                    "secret `{name}` does not open with this worker's key \
                     (tenancy.secrets.key.file); write it again"
                )
            })?;
        String::from_utf8(plain).map_err(|_| format!("secret `{name}` is not UTF-8"))
    }
}

/// What a sealed value is bound to: its tenant and name.
fn associated(tenant: &str, name: &str) -> Vec<u8> {
    format!("wasm-connect secret\0{tenant}\0{name}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_tenant_and_name_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        let key = SecretKey::load_or_create(&path).unwrap();
        let sealed = key.seal("acme", "db", "hunter2-secret");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(key.open("acme", "db", &sealed).unwrap(), "hunter2-secret");
        assert!(key.open("globex", "db", &sealed).is_err());
        assert!(key.open("acme", "other", &sealed).is_err());
        // The same key again from its file; another key does not open it.
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("acme", "db", &sealed).unwrap(), "hunter2-secret");
        let other = SecretKey::load_or_create(&dir.path().join("other.key")).unwrap();
        let error = other.open("acme", "db", &sealed).unwrap_err();
        assert!(
            error.contains("does not open with this worker's key"),
            "{error}"
        );
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(dir.path().join("short.key"), b"short").unwrap();
        let error = SecretKey::load_or_create(&dir.path().join("short.key")).unwrap_err();
        assert!(error.contains("not a 32-byte key"), "{error}");
    }
}
