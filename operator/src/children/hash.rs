//! Stable hashes: of configuration (so a changed ConfigMap rolls the pods that read it)
//! and of names (the scheduler's Job names).

use k8s_openapi::api::core::v1::ConfigMap;

/// FNV-1a, 64 bit: stable across Rust versions (unlike `DefaultHasher`), so names and
/// golden files derived from it do not churn.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of a ConfigMap's data, put on pod templates so that a changed configuration
/// rolls the pods that read it.
pub fn config_hash(cm: &ConfigMap) -> String {
    let bytes = cm
        .data
        .iter()
        .flatten()
        .flat_map(|(k, v)| k.bytes().chain([0]).chain(v.bytes()).chain([0]));
    format!("{:016x}", fnv1a(bytes))
}
