//! SQL text the steps build themselves (DDL takes no bind parameters): identifiers
//! derived from team names, and string literals.

/// A name safe inside an SQL identifier: lower-case alphanumerics and `_`, with a short
/// hash of the original so that different names never collide.
pub(crate) fn ident_suffix(name: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    slug.push_str(&format!("_{h:08x}"));
    slug
}

/// A string as an SQL literal (DDL takes no bind parameters).
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identifiers are safe and distinct even for names that slug the same.
    #[test]
    fn identifiers_are_safe_and_distinct() {
        let a = ident_suffix("Red Bull Racing");
        let b = ident_suffix("Red-Bull-Racing");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_eq!(literal("O'Neil"), "'O''Neil'");
    }
}
