//! The ClusterIP Service of a component.

use super::meta::{Component, meta, name, selector};
use crate::model::Model;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// One named TCP port to the same-named container port.
pub fn service(m: &Model, c: Component, port: i32, port_name: &str) -> Service {
    Service {
        metadata: meta(m, c, name(m, c)),
        spec: Some(ServiceSpec {
            selector: Some(selector(m, c)),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port,
                target_port: Some(IntOrString::String(port_name.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The in-cluster URL of a component's Service: `http://<race>-<component>.<ns>.svc:<port>`.
pub fn url(m: &Model, c: Component, port: i32) -> String {
    format!("http://{}.{}.svc:{port}", name(m, c), m.namespace)
}
