//! The test's own hands on moto (AWS IAM): a client signing with a given key, and the users
//! and keys an administrator (or an attacker) makes.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

pub const REGION: &str = "us-east-1";

/// A key pair as moto issued it.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// An IAM client signing as `id`/`secret` against moto at `url` (before
/// `moto_check_signatures`, moto takes any).
pub fn iam_client(url: &str, id: &str, secret: &str) -> aws_sdk_iam::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(id, secret, None, None, "evict-cli-test"))
        .http_client(http)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// Creates an IAM user and returns its ARN.
pub async fn create_user(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .unwrap()
        .user
        .unwrap()
        .arn
}

/// Creates an access key for `user`.
pub async fn create_key(iam: &aws_sdk_iam::Client, user: &str) -> Key {
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    Key {
        id: key.access_key_id,
        secret: key.secret_access_key,
    }
}

/// Gives `user` the inline policy `name` with `statements`.
pub async fn put_policy(
    iam: &aws_sdk_iam::Client,
    user: &str,
    name: &str,
    statements: serde_json::Value,
) {
    iam.put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(
            serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        )
        .send()
        .await
        .unwrap();
}
