//! The Ogone / Ingenico / Worldline e-Commerce hosted payment page protocol
//! (the PSP family seed 003's `paymentUrl` points at).
//!
//! - **Request (SHA-IN).** The merchant sends the customer to the PSP's page
//!   (`orderstandard_utf8.asp`) with the order's parameters (`PSPID`, `ORDERID`,
//!   `AMOUNT` in cents, `CURRENCY`, `LANGUAGE`, `ACCEPTURL`, `DECLINEURL`,
//!   `EXCEPTIONURL`, `CANCELURL`, …) and `SHASIGN`: every non-empty parameter,
//!   sorted by upper-case name, written `NAME=value` and followed by the SHA-IN
//!   passphrase, concatenated and hashed (SHA-1, SHA-256 or SHA-512, as set in
//!   the PSP's back office), upper-case hex.
//! - **Feedback (SHA-OUT).** The customer's return to the accept / decline /
//!   exception / cancel URL and the server-to-server post-sale notification
//!   carry the transaction's parameters (`ORDERID`, `PAYID`, `STATUS`, `AMOUNT`
//!   as a decimal, `CURRENCY`, `NCERROR`, …) and a `SHASIGN` computed the same
//!   way with the SHA-OUT passphrase over the parameters of the SHA-OUT list only
//!   (names compared case-insensitively; unknown parameters are not signed).
//!
//! Verification is constant-time and happens before anything else is read.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use sha2::Digest;

use super::{Feedback, FeedbackError, HashAlgorithm, Order, Psp};

/// The parameters the PSP signs in its feedback (SHA-OUT), upper case.
pub const SHA_OUT_PARAMETERS: &[&str] = &[
    "AAVADDRESS", "AAVCHECK", "AAVMAIL", "AAVNAME", "AAVPHONE", "AAVZIP", "ACCEPTANCE", "ALIAS", "AMOUNT", "BIC", "BIN",
    "BRAND", "CARDNO", "CCCTY", "CN", "COLLECTOR_BIC", "COLLECTOR_IBAN", "COMPLUS", "CREATION_STATUS", "CREDITDEBIT",
    "CURRENCY", "CVCCHECK", "DCC_COMMPERCENTAGE", "DCC_CONVAMOUNT", "DCC_CONVCCY", "DCC_EXCHRATE", "DCC_EXCHRATESOURCE",
    "DCC_EXCHRATETS", "DCC_INDICATOR", "DCC_MARGINPERCENTAGE", "DCC_VALIDHOURS", "DEVICEID", "DIGESTCARDNO", "ECI", "ED",
    "EMAIL", "ENCCARDNO", "FXAMOUNT", "FXCURRENCY", "IP", "IPCTY", "MANDATEID", "MOBILEMODE", "NBREMAILUSAGE",
    "NBRIPUSAGE", "NBRIPUSAGE_ALLTX", "NBRUSAGE", "NCERROR", "ORDERID", "PAYID", "PAYIDSUB", "PAYMENT_REFERENCE", "PM",
    "SCO_CATEGORY", "SCORING", "SEQUENCETYPE", "SIGNDATE", "STATUS", "SUBBRAND", "SUBSCRIPTION_ID", "TICKET", "TRXDATE",
    "VC",
];

/// The test and production hosted payment pages (UTF-8 variant).
pub const TEST_ENDPOINT: &str = "https://secure.ogone.com/ncol/test/orderstandard_utf8.asp";
pub const PROD_ENDPOINT: &str = "https://secure.ogone.com/ncol/prod/orderstandard_utf8.asp";

/// `SHASIGN` over `params` (name, value): non-empty values, sorted by upper-case
/// name, each `NAME=value` + passphrase; `include` filters the names (upper case).
pub fn sign(params: &[(String, String)], passphrase: &str, hash: HashAlgorithm, include: impl Fn(&str) -> bool) -> String {
    let mut signed: Vec<(String, &str)> = params
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.as_str()))
        .filter(|(k, v)| !v.is_empty() && k != "SHASIGN" && include(k))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (k, v) in signed {
        let _ = write!(text, "{k}={v}{passphrase}");
    }
    let digest = match hash {
        HashAlgorithm::Sha1 => sha1::Sha1::digest(text.as_bytes()).to_vec(),
        HashAlgorithm::Sha256 => sha2::Sha256::digest(text.as_bytes()).to_vec(),
        HashAlgorithm::Sha512 => sha2::Sha512::digest(text.as_bytes()).to_vec(),
    };
    hex::encode_upper(digest)
}

