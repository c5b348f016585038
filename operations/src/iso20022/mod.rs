//! ISO 20022 (SEPA) messages exchanged with the platform's bank, as pure logic:
//! no I/O, no database, strings in and out.
//!
//! - [`camt`]: reads camt.053 statements and camt.054 debit/credit notifications
//!   (incoming SEPA credits are cash-ins, booked debits are executed cash-outs);
//!   writes camt.054.001.08 debit notifications for the local bank simulator.
//! - [`pain001`]: writes pain.001.001.09 credit-transfer initiations (cash-outs)
//!   restricted to the SEPA character set, and reads them back (the simulator).
//! - [`pain002`]: reads pain.002 payment status reports (the bank accepts or
//!   rejects each transfer); writes pain.002.001.10 for the simulator.
//!
//! Documents are parsed and written with quick-xml's serde support, through
//! private structs that mirror the XML; element names are matched by local name,
//! so a namespace prefix (`<ns:Document xmlns:ns="…">`) reads like the usual
//! default namespace. Amounts are [`Decimal`]s kept exactly as written.

pub mod camt;
pub mod pain001;
pub mod pain002;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The namespace prefix every ISO 20022 message namespace shares.
const ISO_NAMESPACE_PREFIX: &str = "urn:iso:std:iso:20022:tech:xsd:";

/// The kind of an ISO 20022 document, by its root element's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentKind {
    /// camt.053, bank-to-customer statement (any version).
    Camt053,
    /// camt.054, bank-to-customer debit/credit notification (any version).
    Camt054,
    /// pain.001, customer credit-transfer initiation (any version).
    Pain001,
    /// pain.002, customer payment status report (any version).
    Pain002,
    /// Anything else: the root's namespace (e.g. `urn:iso:std:iso:20022:tech:xsd:camt.052.001.08`),
    /// `<Name>` for a root element without a namespace, or an empty string when the
    /// text has no root element it could read.
    Other(String),
}

impl DocumentKind {
    /// The short message name (`camt.053`, …), or the `Other` text.
    pub fn name(&self) -> &str {
        match self {
            DocumentKind::Camt053 => "camt.053",
            DocumentKind::Camt054 => "camt.054",
            DocumentKind::Pain001 => "pain.001",
            DocumentKind::Pain002 => "pain.002",
            DocumentKind::Other(other) => other,
        }
    }
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentKind::Other(other) if other.is_empty() => f.write_str("no XML document"),
            kind => f.write_str(kind.name()),
        }
    }
}

