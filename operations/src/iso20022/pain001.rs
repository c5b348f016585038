//! pain.001.001.09 customer credit-transfer initiations (`CstmrCdtTrfInitn`): the
//! files the platform sends its bank to pay cash-outs, one payment information
//! block (`PmtInf`) per file, by SEPA rules.
//!
//! [`write`] produces the document: `PmtMtd` TRF, `BtchBookg` true, `NbOfTxs` and
//! `CtrlSum` at group and `PmtInf` level, service level SEPA, `ChrgBr` SLEV, the
//! debtor agent's BIC or `Othr/Id` NOTPROVIDED, and per transfer `InstrId`,
//! `EndToEndId`, `InstdAmt` with two decimals, creditor name and IBAN and one
//! unstructured remittance line. All text is restricted to the SEPA character set
//! and the schema's lengths ([`super::sepa_text`], [`super::sepa_id`]).
//! [`validate`] tells beforehand whether the initiation would be written as given.
//! [`parse`] reads such a file back (the local bank simulator does).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{
    camt::electronic_iban, format_amount, format_datetime, namespace, non_empty, parse_amount,
    parse_datetime, read_document, sepa_id, sepa_text, write_document, DocumentKind, Iso20022Error,
};

/// The message identifier written in the namespace.
pub const MESSAGE_NAME: &str = "pain.001.001.09";

/// Longest name (`Max140Text`).
const NAME_LEN: usize = 140;
/// Longest unstructured remittance line (`Max140Text`).
const REMITTANCE_LEN: usize = 140;
/// The largest amount of one SEPA credit transfer: 999 999 999.99.
fn sepa_max_amount() -> Decimal {
    Decimal::new(99_999_999_999, 2)
}

/// One pain.001 file: one batch of credit transfers from the platform's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiation {
    /// `GrpHdr/MsgId`, unique per file (1-35 SEPA characters).
    pub message_id: String,
    /// `GrpHdr/CreDtTm` (written in whole seconds, UTC).
    pub created_at: DateTime<Utc>,
    /// `GrpHdr/InitgPty/Nm`.
    pub initiating_party: String,
    /// `PmtInf/PmtInfId`.
    pub payment_info_id: String,
    /// `PmtInf/ReqdExctnDt/Dt`.
    pub requested_execution_date: NaiveDate,
    /// `PmtInf/Dbtr/Nm`.
    pub debtor_name: String,
    /// `PmtInf/DbtrAcct/Id/IBAN`.
    pub debtor_iban: String,
    /// `PmtInf/DbtrAgt/FinInstnId/BICFI`; `None` writes `Othr/Id` NOTPROVIDED.
    pub debtor_bic: Option<String>,
    pub transfers: Vec<CreditTransfer>,
}

/// One credit transfer (`CdtTrfTxInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    /// `PmtId/InstrId` (empty when a file read back has none).
    pub instruction_id: String,
    /// `PmtId/EndToEndId`: comes back in the bank's pain.002 and camt.05x.
    pub end_to_end_id: String,
    /// `Amt/InstdAmt`, written with exactly two decimals.
    pub amount: Decimal,
    /// `Amt/InstdAmt/@Ccy` (SEPA: EUR).
    pub currency: String,
    /// `Cdtr/Nm`.
    pub creditor_name: String,
    /// `CdtrAcct/Id/IBAN`.
    pub creditor_iban: String,
    /// `RmtInf/Ustrd` (at most 140 characters; longer text is cut).
    pub remittance: Option<String>,
}

