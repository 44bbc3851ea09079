//! The two questions the API server answers for us, as kube-rbac-proxy asks them: who
//! holds this token (TokenReview), and may they do this (SubjectAccessReview).

use super::decision::Permission;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

/// The user a token belongs to, if the API server accepts it for `audience`.
///
/// The audience check matters twice: the API server refuses a token minted for another
/// audience, and an authenticator that ignores audiences returns none, which is refused
/// here (the TokenReview API's advice to clients that set `spec.audiences`).
pub async fn authenticate(
    client: &kube::Client,
    token: &str,
    audience: &str,
) -> Result<Option<UserInfo>, kube::Error> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_string(),
            audiences: Some(vec![audience.to_string()]),
        },
        ..TokenReview::default()
    };
    let answer = Api::<TokenReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    let Some(status) = answer.status else {
        return Ok(None);
    };
    let for_us = status
        .audiences
        .iter()
        .flatten()
        .any(|a| a.as_str() == audience);
    Ok(match (status.authenticated, for_us, status.user) {
        (Some(true), true, Some(user)) if user.username.is_some() => Some(user),
        _ => None,
    })
}

/// Whether `user` holds `permission` in `namespace`.
pub async fn authorize(
    client: &kube::Client,
    user: &UserInfo,
    permission: &Permission,
    namespace: &str,
) -> Result<bool, kube::Error> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: user.username.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.to_string()),
                verb: Some(permission.verb.into()),
                group: Some(permission.group.into()),
                resource: Some(permission.resource.into()),
                subresource: Some(permission.subresource.into()),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}
