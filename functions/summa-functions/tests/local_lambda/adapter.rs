//! The S3 adapter itself: multipart upload, pagination, empty objects.

use bytes::Bytes;
use summa_functions::{S3Storage, Storage, StorageRead};

use super::stack::*;

pub async fn s3_adapter(env: &Env) {
    // 7. The S3 adapter itself: multipart upload, pagination, empty objects.
    let multipart = S3Storage::from_config(&env.config).with_multipart(5 << 20, 5 << 20);
    let big: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 253) as u8).collect();
    multipart
        .put(
            BUCKET,
            "adapter/big",
            Bytes::from(big.clone()),
            summa_functions::storage::BINARY,
        )
        .await
        .unwrap();
    assert_eq!(env.s3.get(BUCKET, "adapter/big").await.unwrap(), big);
    assert!(
        env.etag("adapter/big").await.contains("-3"),
        "a 3-part upload"
    );
    assert_eq!(
        env.s3
            .get_range(BUCKET, "adapter/big", (11 << 20) - 3, 10)
            .await
            .unwrap(),
        &big[big.len() - 3..]
    );
    env.put("adapter/empty", Vec::new()).await;
    assert!(env
        .s3
        .get_range(BUCKET, "adapter/empty", 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(env.s3.size(BUCKET, "adapter/empty").await.unwrap(), 0);
    use futures::StreamExt;
    let e = &env;
    futures::stream::iter(0..1005)
        .map(|i| async move { e.put(&format!("adapter/many/{i:05}"), "x").await })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let keys = env.s3.list(BUCKET, "adapter/many/").await.unwrap();
    assert_eq!(keys.len(), 1005);
    assert_eq!(keys[1004], "adapter/many/01004");
    env.s3.delete(BUCKET, "adapter/many/00000").await.unwrap();
    env.s3.delete(BUCKET, "adapter/many/00000").await.unwrap();
    assert_eq!(
        env.s3
            .get(BUCKET, "adapter/nothing")
            .await
            .unwrap_err()
            .kind,
        summa_functions::StoreErrorKind::NotFound
    );
}