/// Why a message could not be read (writing never fails).
#[derive(Debug, thiserror::Error)]
pub enum Iso20022Error {
    /// Not well-formed XML.
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but another kind of document than the parser reads.
    #[error("not a {expected} document (found {found})")]
    WrongDocument {
        expected: &'static str,
        found: DocumentKind,
    },
    /// The right kind of document, but its elements do not fit the message's structure.
    #[error("invalid {document} document: {message}")]
    Structure {
        document: &'static str,
        message: String,
    },
    /// An amount that is not a non-negative decimal number.
    #[error("amount '{0}' is not a decimal")]
    Amount(String),
    /// A date or date-time that is not in ISO 8601 form.
    #[error("{field} '{value}' is not an ISO 8601 {expected}")]
    Date {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A value the message's rules do not allow (an unknown code, inconsistent totals, …).
    #[error("{0}")]
    Invalid(String),
}

/// The kind of an ISO 20022 document, by the root `Document`'s namespace
/// (`urn:iso:std:iso:20022:tech:xsd:camt.053.001.02` etc., any version). Text
/// that is not XML gives `Other("")`.
pub fn detect(xml: &str) -> DocumentKind {
    root_of(xml).unwrap_or_else(|_| DocumentKind::Other(String::new()))
}

/// Reads the whole text as XML (so a document cut short or with mismatched tags is
/// refused before its structure is looked at) and classifies its root element.
pub(crate) fn root_of(xml: &str) -> Result<DocumentKind, Iso20022Error> {
    let xml = without_bom(xml);
    let mut reader = NsReader::from_str(xml);
    let mut root: Option<DocumentKind> = None;
    let mut depth: usize = 0;
    loop {
        let read = reader.read_resolved_event().map(|(resolved, event)| {
            let namespace = match resolved {
                ResolveResult::Bound(ns) if depth == 0 => {
                    Some(String::from_utf8_lossy(ns.as_ref()).into_owned())
                }
                _ => None,
            };
            (namespace, event)
        });
        let (namespace, event) =
            read.map_err(|e| malformed(xml, reader.error_position(), e.to_string()))?;
        if let (Event::Start(start) | Event::Empty(start), 0) = (&event, depth) {
            if root.is_some() {
                return Err(malformed(
                    xml,
                    reader.buffer_position(),
                    "more than one root element".into(),
                ));
            }
            let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
            root = Some(classify(&local, namespace.as_deref()));
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => {
                return Err(malformed(
                    xml,
                    reader.buffer_position(),
                    "text outside the root element".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth > 0 {
        return Err(malformed(
            xml,
            xml.len() as u64,
            "document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| malformed(xml, xml.len() as u64, "no root element".into()))
}

fn classify(local: &str, namespace: Option<&str>) -> DocumentKind {
    let message_name = namespace.and_then(|ns| ns.strip_prefix(ISO_NAMESPACE_PREFIX));
    match (local, message_name) {
        ("Document", Some(name)) if name.starts_with("camt.053.") => DocumentKind::Camt053,
        ("Document", Some(name)) if name.starts_with("camt.054.") => DocumentKind::Camt054,
        ("Document", Some(name)) if name.starts_with("pain.001.") => DocumentKind::Pain001,
        ("Document", Some(name)) if name.starts_with("pain.002.") => DocumentKind::Pain002,
        _ => match namespace {
            Some(ns) if local == "Document" => DocumentKind::Other(ns.to_owned()),
            Some(ns) => DocumentKind::Other(format!("<{local}> in {ns}")),
            None => DocumentKind::Other(format!("<{local}>")),
        },
    }
}

fn malformed(xml: &str, position: u64, message: String) -> Iso20022Error {
    let position = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(xml.len());
    let before = &xml.as_bytes()[..position];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Iso20022Error::Malformed {
        line,
        column,
        message,
    }
}

/// Checks that `xml` is a well-formed document of `kind` and deserializes it into
/// the mirror structs `T` (whose root is the `Document` element).
pub(crate) fn read_document<T: DeserializeOwned>(
    xml: &str,
    kind: DocumentKind,
    document: &'static str,
) -> Result<T, Iso20022Error> {
    let found = root_of(xml)?;
    if found != kind {
        return Err(Iso20022Error::WrongDocument {
            expected: document,
            found,
        });
    }
    deserialize(xml, document)
}

/// The text after a UTF-8 byte order mark, which banks' files often start with.
fn without_bom(xml: &str) -> &str {
    xml.strip_prefix('\u{FEFF}').unwrap_or(xml)
}

/// Deserializes a document already known to be a well-formed `document`.
pub(crate) fn deserialize<T: DeserializeOwned>(
    xml: &str,
    document: &'static str,
) -> Result<T, Iso20022Error> {
    quick_xml::de::from_str(without_bom(xml)).map_err(|e| Iso20022Error::Structure {
        document,
        message: e.to_string(),
    })
}

/// The XML declaration and the `Document` root (whose struct carries `@xmlns`), indented.
pub(crate) fn write_document<T: Serialize>(document: &T) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut serializer = match quick_xml::se::Serializer::with_root(&mut out, Some("Document")) {
        Ok(serializer) => serializer,
        // "Document" is a valid XML name: with_root cannot refuse it.
        Err(e) => unreachable!("root element name refused: {e}"),
    };
    serializer.indent(' ', 2);
    if let Err(e) = document.serialize(serializer) {
        // The mirror structs hold only strings, booleans and nested structs, which
        // quick-xml always serializes; an error here is a bug in those structs.
        unreachable!("ISO 20022 mirror struct failed to serialize: {e}");
    }
    out.push('\n');
    out
}

/// The full namespace of a message, e.g. `urn:iso:std:iso:20022:tech:xsd:pain.001.001.09`.
pub(crate) fn namespace(message_name: &str) -> String {
    format!("{ISO_NAMESPACE_PREFIX}{message_name}")
}

/// An ISO 20022 amount (`ActiveOrHistoricCurrencyAndAmount`): digits with an
/// optional fraction, no sign, no exponent; the scale is kept (`10.50` stays `10.50`).
pub fn parse_amount(text: &str) -> Result<Decimal, Iso20022Error> {
    let trimmed = text.trim();
    let (int, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) {
        return Err(Iso20022Error::Amount(text.to_owned()));
    }
    Decimal::from_str_exact(trimmed).map_err(|_| Iso20022Error::Amount(text.to_owned()))
}

/// An amount as SEPA wants it: exactly two decimals (rounded half away from zero
/// when the value has more; validate amounts before writing).
pub fn format_amount(amount: Decimal) -> String {
    let mut rounded =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    rounded.to_string()
}

/// An `ISODateTime` (`xs:dateTime`): with an offset (`Z`, `+02:00`) or without one,
/// which is taken as UTC; fractions of seconds are allowed.
pub fn parse_datetime(field: &'static str, text: &str) -> Result<DateTime<Utc>, Iso20022Error> {
    let trimmed = text.trim();
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .map_err(|_| Iso20022Error::Date {
            field,
            value: text.to_owned(),
            expected: "date-time",
        })
}

/// A date-time as written in our messages: UTC, whole seconds, `Z`.
pub(crate) fn format_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Restricts text to the SEPA (EPC) character set — latin letters, digits, space
/// and `/ - ? : ( ) . , ' +` — and to `max_len` characters. Accented latin
/// letters are transliterated (`ü` → `ue`, `é` → `e`, `ø` → `oe`, `ß` → `ss`), `&`
/// becomes `+`, quotes become `'`, brackets `(` `)`, and any other character a
/// space; runs of spaces collapse, and the result is trimmed.
pub fn sepa_text(text: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let replacement = transliterate(c);
        for r in replacement.chars() {
            if r == ' ' && (out.is_empty() || out.ends_with(' ')) {
                continue;
            }
            out.push(r);
        }
    }
    // Everything pushed is ASCII, so characters and bytes agree.
    out.truncate(max_len);
    out.trim_end().to_owned()
}

/// Restricts an identifier (MsgId, PmtInfId, InstrId, EndToEndId) to the SEPA
/// rules: the SEPA character set without spaces, no `/` at either end nor `//`,
/// 1 to 35 characters. An identifier left empty becomes `NOTPROVIDED`.
pub fn sepa_id(text: &str) -> String {
    let cleaned: String = sepa_text(text, usize::MAX)
        .chars()
        .filter(|&c| c != ' ')
        .collect();
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        if c == '/' && (out.is_empty() || out.ends_with('/')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(35);
    let out = out.trim_end_matches('/');
    if out.is_empty() {
        "NOTPROVIDED".to_owned()
    } else {
        out.to_owned()
    }
}

/// Text for messages outside the SEPA character rules (status reasons, bank
/// notifications): characters XML 1.0 cannot carry are dropped, whitespace runs
/// collapse, at most `max_len` characters.
pub(crate) fn xml_text(text: &str, max_len: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .join(" ")
        .chars()
        .filter(|&c| matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}'))
        .take(max_len)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// One character as SEPA characters (possibly none or several).
fn transliterate(c: char) -> &'static str {
    const ALLOWED: &str =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ";
    if c.is_ascii() {
        if let Some(i) = ALLOWED.find(c) {
            return &ALLOWED[i..i + 1];
        }
    }
    match c {
        'ä' | 'æ' => "ae",
        'Ä' => "Ae",
        'Æ' => "AE",
        'ö' | 'ø' | 'œ' => "oe",
        'Ö' | 'Ø' => "Oe",
        'Œ' => "OE",
        'ü' => "ue",
        'Ü' => "Ue",
        'ß' => "ss",
        'ẞ' => "SS",
        'å' => "aa",
        'Å' => "Aa",
        'þ' => "th",
        'Þ' => "Th",
        'à' | 'á' | 'â' | 'ã' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ā' | 'Ă' | 'Ą' => "A",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ď' | 'đ' | 'ð' => "d",
        'Ď' | 'Đ' | 'Ð' => "D",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĥ' | 'ħ' => "h",
        'Ĥ' | 'Ħ' => "H",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ĵ' => "j",
        'Ĵ' => "J",
        'ķ' => "k",
        'Ķ' => "K",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ō' | 'ŏ' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ù' | 'ú' | 'û' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ŵ' => "w",
        'Ŵ' => "W",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'Ý' | 'Ÿ' | 'Ŷ' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        '&' => "+",
        '"' | '`' | '´' | '‘' | '’' | '‚' | '“' | '”' | '„' | '«' | '»' => "'",
        '_' | '–' | '—' | '‐' | '‑' => "-",
        '[' | '{' => "(",
        ']' | '}' => ")",
        ';' => ",",
        '!' => ".",
        '€' => "EUR",
        _ => " ",
    }
}

/// The text of an optional element: trimmed, `None` when absent or empty.
pub(crate) fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn detects_kinds_by_namespace() {
        let doc =
            |ns: &str| format!("<?xml version=\"1.0\"?><Document xmlns=\"{ns}\"><X/></Document>");
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02")),
            DocumentKind::Camt053
        );
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:camt.053.001.08")),
            DocumentKind::Camt053
        );
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:camt.054.001.08")),
            DocumentKind::Camt054
        );
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09")),
            DocumentKind::Pain001
        );
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:pain.002.001.03")),
            DocumentKind::Pain002
        );
        assert_eq!(
            detect(&doc("urn:iso:std:iso:20022:tech:xsd:camt.052.001.08")),
            DocumentKind::Other("urn:iso:std:iso:20022:tech:xsd:camt.052.001.08".into())
        );
        // a prefixed root reads like a default namespace
        let prefixed = "<ns2:Document xmlns:ns2=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02\"><ns2:A/></ns2:Document>";
        assert_eq!(detect(prefixed), DocumentKind::Camt054);
        let with_bom = format!(
            "\u{FEFF}{}",
            doc("urn:iso:std:iso:20022:tech:xsd:pain.002.001.10")
        );
        assert_eq!(detect(&with_bom), DocumentKind::Pain002);
        assert_eq!(
            detect("<Document><A/></Document>"),
            DocumentKind::Other("<Document>".into())
        );
        assert_eq!(
            detect("not xml at all <"),
            DocumentKind::Other(String::new())
        );
        assert_eq!(detect(""), DocumentKind::Other(String::new()));
    }

    #[test]
    fn malformed_xml_reports_line_and_column() {
        let err = root_of("<Document>\n  <A>\n</Document>").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Iso20022Error::Malformed { line: 3, .. }),
            "{text}"
        );
        assert!(
            text.starts_with("malformed XML at line 3, column"),
            "{text}"
        );
        let cut = root_of("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"><A>")
            .unwrap_err();
        assert!(matches!(cut, Iso20022Error::Malformed { .. }), "{cut}");
        assert!(matches!(
            root_of("<A/><B/>"),
            Err(Iso20022Error::Malformed { .. })
        ));
        assert!(matches!(
            root_of("   "),
            Err(Iso20022Error::Malformed { .. })
        ));
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(
            parse_amount("1234567.89").unwrap().to_string(),
            "1234567.89"
        );
        assert_eq!(parse_amount(" 10.50 ").unwrap().to_string(), "10.50");
        assert_eq!(parse_amount("7").unwrap(), Decimal::from(7));
        assert_eq!(parse_amount(".5").unwrap().to_string(), "0.5");
        let sum = parse_amount("0.10").unwrap() + parse_amount("0.20").unwrap();
        assert_eq!(sum, Decimal::from_str("0.30").unwrap());
        assert_eq!(sum.to_string(), "0.30");
        for bad in [
            "", ".", "-1.00", "1e3", "1_000", "12,50", "abc", "1.2.3", "+5",
        ] {
            let err = parse_amount(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("amount '{bad}' is not a decimal"));
        }
        assert_eq!(format_amount(Decimal::from_str("5").unwrap()), "5.00");
        assert_eq!(
            format_amount(Decimal::from_str("1234567.891").unwrap()),
            "1234567.89"
        );
        assert_eq!(format_amount(Decimal::from_str("0.125").unwrap()), "0.13");
        assert_eq!(
            format_amount(Decimal::from_str("10.5000").unwrap()),
            "10.50"
        );
    }

    #[test]
    fn datetimes_with_and_without_offset() {
        let utc = parse_datetime("CreDtTm", "2024-05-02T10:15:00Z").unwrap();
        assert_eq!(format_datetime(utc), "2024-05-02T10:15:00Z");
        let offset = parse_datetime("CreDtTm", "2024-05-02T12:15:00.123+02:00").unwrap();
        assert_eq!(offset.timestamp(), utc.timestamp());
        let naive = parse_datetime("CreDtTm", "2024-05-02T10:15:00").unwrap();
        assert_eq!(naive, utc);
        let err = parse_datetime("CreDtTm", "yesterday").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CreDtTm 'yesterday' is not an ISO 8601 date-time"
        );
    }

