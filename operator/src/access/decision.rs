//! The vocabulary of an access check: the permission a caller needs and the answer it
//! gets (shared by the checker, its cache and the reviews it asks for).

/// A resource permission, as RBAC rules and SubjectAccessReviews spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    /// API group; `""` is the core group.
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
}

impl Permission {
    /// The resource as an RBAC rule names it, e.g. `pods/metrics`.
    pub fn rbac_resource(&self) -> String {
        format!("{}/{}", self.resource, self.subresource)
    }
}

/// What a caller of `/cadvisor/{namespace}` must be allowed in that namespace.
pub const CADVISOR_PERMISSION: Permission = Permission {
    verb: "get",
    group: "",
    resource: "pods",
    subresource: "metrics",
};

/// The answer for one token and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        user: String,
    },
    /// Authenticated, but without the permission (answered 403).
    Forbidden {
        user: String,
    },
    /// No valid token for our audience (answered 401).
    Unauthenticated,
}
