//! Property tests of every parser of user input in the money domain: no input
//! panics (any Unicode, any bytes), and what a parser accepts means what it says
//! (round trips). Pure logic: no database, no chain.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use emledger_operations::{iso20022, money, revert, schedule, validate};
use proptest::prelude::*;
use serde_json::Value;

/// Any text, including control characters, NUL and multi-byte characters.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        // near misses of the formats: digits, signs, separators and a multi-byte character
        "[0-9+\\-:.TZé ]{0,40}",
    ]
}

/// A future instant, whole seconds.
fn future() -> impl Strategy<Value = DateTime<Utc>> {
    (3_600i64..3_000_000_000).prop_map(|s| Utc::now() + Duration::seconds(s)).prop_map(|t| Utc.timestamp_opt(t.timestamp(), 0).unwrap())
}

/// An offset of whole hours (the seed's short form needs those) or quarter hours.
fn offset() -> impl Strategy<Value = FixedOffset> {
    (-12i32..=14, prop_oneof![Just(0), Just(15), Just(30), Just(45)]).prop_map(|(h, m)| {
        let secs = h * 3600 + if h < 0 { -m * 60 } else { m * 60 };
        FixedOffset::east_opt(secs).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_text_panics_any_parser(s in any_text()) {
        let _ = money::amount("amount", &Value::String(s.clone()), 2);
        let _ = money::expiration("expiration", Some(&s));
        let _ = money::concept(Some(s.clone()));
        let _ = schedule::parse_instant("startDate", &s);
        let _ = validate::iban(&s);
        let _ = validate::phone_number(&s);
        let _ = validate::country(&s);
        let _ = validate::currency(&s);
        let _ = validate::email(&s);
        let _ = validate::dlt_address(&s);
        let _ = validate::instant(&s);
        let _ = iso20022::detect(&s);
        let _ = iso20022::camt::parse(&s);
        let _ = iso20022::pain002::parse(&s);
        let _ = iso20022::parse_amount(&s);
        let _ = emledger_operations::wallet::text("name", Some(s.clone()), 100);
    }

    #[test]
    fn an_amount_with_the_tokens_decimals_round_trips(units in 0u64..1_000_000_000_000_000, cents in 0u32..100) {
        let text = format!("{units}.{cents:02}");
        let parsed = money::amount("amount", &Value::String(text.clone()), 2);
        if units == 0 && cents == 0 {
            prop_assert!(parsed.is_err(), "zero is refused");
        } else {
            let a = parsed.unwrap();
            prop_assert_eq!(a.minor(), units as u128 * 100 + cents as u128);
            prop_assert_eq!(money::wire(a.minor(), 2), text);
        }
    }

    #[test]
    fn more_decimals_than_the_token_or_a_sign_is_refused(units in 0u64..1_000_000_000, milli in 0u32..1000, neg in any::<bool>()) {
        prop_assume!(milli % 10 != 0);
        let precise = money::amount("amount", &Value::String(format!("{units}.{milli:03}")), 2);
        prop_assert!(precise.is_err());
        if neg {
            let negative = money::amount("amount", &Value::String(format!("-{}.{:02}", units, milli / 10)), 2);
            prop_assert!(negative.is_err());
        }
    }

    #[test]
    fn an_expiration_in_any_offset_means_that_instant(t in future(), off in offset(), short in any::<bool>()) {
        let local = t.with_timezone(&off);
        let mut text = local.to_rfc3339();
        if short && off.local_minus_utc() % 3600 == 0 {
            // the seed's `+02`
            text.truncate(text.len() - 3);
        }
        prop_assert_eq!(money::expiration("expiration", Some(&text)).unwrap(), Some(t), "{}", text);
        prop_assert_eq!(schedule::parse_instant("startDate", &text).unwrap(), t, "{}", text);
        prop_assert_eq!(validate::instant(&text).unwrap(), t, "{}", text);
    }

    #[test]
    fn a_past_expiration_is_refused(s in 1i64..3_000_000_000) {
        let t = Utc::now() - Duration::seconds(s);
        prop_assert!(money::expiration("expiration", Some(&t.to_rfc3339())).is_err());
    }

    #[test]
    fn the_seeds_filter_form_is_utc(t in future()) {
        let text = t.format("%Y-%m-%d %H:%M:%S").to_string();
        prop_assert_eq!(validate::instant(&text).unwrap(), t);
    }

    #[test]
    fn an_iban_with_one_digit_changed_is_refused(pos in 4usize..24, delta in 1u32..10) {
        let good = validate::issue_iban();
        prop_assert_eq!(validate::iban(&good).unwrap(), good.clone());
        let mut bytes = good.into_bytes();
        let pos = pos.min(bytes.len() - 1);
        prop_assume!(bytes[pos].is_ascii_digit());
        bytes[pos] = b'0' + ((bytes[pos] - b'0') as u32 + delta) as u8 % 10;
        prop_assert!(validate::iban(&String::from_utf8(bytes).unwrap()).is_err());
    }

    #[test]
    fn codes_accepted_are_returned_as_given(s in "[A-Za-z]{2,3}") {
        if let Ok(c) = validate::country(&s) { prop_assert_eq!(c, s.clone()); }
        if let Ok(c) = validate::currency(&s) { prop_assert_eq!(c, s.clone()); }
    }

    #[test]
    fn revert_data_reads_as_printable_text(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = revert::describe(&data);
        prop_assert!(!text.contains('\0'));
        prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{:?}", text);
        let clean = revert::sanitize(&String::from_utf8_lossy(&data));
        prop_assert!(!clean.contains('\0'));
    }
}