/// Why the initiation would not be written as given, if it would not: identifiers
/// that the SEPA rules would alter (1-35 characters of the SEPA set, no `/` at
/// either end nor `//` — a hyphenated UUID is 36), names empty once cleaned,
/// invalid IBANs or BIC, no transfers, amounts outside 0.01-999999999.99 or with
/// more than two decimals, a currency other than EUR, duplicate end-to-end ids.
pub fn validate(i: &Initiation) -> Result<(), Iso20022Error> {
    let invalid = |message: String| Err(Iso20022Error::Invalid(message));
    let check_id = |what: &str, id: &str| {
        if sepa_id(id) == id {
            Ok(())
        } else {
            invalid(format!(
                "{what} '{id}' is not a SEPA identifier (1-35 characters: letters, digits, / - ? : ( ) . , ' +; no space, no / at either end, no //)"
            ))
        }
    };
    let check_name = |what: &str, name: &str| {
        if sepa_text(name, NAME_LEN).is_empty() {
            invalid(format!("{what} '{name}' has no SEPA characters"))
        } else {
            Ok(())
        }
    };
    let check_iban = |what: &str, iban: &str| {
        crate::validate::iban(iban)
            .map(|_| ())
            .map_err(|e| Iso20022Error::Invalid(format!("{what} '{iban}': {e}")))
    };
    check_id("message id", &i.message_id)?;
    check_id("payment information id", &i.payment_info_id)?;
    check_name("initiating party", &i.initiating_party)?;
    check_name("debtor name", &i.debtor_name)?;
    check_iban("debtor IBAN", &i.debtor_iban)?;
    if let Some(bic) = &i.debtor_bic {
        if !is_bic(bic.trim()) {
            return invalid(format!("debtor BIC '{bic}' is not a BIC"));
        }
    }
    if i.transfers.is_empty() {
        return invalid("an initiation needs at least one transfer".into());
    }
    let mut seen = std::collections::HashSet::new();
    for t in &i.transfers {
        check_id("instruction id", &t.instruction_id)?;
        check_id("end-to-end id", &t.end_to_end_id)?;
        if !seen.insert(t.end_to_end_id.as_str()) {
            return invalid(format!("end-to-end id '{}' appears twice", t.end_to_end_id));
        }
        if t.amount < Decimal::new(1, 2) || t.amount > sepa_max_amount() {
            return invalid(format!(
                "transfer {}: amount {} is outside 0.01-999999999.99",
                t.end_to_end_id, t.amount
            ));
        }
        if t.amount.normalize().scale() > 2 {
            return invalid(format!(
                "transfer {}: amount {} has more than two decimals",
                t.end_to_end_id, t.amount
            ));
        }
        if t.currency != "EUR" {
            return invalid(format!(
                "transfer {}: currency '{}' is not EUR",
                t.end_to_end_id, t.currency
            ));
        }
        check_name("creditor name", &t.creditor_name)?;
        check_iban("creditor IBAN", &t.creditor_iban)?;
    }
    Ok(())
}

/// `BICFIDec2014Identifier`: 4 alphanumerics, 2 letters, 2 alphanumerics, optionally 3 more.
fn is_bic(bic: &str) -> bool {
    let b = bic.as_bytes();
    let alnum = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    (b.len() == 8 || b.len() == 11)
        && alnum(&b[..4])
        && b[4..6].iter().all(u8::is_ascii_uppercase)
        && alnum(&b[6..])
}

