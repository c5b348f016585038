//! Scheduled and recurring operations (issue 7).
//!
//! Calendar tests compare `emledger_operations::scheduler::calendar` with an independent
//! computation written here (month arithmetic by hand, the EU DST rule by hand).
//! End-to-end tests run anvil, Postgres, the real indexer and the API in-process,
//! and drive scheduler workers with explicit instants (`Worker::run_due(now)`, a
//! `ManualClock`) — schedules live in 2030, so no real time passes.
//!
//! `cargo build --bin emledger && cargo test -p emledger-tests --test scheduled`.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use emledger_operations::scheduler::{
    calendar::{Duration, Frequency, Schedule},
    ManualClock, Worker,
};
use serde_json::{json, Value};

mod api_stack;
use api_stack::{ApiOptions, MoneyStack};

const PAYOUT_IBAN: &str = "ES9121000418450200051332";

// ---------------------------------------------------------------- independent calendar

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn dim(y: i32, m: u32) -> u32 {
    [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1]
}

/// (y, m, d) plus `k` months, clamped to the month's last day.
fn plus_months(y: i32, m: u32, d: u32, k: u32) -> NaiveDate {
    let (mut yy, mut mm) = (y, m);
    for _ in 0..k {
        mm += 1;
        if mm == 13 {
            mm = 1;
            yy += 1;
        }
    }
    NaiveDate::from_ymd_opt(yy, mm, d.min(dim(yy, mm))).unwrap()
}

fn last_sunday(y: i32, m: u32) -> u32 {
    (1..=dim(y, m)).rev().find(|d| NaiveDate::from_ymd_opt(y, m, *d).unwrap().weekday() == Weekday::Sun).unwrap()
}

/// Europe/Madrid's offset in hours at a UTC instant (EU rule: CEST from the last
/// Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC).
fn madrid_offset(t: DateTime<Utc>) -> i64 {
    let y = t.year();
    let start = Utc.with_ymd_and_hms(y, 3, last_sunday(y, 3), 1, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(y, 10, last_sunday(y, 10), 1, 0, 0).unwrap();
    if t >= start && t < end {
        2
    } else {
        1
    }
}

/// A Madrid local time as UTC: gap → forward by the gap, overlap → the earlier.
fn madrid(local: NaiveDateTime) -> DateTime<Utc> {
    let cands: Vec<DateTime<Utc>> = [2i64, 1]
        .into_iter()
        .map(|off| (off, Utc.from_utc_datetime(&(local - Span::hours(off)))))
        .filter(|(off, t)| madrid_offset(*t) == *off)
        .map(|(_, t)| t)
        .collect();
    match cands.as_slice() {
        [] => Utc.from_utc_datetime(&(local - Span::hours(1))),
        [one] => *one,
        many => *many.iter().min().unwrap(),
    }
}

fn sched(start: &str, tz: &str, f: Frequency, d: Duration) -> Schedule {
    Schedule::new(utc(start), tz, f, d).unwrap()
}

fn all(s: &Schedule, max: usize) -> Vec<DateTime<Utc>> {
    s.iter_from(0).take(max).map(|(_, t)| t).collect()
}

#[test]
fn every_frequency_and_duration() {
    let start = "2030-01-15T10:00:00Z";
    let t0 = utc(start);
    let nominal = |f: Frequency, n: u32| -> DateTime<Utc> {
        let d = match f {
            Frequency::Once => t0.date_naive(),
            Frequency::Daily => t0.date_naive() + Span::days(n as i64),
            Frequency::Weekly => t0.date_naive() + Span::days(7 * n as i64),
            Frequency::Monthly => plus_months(2030, 1, 15, n),
            Frequency::Yearly => plus_months(2030, 1, 15, 12 * n),
        };
        Utc.from_utc_datetime(&d.and_hms_opt(10, 0, 0).unwrap())
    };
    for f in Frequency::ALL {
        let recurring = f != Frequency::Once;
        // ENDLESS
        let s = sched(start, "UTC", f, Duration::Endless);
        let expected: Vec<_> = (0..if recurring { 20 } else { 1 }).map(|n| nominal(f, n)).collect();
        assert_eq!(all(&s, 20), expected, "{f:?} endless");
        assert_eq!(s.count(), if recurring { None } else { Some(1) });
        // NUMBER_OF_REPETITIONS
        let s = sched(start, "UTC", f, Duration::Repetitions(4));
        let expected: Vec<_> = (0..if recurring { 4 } else { 1 }).map(|n| nominal(f, n)).collect();
        assert_eq!(all(&s, 100), expected, "{f:?} repetitions");
        assert_eq!(s.count(), Some(expected.len() as u32));
        // END_DATE on the 4th occurrence's date: inclusive
        let end = nominal(if recurring { f } else { Frequency::Daily }, 3).date_naive();
        let s = sched(start, "UTC", f, Duration::EndDate(end));
        assert_eq!(all(&s, 100), expected, "{f:?} end date {end}");
        // and one day before it: one fewer
        let s = sched(start, "UTC", f, Duration::EndDate(end - Span::days(1)));
        assert_eq!(all(&s, 100).len(), if recurring { 3 } else { 1 }, "{f:?} end date - 1");
        // the time of the end date is irrelevant by construction (a date); the count is reported
        assert!(s.iter_from(0).zip(s.iter_from(0).skip(1)).all(|(a, b)| a.1 < b.1), "increasing");
    }
}

#[test]
fn month_end_over_fourteen_months() {
    // Jan 31 2031 monthly for 14 months: each month's 31st or last day, never drifting
    let s = sched("2031-01-31T18:15:00Z", "UTC", Frequency::Monthly, Duration::Repetitions(14));
    let expected: Vec<_> =
        (0..14).map(|k| Utc.from_utc_datetime(&plus_months(2031, 1, 31, k).and_hms_opt(18, 15, 0).unwrap())).collect();
    assert_eq!(all(&s, 100), expected);
    let days: Vec<u32> = expected.iter().map(|t| t.day()).collect();
    assert_eq!(days, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 29]); // 2032 is a leap year
    // the 30th: Feb 28/29, then back to the 30th
    let s = sched("2031-01-30T00:00:00Z", "UTC", Frequency::Monthly, Duration::Endless);
    let d: Vec<_> = all(&s, 3).iter().map(|t| t.date_naive().to_string()).collect();
    assert_eq!(d, ["2031-01-30", "2031-02-28", "2031-03-30"]);
    assert_eq!(sched("2031-01-31T00:00:00Z", "UTC", Frequency::Monthly, Duration::Repetitions(14)).last_date(), NaiveDate::from_ymd_opt(2032, 2, 29));
}

