//! Known vectors: the canonical requests and signatures in `testdata/` were computed with the
//! openssl command line (`rsautl -sign` for 1.0, `dgst -sha256 -sign` for 1.3) from the
//! rules of the protocol, independently of this module.

use super::*;
use std::path::PathBuf;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/server/testdata")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

const BODY: &[u8] = br#"{"name":"web1"}"#;

fn request() -> Request<'static> {
    Request {
        method: "put",
        // Repeated and trailing slashes are not part of the canonical path.
        path: "/organizations/x//nodes/web1/",
        body: BODY,
        user_id: "web1",
        timestamp: "2026-01-31T12:00:00Z",
        server_api_version: "1",
    }
}

fn authorization(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .filter(|(k, _)| k.starts_with("X-Ops-Authorization-"))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn canonical_request_1_0_hashes_path_and_body_with_sha1() {
    assert_eq!(
        canonical_request(SignVersion::V1_0, &request()),
        read("canonical-1.0.txt")
    );
}

#[test]
fn canonical_request_1_3_names_the_version_and_server_api_version() {
    assert_eq!(
        canonical_request(SignVersion::V1_3, &request()),
        read("canonical-1.3.txt")
    );
}

#[test]
fn version_1_0_encrypts_the_canonical_request_with_the_private_key() {
    let key = SigningKey::load(&testdata("pkcs1.pem")).unwrap();
    let headers = sign(&key, SignVersion::V1_0, &request()).unwrap();
    assert_eq!(authorization(&headers), read("signature-1.0.b64").trim());
    assert_eq!(headers[0].1, "algorithm=sha1;version=1.0;");
    assert_eq!(headers[3].1, "oGUhJkg6S3tblBYxpQLULLrxuZI=");
}

#[test]
fn version_1_3_signs_sha256_and_pkcs8_keys_sign_alike() {
    let pkcs1 = SigningKey::load(&testdata("pkcs1.pem")).unwrap();
    let pkcs8 = SigningKey::load(&testdata("pkcs8.pem")).unwrap();
    let a = sign(&pkcs1, SignVersion::V1_3, &request()).unwrap();
    let b = sign(&pkcs8, SignVersion::V1_3, &request()).unwrap();
    assert_eq!(a, b);
    assert_eq!(authorization(&a), read("signature-1.3.b64").trim());
    assert_eq!(
        a[0],
        ("X-Ops-Sign".into(), "algorithm=sha256;version=1.3;".into())
    );
    assert_eq!(a[1], ("X-Ops-Userid".into(), "web1".into()));
    assert_eq!(
        a[2],
        ("X-Ops-Timestamp".into(), "2026-01-31T12:00:00Z".into())
    );
}

#[test]
fn the_signature_is_split_into_numbered_60_character_headers() {
    let key = SigningKey::load(&testdata("pkcs1.pem")).unwrap();
    let headers = sign(&key, SignVersion::V1_3, &request()).unwrap();
    let parts: Vec<&(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("X-Ops-Authorization-"))
        .collect();
    // 256 signature bytes are 344 base64 characters: five full lines and one of 44.
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[0].0, "X-Ops-Authorization-1");
    assert_eq!(parts[5].0, "X-Ops-Authorization-6");
    assert!(parts[..5].iter().all(|(_, v)| v.len() == 60));
    assert_eq!(parts[5].1.len(), 44);
}

#[test]
fn a_key_file_that_is_not_a_key_names_the_file() {
    let err = SigningKey::from_pem("hello", Path::new("/etc/chef/client.pem")).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("/etc/chef/client.pem"), "{text}");
    assert!(text.contains("expected an RSA private key"), "{text}");
    let broken = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(SigningKey::from_pem(broken, Path::new("k.pem")).is_err());
}

#[test]
fn timestamps_are_utc_iso8601() {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_769_860_800);
    assert_eq!(timestamp(t), "2026-01-31T12:00:00Z");
}

#[test]
fn only_versions_1_0_and_1_3_are_spoken() {
    assert_eq!(SignVersion::parse("1.0"), Some(SignVersion::V1_0));
    assert_eq!(SignVersion::parse("1.3"), Some(SignVersion::V1_3));
    assert_eq!(SignVersion::parse("1.1"), None);
}