/// The pain.001.001.09 document (XML declaration, default namespace
/// `urn:iso:std:iso:20022:tech:xsd:pain.001.001.09`). Text is cleaned to the
/// SEPA set and cut to length, amounts get two decimals (rounded half away from
/// zero if they had more), IBANs are written in electronic form; see [`validate`]
/// to refuse an initiation rather than have it altered.
pub fn write(i: &Initiation) -> String {
    let amounts: Vec<Decimal> = i
        .transfers
        .iter()
        .map(|t| {
            t.amount
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        })
        .collect();
    let count = i.transfers.len().to_string();
    let control_sum = format_amount(amounts.iter().copied().sum());
    let name = |text: &str| Some(sepa_text(text, NAME_LEN)).filter(|n| !n.is_empty());
    let transfers = i
        .transfers
        .iter()
        .zip(&amounts)
        .map(|(t, amount)| xml::CdtTrfTxInf {
            PmtId: xml::PmtId {
                InstrId: Some(sepa_id(&t.instruction_id)),
                EndToEndId: sepa_id(&t.end_to_end_id),
            },
            Amt: xml::Amt {
                InstdAmt: Some(xml::Amount {
                    Ccy: t.currency.trim().to_ascii_uppercase(),
                    value: format_amount(*amount),
                }),
            },
            Cdtr: Some(xml::Party {
                Nm: name(&t.creditor_name),
            }),
            CdtrAcct: Some(iban_account(&t.creditor_iban)),
            RmtInf: t
                .remittance
                .as_deref()
                .map(|r| sepa_text(r, REMITTANCE_LEN))
                .filter(|r| !r.is_empty())
                .map(|r| xml::RmtInf { Ustrd: vec![r] }),
        })
        .collect();
    let agent = match i
        .debtor_bic
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        Some(bic) => xml::FinInstnId {
            BICFI: Some(bic.to_ascii_uppercase()),
            BIC: None,
            Othr: None,
        },
        None => xml::FinInstnId {
            BICFI: None,
            BIC: None,
            Othr: Some(xml::Othr {
                Id: "NOTPROVIDED".into(),
            }),
        },
    };
    let document = xml::Document {
        xmlns: namespace(MESSAGE_NAME),
        CstmrCdtTrfInitn: xml::CstmrCdtTrfInitn {
            GrpHdr: xml::GrpHdr {
                MsgId: sepa_id(&i.message_id),
                CreDtTm: format_datetime(i.created_at),
                NbOfTxs: count.clone(),
                CtrlSum: Some(control_sum.clone()),
                InitgPty: xml::Party {
                    Nm: name(&i.initiating_party),
                },
            },
            PmtInf: vec![xml::PmtInf {
                PmtInfId: sepa_id(&i.payment_info_id),
                PmtMtd: "TRF".into(),
                BtchBookg: Some("true".into()),
                NbOfTxs: Some(count),
                CtrlSum: Some(control_sum),
                PmtTpInf: Some(xml::PmtTpInf {
                    SvcLvl: vec![xml::Code {
                        Cd: Some("SEPA".into()),
                    }],
                }),
                ReqdExctnDt: xml::DateChoice {
                    text: None,
                    Dt: Some(i.requested_execution_date.format("%Y-%m-%d").to_string()),
                    DtTm: None,
                },
                Dbtr: xml::Party {
                    Nm: name(&i.debtor_name),
                },
                DbtrAcct: iban_account(&i.debtor_iban),
                DbtrAgt: xml::Agent { FinInstnId: agent },
                ChrgBr: Some("SLEV".into()),
                CdtTrfTxInf: transfers,
            }],
        },
    };
    write_document(&document)
}

fn iban_account(iban: &str) -> xml::Account {
    xml::Account {
        Id: xml::AccountId {
            IBAN: Some(electronic_iban(iban)),
        },
    }
}

/// Reads a pain.001 file with one `PmtInf` (as [`write`] makes them; the
/// pain.001.001.03 spellings `BIC` and a plain `ReqdExctnDt` are read too).
/// Refuses files whose `NbOfTxs` or `CtrlSum` disagree with their transfers.
pub fn parse(xml: &str) -> Result<Initiation, Iso20022Error> {
    let doc = read_document::<xml::Document>(xml, DocumentKind::Pain001, "pain.001")?;
    let invalid = |message: String| Iso20022Error::Invalid(message);
    let message = doc.CstmrCdtTrfInitn;
    let header = message.GrpHdr;
    let mut blocks = message.PmtInf;
    if blocks.len() != 1 {
        return Err(invalid(format!(
            "{} payment information blocks (PmtInf); one is expected",
            blocks.len()
        )));
    }
    let block = blocks.remove(0);
    let requested_execution_date = execution_date(block.ReqdExctnDt)?;
    let debtor_iban = block
        .DbtrAcct
        .Id
        .IBAN
        .and_then(|iban| non_empty(Some(iban)))
        .ok_or_else(|| invalid("the debtor account has no IBAN".into()))?;
    let fin = block.DbtrAgt.FinInstnId;
    let debtor_bic = non_empty(fin.BICFI).or_else(|| non_empty(fin.BIC));
    let transfers = block
        .CdtTrfTxInf
        .into_iter()
        .map(credit_transfer)
        .collect::<Result<Vec<_>, _>>()?;

    let count = transfers.len().to_string();
    let sum: Decimal = transfers.iter().map(|t| t.amount).sum();
    for (level, number, control_sum) in [
        ("GrpHdr", Some(header.NbOfTxs), header.CtrlSum),
        ("PmtInf", block.NbOfTxs, block.CtrlSum),
    ] {
        if let Some(number) = non_empty(number) {
            if number != count {
                return Err(invalid(format!(
                    "{level}/NbOfTxs is {number} but there are {count} transfers"
                )));
            }
        }
        if let Some(control_sum) = non_empty(control_sum) {
            if parse_amount(&control_sum)? != sum {
                return Err(invalid(format!(
                    "{level}/CtrlSum is {control_sum} but the transfers add up to {sum}"
                )));
            }
        }
    }

    Ok(Initiation {
        message_id: header.MsgId.trim().to_owned(),
        created_at: parse_datetime("CreDtTm", &header.CreDtTm)?,
        initiating_party: header.InitgPty.name(),
        payment_info_id: block.PmtInfId.trim().to_owned(),
        requested_execution_date,
        debtor_name: block.Dbtr.name(),
        debtor_iban: electronic_iban(&debtor_iban),
        debtor_bic,
        transfers,
    })
}

