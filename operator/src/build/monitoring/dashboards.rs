//! The three provisioned dashboards, kept as Grafana JSON in `dashboards/` and embedded at
//! build time. Every panel queries the race's Prometheus through the datasource uid
//! [`DATASOURCE_UID`]; the end-to-end test runs every panel query against a real
//! Prometheus and fails on one that returns nothing.

/// uid of the provisioned Prometheus datasource the dashboards point at.
pub const DATASOURCE_UID: &str = "pitstop-prometheus";

/// A dashboard file: its name in the ConfigMap and its JSON.
pub struct Dashboard {
    pub file: &'static str,
    pub json: &'static str,
}

pub const DASHBOARDS: [Dashboard; 3] = [
    Dashboard {
        file: "ferrari-telemetry.json",
        json: include_str!("dashboards/ferrari-telemetry.json"),
    },
    Dashboard {
        file: "system-performance.json",
        json: include_str!("dashboards/system-performance.json"),
    },
    Dashboard {
        file: "container-health.json",
        json: include_str!("dashboards/container-health.json"),
    },
];