    #[test]
    fn sepa_text_cleans_and_truncates() {
        assert_eq!(sepa_text("Müller & Søn", 140), "Mueller + Soen");
        assert_eq!(
            sepa_text("François Lefèvre-Żółć", 140),
            "Francois Lefevre-Zolc"
        );
        assert_eq!(sepa_text("  a\t\tb\n<c> \"d\" ", 140), "a b c 'd'");
        assert_eq!(sepa_text("Straße 5; Köln!", 140), "Strasse 5, Koeln.");
        assert_eq!(sepa_text("王伟", 140), "");
        let long = "x".repeat(200);
        assert_eq!(sepa_text(&long, 140).len(), 140);
        assert_eq!(sepa_text("abc def", 4), "abc");
        let allowed = "abcXYZ019/-?:().,'+ ";
        assert_eq!(sepa_text(allowed, 140), allowed.trim_end());
    }

    #[test]
    fn sepa_ids_follow_the_epc_rules() {
        assert_eq!(sepa_id("CO-2024/0001"), "CO-2024/0001");
        assert_eq!(sepa_id("/a//b c/"), "a/bc");
        assert_eq!(sepa_id("ü_1"), "ue-1");
        assert_eq!(sepa_id(&"9".repeat(40)).len(), 35);
        assert_eq!(sepa_id("€"), "EUR");
        assert_eq!(sepa_id("//"), "NOTPROVIDED");
    }

    #[test]
    fn xml_text_drops_control_characters() {
        assert_eq!(xml_text("a\u{0}b  \n c", 105), "ab c");
        assert_eq!(xml_text("ünïcode ok", 105), "ünïcode ok");
        assert_eq!(xml_text(&"y".repeat(200), 105).len(), 105);
    }
}
