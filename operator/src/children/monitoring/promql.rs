//! Confining PromQL to one race. A race's own Prometheus only ever sees that race, so its
//! rules and dashboards select series by name alone; the cluster's Prometheus sees every
//! race of every namespace. For it, [`Scope::apply`] adds label matchers to every vector
//! selector of an expression: `namespace` and `race` (which the race's PodMonitors put on
//! every series) for pitstop series and `up`, `namespace` and the race's pod names for
//! container metrics, nothing for the operator's own (cluster-wide) metrics.
//!
//! It is a lexer, not a parser: it knows strings, label matchers `{…}`, ranges `[…]`,
//! grouping label lists (`by (…)`, `on (…)`, …), keywords, functions (a name followed by
//! `(`) and aggregation operators; every other name is a metric.

use crate::children::meta::Component;
use crate::model::Model;

/// Label that names the race on every series the race's PodMonitors scrape.
pub const RACE_LABEL: &str = "race";

/// The race an expression is confined to.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    namespace: String,
    race: String,
}

/// Keywords that take a parenthesised list of label names.
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
/// Other keywords and literals: never metric names.
const KEYWORDS: [&str; 9] = [
    "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start",
];
/// Aggregation operators, which may be followed by `by`/`without` before their `(`.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];

impl Scope {
    pub fn of(m: &Model) -> Scope {
        Scope {
            namespace: m.namespace.clone(),
            race: m.name.clone(),
        }
    }

    /// Matchers of the race's own series (what the PodMonitors label): `namespace` and
    /// `race`.
    pub fn matchers(&self) -> String {
        format!(
            "namespace=\"{}\",{RACE_LABEL}=\"{}\"",
            self.namespace, self.race
        )
    }

    /// Matchers for `metric`: container metrics (cAdvisor, scraped by the cluster from
    /// the kubelets) carry the pod name, not the race; the operator's metrics are the
    /// operator's, whichever race reads them.
    fn matchers_for(&self, metric: &str) -> Option<String> {
        if metric.starts_with("pitstop_operator_") {
            None
        } else if metric.starts_with("container_") {
            // The race's pods: `<race>-<component>-…`, the pipeline's `<race>-p<run>-…`
            // and the season report's. A race named `race-1` never matches `race-10`'s.
            let workloads = [
                Component::Simulator,
                Component::Processor,
                Component::Redis,
                Component::Postgres,
            ]
            .map(Component::as_str)
            .join("|");
            Some(format!(
                "namespace=\"{}\",pod=~\"{}-({workloads}|p[0-9]+|season-report)-.+\"",
                self.namespace,
                self.race.replace('.', "\\\\.")
            ))
        } else {
            Some(self.matchers())
        }
    }

    /// `expr` with every vector selector confined to the race.
    pub fn apply(&self, expr: &str) -> String {
        let c: Vec<char> = expr.chars().collect();
        let mut out = String::with_capacity(expr.len() + 64);
        let mut i = 0;
        while i < c.len() {
            let ch = c[i];
            if ch == '"' || ch == '\'' || ch == '`' {
                let end = string_end(&c, i);
                out.extend(&c[i..end]);
                i = end;
            } else if ch == '[' {
                let end = closing(&c, i, '[', ']');
                out.extend(&c[i..end]);
                i = end;
            } else if ch == '{' {
                // A selector without a metric name (`{__name__=~"…"}`).
                i = self.matchers_block(&c, i, &self.matchers(), &mut out);
            } else if ch == '$' {
                // A Grafana variable outside a range: opaque.
                let end = word_end(&c, i + 1);
                out.extend(&c[i..end]);
                i = end;
            } else if ch.is_ascii_digit()
                || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
            {
                let end = number_end(&c, i);
                out.extend(&c[i..end]);
                i = end;
            } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
                let end = word_end(&c, i);
                let word: String = c[i..end].iter().collect();
                out.push_str(&word);
                i = end;
                let lower = word.to_ascii_lowercase();
                let next = skip_space(&c, i);
                if GROUPING.contains(&lower.as_str()) {
                    if c.get(next) == Some(&'(') {
                        let close = closing(&c, next, '(', ')');
                        out.extend(&c[i..close]);
                        i = close;
                    }
                } else if KEYWORDS.contains(&lower.as_str())
                    || AGGREGATIONS.contains(&lower.as_str())
                    || c.get(next) == Some(&'(')
                {
                    // Functions and operators: their arguments are scoped as they come.
                } else if let Some(m) = self.matchers_for(&word) {
                    if c.get(next) == Some(&'{') {
                        out.extend(&c[i..next]);
                        i = self.matchers_block(&c, next, &m, &mut out);
                    } else {
                        out.push('{');
                        out.push_str(&m);
                        out.push('}');
                    }
                }
            } else {
                out.push(ch);
                i += 1;
            }
        }
        out
    }

    /// Copies the matcher block opening at `open` with `ours` added; returns the index
    /// after its `}`.
    fn matchers_block(&self, c: &[char], open: usize, ours: &str, out: &mut String) -> usize {
        let close = closing(c, open, '{', '}');
        let inner: String = c[open + 1..close - 1].iter().collect();
        let inner = inner.trim_end();
        out.push('{');
        if inner.trim().is_empty() {
            out.push_str(ours);
        } else {
            out.push_str(inner);
            if !inner.ends_with(',') {
                out.push(',');
            }
            out.push_str(ours);
        }
        out.push('}');
        close
    }
}

