//! Where webhook deliveries may go: public addresses only.
//!
//! A tenant chooses its endpoint's URL, and the platform POSTs to it from inside
//! the operator's network. Without a guard a tenant could aim the deliveries at
//! that network (a database, an admin port, a cloud metadata service at
//! 169.254.169.254) and read its answers' status codes. So an endpoint must
//! resolve to public addresses only:
//!
//! - at registration, a URL whose host is an IP literal of a non-public range is
//!   refused (400 naming `url`);
//! - before every delivery the host is resolved and every address checked; a
//!   non-public one fails that try with a reason (the delivery is retried like
//!   any failed try, so a fixed DNS record lets it through later).
//!
//! The development case stays open: plain `http` to a loopback host (which
//! [`validate_url`](super::validate_url) allows only for loopback) may reach
//! loopback. `emledger api --webhook-allow-private-targets` lifts the guard for
//! platforms whose receivers live on a private network.
//!
//! The delivery clients also resolve through [`PublicOnlyResolver`], which drops
//! every non-public address from the answers they connect to: a name whose DNS
//! answer changes between the check and the connection (rebinding) still cannot
//! reach a private, link-local or loopback address. Deliveries over plain http
//! (which only loopback hosts may register) go through a second client whose
//! resolver keeps loopback answers, the development case; https never connects
//! to loopback.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::atomic::{AtomicBool, Ordering},
};

use alloy::transports::http::reqwest::dns::{Addrs, Name, Resolve, Resolving};

const LOOPBACK: &str = "a loopback address";

static ALLOW_PRIVATE: AtomicBool = AtomicBool::new(false);

/// `--webhook-allow-private-targets`: set once when the API starts.
pub fn set_allow_private(allow: bool) {
    ALLOW_PRIVATE.store(allow, Ordering::Relaxed);
}

pub fn allow_private() -> bool {
    ALLOW_PRIVATE.load(Ordering::Relaxed)
}

/// Why `ip` is not a public address (`None`: it is).
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        LOOPBACK
    } else if ip.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address (cloud metadata services live there)"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        "a multicast, broadcast or reserved address"
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0 && c == 0) {
        "a documentation, benchmarking or protocol-assignment address"
    } else {
        return None;
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        LOOPBACK
    } else if ip.is_unspecified() {
        "an unspecified address"
    } else if first & 0xfe00 == 0xfc00 {
        "a unique local (private) address"
    } else if first & 0xffc0 == 0xfe80 {
        "a link-local address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "a documentation address"
    } else if ip.segments()[..6] == [0, 0, 0, 0, 0, 0] {
        // the deprecated IPv4-compatible form ::a.b.c.d
        return non_public_v4(Ipv4Addr::from(((ip.segments()[6] as u32) << 16) | ip.segments()[7] as u32)).or(Some("an IPv4-compatible address"));
    } else {
        return None;
    })
}

/// May a delivery over `scheme` reach `ip`? Loopback only for plain http (the
/// development case); nothing else that is not public.
pub fn refusal(scheme: &str, ip: IpAddr) -> Option<String> {
    if allow_private() {
        return None;
    }
    match non_public(ip) {
        None => None,
        Some(LOOPBACK) if scheme == "http" => None,
        Some(why) => Some(format!(
            "the endpoint's host resolves to {ip}, {why}: webhook targets must be public addresses \
             (an operator may allow private ones with --webhook-allow-private-targets)"
        )),
    }
}

/// At registration: an IP-literal host must be allowed (domains are checked at
/// every delivery, when they are resolved).
pub fn check_literal(url: &url::Url) -> Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    refusal(url.scheme(), ip).map_or(Ok(()), Err)
}