#[test]
fn leap_years() {
    let s = sched("2028-02-29T12:00:00Z", "UTC", Frequency::Yearly, Duration::Repetitions(9));
    let got: Vec<_> = all(&s, 100).iter().map(|t| t.date_naive()).collect();
    let expected: Vec<_> = (0..9).map(|k| plus_months(2028, 2, 29, 12 * k)).collect();
    assert_eq!(got, expected);
    assert_eq!(got.iter().filter(|d| d.day() == 29).count(), 3); // 2028, 2032, 2036
    assert!(got.iter().all(|d| d.month() == 2));
    // 2100 is not a leap year
    let s = sched("2096-02-29T12:00:00Z", "UTC", Frequency::Yearly, Duration::Endless);
    assert_eq!(s.occurrence(4).unwrap().date_naive(), NaiveDate::from_ymd_opt(2100, 2, 28).unwrap());
    assert_eq!(s.occurrence(8).unwrap().date_naive(), NaiveDate::from_ymd_opt(2104, 2, 29).unwrap());
    // daily across Feb 29
    let s = sched("2028-02-28T00:00:00Z", "UTC", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2028, 3, 1).unwrap()));
    assert_eq!(all(&s, 10).len(), 3);
}

#[test]
fn dst_in_madrid() {
    // the independent offset function agrees with known instants
    assert_eq!(madrid(NaiveDate::from_ymd_opt(2030, 1, 10).unwrap().and_hms_opt(9, 30, 0).unwrap()), utc("2030-01-10T08:30:00Z"));
    assert_eq!(madrid(NaiveDate::from_ymd_opt(2030, 7, 10).unwrap().and_hms_opt(9, 30, 0).unwrap()), utc("2030-07-10T07:30:00Z"));
    // 09:30 daily across both changes of 2030 (Mar 31, Oct 27): local time kept
    let s = sched("2030-03-25T09:30:00+01:00", "Europe/Madrid", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2030, 11, 5).unwrap()));
    let got = all(&s, 1000);
    let expected: Vec<_> = (0..)
        .map(|n| NaiveDate::from_ymd_opt(2030, 3, 25).unwrap() + Span::days(n))
        .take_while(|d| *d <= NaiveDate::from_ymd_opt(2030, 11, 5).unwrap())
        .map(|d| madrid(d.and_hms_opt(9, 30, 0).unwrap()))
        .collect();
    assert_eq!(got, expected);
    assert!(got.contains(&utc("2030-03-30T08:30:00Z")) && got.contains(&utc("2030-03-31T07:30:00Z")));
    assert!(got.contains(&utc("2030-10-26T07:30:00Z")) && got.contains(&utc("2030-10-27T08:30:00Z")));
    // spring-forward gap: 02:30 does not exist on Mar 31 → 03:30 CEST (01:30 UTC)
    let s = sched("2030-03-29T02:30:00+01:00", "Europe/Madrid", Frequency::Daily, Duration::Repetitions(4));
    assert_eq!(all(&s, 10), [utc("2030-03-29T01:30:00Z"), utc("2030-03-30T01:30:00Z"), utc("2030-03-31T01:30:00Z"), utc("2030-04-01T00:30:00Z")]);
    assert_eq!(s.occurrence(2).unwrap().with_timezone(&chrono_tz_madrid()).format("%H:%M").to_string(), "03:30");
    // fall-back overlap: 02:30 happens twice on Oct 27 → runs once, the earlier (CEST, 00:30 UTC)
    let s = sched("2030-10-26T02:30:00+02:00", "Europe/Madrid", Frequency::Daily, Duration::Repetitions(3));
    assert_eq!(all(&s, 10), [utc("2030-10-26T00:30:00Z"), utc("2030-10-27T00:30:00Z"), utc("2030-10-28T01:30:00Z")]);
    // weekly and monthly keep the local time too
    let s = sched("2030-03-24T09:30:00+01:00", "Europe/Madrid", Frequency::Weekly, Duration::Repetitions(2));
    assert_eq!(all(&s, 10), [utc("2030-03-24T08:30:00Z"), utc("2030-03-31T07:30:00Z")]);
}

