//! Per-tenant rate limits, per route class (reads: GET and HEAD; writes:
//! everything else and the token endpoint), with the GCRA of `governor`.
//!
//! The limit is checked once the credential is verified (so nobody can spend
//! another tenant's allowance by naming it): in the `Auth` extractor and in the
//! token endpoint. A refused request is 429 `rate_limited` with `Retry-After`;
//! every answer to an authenticated request carries the IETF RateLimit headers
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "writes";q=200;w=2`
//! and `RateLimit: "writes";r=57;t=1`: the quota of the window, what is left of
//! it and the seconds until it is whole again.
//!
//! Limits are per API process: with N replicas a tenant gets up to N times them.

use std::{
    num::NonZeroU32,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    extract::Request,
    http::{HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
    Quota, RateLimiter,
};
use uuid::Uuid;

use super::Error;
use crate::RateLimitConfig;

type Keyed = RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock, StateInformationMiddleware>;

/// One route class's limiter.
struct Class {
    name: &'static str,
    per_sec: u32,
    burst: u32,
    limiter: Keyed,
}

impl Class {
    fn new(name: &'static str, per_sec: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap());
        let limiter = RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)).with_middleware::<StateInformationMiddleware>();
        Some(Class { name, per_sec, burst: burst.get(), limiter })
    }

    /// The policy header: the burst is the quota of a window of burst/rate seconds.
    fn policy(&self) -> String {
        format!("\"{}\";q={};w={}", self.name, self.burst, self.burst.div_ceil(self.per_sec))
    }

    /// The state header: `remaining` of the quota, whole again in `t` seconds.
    fn state(&self, remaining: u32) -> String {
        let t = (self.burst - remaining.min(self.burst)).div_ceil(self.per_sec);
        format!("\"{}\";r={remaining};t={t}", self.name)
    }
}

/// The limits of this process.
pub struct RateLimits {
    reads: Option<Class>,
    writes: Option<Class>,
    clock: DefaultClock,
}

/// The RateLimit headers for one answer.
#[derive(Debug, Clone)]
pub struct Headers {
    pub policy: String,
    pub state: String,
}

/// A request-scoped slot the `Auth` extractor fills; the [`headers`] layer
/// copies it onto the answer.
#[derive(Clone, Default)]
pub struct Slot(Arc<OnceLock<Headers>>);

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimits {
            reads: Class::new("reads", config.rate_limit_reads),
            writes: Class::new("writes", config.rate_limit_writes),
            clock: DefaultClock::default(),
        }
    }

    /// Spends one request of `client`'s allowance for `method`'s class: the
    /// headers to answer with, or 429.
    pub fn check(&self, method: &Method, client: Uuid) -> Result<Option<Headers>, Error> {
        let class = if method == Method::GET || method == Method::HEAD { &self.reads } else { &self.writes };
        let Some(class) = class else { return Ok(None) };
        match class.limiter.check_key(&client) {
            Ok(snapshot) => Ok(Some(Headers { policy: class.policy(), state: class.state(snapshot.remaining_burst_capacity()) })),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0 || wait == Duration::ZERO);
                metrics::counter!("emledger_api_rate_limited_total", "class" => class.name).increment(1);
                Err(Error::RateLimited {
                    class: class.name,
                    retry_after_secs,
                    policy: class.policy(),
                    state: format!("\"{}\";r=0;t={retry_after_secs}", class.name),
                })
            }
        }
    }

    /// Like [`RateLimits::check`], remembering the headers in the request's slot.
    pub fn check_request(&self, method: &Method, slot: Option<&Slot>, client: Uuid) -> Result<(), Error> {
        if let (Some(h), Some(slot)) = (self.check(method, client)?, slot) {
            let _ = slot.0.set(h);
        }
        Ok(())
    }

    /// Forgets tenants idle long enough to have a whole allowance again.
    pub fn tidy(&self) {
        for class in [&self.reads, &self.writes].into_iter().flatten() {
            class.limiter.retain_recent();
        }
    }
}

/// The layer: gives the request a [`Slot`], and copies what was put in it onto the answer.
pub async fn headers(mut req: Request, next: Next) -> Response {
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    if let Some(h) = slot.0.get() {
        let headers = res.headers_mut();
        if !headers.contains_key("ratelimit") {
            for (name, value) in [("ratelimit-policy", &h.policy), ("ratelimit", &h.state)] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.insert(name, v);
                }
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_past_its_burst_is_refused_and_another_is_not() {
        let limits = RateLimits::new(&RateLimitConfig { rate_limit_reads: 5, rate_limit_writes: 0 });
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        for i in 0..10 {
            let h = limits.check(&Method::GET, a).unwrap().unwrap();
            assert_eq!(h.policy, "\"reads\";q=10;w=2");
            assert_eq!(h.state, format!("\"reads\";r={};t={}", 9 - i, (i + 1usize).div_ceil(5)));
        }
        match limits.check(&Method::GET, a) {
            Err(Error::RateLimited { class, retry_after_secs, .. }) => {
                assert_eq!(class, "reads");
                assert_eq!(retry_after_secs, 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(limits.check(&Method::GET, b).is_ok());
        // writes are off: never refused, no headers
        for _ in 0..100 {
            assert!(limits.check(&Method::POST, a).unwrap().is_none());
        }
    }
}
