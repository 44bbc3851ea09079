//! `kubectl pitstop report RACE [-o FILE]`: the HTML report the post-race pipeline's
//! report step stored, from the processor's `GET /api/v1/sessions/{id}/report`.

use crate::plugin::cluster::Cluster;
use crate::plugin::error::PluginError;
use crate::plugin::processor::paths;
use crate::plugin::proxy::Answer;
use std::io::Write;
use std::path::{Path, PathBuf};

pub async fn save(
    c: &Cluster,
    name: &str,
    output: Option<PathBuf>,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    // The race first: "not found" and RBAC errors name the race, not the proxy.
    c.race(name).await?;
    let html = match c
        .processor(name, &paths::session(name, paths::REPORT))
        .await?
    {
        Answer::Ok(body) => body,
        Answer::NotFound(m) if m.contains("no report") => {
            return Err(PluginError::NotFound(format!(
                "race {name:?} has no report yet: the post-race pipeline's report step writes it (kubectl pitstop status {name} shows the pipeline)"
            )));
        }
        other => {
            return Err(PluginError::NotRunning {
                name: name.into(),
                why: other.why_not(name).unwrap_or_default(),
            });
        }
    };
    let path = output.unwrap_or_else(|| PathBuf::from(format!("{name}-report.html")));
    if path == Path::new("-") {
        return out.write_all(&html).map_err(PluginError::write);
    }
    std::fs::write(&path, &html)
        .map_err(|e| PluginError::Other(format!("cannot write {}: {e}", path.display())))?;
    writeln!(
        out,
        "race {name:?}: report written to {} ({} bytes)",
        path.display(),
        html.len()
    )
    .map_err(PluginError::write)
}