fn chrono_tz_madrid() -> emledger_operations::scheduler::calendar::Tz {
    "Europe/Madrid".parse().unwrap()
}

#[test]
fn end_date_is_an_inclusive_date_in_the_schedules_zone() {
    // the seed's example: DAILY from 2020-05-04 06:48 UTC until 2020-05-07 → 4 executions
    let s = sched("2030-05-04T06:48:00Z", "UTC", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2030, 5, 7).unwrap()));
    assert_eq!(s.count(), Some(4));
    assert_eq!(s.occurrence(3), Some(utc("2030-05-07T06:48:00Z")));
    // late in the evening: still the 7th
    let s = sched("2030-05-04T23:59:00Z", "UTC", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2030, 5, 7).unwrap()));
    assert_eq!(s.occurrence(3), Some(utc("2030-05-07T23:59:00Z")));
    assert_eq!(s.occurrence(4), None);
    // 00:30 in Madrid is the previous day in UTC: the zone decides the date
    let madrid_s = sched("2030-05-05T00:30:00+02:00", "Europe/Madrid", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2030, 5, 7).unwrap()));
    let utc_s = sched("2030-05-05T00:30:00+02:00", "UTC", Frequency::Daily, Duration::EndDate(NaiveDate::from_ymd_opt(2030, 5, 7).unwrap()));
    assert_eq!((madrid_s.count(), utc_s.count()), (Some(3), Some(4)));
    assert_eq!(madrid_s.occurrence(2), Some(utc("2030-05-06T22:30:00Z")));
}

// ---------------------------------------------------------------- end to end

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no string {k} in {v}")).to_owned()
}

