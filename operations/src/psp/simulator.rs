//! A local PSP that plays Ogone e-Commerce's hosted payment page, for
//! `emledger up` and tests (never for production: whoever can reach its page can
//! "pay"; `emledger api` serves it only with `--psp-simulator` and warns).
//!
//! Its page refuses a request whose SHA-IN does not verify; the customer's choice
//! (pay, decline, cancel) becomes a feedback signed with SHA-OUT, sent as a
//! server-to-server notification and as the redirect back to the platform, which
//! verifies it with [`Ogone::verify_feedback`](super::ogone::Ogone) like any
//! feedback of the real PSP.

use rand::RngCore;
use rust_decimal::Decimal;

use super::{
    ogone::{self, param, Ogone},
    Feedback, FeedbackError, Order, Psp,
};

/// The simulator: the platform's [`Ogone`] configuration, pointed at the local page.
#[derive(Debug, Clone)]
pub struct Simulator {
    pub ogone: Ogone,
    /// Where its server-to-server notifications go (the platform's notification URL).
    pub notify_url: String,
}

/// A request to the page whose SHA-IN verified.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub params: Vec<(String, String)>,
    pub order_id: String,
    /// `AMOUNT` in cents.
    pub amount_cents: u128,
    pub currency: String,
    pub description: String,
}

/// What the customer does on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// STATUS 9.
    Pay,
    /// STATUS 2, NCERROR 30001001.
    Decline,
    /// STATUS 1.
    Cancel,
    /// STATUS 91 (the PSP does not know yet; a later notification settles it).
    Processing,
}

impl std::str::FromStr for Choice {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "pay" => Ok(Self::Pay),
            "decline" => Ok(Self::Decline),
            "cancel" => Ok(Self::Cancel),
            "processing" => Ok(Self::Processing),
            _ => Err(()),
        }
    }
}

/// Why the page refuses a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PageError {
    #[error("unknown order; please contact your merchant (SHA-IN signature mismatch)")]
    BadSignature,
    #[error("unknown merchant PSPID")]
    UnknownMerchant,
    #[error("the request has no valid {0}")]
    Missing(&'static str),
}

impl Simulator {
    /// Checks a page request (its SHASIGN over every other parameter, and the PSPID).
    pub fn check_request(&self, params: &[(String, String)]) -> Result<PageRequest, PageError> {
        let given = param(params, "SHASIGN").ok_or(PageError::BadSignature)?;
        let signed: Vec<(String, String)> = params.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("SHASIGN")).cloned().collect();
        if !ogone::same_signature(given, &ogone::sign_in(&signed, &self.ogone.sha_in, self.ogone.hash)) {
            return Err(PageError::BadSignature);
        }
        if param(params, "PSPID") != Some(self.ogone.pspid.as_str()) {
            return Err(PageError::UnknownMerchant);
        }
        let get = |n: &'static str| param(params, n).filter(|v| !v.is_empty()).ok_or(PageError::Missing(n));
        Ok(PageRequest {
            order_id: get("ORDERID")?.to_owned(),
            amount_cents: get("AMOUNT")?.parse().map_err(|_| PageError::Missing("AMOUNT"))?,
            currency: get("CURRENCY")?.to_owned(),
            description: param(params, "COM").unwrap_or("").to_owned(),
            params: params.to_vec(),
        })
    }

    /// The feedback of the customer's choice, signed with SHA-OUT, and the URL
    /// the customer goes back to (ACCEPTURL, DECLINEURL or CANCELURL).
    pub fn feedback(&self, request: &PageRequest, choice: Choice) -> (Vec<(String, String)>, String) {
        let (status, nc_error, url_param) = match choice {
            Choice::Pay => ("9", "0", "ACCEPTURL"),
            Choice::Processing => ("91", "0", "ACCEPTURL"),
            Choice::Decline => ("2", "30001001", "DECLINEURL"),
            Choice::Cancel => ("1", "0", "CANCELURL"),
        };
        let pay_id = (rand::rngs::OsRng.next_u32() % 900_000_000 + 100_000_000).to_string();
        let amount = Decimal::from_i128_with_scale(request.amount_cents as i128, 2).normalize();
        let mut p: Vec<(String, String)> = vec![
            ("orderID".into(), request.order_id.clone()),
            ("currency".into(), request.currency.clone()),
            ("amount".into(), amount.to_string()),
            ("PM".into(), "CreditCard".into()),
            ("ACCEPTANCE".into(), if choice == Choice::Pay { "test123".into() } else { String::new() }),
            ("STATUS".into(), status.into()),
            ("CARDNO".into(), "XXXXXXXXXXXX4242".into()),
            ("ED".into(), "1230".into()),
            ("CN".into(), "Card Holder".into()),
            ("TRXDATE".into(), chrono::Utc::now().format("%m/%d/%y").to_string()),
            ("PAYID".into(), pay_id),
            ("NCERROR".into(), nc_error.into()),
            ("BRAND".into(), "VISA".into()),
            ("IP".into(), "127.0.0.1".into()),
        ];
        let signature = ogone::sign_out(&p, &self.ogone.sha_out, self.ogone.hash);
        p.push(("SHASIGN".into(), signature));
        let back = param(&request.params, url_param).unwrap_or(self.ogone.return_url.as_str()).to_owned();
        (p, back)
    }

    /// The same order's feedback with another status (a later notification of the
    /// PSP that settles a payment it could not decide at once).
    pub fn later_feedback(&self, first: &[(String, String)], status: u32) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = first.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("SHASIGN")).cloned().collect();
        for (k, v) in p.iter_mut() {
            if k.eq_ignore_ascii_case("STATUS") {
                *v = status.to_string();
            }
        }
        let signature = ogone::sign_out(&p, &self.ogone.sha_out, self.ogone.hash);
        p.push(("SHASIGN".into(), signature));
        p
    }
}

