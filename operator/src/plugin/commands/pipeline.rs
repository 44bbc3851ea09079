//! `kubectl pitstop run-pipeline|retry-pipeline RACE`: sets the annotation with a new
//! value, says what the operator should do, and waits (`--wait`) for its answer in
//! `status.pipeline`.

use crate::plugin::cli::PipelineArgs;
use crate::plugin::cluster::Cluster;
use crate::plugin::error::PluginError;
use crate::plugin::request::{self, Kind, Outcome};
use k8s_openapi::jiff::Timestamp;
use std::io::Write;
use std::time::{Duration, Instant};

/// Between two reads of the race while waiting.
const POLL: Duration = Duration::from_millis(500);

fn expectation(o: &Outcome) -> String {
    match o {
        Outcome::Started { run } => format!("the operator should start run {run}"),
        Outcome::Retried { run, tasks } if tasks.is_empty() => {
            format!("the operator should retry run {run}")
        }
        Outcome::Retried { run, tasks } => format!(
            "the operator should retry run {run} from {}",
            tasks.join(", ")
        ),
        Outcome::Refused(why) => format!("the operator will likely refuse it: {why}"),
    }
}

pub async fn request(
    c: &Cluster,
    kind: Kind,
    args: &PipelineArgs,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let name = &args.race;
    let race = c.race(name).await?;
    let prior = race.status.and_then(|s| s.pipeline);
    let expected = request::predict(kind, prior.as_ref());
    let value = request::value(Timestamp::now());
    c.annotate(name, kind.annotation(), &value).await?;
    writeln!(
        out,
        "race {name:?}: {}={value} set; {}",
        kind.annotation(),
        expectation(&expected)
    )
    .map_err(PluginError::write)?;
    if args.wait.is_zero() {
        return Ok(());
    }
    let deadline = Instant::now() + args.wait;
    loop {
        let race = c.race(name).await?;
        let pipeline = race.status.and_then(|s| s.pipeline);
        if let Some(answer) = request::answer(kind, &value, pipeline.as_ref()) {
            let text = request::describe(name, &answer);
            if let Outcome::Refused(_) = answer {
                return Err(PluginError::Refused(text));
            }
            writeln!(out, "{text}").map_err(PluginError::write)?;
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PluginError::NoAnswer(format!(
                "race {name:?}: the operator has not acted on {}={value} within {:?}: is it running? (kubectl get pods -A -l app.kubernetes.io/name=pitstop-operator)",
                kind.annotation(),
                args.wait
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