fn execution_date(date: xml::DateChoice) -> Result<NaiveDate, Iso20022Error> {
    if let Some(at) = non_empty(date.DtTm) {
        return Ok(parse_datetime("ReqdExctnDt/DtTm", &at)?.date_naive());
    }
    let text = non_empty(date.Dt)
        .or_else(|| non_empty(date.text))
        .ok_or_else(|| Iso20022Error::Invalid("no requested execution date".into()))?;
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| Iso20022Error::Date {
        field: "ReqdExctnDt",
        value: text,
        expected: "date",
    })
}

fn credit_transfer(tx: xml::CdtTrfTxInf) -> Result<CreditTransfer, Iso20022Error> {
    let end_to_end_id = tx.PmtId.EndToEndId.trim().to_owned();
    let invalid =
        |what: &str| Iso20022Error::Invalid(format!("transfer '{end_to_end_id}' has no {what}"));
    let amount = tx
        .Amt
        .InstdAmt
        .ok_or_else(|| invalid("instructed amount (InstdAmt)"))?;
    let creditor_iban = tx
        .CdtrAcct
        .and_then(|account| non_empty(account.Id.IBAN))
        .ok_or_else(|| invalid("creditor IBAN"))?;
    let remittance = tx.RmtInf.and_then(|rmt| {
        let lines: Vec<String> = rmt
            .Ustrd
            .into_iter()
            .filter_map(|l| non_empty(Some(l)))
            .collect();
        Some(lines.join(" ")).filter(|r| !r.is_empty())
    });
    Ok(CreditTransfer {
        instruction_id: non_empty(tx.PmtId.InstrId).unwrap_or_default(),
        amount: parse_amount(&amount.value)?,
        currency: amount.Ccy.trim().to_owned(),
        creditor_name: tx.Cdtr.map(xml::Party::name).unwrap_or_default(),
        creditor_iban: electronic_iban(&creditor_iban),
        remittance,
        end_to_end_id,
    })
}

/// The XML, written and read: pain.001.001.09 in the schema's order (with the
/// pain.001.001.03 spellings accepted on reading).
#[allow(non_snake_case)]
mod xml {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    pub struct Document {
        #[serde(rename = "@xmlns", default)]
        pub xmlns: String,
        pub CstmrCdtTrfInitn: CstmrCdtTrfInitn,
    }