impl Psp for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }
    fn payment_url(&self, order: &Order) -> String {
        self.ogone.payment_url(order)
    }
    fn verify_feedback(&self, params: &[(String, String)]) -> Result<Feedback, FeedbackError> {
        self.ogone.verify_feedback(params)
    }
}

/// `URL?params` (for redirects carrying a feedback).
pub fn with_query(url: &str, params: &[(String, String)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{url}{}{query}", if url.contains('?') { '&' } else { '?' })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psp::{verdict, HashAlgorithm, Verdict};

    fn sim() -> Simulator {
        Simulator {
            ogone: Ogone {
                pspid: "EMLEDGER".into(),
                sha_in: "in".into(),
                sha_out: "out".into(),
                hash: HashAlgorithm::Sha512,
                endpoint: "http://127.0.0.1:1/card-payments/orderstandard_utf8.asp".into(),
                return_url: "http://127.0.0.1:1/psp/ogone/return".into(),
                language: "en_US".into(),
            },
            notify_url: "http://127.0.0.1:1/psp/ogone/notifications".into(),
        }
    }

    #[test]
    fn the_page_checks_sha_in_and_its_feedback_verifies_with_sha_out() {
        let s = sim();
        let order = Order { order_id: "ab12".into(), amount_minor: 1050, decimals: 2, currency: "EUR".into(), description: "x".into() };
        let params = s.ogone.request_parameters(&order);
        let req = s.check_request(&params).unwrap();
        assert_eq!((req.amount_cents, req.order_id.as_str()), (1050, "ab12"));
        let (fb, back) = s.feedback(&req, Choice::Pay);
        assert_eq!(back, "http://127.0.0.1:1/psp/ogone/return");
        let f = s.verify_feedback(&fb).unwrap();
        assert_eq!((f.amount.to_string().as_str(), verdict(f.status)), ("10.5", Verdict::Paid));
        let later = s.later_feedback(&fb, 93);
        assert_eq!(verdict(s.verify_feedback(&later).unwrap().status), Verdict::Declined);
        // a tampered amount in the request is refused by the page
        let mut tampered = params.clone();
        tampered[2].1 = "1".into();
        assert!(matches!(s.check_request(&tampered), Err(PageError::BadSignature)));
    }
}