/// Index after the string literal starting at `i`.
fn string_end(c: &[char], i: usize) -> usize {
    let quote = c[i];
    let mut j = i + 1;
    while j < c.len() && c[j] != quote {
        if c[j] == '\\' && quote != '`' {
            j += 1;
        }
        j += 1;
    }
    (j + 1).min(c.len())
}

/// Index after the bracket matching the `open` at `i`, skipping strings inside.
fn closing(c: &[char], i: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < c.len() {
        match c[j] {
            '"' | '\'' | '`' => {
                j = string_end(c, j);
                continue;
            }
            x if x == open => depth += 1,
            x if x == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    c.len()
}

fn word_end(c: &[char], mut j: usize) -> usize {
    while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_' || c[j] == ':') {
        j += 1;
    }
    j
}

/// Numbers, durations (`5m`), hex and exponents (`1e-3`).
fn number_end(c: &[char], i: usize) -> usize {
    let hex = c[i] == '0' && matches!(c.get(i + 1), Some('x' | 'X'));
    let mut j = i;
    while j < c.len() {
        let x = c[j];
        let exponent_sign = (x == '+' || x == '-') && !hex && matches!(c[j - 1], 'e' | 'E');
        if x.is_ascii_alphanumeric() || x == '.' || x == '_' || exponent_sign {
            j += 1;
        } else {
            break;
        }
    }
    j
}

fn skip_space(c: &[char], mut j: usize) -> usize {
    while j < c.len() && c[j].is_whitespace() {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::Scope;

    fn scope() -> Scope {
        Scope {
            namespace: "racing".into(),
            race: "monza".into(),
        }
    }

    /// Every selector gets the race's matchers; label lists, ranges, strings, numbers,
    /// functions and keywords are left as they were.
    #[test]
    fn selectors_are_confined_to_the_race() {
        let s = scope();
        let r = r#"namespace="racing",race="monza""#;
        for (expr, want) in [
            (
                "rate(pitstop_processor_messages_processed_total[1m])".to_string(),
                format!("rate(pitstop_processor_messages_processed_total{{{r}}}[1m])"),
            ),
            (
                r#"count(up{job="pitstop-processor"} == 1) >= 4"#.into(),
                format!(r#"count(up{{job="pitstop-processor",{r}}} == 1) >= 4"#),
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))".into(),
                format!("histogram_quantile(0.99, sum by (le) (rate(x_bucket{{{r}}}[5m])))"),
            ),
            (
                "a - on (lap) group_left () min by (lap) (a{team=\"Ferrari\"})".into(),
                format!(
                    "a{{{r}}} - on (lap) group_left () min by (lap) (a{{team=\"Ferrari\",{r}}})"
                ),
            ),
            (
                "sum(x) by (team) > bool 1e-3 and on() vector(1)".into(),
                format!("sum(x{{{r}}}) by (team) > bool 1e-3 and on() vector(1)"),
            ),
            (
                "sum(rate(pitstop_operator_reconciles_total[$__rate_interval]))".into(),
                "sum(rate(pitstop_operator_reconciles_total[$__rate_interval]))".into(),
            ),
            (
                r#"{__name__=~"pitstop_.+", team=~"$team"} offset 5m"#.into(),
                format!(r#"{{__name__=~"pitstop_.+", team=~"$team",{r}}} offset 5m"#),
            ),
            (
                "job:pitstop_processor_replicas:running".into(),
                format!("job:pitstop_processor_replicas:running{{{r}}}"),
            ),
        ] {
            assert_eq!(s.apply(&expr), want, "{expr}");
        }
        assert_eq!(
            s.apply(r#"changes(container_start_time_seconds{container!=""}[10m])"#),
            r#"changes(container_start_time_seconds{container!="",namespace="racing",pod=~"monza-(simulator|processor|redis|postgres|p[0-9]+|season-report)-.+"}[10m])"#
        );
    }
}
