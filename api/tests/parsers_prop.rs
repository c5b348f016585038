//! Property tests of the API's own parsers of user input: the query string
//! (paging, sort, single values, UUIDs), path ids and JSON bodies. No input
//! panics; what is accepted is within the documented bounds.

use emledger_api::http::{
    extract::{parse_json, path_uuid, Query},
    paging::PageRequest,
};
use proptest::prelude::*;

const SORT: &[(&str, &str)] = &[("createdAt", "created_at"), ("name", "name")];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[0-9a-zA-Z,\\-_ é]{0,20}", proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned())]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![Just("page".to_owned()), Just("size".to_owned()), Just("sort".to_owned()), Just("id".to_owned()), text()];
    proptest::collection::vec((name, text()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn paging_never_panics_and_stays_in_bounds(q in pairs()) {
        let q = Query(q);
        if let Ok(p) = PageRequest::from_query(&q, SORT, ("createdAt", false)) {
            prop_assert!((1..=2000).contains(&p.size));
            prop_assert!(!p.sort.is_empty());
            prop_assert!(p.sort.iter().all(|(n, _, _)| SORT.iter().any(|(a, _)| a == n)));
        }
        let _ = q.uuid("id");
        let _ = q.parse::<i64>("page", "an integer");
    }

    #[test]
    fn valid_paging_is_read_as_given(page in 0u32..1000, size in 1u32..=2000, desc in any::<bool>()) {
        let dir = if desc { "desc" } else { "asc" };
        let q = Query(vec![("page".into(), page.to_string()), ("size".into(), size.to_string()), ("sort".into(), format!("name,{dir}"))]);
        let p = PageRequest::from_query(&q, SORT, ("createdAt", false)).unwrap();
        prop_assert_eq!((p.page, p.size), (page, size));
        prop_assert_eq!(p.sort, vec![("name", "name", !desc)]);
    }

    #[test]
    fn path_ids_never_panic(s in text(), id in any::<u128>()) {
        let _ = path_uuid("walletId", &s);
        let u = uuid::Uuid::from_u128(id);
        prop_assert_eq!(path_uuid("walletId", &u.to_string()).unwrap(), u);
    }

    #[test]
    fn json_bodies_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200), s in text()) {
        let _ = parse_json::<serde_json::Value>(&b);
        let _ = parse_json::<serde_json::Value>(s.as_bytes());
        let _ = parse_json::<std::collections::HashMap<String, String>>(s.as_bytes());
    }
}