/// A context of its own (as another replica would have).
async fn worker_ctx(st: &MoneyStack) -> emledger_operations::Platform {
    let config = emledger_api::ApiConfig {
        platform_key: Some(format!("0x{}", alloy::primitives::hex::encode(st.chain.platform.to_bytes()))),
        rpc_url: Some(st.chain.rpc_url()),
        scheduler: false,
        ..Default::default()
    };
    let pool = emledger_ledger::db::connect(&st.db_url, 4).await.unwrap();
    let platform = emledger_api::ApiContext::new(config, pool).await.unwrap().platform().clone();
    // a replica of this deployment: its cash-outs leave through the stack's bank outbox
    platform.enable_payouts();
    platform
}

async fn worker(st: &MoneyStack) -> Worker {
    Worker::new(worker_ctx(st).await)
}

fn sched_path(w: &str) -> String {
    format!("/api/v1/public/wallets/{w}/scheduled-operations")
}

async fn create(st: &MoneyStack, wallet: &str, body: Value) -> Value {
    st.post(&sched_path(wallet), body).await.ok(201).clone()
}

/// Executions (sorted by date) once none is TRIGGERED any more.
async fn settled_executions(st: &MoneyStack, wallet: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = st.get(&format!("{}/{id}/executions?sort=date,asc&size=100", sched_path(wallet))).await.ok(200).clone();
        let ex = r["_embedded"]["executions"].as_array().unwrap();
        if ex.iter().all(|e| e["status"] != "TRIGGERED") {
            return r;
        }
        assert!(start.elapsed() < api_stack::SETTLE, "executions never settled: {r}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

fn dates(v: &Value) -> Vec<DateTime<Utc>> {
    v.as_array().unwrap().iter().map(|e| utc(e["date"].as_str().unwrap())).collect()
}

fn statuses(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_end_to_end() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("scheduled_e2e", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    let (c, _) = st.wallet().await;
    st.fund(&a, "100").await;
    let w = worker(&st).await;

    // S1: monthly on the 31st, 09:30 Madrid time, wallet → wallet
    let s1 = create(
        &st,
        &a,
        json!({"alias": "rent", "amount": "10", "receiver": {"type": "IOCASH_WALLET", "account": b},
               "schedule": {"startDate": "2030-01-31T09:30:00.000+01", "frequency": "MONTHLY", "duration": {"type": "ENDLESS"}, "timeZone": "Europe/Madrid"}}),
    )
    .await;
    let s1id = s(&s1, "id");
    assert_eq!((s1["status"].as_str(), s1["amount"].as_str(), s1["concept"].as_str()), (Some("ACTIVE"), Some("10.00"), Some("Scheduled operation rent")));
    assert_eq!(utc(s1["schedule"]["nextDate"].as_str().unwrap()), utc("2030-01-31T08:30:00Z"));
    assert_eq!(s1["schedule"]["duration"], json!({"type": "ENDLESS", "endDate": null, "numberOfRepetitions": null}));
    assert_eq!(s1["receiver"], json!({"type": "IOCASH_WALLET", "account": b}));
    assert!(s1["_links"]["self"]["href"].as_str().unwrap().ends_with(&format!("/scheduled-operations/{s1id}")));
    assert_eq!(st.get(&format!("{}/{s1id}", sched_path(&a))).await.ok(200)["alias"], "rent");

    // refusals
    let base = json!({"alias": "x", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": b},
                      "schedule": {"startDate": "2030-02-01T00:00:00Z", "frequency": "DAILY"}});
    let with = |path: &[&str], v: Value| {
        let mut body = base.clone();
        let mut cur = &mut body;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = v;
        body
    };
    st.post(&sched_path(&a), with(&["alias"], json!("rent"))).await.err(409, "duplicate_alias");
    st.post(&sched_path(&a), with(&["amount"], json!("1.001"))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "frequency"], json!("HOURLY"))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "timeZone"], json!("Mars/Olympus"))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "startDate"], json!("2001-01-01T00:00:00Z"))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "startDate"], json!("tomorrow"))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "duration"], json!({"type": "END_DATE", "value": "2030-01-31"}))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["schedule", "duration"], json!({"type": "NUMBER_OF_REPETITIONS", "value": "0"}))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["receiver"], json!({"type": "PAYPAL", "account": "x"}))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["receiver"], json!({"type": "IOCASH_WALLET", "account": a}))).await.err(400, "invalid_request");
    st.post(&sched_path(&a), with(&["receiver"], json!({"type": "IOCASH_WALLET", "account": uuid::Uuid::now_v7()}))).await.err(404, "not_found");
    st.post(&sched_path(&a), with(&["receiver"], json!({"type": "EXTERNAL_BANK_ACCOUNT", "account": "ES00 nope"}))).await.err(400, "invalid_request");
    st.post(&sched_path(&uuid::Uuid::now_v7().to_string()), base.clone()).await.err(404, "not_found");
    let (other_client, _) = emledger_api::create_tenant(&st.pool, "other", "anvil-local").await?;
    let (_, other_key) = emledger_api::create_api_key(&st.pool, other_client, "k", &[emledger_api::Scope::Read, emledger_api::Scope::Write]).await?;
    let r = st.http.get(format!("{}{}/{s1id}", st.base, sched_path(&a))).header("X-API-Key", &other_key).send().await?;
    assert_eq!(r.status().as_u16(), 404);
    let r = st.http.delete(format!("{}{}/{s1id}", st.base, sched_path(&a))).header("X-API-Key", &other_key).send().await?;
    assert_eq!(r.status().as_u16(), 404);
    let (_, reader) = emledger_api::create_api_key(&st.pool, st.client_id, "r", &[emledger_api::Scope::Read]).await?;
    let r = st.http.post(format!("{}{}", st.base, sched_path(&a))).header("X-API-Key", &reader).json(&base).send().await?;
    assert_eq!(r.status().as_u16(), 403);

    // S2: from an empty wallet: fails first, recovers once funded
    let s2 = create(&st, &c, json!({"alias": "recover", "amount": 5, "receiver": {"type": "IOCASH_WALLET", "account": b},
        "schedule": {"startDate": "2030-02-10T12:00:00Z", "frequency": "DAILY", "duration": {"type": "NUMBER_OF_REPETITIONS", "value": "3"}}})).await;
    assert_eq!(s2["schedule"]["duration"], json!({"type": "NUMBER_OF_REPETITIONS", "endDate": "2030-02-12", "numberOfRepetitions": 3}));
    // S3: weekly, deleted mid-series
    let s3 = create(&st, &a, json!({"alias": "weekly", "amount": "1", "concept": "pocket money", "receiver": {"type": "IOCASH_WALLET", "account": b},
        "schedule": {"startDate": "2030-02-01T10:00:00+00:00", "frequency": "WEEKLY"}})).await;
    // S4: once, to an IBAN; S5: daily to a favourite until an inclusive end date
    let s4 = create(&st, &a, json!({"alias": "once", "amount": "2", "receiver": {"type": "EXTERNAL_BANK_ACCOUNT", "account": PAYOUT_IBAN},
        "schedule": {"startDate": "2030-02-15T08:00:00Z", "frequency": "ONCE", "duration": {"type": "ENDLESS"}}})).await;
    assert!(s4["schedule"]["duration"].is_null());
    let fav = st.post(&format!("/api/v1/public/wallets/{a}/favourite-external-accounts"), json!({"alias": "My bank", "externalIban": {"accountNumber": PAYOUT_IBAN}}))
        .await.ok(201).clone();
    let s5 = create(&st, &a, json!({"alias": "fav", "amount": "3", "receiver": {"type": "FAVOURITE_EXTERNAL_BANK_ACCOUNT", "account": s(&fav, "id")},
        "schedule": {"startDate": "2030-02-15T09:00:00Z", "frequency": "DAILY", "duration": {"type": "END_DATE", "value": "2030-02-16T00:00:00Z"}}})).await;
    assert_eq!(s5["schedule"]["duration"], json!({"type": "END_DATE", "endDate": "2030-02-16", "numberOfRepetitions": 2}));

    // Jan 31: S1's first occurrence
    assert_eq!(w.run_due(utc("2030-01-31T08:29:59Z")).await?.total(), 0);
    assert_eq!(w.run_due(utc("2030-01-31T08:30:00Z")).await?.triggered, 1);
    let ex = settled_executions(&st, &a, &s1id).await;
    let e0 = &ex["_embedded"]["executions"][0];
    assert_eq!((e0["status"].as_str(), utc(e0["date"].as_str().unwrap())), (Some("EXECUTED"), utc("2030-01-31T08:30:00Z")));
    let href = e0["_links"]["movement"]["href"].as_str().unwrap();
    let m = st.get(href).await.ok(200).clone();
    assert_eq!((m["type"].as_str(), m["status"].as_str(), m["amount"].as_str()), (Some("TRANSFER_OUT"), Some("SUCCESS"), Some("10.00")));
    assert_eq!(m["scheduledOperationId"].as_str(), Some(s1id.as_str()));
    assert_eq!(m["concept"], "Scheduled operation rent");
    let ins = st.get(&format!("/api/v1/public/wallets/{b}/movements?type=TRANSFER_IN")).await.ok(200).clone();
    let inn = &ins["_embedded"]["movements"][0];
    assert_eq!(inn["scheduledOperationId"].as_str(), Some(s1id.as_str()));

    // S3: two weekly occurrences missed → both run, in order; then deleted
    let r = w.run_due(utc("2030-02-08T10:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (2, 0));
    let ex3 = settled_executions(&st, &a, &s(&s3, "id")).await;
    assert_eq!(dates(&ex3["_embedded"]["executions"]), [utc("2030-02-01T10:00:00Z"), utc("2030-02-08T10:00:00Z")]);
    assert_eq!(dates(&ex3["_embedded"]["scheduledExecutions"])[0], utc("2030-02-15T10:00:00Z"));
    let d = st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&a), s(&s3, "id")), None, &[]).await.ok(200).clone();
    assert_eq!(d["status"], "DELETED");
    assert!(d["schedule"]["nextDate"].is_null());
    st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&a), s(&s3, "id")), None, &[]).await.err(409, "scheduled_operation_not_active");
    let ex3 = st.get(&format!("{}/{}/executions", sched_path(&a), s(&s3, "id"))).await.ok(200).clone();
    assert_eq!(ex3["_embedded"]["scheduledExecutions"], json!([]));
    assert_eq!(ex3["page"]["totalElements"], 2);
    // the alias of a deleted schedule is free again
    let again = create(&st, &a, with(&["alias"], json!("weekly"))).await;
    st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&a), s(&again, "id")), None, &[]).await.ok(200);

    // S2: insufficient funds → FAILED, the schedule carries on
    let r = w.run_due(utc("2030-02-10T12:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (0, 1));
    st.fund(&c, "20").await;
    let r = w.run_due(utc("2030-02-12T12:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (2, 0));
    let ex2 = settled_executions(&st, &c, &s(&s2, "id")).await;
    let list = &ex2["_embedded"]["executions"];
    assert_eq!(statuses(list), ["FAILED", "EXECUTED", "EXECUTED"]);
    assert_eq!(list[0]["errorCode"], "insufficient_funds");
    assert!(list[0]["reason"].as_str().unwrap().contains("can spend"), "{}", list[0]);
    assert!(list[0]["_links"].get("movement").is_none());
    assert!(list[1]["_links"]["movement"]["href"].is_string());
    let s2now = st.get(&format!("{}/{}", sched_path(&c), s(&s2, "id"))).await.ok(200).clone();
    assert_eq!(s2now["status"], "COMPLETED");
    assert!(s2now["schedule"]["nextDate"].is_null());
    st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&c), s(&s2, "id")), None, &[]).await.err(409, "scheduled_operation_not_active");

    // S4 + S5: cash-outs
    let r = w.run_due(utc("2030-02-16T09:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (3, 0));
    for (sid, n) in [(s(&s4, "id"), 1), (s(&s5, "id"), 2)] {
        let ex = settled_executions(&st, &a, &sid).await;
        assert_eq!(statuses(&ex["_embedded"]["executions"]), vec!["EXECUTED"; n]);
        for e in ex["_embedded"]["executions"].as_array().unwrap() {
            let m = st.get(e["_links"]["movement"]["href"].as_str().unwrap()).await.ok(200).clone();
            assert_eq!((m["type"].as_str(), m["scheduledOperationId"].as_str()), (Some("BANK_ACCOUNT_CASHOUT"), Some(sid.as_str())));
        }
        assert_eq!(st.get(&format!("{}/{sid}", sched_path(&a))).await.ok(200)["status"], "COMPLETED");
    }
    let (untagged,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM movements m JOIN scheduled_executions e ON m.operation_id = e.operation_id WHERE m.scheduled_operation_id IS DISTINCT FROM e.scheduled_operation_id",
    )
    .fetch_one(&st.pool)
    .await?;
    assert_eq!(untagged, 0, "every movement of a scheduled operation carries its id");

    // S1: Feb 28 (month end) and Mar 31 (now CEST) caught up at once
    let r = w.run_due(utc("2030-04-01T00:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (2, 0));
    let ex = settled_executions(&st, &a, &s1id).await;
    assert_eq!(
        dates(&ex["_embedded"]["executions"]),
        [utc("2030-01-31T08:30:00Z"), utc("2030-02-28T08:30:00Z"), utc("2030-03-31T07:30:00Z")]
    );
    assert_eq!(statuses(&ex["_embedded"]["executions"]), ["EXECUTED"; 3]);
    for e in ex["_embedded"]["executions"].as_array().unwrap() {
        let m = st.get(e["_links"]["movement"]["href"].as_str().unwrap()).await.ok(200).clone();
        assert_eq!(m["scheduledOperationId"].as_str(), Some(s1id.as_str()));
    }
    // the next 10, computed independently: the 31st or the month's last day, 09:30 Madrid
    let next: Vec<_> = (3..13).map(|k| madrid(plus_months(2030, 1, 31, k).and_hms_opt(9, 30, 0).unwrap())).collect();
    assert_eq!(dates(&ex["_embedded"]["scheduledExecutions"]), next);
    assert!(ex["_embedded"]["scheduledExecutions"].as_array().unwrap().iter().all(|e| e["status"] == "SCHEDULED"));
    assert_eq!(utc(st.get(&format!("{}/{s1id}", sched_path(&a))).await.ok(200)["schedule"]["nextDate"].as_str().unwrap()), next[0]);
    // paging of executions
    let p = st.get(&format!("{}/{s1id}/executions?size=2&sort=date,desc", sched_path(&a))).await.ok(200).clone();
    assert_eq!((p["page"]["totalElements"].as_u64(), p["page"]["totalPages"].as_u64()), (Some(3), Some(2)));
    assert_eq!(dates(&p["_embedded"]["executions"])[0], utc("2030-03-31T07:30:00Z"));
    assert!(p["_links"]["next"]["href"].is_string());

    // list
    let l = st.get(&sched_path(&a)).await.ok(200).clone();
    assert_eq!(l["page"]["totalElements"], 5);
    let l = st.get(&format!("{}?status=DELETED", sched_path(&a))).await.ok(200).clone();
    assert_eq!(l["_embedded"]["scheduledOperations"].as_array().unwrap().len(), 2);
    st.get(&format!("{}?status=NOPE", sched_path(&a))).await.err(400, "invalid_request");

    // money: a paid 3×10 + 2×1 + 2 + 2×3; b received 30 + 2 + 10; c 20 − 10
    st.wait_balances(&a, ("60.00", "60.00", "0.00")).await;
    st.wait_balances(&b, ("42.00", "42.00", "0.00")).await;
    st.wait_balances(&c, ("10.00", "10.00", "0.00")).await;

    // a wallet that is not READY: the occurrence fails, deleting is refused
    let s6 = create(&st, &c, json!({"alias": "gone", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": b},
        "schedule": {"startDate": "2030-05-01T00:00:00Z", "frequency": "DAILY"}})).await;
    sqlx::query("UPDATE wallets SET status = 'PENDING' WHERE id = $1::uuid").bind(&c).execute(&st.pool).await?;
    let r = w.run_due(utc("2030-05-01T00:00:00Z")).await?;
    assert_eq!((r.triggered, r.failed), (1, 1), "S1's Apr 30 runs, S6 fails");
    let ex6 = st.get(&format!("{}/{}/executions", sched_path(&c), s(&s6, "id"))).await.ok(200).clone();
    assert_eq!(ex6["_embedded"]["executions"][0]["errorCode"], "wallet_not_ready");
    st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&c), s(&s6, "id")), None, &[]).await.err(409, "wallet_not_ready");
    sqlx::query("UPDATE wallets SET status = 'READY' WHERE id = $1::uuid").bind(&c).execute(&st.pool).await?;
    st.send(reqwest::Method::DELETE, &format!("{}/{}", sched_path(&c), s(&s6, "id")), None, &[]).await.ok(200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_across_restarts_and_concurrent_workers() -> anyhow::Result<()> {
    let mut st = MoneyStack::start("scheduled_once", ApiOptions::default()).await?;
    let (a, _) = st.wallet().await;
    let (b, _) = st.wallet().await;
    st.fund(&a, "100").await;
    let sch = create(&st, &a, json!({"alias": "daily", "amount": "1", "receiver": {"type": "IOCASH_WALLET", "account": b},
        "schedule": {"startDate": "2030-03-01T06:00:00Z", "frequency": "DAILY", "duration": {"type": "NUMBER_OF_REPETITIONS", "value": 12}}})).await;
    let sid = s(&sch, "id");
    let day = |n: i64| utc("2030-03-01T06:00:00Z") + Span::days(n);

    // two workers at once over five due occurrences
    let (w1, w2) = (worker(&st).await, worker(&st).await);
    let (r1, r2) = tokio::join!(w1.run_due(day(4)), w2.run_due(day(4)));
    let (r1, r2) = (r1?, r2?);
    assert_eq!(r1.triggered + r2.triggered, 5, "{r1:?} {r2:?}");

    // a worker stopped mid-run (after 2 occurrences), another aborted mid-flight; a new one finishes
    let r = w1.run_due_at_most(day(9), 2).await?;
    assert_eq!(r.triggered, 2);
    drop(w1);
    let w2c = w2.clone();
    let aborted = tokio::spawn(async move { w2c.run_due(day(9)).await });
    tokio::time::sleep(StdDuration::from_millis(3)).await;
    aborted.abort();
    let _ = aborted.await;
    let w3 = worker(&st).await;
    w3.run_due(day(9)).await?;
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM scheduled_executions WHERE scheduled_operation_id = $1::uuid").bind(&sid).fetch_one(&st.pool).await?;
    assert_eq!(n, 10);

    // a worker with a stale view (schedule rewound): the idempotency key refuses every repeat
    sqlx::query("UPDATE scheduled_operations SET next_index = 0, next_date = start_date WHERE id = $1::uuid").bind(&sid).execute(&st.pool).await?;
    let r = w3.run_due(day(9)).await?;
    assert_eq!((r.triggered, r.skipped), (0, 10));

    // the worker's own loop on a manual clock: nothing until the clock moves
    let clock = ManualClock::new(day(9));
    let looping = Worker::with_clock(worker_ctx(&st).await, clock.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(looping.run(StdDuration::from_millis(20), stop_rx));
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM scheduled_executions WHERE scheduled_operation_id = $1::uuid").bind(&sid).fetch_one(&st.pool).await.unwrap();
        n
    };
    assert_eq!(count().await, 10);
    clock.set(day(30));
    let start = Instant::now();
    while count().await < 12 {
        assert!(start.elapsed() < StdDuration::from_secs(20), "the looping worker did not run");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    stop_tx.send(true)?;
    handle.await?;
    let done = st.get(&format!("{}/{sid}", sched_path(&a))).await.ok(200).clone();
    assert_eq!(done["status"], "COMPLETED");

    // exactly one payment per occurrence
    let ex = settled_executions(&st, &a, &sid).await;
    let list = &ex["_embedded"]["executions"];
    assert_eq!(dates(list), (0..12).map(day).collect::<Vec<_>>());
    assert_eq!(statuses(list), vec!["EXECUTED"; 12]);
    let (outs,): (i64,) = sqlx::query_as("SELECT count(*) FROM movements WHERE type = 'TRANSFER_OUT' AND scheduled_operation_id = $1::uuid")
        .bind(&sid)
        .fetch_one(&st.pool)
        .await?;
    assert_eq!(outs, 12);
    let (events,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM chain_events c JOIN operations o ON c.operation_id = o.chain_operation_id
         JOIN scheduled_executions e ON e.operation_id = o.id WHERE e.scheduled_operation_id = $1::uuid AND c.name = 'OperatorTransfer'",
    )
    .bind(&sid)
    .fetch_one(&st.pool)
    .await?;
    assert_eq!(events, 12);
    st.wait_balances(&b, ("12.00", "12.00", "0.00")).await;
    st.wait_balances(&a, ("88.00", "88.00", "0.00")).await;
    Ok(())
}
