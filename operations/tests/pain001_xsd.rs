//! The pain.001.001.09 files the platform writes validate against the official
//! ISO 20022 schema, with `xmllint --noout --schema <xsd> <file>`.
//!
//! The schema is the one shipped by the PyPI package `sepaxml` (2.7.0), at
//! `<package dir>/schemas/pain.001.001.09.xsd`, the package dir found with
//! `python3 -c "import sepaxml, os; print(os.path.dirname(sepaxml.__file__))"`.
//! `sepaxml` ships no pain.002 nor camt.054 schema, so only pain.001 is checked
//! here (those two are covered by the round-trip unit tests). Without
//! `xmllint` (Debian: libxml2-utils) or `sepaxml` this test FAILS: run
//! `scripts/setup`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use emledger_operations::iso20022::pain001::{self, CreditTransfer, Initiation};
use rust_decimal::Decimal;

const SETUP_HINT: &str =
    "run `scripts/setup` (it installs xmllint from libxml2-utils and `pip install sepaxml==2.7.0`)";

/// The official pain.001.001.09 XSD inside the installed `sepaxml` package.
fn schema() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import sepaxml, os; print(os.path.dirname(sepaxml.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): {SETUP_HINT}"));
    assert!(
        output.status.success(),
        "the Python package sepaxml is not installed ({}): {SETUP_HINT}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let xsd = Path::new(&dir).join("schemas").join("pain.001.001.09.xsd");
    assert!(
        xsd.is_file(),
        "{} is missing (sepaxml 2.7.0 ships it): {SETUP_HINT}",
        xsd.display()
    );
    xsd
}

/// `xmllint --noout --schema <xsd> <file>` on `xml` written to a temporary file:
/// whether it validates, and what xmllint said.
fn xmllint(xsd: &Path, name: &str, xml: &str) -> (bool, String) {
    let file = std::env::temp_dir().join(format!(
        "emledger-{name}-{}-{}.xml",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::write(&file, xml).expect("write the temporary XML file");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(xsd)
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let output = output.unwrap_or_else(|e| panic!("cannot run xmllint ({e}): {SETUP_HINT}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

fn initiation() -> Initiation {
    let dec = |text: &str| Decimal::from_str(text).expect("a decimal literal");
    Initiation {
        message_id: "MSG-20240502-0001".into(),
        created_at: DateTime::parse_from_rfc3339("2024-05-02T08:30:00Z")
            .expect("a date-time literal")
            .with_timezone(&Utc),
        initiating_party: "EMLEDGER SA".into(),
        payment_info_id: "PI-20240502-0001".into(),
        requested_execution_date: NaiveDate::from_ymd_opt(2024, 5, 3).expect("a date"),
        debtor_name: "EMLEDGER SA".into(),
        debtor_iban: "DE89 3704 0044 0532 0130 00".into(),
        debtor_bic: Some("COBADEFFXXX".into()),
        transfers: vec![
            CreditTransfer {
                instruction_id: "CO-1".into(),
                end_to_end_id: "CASHOUT-0001".into(),
                amount: dec("0.10"),
                currency: "EUR".into(),
                creditor_name: "Müller & Søn <Ltd> – «Zoë» 王".into(),
                creditor_iban: "NL91ABNA0417164300".into(),
                remittance: Some("Cash-out CO-1".into()),
            },
            CreditTransfer {
                instruction_id: "CO-2".into(),
                end_to_end_id: "CASHOUT-0002".into(),
                amount: dec("1234567.89"),
                currency: "EUR".into(),
                creditor_name: "Jane Doe".into(),
                creditor_iban: "FR1420041010050500013M02606".into(),
                remittance: Some(format!(
                    "Réf. facture n° 42 – {}",
                    "très longue ligne ".repeat(20)
                )),
            },
            CreditTransfer {
                instruction_id: "CO-3".into(),
                end_to_end_id: "CASHOUT-0003".into(),
                amount: dec("5"),
                currency: "EUR".into(),
                creditor_name: "John Roe".into(),
                creditor_iban: "DE02120300000000202051".into(),
                remittance: None,
            },
        ],
    }
}

#[test]
fn written_pain001_validates_against_the_official_xsd() {
    let xsd = schema();
    let initiation = initiation();
    pain001::validate(&initiation).expect("the sample initiation is valid");
    let xml = pain001::write(&initiation);

    // text restricted to the SEPA character set, the long remittance cut to 140
    let flat: String = xml.lines().map(str::trim).collect();
    assert!(
        flat.contains("<Nm>Mueller + Soen Ltd - 'Zoe'</Nm>"),
        "{xml}"
    );
    let remittance = pain001::parse(&xml).expect("read back").transfers[1]
        .remittance
        .clone()
        .expect("a remittance");
    assert!(
        remittance.starts_with("Ref. facture n 42 - tres longue ligne"),
        "{remittance}"
    );
    let length = remittance.chars().count();
    assert!(
        (130..=140).contains(&length),
        "{length} characters: {remittance}"
    );
    let body = xml.split_once("?>").map_or(xml.as_str(), |(_, body)| body);
    let sepa = |c: char| c.is_ascii_alphanumeric() || " /-?:().,'+\n<>=\"".contains(c);
    assert!(
        body.chars().all(sepa),
        "a character outside the SEPA set in\n{xml}"
    );

    let (valid, said) = xmllint(&xsd, "pain001", &xml);
    assert!(valid, "xmllint refused the pain.001:\n{said}\n{xml}");

    // without a BIC the debtor agent is Othr/Id NOTPROVIDED: valid too
    let mut without_bic = initiation.clone();
    without_bic.debtor_bic = None;
    let xml = pain001::write(&without_bic);
    let (valid, said) = xmllint(&xsd, "pain001-nobic", &xml);
    assert!(
        valid,
        "xmllint refused the pain.001 without BIC:\n{said}\n{xml}"
    );
}

/// The schema check really checks: an end-to-end id over 35 characters and a
/// transfer without amount are refused.
#[test]
fn the_xsd_check_refuses_invalid_documents() {
    let xsd = schema();
    let xml = pain001::write(&initiation());
    let too_long = xml.replace(
        "<EndToEndId>CASHOUT-0001</EndToEndId>",
        &format!("<EndToEndId>{}</EndToEndId>", "X".repeat(36)),
    );
    let (valid, said) = xmllint(&xsd, "pain001-bad-id", &too_long);
    assert!(
        !valid,
        "xmllint accepted a 36-character EndToEndId:\n{said}"
    );
    assert!(said.contains("EndToEndId"), "{said}");

    let no_amount = xml.replace("<InstdAmt Ccy=\"EUR\">0.10</InstdAmt>", "");
    let (valid, said) = xmllint(&xsd, "pain001-no-amount", &no_amount);
    assert!(
        !valid,
        "xmllint accepted a transfer without amount:\n{said}"
    );
}