/// SHA-OUT signature of feedback parameters.
pub fn sign_out(params: &[(String, String)], passphrase: &str, hash: HashAlgorithm) -> String {
    sign(params, passphrase, hash, |k| SHA_OUT_PARAMETERS.contains(&k))
}

/// SHA-IN signature of request parameters (every parameter is signed).
pub fn sign_in(params: &[(String, String)], passphrase: &str, hash: HashAlgorithm) -> String {
    sign(params, passphrase, hash, |_| true)
}

/// Constant-time comparison of two signatures (case-insensitive hex).
pub fn same_signature(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_uppercase(), b.trim().to_ascii_uppercase());
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of a parameter (names are case-insensitive in the protocol).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The platform's side of the protocol.
#[derive(Clone)]
pub struct Ogone {
    pub pspid: String,
    pub sha_in: String,
    pub sha_out: String,
    pub hash: HashAlgorithm,
    /// The hosted payment page.
    pub endpoint: String,
    /// Where the PSP sends the customer back (accept, decline, exception and
    /// cancel alike: the platform's `/psp/ogone/return`).
    pub return_url: String,
    /// LANGUAGE of the page.
    pub language: String,
}

impl std::fmt::Debug for Ogone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ogone")
            .field("pspid", &self.pspid)
            .field("hash", &self.hash)
            .field("endpoint", &self.endpoint)
            .field("return_url", &self.return_url)
            .finish_non_exhaustive()
    }
}

impl Ogone {
    /// The request parameters of an order, signed (SHASIGN last).
    pub fn request_parameters(&self, order: &Order) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = vec![
            ("PSPID".into(), self.pspid.clone()),
            ("ORDERID".into(), order.order_id.clone()),
            ("AMOUNT".into(), order.amount_cents().to_string()),
            ("CURRENCY".into(), order.currency.clone()),
            ("LANGUAGE".into(), self.language.clone()),
            ("COM".into(), order.description.clone()),
            ("ACCEPTURL".into(), self.return_url.clone()),
            ("DECLINEURL".into(), self.return_url.clone()),
            ("EXCEPTIONURL".into(), self.return_url.clone()),
            ("CANCELURL".into(), self.return_url.clone()),
        ];
        let signature = sign_in(&p, &self.sha_in, self.hash);
        p.push(("SHASIGN".into(), signature));
        p
    }
}

