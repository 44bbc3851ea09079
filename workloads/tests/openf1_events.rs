//! `POST` and `GET /api/v1/sessions/{id}/events` against a real processor (Redis,
//! PostgreSQL): authorised like `POST /telemetry`, a body taken whole or refused whole
//! with the reason, a resend stored nothing twice, the periods the events make, and the
//! lap statistics neutralising exactly the laps that overlap a period.

mod common;

use common::Env;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: &str = "events-test-key-not-a-secret";
/// 2025-08-31T13:00:00Z.
const T0: i64 = 1_756_645_200_000;
const LAP_MS: i64 = 80_000;

async fn start(env: &Env) -> (Processor, String) {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "events".into();
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    (p, base)
}

async fn post(base: &str, session: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions/{session}/events"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(k) = key {
        r = r.header("authorization", format!("Bearer {k}"));
    }
    let r = common::contract::call(r).await;
    (r.status, r.json)
}

async fn get(url: &str) -> (StatusCode, Value) {
    let r = common::contract::get(url).await;
    (r.status, r.json)
}

fn event(at: i64, kind: &str) -> Value {
    json!({"at_ms": at, "kind": kind, "source": "test"})
}

/// Who may post, what is refused and why, and that nothing is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_checked_and_stored_once() {
    let env = Env::new("events_api").await;
    let (p, base) = start(&env).await;
    let two = json!([event(T0 + 1_000, "safety_car"), event(T0 + 90_000, "green")]).to_string();

    let (code, v) = post(&base, "ev", None, &two).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{v}");
    let (code, _) = post(&base, "ev", Some("wrong-key-but-long-enough"), &two).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, v) = get(&format!("{base}/api/v1/sessions/ev/events")).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");

    let (code, v) = post(&base, "ev", Some(KEY), &two).await;
    assert_eq!(
        (code, v),
        (StatusCode::ACCEPTED, json!({"stored": 2, "duplicates": 0}))
    );
    let (code, v) = post(&base, "ev", Some(KEY), &two).await;
    assert_eq!(
        (code, v),
        (StatusCode::OK, json!({"stored": 0, "duplicates": 2}))
    );
    // The same instant and kind from another source, and a new one beside it.
    let more = json!([
        {"at_ms": T0 + 1_000, "kind": "safety_car", "source": "game"},
        event(T0 + 200_000, "red_flag"),
    ]);
    let (code, v) = post(&base, "ev", Some(KEY), &more.to_string()).await;
    assert_eq!(
        (code, v),
        (StatusCode::ACCEPTED, json!({"stored": 1, "duplicates": 1}))
    );

    // A bad event refuses the body whole: the good one beside it is not stored either.
    let bad = [
        (
            json!([event(T0 + 300_000, "green"), event(T0 + 300_500, "yellow")]).to_string(),
            r#"events[1].kind: "yellow" is not one of safety_car, virtual_safety_car, red_flag, green, chequered"#,
        ),
        (
            json!([{"at_ms": 12, "kind": "green"}]).to_string(),
            "events[0].at_ms: 12 is not a Unix time in milliseconds between 2000 and 2100",
        ),
        ("[]".into(), "no events in the body"),
        (
            json!({"at_ms": T0, "kind": "green"}).to_string(),
            "expected a JSON array of events",
        ),
    ];
    for (body, reason) in bad {
        let (code, v) = post(&base, "ev", Some(KEY), &body).await;
        assert_eq!(
            (code, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(reason))
        );
    }
    let (code, v) = post(&base, "bad id!", Some(KEY), &two).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");

    let (code, v) = get(&format!("{base}/api/v1/sessions/ev/events")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        v["events"],
        json!([
            {"at_ms": T0 + 1_000, "kind": "safety_car", "source": "test"},
            {"at_ms": T0 + 90_000, "kind": "green", "source": "test"},
            {"at_ms": T0 + 200_000, "kind": "red_flag", "source": "test"},
        ])
    );
    assert_eq!(
        v["periods"],
        json!([
            {"kind": "safety_car", "begin_ms": T0 + 1_000, "end_ms": T0 + 90_000},
            {"kind": "red_flag", "begin_ms": T0 + 200_000, "end_ms": null},
        ])
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// Two cars' steady laps: without events none is neutralised; a virtual safety car
/// (announced twice), then a red flag ending behind the safety car, then green,
/// neutralise exactly the laps they overlap, whose pace alone would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn laps_overlapping_a_period_are_neutralised() {
    let env = Env::new("events_laps").await;
    let (p, base) = start(&env).await;
    let db = env.db().await;
    db.execute(
        "INSERT INTO sessions (session_id, circuit, total_laps, started_at_ms) VALUES ('laps', 'zandvoort', 12, $1)",
        &[&T0],
    )
    .await
    .unwrap();
    for (car, driver, offset) in [(1, "VER", 0i64), (4, "NOR", 1_500)] {
        for lap in 1..=12i32 {
            let crossed = T0 + offset + lap as i64 * LAP_MS;
            db.execute(
                "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms, top_speed_kph, crossed_at_ms)
                 VALUES ('laps', $1, $2, 'x', $3, $4, 300, $5)",
                &[&car, &driver, &lap, &(LAP_MS as i32), &crossed],
            )
            .await
            .unwrap();
        }
    }
    let laps_url = format!("{base}/api/v1/sessions/laps/laps");
    let flagged = |v: &Value, field: &str| -> Vec<(i64, i64)> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|l| l[field] == true)
            .map(|l| (l["car"].as_i64().unwrap(), l["lap"].as_i64().unwrap()))
            .collect()
    };
    let (_, v) = get(&laps_url).await;
    assert_eq!(flagged(&v, "neutralised"), []);
    assert_eq!(flagged(&v, "green").len(), 2 * 11, "all but lap 1");

    // VSC from inside lap 3 to inside lap 4 (announced twice); a red flag inside lap 8,
    // the restart behind the safety car inside lap 9, green just after lap 10 began for
    // car 1 and just before it did for car 4.
    let vsc = (T0 + 2 * LAP_MS + 40_000, T0 + 3 * LAP_MS + 10_000);
    let body = json!([
        event(vsc.0, "virtual_safety_car"),
        event(vsc.0 + 5_000, "virtual_safety_car"),
        event(vsc.1, "green"),
        event(T0 + 7 * LAP_MS + 20_000, "red_flag"),
        event(T0 + 8 * LAP_MS + 30_000, "safety_car"),
        event(T0 + 9 * LAP_MS + 1_000, "green"),
        event(T0 + 12 * LAP_MS + 5_000, "chequered"),
    ]);
    let (code, v) = post(&base, "laps", Some(KEY), &body.to_string()).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{v}");
    let (_, v) = get(&laps_url).await;
    let both = |laps: &[i64]| -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = [1, 4]
            .iter()
            .flat_map(|c| laps.iter().map(move |l| (*c, *l)))
            .collect();
        out.sort();
        out
    };
    let mut want = both(&[3, 4, 8, 9]);
    want.push((1, 10));
    want.sort();
    assert_eq!(flagged(&v, "neutralised"), want);
    assert!(
        flagged(&v, "green")
            .iter()
            .all(|l| !want.contains(l) && l.1 > 1)
    );
    let (_, e) = get(&format!("{base}/api/v1/sessions/laps/events")).await;
    let periods: Vec<&str> = e["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(periods, ["virtual_safety_car", "red_flag", "safety_car"]);
    // The stints view still reads the replaced lap_status.
    let n: i64 = db
        .query_one("SELECT count(*) FROM stints WHERE session_id = 'laps'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    p.shutdown().await;
    env.cleanup().await;
}
