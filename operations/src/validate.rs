//! Field validation by well-kept crates (IBAN: `iban_validate`, phone numbers:
//! `phonenumber`, countries: `celes`, currencies: `iso_currency`), IBAN issuing,
//! DLT addresses and the date formats the filters accept.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rand::Rng;

/// A valid IBAN in electronic form (upper case, no spaces), or why not.
pub fn iban(text: &str) -> Result<String, String> {
    let parsed: iban::Iban = text.trim().parse().map_err(|e| format!("not a valid IBAN: {e}"))?;
    Ok(iban::IbanLike::electronic_str(&parsed).to_owned())
}

/// An E.164 phone number (`+` country code and number, at most 20 characters) that
/// libphonenumber's metadata accepts as a valid number; returned in E.164 form.
pub fn phone_number(text: &str) -> Result<String, String> {
    if text.len() > 20 {
        return Err("must be at most 20 characters".into());
    }
    if !text.starts_with('+') || text.len() < 3 || !text[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be in E.164 form: `+`, country code, national number".into());
    }
    let number = phonenumber::parse(None, text).map_err(|e| format!("not a phone number: {e}"))?;
    if !phonenumber::is_valid(&number) {
        return Err("not a valid phone number".into());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// An ISO 3166-1 alpha-2 country code, upper case.
pub fn country(text: &str) -> Result<String, String> {
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("must be an ISO 3166-1 alpha-2 code (two upper-case letters)".into());
    }
    celes::Country::from_alpha2(text).map_err(|_| "unknown ISO 3166-1 alpha-2 country code".to_string())?;
    Ok(text.to_owned())
}

/// An ISO 4217 currency code, upper case.
pub fn currency(text: &str) -> Result<String, String> {
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("must be an ISO 4217 code (three upper-case letters)".into());
    }
    iso_currency::Currency::from_code(text).ok_or_else(|| "unknown ISO 4217 currency code".to_string())?;
    Ok(text.to_owned())
}

/// A plausible e-mail address (one `@`, non-empty local part and domain with a dot,
/// no spaces, at most 254 characters). Deliverability is not checked.
pub fn email(text: &str) -> Result<String, String> {
    let t = text.trim();
    let ok = t.len() <= 254
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(t.split_once('@'), Some((l, d)) if !l.is_empty() && !d.contains('@') && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if ok {
        Ok(t.to_owned())
    } else {
        Err("not a valid e-mail address".into())
    }
}

/// A 20-byte hex address with `0x`, any case; returned lower case.
pub fn dlt_address(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
    match hex {
        Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(format!("0x{}", h.to_ascii_lowercase())),
        _ => Err("must be a 0x-prefixed 20-byte hex address".into()),
    }
}

/// A fresh address whose private key is dropped at once.
pub fn fresh_dlt_address() -> String {
    let signer = alloy::signers::local::PrivateKeySigner::random();
    format!("{:#x}", signer.address()).to_ascii_lowercase()
}

/// A Spanish IBAN with valid national (CCC) and ISO 13616 mod-97 check digits,
/// under bank code 9999 (not assigned by the Banco de España).
pub fn issue_iban() -> String {
    let mut rng = rand::thread_rng();
    let digits = |rng: &mut rand::rngs::ThreadRng, n: usize| -> Vec<u8> { (0..n).map(|_| rng.gen_range(0..10u8)).collect() };
    let bank: Vec<u8> = vec![9, 9, 9, 9];
    let branch = digits(&mut rng, 4);
    let account = digits(&mut rng, 10);
    let ccc_digit = |ds: &[u8]| -> u8 {
        const W: [u32; 10] = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
        let s: u32 = ds.iter().zip(W).map(|(d, w)| *d as u32 * w).sum();
        match 11 - s % 11 {
            11 => 0,
            10 => 1,
            d => d as u8,
        }
    };
    let mut first = vec![0, 0];
    first.extend(&bank);
    first.extend(&branch);
    let d1 = ccc_digit(&first);
    let d2 = ccc_digit(&account);
    let bban: String = bank
        .iter()
        .chain(&branch)
        .chain(&[d1, d2])
        .chain(&account)
        .map(|d| char::from(b'0' + d))
        .collect();
    let check = 98 - mod97(&format!("{bban}ES00"));
    format!("ES{check:02}{bban}")
}

/// The ISO 7064 mod-97 of an alphanumeric string (letters as 10..35).
fn mod97(s: &str) -> u32 {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36).unwrap_or(0);
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r
}

