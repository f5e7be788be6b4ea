//! Request signing as Chef's mixlib-authentication does it: the client signs a canonical form
//! of each request with its RSA key and sends the signature in `X-Ops-Authorization-N` headers.
//!
//! Protocol 1.0 encrypts the canonical request (sha1 hashes of path and body inside) with the
//! private key; 1.3 signs it with RSA PKCS#1 v1.5 over SHA-256 and also covers the server API
//! version. This module only computes headers; sending them is `http.rs`'s job.

use crate::error::{Error, Result, SourceLocation};
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha1::Digest;
use std::path::Path;
use std::time::SystemTime;

/// The signing protocol version (`authentication_protocol_version` in client.rb).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVersion {
    /// `1.0`: sha1, the canonical request encrypted with the private key.
    V1_0,
    /// `1.3`: sha256, an RSA PKCS#1 v1.5 signature; Chef's current default.
    V1_3,
}

impl SignVersion {
    /// `"1.0"` or `"1.3"` as client.rb spells it; other versions are refused.
    pub fn parse(text: &str) -> Option<SignVersion> {
        match text {
            "1.0" => Some(SignVersion::V1_0),
            "1.3" => Some(SignVersion::V1_3),
            _ => None,
        }
    }

    fn number(self) -> &'static str {
        match self {
            SignVersion::V1_0 => "1.0",
            SignVersion::V1_3 => "1.3",
        }
    }

    fn algorithm(self) -> &'static str {
        match self {
            SignVersion::V1_0 => "sha1",
            SignVersion::V1_3 => "sha256",
        }
    }

    /// Base64 of the digest this version uses.
    fn hash(self, bytes: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            SignVersion::V1_0 => b64.encode(sha1::Sha1::digest(bytes)),
            SignVersion::V1_3 => b64.encode(sha2::Sha256::digest(bytes)),
        }
    }
}

/// A client's or user's private key.
#[derive(Clone)]
pub struct SigningKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Reads a PEM key file (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
    pub fn load(path: &Path) -> Result<SigningKey> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        SigningKey::from_pem(&text, path)
    }

    /// Parses PEM text; `path` names it in errors.
    pub fn from_pem(text: &str, path: &Path) -> Result<SigningKey> {
        let key = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| e.to_string())
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| e.to_string())
        } else {
            Err("no `BEGIN RSA PRIVATE KEY` or `BEGIN PRIVATE KEY` block".to_string())
        };
        key.map(|key| SigningKey { key }).map_err(|why| {
            Error::compile_as(
                "Chef::Exceptions::InvalidPrivateKey",
                SourceLocation::file(path),
                format!("expected an RSA private key in PEM form (PKCS#1 or PKCS#8): {why}"),
            )
        })
    }

    /// The public half in PEM (SubjectPublicKeyInfo), as the server stores it.
    pub fn public_pem(&self) -> Result<String> {
        use rsa::pkcs8::EncodePublicKey;
        self.key
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| Error::input("Chef::Exceptions::InvalidPrivateKey", e.to_string()))
    }
}

/// What is signed about one request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The URL path, without query string.
    pub path: &'a str,
    pub body: &'a [u8],
    /// The client or user name (`X-Ops-Userid`).
    pub user_id: &'a str,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub timestamp: &'a str,
    /// `X-Ops-Server-API-Version` (signed only by 1.3).
    pub server_api_version: &'a str,
}

/// The canonical request: the text whose signature the server checks.
pub fn canonical_request(version: SignVersion, req: &Request<'_>) -> String {
    let method = req.method.to_ascii_uppercase();
    let path = canonical_path(req.path);
    let body_hash = version.hash(req.body);
    match version {
        SignVersion::V1_3 => format!(
            "Method:{method}\nPath:{path}\nX-Ops-Content-Hash:{body_hash}\n\
             X-Ops-Sign:version=1.3\nX-Ops-Timestamp:{}\nX-Ops-UserId:{}\n\
             X-Ops-Server-API-Version:{}",
            req.timestamp, req.user_id, req.server_api_version
        ),
        SignVersion::V1_0 => format!(
            "Method:{method}\nHashed Path:{}\nX-Ops-Content-Hash:{body_hash}\n\
             X-Ops-Timestamp:{}\nX-Ops-UserId:{}",
            version.hash(path.as_bytes()),
            req.timestamp,
            req.user_id
        ),
    }
}

/// Repeated slashes collapsed, a trailing slash dropped (except for `/` itself).
fn canonical_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// The DER prefix of a SHA-256 DigestInfo, which PKCS#1 v1.5 puts before the hash.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The authentication headers for `req`, in the order mixlib-authentication emits them.
pub fn sign(
    key: &SigningKey,
    version: SignVersion,
    req: &Request<'_>,
) -> Result<Vec<(String, String)>> {
    let canonical = canonical_request(version, req);
    let signature = match version {
        // private_encrypt: PKCS#1 v1.5 type 1 padding around the text itself.
        SignVersion::V1_0 => key
            .key
            .sign(Pkcs1v15Sign::new_unprefixed(), canonical.as_bytes()),
        SignVersion::V1_3 => {
            let scheme = Pkcs1v15Sign {
                hash_len: Some(32),
                prefix: Box::new(SHA256_DIGEST_INFO),
            };
            key.key
                .sign(scheme, &sha2::Sha256::digest(canonical.as_bytes()))
        }
    }
    .map_err(|e| {
        Error::input(
            "Mixlib::Authentication::AuthenticationError",
            format!(
                "cannot sign the request to {} as {}: {e}",
                req.path, req.user_id
            ),
        )
    })?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
    let mut headers = vec![
        (
            "X-Ops-Sign".to_string(),
            format!(
                "algorithm={};version={};",
                version.algorithm(),
                version.number()
            ),
        ),
        ("X-Ops-Userid".to_string(), req.user_id.to_string()),
        ("X-Ops-Timestamp".to_string(), req.timestamp.to_string()),
        ("X-Ops-Content-Hash".to_string(), version.hash(req.body)),
    ];
    // Ruby's Base64.encode64 breaks lines every 60 characters; each line is one header.
    for (i, chunk) in encoded.as_bytes().chunks(60).enumerate() {
        headers.push((
            format!("X-Ops-Authorization-{}", i + 1),
            String::from_utf8_lossy(chunk).into_owned(),
        ));
    }
    Ok(headers)
}

/// `time` as the canonical timestamp (`2026-01-31T12:00:00Z`).
pub fn timestamp(time: SystemTime) -> String {
    let t = crate::platform::clock::LocalTime::utc(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