/// Before a delivery: resolves the URL's host and checks every address.
pub async fn check_resolved(raw: &str) -> Result<(), String> {
    if allow_private() {
        return Ok(());
    }
    let url = url::Url::parse(raw).map_err(|e| format!("the endpoint URL does not parse: {e}"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|e| format!("cannot resolve {d}: {e}"))?
            .map(|a| a.ip())
            .collect(),
        None => return Err("the endpoint URL has no host".into()),
    };
    if addrs.is_empty() {
        return Err("the endpoint's host resolves to no address".into());
    }
    match addrs.into_iter().find_map(|ip| refusal(url.scheme(), ip)) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The addresses of `host` a delivery may connect to: the public ones, and
/// loopback when `keep_loopback` (plain http, the development case); an answer
/// with nothing else is an error naming what it had.
pub fn connectable(host: &str, addrs: Vec<SocketAddr>, keep_loopback: bool) -> Result<Vec<SocketAddr>, String> {
    if allow_private() {
        return Ok(addrs);
    }
    let allowed = |why: &str| keep_loopback && why == LOOPBACK;
    let first_refused = addrs.iter().find_map(|a| non_public(a.ip()).filter(|why| !allowed(why)).map(|why| (a.ip(), why)));
    let kept: Vec<SocketAddr> = addrs.into_iter().filter(|a| non_public(a.ip()).is_none_or(allowed)).collect();
    match (kept.is_empty(), first_refused) {
        (true, Some((ip, why))) => Err(format!("{host} resolves to {ip}, {why}: webhook targets must be public addresses")),
        (true, None) => Err(format!("{host} resolves to no address")),
        (false, _) => Ok(kept),
    }
}

/// A webhook client's DNS resolver: the system's answers through [`connectable`].
pub struct PublicOnlyResolver {
    /// Keep loopback answers (the client for plain http URLs only).
    pub keep_loopback: bool,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let keep_loopback = self.keep_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = connectable(&host, addrs, keep_loopback)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass_and_every_internal_range_is_named() {
        for public in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "2606:4700::1111"] {
            assert_eq!(non_public(ip(public)), None, "{public}");
        }
        for (addr, why) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::", "unspecified"),
        ] {
            let got = non_public(ip(addr)).unwrap_or_else(|| panic!("{addr} passed as public"));
            assert!(got.contains(why), "{addr}: {got}");
        }
    }

    #[test]
    fn loopback_only_over_plain_http() {
        assert_eq!(refusal("http", ip("127.0.0.1")), None);
        assert!(refusal("https", ip("127.0.0.1")).is_some());
        assert!(refusal("http", ip("10.0.0.1")).is_some());
        assert!(refusal("https", ip("169.254.169.254")).unwrap().contains("169.254.169.254"));
        assert_eq!(refusal("https", ip("1.1.1.1")), None);
    }

    #[test]
    fn literals_are_checked_at_registration_and_domains_left_to_delivery() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(check_literal(&u("https://10.0.0.8/hook")).is_err());
        assert!(check_literal(&u("https://[fd12::1]/hook")).is_err());
        assert!(check_literal(&u("https://169.254.169.254/latest/meta-data")).is_err());
        assert!(check_literal(&u("http://127.0.0.1:9000/hook")).is_ok());
        assert!(check_literal(&u("https://93.184.216.34/hook")).is_ok());
        assert!(check_literal(&u("https://internal.example/hook")).is_ok());
    }

    #[test]
    fn the_resolver_keeps_public_answers_and_loopback_only_for_plain_http() {
        let sa = |s: &str| SocketAddr::new(ip(s), 443);
        for keep_loopback in [false, true] {
            let mixed = vec![sa("10.0.0.7"), sa("93.184.216.34"), sa("169.254.169.254"), sa("127.0.0.1")];
            let kept = connectable("h", mixed, keep_loopback).unwrap();
            assert_eq!(kept.contains(&sa("127.0.0.1")), keep_loopback);
            assert!(kept.contains(&sa("93.184.216.34")) && kept.len() == 1 + keep_loopback as usize, "{kept:?}");
            let err = connectable("rebound.example", vec![sa("169.254.169.254")], keep_loopback).unwrap_err();
            assert!(err.contains("rebound.example") && err.contains("link-local"), "{err}");
            assert!(connectable("h", vec![], keep_loopback).unwrap_err().contains("no address"));
        }
        assert_eq!(connectable("h", vec![sa("127.0.0.1")], true).unwrap(), vec![sa("127.0.0.1")]);
        let err = connectable("rebound.example", vec![sa("127.0.0.1"), sa("::1")], false).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }

    /// The real resolver with the system's answer for `localhost` (a name that
    /// resolves to loopback, as a rebound one would).
    #[tokio::test]
    async fn the_https_resolver_refuses_a_name_that_resolves_to_loopback() {
        let name = || -> Name { "localhost".parse().unwrap() };
        let err = match (PublicOnlyResolver { keep_loopback: false }).resolve(name()).await {
            Ok(addrs) => panic!("connectable: {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("localhost") && err.contains("loopback"), "{err}");
        let kept: Vec<SocketAddr> = (PublicOnlyResolver { keep_loopback: true }).resolve(name()).await.unwrap().collect();
        assert!(!kept.is_empty() && kept.iter().all(|a| a.ip().is_loopback()), "{kept:?}");
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_over_https_and_allowed_over_http() {
        let err = check_resolved("https://localhost:1/hook").await.unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert_eq!(check_resolved("http://localhost:1/hook").await, Ok(()));
        assert!(check_resolved("https://10.9.8.7/hook").await.unwrap_err().contains("private"));
    }
}