/// Parses a filter instant: RFC 3339 (`2020-02-28T12:00:00Z`, `...+02:00`), the
/// seed's `yyyy-MM-dd HH:mm:ss` (UTC), either with an offset (`+02`, `+0200`,
/// `+02:00`) or fractional seconds, or a bare `yyyy-MM-dd` (midnight UTC). A `+`
/// that arrived as a space (unencoded in a query string) is taken as `+`.
pub fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let err = || "must be RFC 3339 or `yyyy-MM-dd HH:mm:ss` (UTC), with an optional offset".to_string();
    if t.is_empty() || t.len() > 40 {
        return Err(err());
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    // date and time separated by 'T' or ' '
    let mut s = t.to_owned();
    if s.len() > 10 && s.is_char_boundary(10) && s.is_char_boundary(11) && matches!(&s[10..11], " " | "t") {
        s.replace_range(10..11, "T");
    }
    // "12:00:00 02:00" — a '+' decoded as a space
    if let Some(pos) = s.get(11..).and_then(|rest| rest.find(' ')).map(|p| p + 11) {
        s.replace_range(pos..pos + 1, "+");
    }
    if let Some(stripped) = s.strip_suffix(['Z', 'z']) {
        s = format!("{stripped}+00:00");
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"] {
        if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(&s, f) {
            return Ok(d.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&s, f) {
            return Ok(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).ok_or_else(err)?));
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_ibans_validate() {
        for _ in 0..200 {
            let i = issue_iban();
            assert_eq!(iban(&i).unwrap(), i, "{i}");
            assert_eq!(i.len(), 24);
        }
    }

    #[test]
    fn seed_ibans() {
        assert!(iban("ES7921000813610123456789").is_ok());
        assert!(iban("ES7921000813610123456788").is_err());
        assert!(iban("GB82 WEST 1234 5698 7654 32").is_ok());
    }

    #[test]
    fn instants() {
        let a = instant("2020-02-28 12:00:00").unwrap();
        assert_eq!(a.to_rfc3339(), "2020-02-28T12:00:00+00:00");
        assert_eq!(instant("2020-02-28T14:00:00+02:00").unwrap(), a);
        assert_eq!(instant("2020-02-28 14:00:00+02").unwrap(), a);
        assert_eq!(instant("2020-02-28 14:00:00 02:00").unwrap(), a);
        assert_eq!(instant("2020-02-28T12:00:00Z").unwrap(), a);
        assert_eq!(instant("2020-02-28 12:00:00.000Z").unwrap(), a);
        assert!(instant("2020-02-30 12:00:00").is_err());
        assert!(instant("yesterday").is_err());
        assert!(instant("2020-02-28 1é:00:00").is_err());
    }

    #[test]
    fn codes() {
        assert!(country("ES").is_ok());
        assert!(country("XX").is_err());
        assert!(country("es").is_err());
        assert!(currency("EUR").is_ok());
        assert!(currency("EUX").is_err());
        assert_eq!(phone_number("+34612345678").unwrap(), "+34612345678");
        assert!(phone_number("+3461234").is_err());
        assert!(phone_number("612345678").is_err());
        assert!(dlt_address("0x485De9F4580eDEDB5b16a84028e4Bac64434c36D").is_ok());
        assert!(fresh_dlt_address().starts_with("0x"));
    }
}