    #[derive(Serialize, Deserialize)]
    pub struct CstmrCdtTrfInitn {
        pub GrpHdr: GrpHdr,
        #[serde(default)]
        pub PmtInf: Vec<PmtInf>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct GrpHdr {
        pub MsgId: String,
        pub CreDtTm: String,
        pub NbOfTxs: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub CtrlSum: Option<String>,
        pub InitgPty: Party,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Party {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Nm: Option<String>,
    }

    impl Party {
        pub fn name(self) -> String {
            super::non_empty(self.Nm).unwrap_or_default()
        }
    }

    #[derive(Serialize, Deserialize)]
    pub struct PmtInf {
        pub PmtInfId: String,
        pub PmtMtd: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub BtchBookg: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub NbOfTxs: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub CtrlSum: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub PmtTpInf: Option<PmtTpInf>,
        pub ReqdExctnDt: DateChoice,
        pub Dbtr: Party,
        pub DbtrAcct: Account,
        pub DbtrAgt: Agent,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub ChrgBr: Option<String>,
        #[serde(default)]
        pub CdtTrfTxInf: Vec<CdtTrfTxInf>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct PmtTpInf {
        #[serde(default)]
        pub SvcLvl: Vec<Code>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Code {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Cd: Option<String>,
    }

    /// `DateAndDateTime2Choice` (.09), or a plain date (.03).
    #[derive(Serialize, Deserialize)]
    pub struct DateChoice {
        #[serde(rename = "$text", skip_serializing_if = "Option::is_none")]
        pub text: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Dt: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub DtTm: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Account {
        pub Id: AccountId,
    }

    #[derive(Serialize, Deserialize)]
    pub struct AccountId {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub IBAN: Option<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Agent {
        pub FinInstnId: FinInstnId,
    }

    #[derive(Serialize, Deserialize)]
    pub struct FinInstnId {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub BICFI: Option<String>,
        /// pain.001.001.03's spelling; never written.
        #[serde(skip_serializing)]
        pub BIC: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Othr: Option<Othr>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Othr {
        pub Id: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct CdtTrfTxInf {
        pub PmtId: PmtId,
        pub Amt: Amt,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Cdtr: Option<Party>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub CdtrAcct: Option<Account>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub RmtInf: Option<RmtInf>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct PmtId {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub InstrId: Option<String>,
        pub EndToEndId: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Amt {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub InstdAmt: Option<Amount>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Amount {
        #[serde(rename = "@Ccy")]
        pub Ccy: String,
        #[serde(rename = "$text")]
        pub value: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct RmtInf {
        #[serde(default)]
        pub Ustrd: Vec<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn sample() -> Initiation {
        Initiation {
            message_id: "MSG-20240502-0001".into(),
            created_at: DateTime::parse_from_rfc3339("2024-05-02T08:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
            initiating_party: "EMLEDGER SA".into(),
            payment_info_id: "PI-20240502-0001".into(),
            requested_execution_date: NaiveDate::from_ymd_opt(2024, 5, 3).unwrap(),
            debtor_name: "EMLEDGER SA".into(),
            debtor_iban: "DE89370400440532013000".into(),
            debtor_bic: Some("COBADEFFXXX".into()),
            transfers: vec![
                CreditTransfer {
                    instruction_id: "CO-1".into(),
                    end_to_end_id: "CASHOUT-0001".into(),
                    amount: dec("0.10"),
                    currency: "EUR".into(),
                    creditor_name: "Jane Doe".into(),
                    creditor_iban: "NL91ABNA0417164300".into(),
                    remittance: Some("Cash-out CO-1".into()),
                },
                CreditTransfer {
                    instruction_id: "CO-2".into(),
                    end_to_end_id: "CASHOUT-0002".into(),
                    amount: dec("0.20"),
                    currency: "EUR".into(),
                    creditor_name: "John Roe".into(),
                    creditor_iban: "FR1420041010050500013M02606".into(),
                    remittance: None,
                },
                CreditTransfer {
                    instruction_id: "CO-3".into(),
                    end_to_end_id: "CASHOUT-0003".into(),
                    amount: dec("1234567.89"),
                    currency: "EUR".into(),
                    creditor_name: "Big Corp".into(),
                    creditor_iban: "DE02120300000000202051".into(),
                    remittance: Some("Invoice 42".into()),
                },
            ],
        }
    }

    #[test]
    fn writes_the_sepa_layout() {
        let xml = write(&sample());
        let flat: String = xml.lines().map(str::trim).collect();
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">"
        ), "{xml}");
        for expected in [
            "<NbOfTxs>3</NbOfTxs>",
            "<CtrlSum>1234568.19</CtrlSum>",
            "<PmtMtd>TRF</PmtMtd>",
            "<BtchBookg>true</BtchBookg>",
            "<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>",
            "<ReqdExctnDt><Dt>2024-05-03</Dt></ReqdExctnDt>",
            "<DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>",
            "<DbtrAgt><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></DbtrAgt>",
            "<Cdtr><Nm>Jane Doe</Nm></Cdtr><CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct>",
            "<BICFI>COBADEFFXXX</BICFI>",
            "<ChrgBr>SLEV</ChrgBr>",
            "<InstrId>CO-1</InstrId>",
            "<EndToEndId>CASHOUT-0001</EndToEndId>",
            "<InstdAmt Ccy=\"EUR\">0.10</InstdAmt>",
            "<InstdAmt Ccy=\"EUR\">1234567.89</InstdAmt>",
            "<Ustrd>Cash-out CO-1</Ustrd>",
            "<CreDtTm>2024-05-02T08:30:00Z</CreDtTm>",
        ] {
            assert!(flat.contains(expected), "missing {expected} in\n{xml}");
        }
        assert_eq!(xml.matches("<CtrlSum>1234568.19</CtrlSum>").count(), 2);
        assert_eq!(xml.matches("<NbOfTxs>3</NbOfTxs>").count(), 2);
        // the second transfer has no remittance: no empty RmtInf
        assert_eq!(xml.matches("<RmtInf>").count(), 2);
    }

    #[test]
    fn round_trips() {
        let initiation = sample();
        validate(&initiation).unwrap();
        let read = parse(&write(&initiation)).unwrap();
        assert_eq!(read, initiation);
        let sum: Decimal = read.transfers[..2].iter().map(|t| t.amount).sum();
        assert_eq!(sum, dec("0.30"));
        assert_eq!(sum.to_string(), "0.30");
        assert_eq!(read.transfers[2].amount.to_string(), "1234567.89");
    }

    #[test]
    fn without_bic_writes_notprovided() {
        let mut initiation = sample();
        initiation.debtor_bic = None;
        let xml = write(&initiation);
        let flat: String = xml.lines().map(str::trim).collect();
        assert!(
            flat.contains("<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>"),
            "{xml}"
        );
        assert!(!xml.contains("BICFI"));
        assert_eq!(parse(&xml).unwrap(), initiation);
    }

    #[test]
    fn cleans_text_to_the_sepa_set() {
        let mut initiation = sample();
        initiation.transfers[0].creditor_name = "Müller & Søn <Ltd>".into();
        initiation.transfers[0].remittance = Some(format!("Réf. {}", "x".repeat(300)));
        initiation.transfers[1].creditor_name = "N".repeat(200);
        initiation.debtor_name = "EMLEDGER S.A. – Paiements".into();
        initiation.transfers[1].end_to_end_id = "/E2E//ü 1/".into();
        initiation.transfers[1].amount = dec("5");
        let xml = write(&initiation);
        assert!(xml.contains("<Nm>Mueller + Soen Ltd</Nm>"), "{xml}");
        assert!(xml.contains("<Nm>EMLEDGER S.A. - Paiements</Nm>"), "{xml}");
        assert!(xml.contains("<EndToEndId>E2E/ue1</EndToEndId>"), "{xml}");
        assert!(
            xml.contains("<InstdAmt Ccy=\"EUR\">5.00</InstdAmt>"),
            "{xml}"
        );
        assert!(!xml.contains('ü') && !xml.contains('&') && !xml.contains('–'));
        let read = parse(&xml).unwrap();
        let remittance = read.transfers[0].remittance.clone().unwrap();
        assert_eq!(remittance.len(), 140);
        assert!(remittance.starts_with("Ref. xxx"));
        assert_eq!(read.transfers[1].creditor_name.len(), 140);
        assert_eq!(read.transfers[1].amount.to_string(), "5.00");
    }

    #[test]
    fn validate_names_what_write_would_alter() {
        let ok = sample();
        let check = |change: &dyn Fn(&mut Initiation), expected: &str| {
            let mut i = ok.clone();
            change(&mut i);
            let err = validate(&i).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} does not mention {expected}");
        };
        check(
            &|i| i.message_id = "3f2b8c1e-9d4a-4b6f-8e2d-1a2b3c4d5e6f".into(),
            "message id",
        );
        check(
            &|i| i.transfers[0].end_to_end_id = "a b".into(),
            "end-to-end id 'a b'",
        );
        check(
            &|i| i.transfers[1].end_to_end_id = "CASHOUT-0001".into(),
            "appears twice",
        );
        check(
            &|i| i.transfers[0].amount = dec("10.015"),
            "more than two decimals",
        );
        check(&|i| i.transfers[0].amount = dec("0"), "outside");
        check(&|i| i.transfers[0].amount = dec("1000000000.00"), "outside");
        check(&|i| i.transfers[0].currency = "USD".into(), "not EUR");
        check(
            &|i| i.transfers[0].creditor_iban = "DE00123".into(),
            "creditor IBAN",
        );
        check(&|i| i.debtor_bic = Some("cobadeff".into()), "debtor BIC");
        check(
            &|i| i.transfers[0].creditor_name = "王伟".into(),
            "no SEPA characters",
        );
        check(&|i| i.transfers.clear(), "at least one transfer");
        let mut spaced = ok.clone();
        spaced.transfers[0].creditor_iban = "NL91 ABNA 0417 1643 00".into();
        spaced.transfers[0].creditor_name = "Müller".into();
        validate(&spaced).unwrap();
    }

    #[test]
    fn parse_refuses_inconsistent_files() {
        let xml = write(&sample());
        let wrong_count = xml.replacen("<NbOfTxs>3</NbOfTxs>", "<NbOfTxs>4</NbOfTxs>", 1);
        assert_eq!(
            parse(&wrong_count).unwrap_err().to_string(),
            "GrpHdr/NbOfTxs is 4 but there are 3 transfers"
        );
        let wrong_sum = xml.replace(
            "<CtrlSum>1234568.19</CtrlSum>",
            "<CtrlSum>1234568.20</CtrlSum>",
        );
        assert!(parse(&wrong_sum)
            .unwrap_err()
            .to_string()
            .contains("CtrlSum is 1234568.20"));
        let bad_amount = xml.replace(">0.10</InstdAmt>", ">0,10</InstdAmt>");
        assert_eq!(
            parse(&bad_amount).unwrap_err().to_string(),
            "amount '0,10' is not a decimal"
        );
        let bad_time = xml.replace("2024-05-02T08:30:00Z", "02.05.2024 08:30");
        assert!(matches!(
            parse(&bad_time),
            Err(Iso20022Error::Date {
                field: "CreDtTm",
                ..
            })
        ));
        let not_pain = xml.replace("pain.001.001.09", "pain.008.001.08");
        assert!(matches!(
            parse(&not_pain),
            Err(Iso20022Error::WrongDocument { .. })
        ));
        assert!(matches!(
            parse("<Document"),
            Err(Iso20022Error::Malformed { .. })
        ));
        let no_iban = xml.replacen(
            "<IBAN>DE89370400440532013000</IBAN>",
            "<Othr><Id>123</Id></Othr>",
            1,
        );
        assert_eq!(
            parse(&no_iban).unwrap_err().to_string(),
            "the debtor account has no IBAN"
        );
    }

    #[test]
    fn reads_pain001_v03_spellings() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">
  <CstmrCdtTrfInitn>
    <GrpHdr><MsgId>M3</MsgId><CreDtTm>2024-05-02T10:00:00</CreDtTm><NbOfTxs>1</NbOfTxs><InitgPty><Nm>X</Nm></InitgPty></GrpHdr>
    <PmtInf>
      <PmtInfId>P3</PmtInfId><PmtMtd>TRF</PmtMtd>
      <ReqdExctnDt>2024-05-06</ReqdExctnDt>
      <Dbtr><Nm>X</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><BIC>COBADEFF</BIC></FinInstnId></DbtrAgt>
      <CdtTrfTxInf>
        <PmtId><EndToEndId>E3</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">7.5</InstdAmt></Amt>
        <CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct>
        <RmtInf><Ustrd>a</Ustrd><Ustrd>b</Ustrd></RmtInf>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>"#;
        let read = parse(xml).unwrap();
        assert_eq!(
            read.requested_execution_date,
            NaiveDate::from_ymd_opt(2024, 5, 6).unwrap()
        );
        assert_eq!(read.debtor_bic.as_deref(), Some("COBADEFF"));
        let t = &read.transfers[0];
        assert_eq!(
            (t.instruction_id.as_str(), t.creditor_name.as_str()),
            ("", "")
        );
        assert_eq!(t.amount, dec("7.5"));
        assert_eq!(t.remittance.as_deref(), Some("a b"));
    }
}
