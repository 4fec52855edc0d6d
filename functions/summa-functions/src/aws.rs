//! AWS clients from the environment (the functions' `main`s).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::storage::S3Storage;

/// The HTTP(S) client of the SDK clients: hyper with rustls on ring (no
/// aws-lc-sys to build, cross-compiles to arm64 with zig).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shared AWS configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`...), with [`http_client`].
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// S3 storage from the environment.
pub async fn s3_storage() -> S3Storage {
    S3Storage::from_config(&load_config().await)
}