impl Psp for Ogone {
    fn name(&self) -> &'static str {
        "ogone"
    }

    fn payment_url(&self, order: &Order) -> String {
        let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(self.request_parameters(order)).finish();
        format!("{}?{query}", self.endpoint)
    }

    fn verify_feedback(&self, params: &[(String, String)]) -> Result<Feedback, FeedbackError> {
        let Some(given) = param(params, "SHASIGN") else { return Err(FeedbackError::Unsigned) };
        if !same_signature(given, &sign_out(params, &self.sha_out, self.hash)) {
            return Err(FeedbackError::BadSignature);
        }
        let get = |name: &'static str| param(params, name).map(str::trim).filter(|v| !v.is_empty());
        let order_id = get("ORDERID").ok_or(FeedbackError::Missing("ORDERID"))?.to_owned();
        let status: u32 = get("STATUS").ok_or(FeedbackError::Missing("STATUS"))?.parse().map_err(|_| FeedbackError::Malformed("STATUS"))?;
        let amount: Decimal = get("AMOUNT").ok_or(FeedbackError::Missing("AMOUNT"))?.parse().map_err(|_| FeedbackError::Malformed("AMOUNT"))?;
        let currency = get("CURRENCY").ok_or(FeedbackError::Missing("CURRENCY"))?.to_ascii_uppercase();
        Ok(Feedback {
            order_id,
            pay_id: get("PAYID").map(str::to_owned),
            status,
            amount,
            currency,
            nc_error: get("NCERROR").filter(|e| *e != "0").map(str::to_owned),
            brand: get("BRAND").map(str::to_owned),
            card: get("CARDNO").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sha_in_sorts_by_upper_case_name_skips_empty_values_and_appends_the_passphrase_to_each() {
        // The worked example of the e-Commerce integration guide (SHA-1, passphrase Mysecretsig1875!?).
        let params = p(&[
            ("currency", "EUR"),
            ("AMOUNT", "1500"),
            ("PSPID", "MyPSPID"),
            ("ORDERID", "1234"),
            ("LANGUAGE", "en_US"),
            ("EMPTY", ""),
        ]);
        let text = "AMOUNT=1500Mysecretsig1875!?CURRENCY=EURMysecretsig1875!?LANGUAGE=en_USMysecretsig1875!?ORDERID=1234Mysecretsig1875!?PSPID=MyPSPIDMysecretsig1875!?";
        assert_eq!(sign_in(&params, "Mysecretsig1875!?", HashAlgorithm::Sha1), hex::encode_upper(sha1::Sha1::digest(text)));
        assert_eq!(sign_in(&params, "Mysecretsig1875!?", HashAlgorithm::Sha1), "F4CC376CD7A834D997B91598FA747825A238BE0A");
    }

    #[test]
    fn sha_out_signs_only_the_listed_parameters() {
        let base = p(&[("orderID", "1"), ("STATUS", "9"), ("amount", "15"), ("currency", "EUR"), ("PAYID", "42")]);
        let s = sign_out(&base, "out", HashAlgorithm::Sha512);
        let mut extra = base.clone();
        extra.push(("MY_OWN_PARAM".into(), "anything".into()));
        assert_eq!(sign_out(&extra, "out", HashAlgorithm::Sha512), s, "unknown parameters are not signed");
        let mut tampered = base.clone();
        tampered[2].1 = "1500".into();
        assert_ne!(sign_out(&tampered, "out", HashAlgorithm::Sha512), s);
        assert_eq!(s.len(), 128);
    }

    #[test]
    fn verify_feedback_reads_the_transaction_and_refuses_a_bad_signature() {
        let ogone = Ogone {
            pspid: "EMLEDGER".into(),
            sha_in: "in".into(),
            sha_out: "out-passphrase".into(),
            hash: HashAlgorithm::Sha256,
            endpoint: TEST_ENDPOINT.into(),
            return_url: "https://api.example.com/psp/ogone/return".into(),
            language: "en_US".into(),
        };
        let mut params = p(&[("ORDERID", "abc"), ("STATUS", "9"), ("AMOUNT", "12.5"), ("CURRENCY", "eur"), ("PAYID", "3014"), ("NCERROR", "0")]);
        let signature = sign_out(&params, "out-passphrase", HashAlgorithm::Sha256);
        params.push(("SHASIGN".into(), signature.to_ascii_lowercase()));
        let f = ogone.verify_feedback(&params).unwrap();
        assert_eq!((f.order_id.as_str(), f.status, f.amount.to_string().as_str(), f.currency.as_str()), ("abc", 9, "12.5", "EUR"));
        assert_eq!((f.pay_id.as_deref(), f.nc_error), (Some("3014"), None));
        let mut tampered = params.clone();
        tampered[2].1 = "1250".into();
        assert!(matches!(ogone.verify_feedback(&tampered), Err(FeedbackError::BadSignature)));
        assert!(matches!(ogone.verify_feedback(&params[..params.len() - 1]), Err(FeedbackError::Unsigned)));
    }

    #[test]
    fn the_payment_url_carries_the_order_and_a_verifiable_sha_in() {
        let ogone = Ogone {
            pspid: "EMLEDGER".into(),
            sha_in: "in-passphrase".into(),
            sha_out: "out".into(),
            hash: HashAlgorithm::Sha512,
            endpoint: TEST_ENDPOINT.into(),
            return_url: "https://api.example.com/psp/ogone/return".into(),
            language: "en_US".into(),
        };
        let order = Order { order_id: "0193".into(), amount_minor: 1050, decimals: 2, currency: "EUR".into(), description: "Card cash-in".into() };
        let url = url::Url::parse(&ogone.payment_url(&order)).unwrap();
        let params: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        assert_eq!(param(&params, "AMOUNT"), Some("1050"));
        assert_eq!(param(&params, "ACCEPTURL"), Some("https://api.example.com/psp/ogone/return"));
        assert!(same_signature(param(&params, "SHASIGN").unwrap(), &sign_in(&params, "in-passphrase", HashAlgorithm::Sha512)));
    }
}
