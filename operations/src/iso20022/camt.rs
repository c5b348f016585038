//! Bank-to-customer cash-management messages: reads camt.053 statements
//! (`BkToCstmrStmt/Stmt`) and camt.054 debit/credit notifications
//! (`BkToCstmrDbtCdtNtfctn/Ntfctn`), versions .001.02 and .001.08 (and the
//! versions between, which share their shape), into one [`BankMessage`]; writes
//! camt.054.001.08 debit notifications for the local bank simulator.
//!
//! The platform finds in them its cash-ins (booked SEPA credits, `credit`) and
//! its executed cash-outs (booked debits, matched by end-to-end id). Differences
//! between versions that are read alike:
//! - entry status `<Sts>BOOK</Sts>` (.02) or `<Sts><Cd>BOOK</Cd></Sts>` (.08);
//! - booking date `<BookgDt><Dt>` or `<BookgDt><DtTm>`;
//! - transaction amount `TxDtls/Amt` (.08) or `TxDtls/AmtDtls/TxAmt/Amt`;
//! - parties `RltdPties/Dbtr/Nm` (.02) or `RltdPties/Dbtr/Pty/Nm` (.08).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{
    format_amount, format_datetime, namespace, non_empty, parse_amount, write_document, xml_text,
    DocumentKind, Iso20022Error,
};

/// A camt.053 statement or camt.054 notification message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankMessage {
    /// [`DocumentKind::Camt053`] or [`DocumentKind::Camt054`].
    pub kind: DocumentKind,
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm` as written by the bank.
    pub created_at: Option<String>,
    /// One per `Stmt` (camt.053) or `Ntfctn` (camt.054).
    pub reports: Vec<AccountReport>,
}

/// One statement or notification: the entries of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReport {
    /// `Stmt/Id` or `Ntfctn/Id`.
    pub id: String,
    /// `Acct/Id/IBAN` (electronic form), when the account is identified by IBAN.
    pub account_iban: Option<String>,
    pub entries: Vec<Entry>,
}

/// One booking (`Ntry`) on the account, which may bundle several transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `NtryRef`.
    pub entry_reference: Option<String>,
    /// `Amt`, exactly as written.
    pub amount: Decimal,
    /// `Amt/@Ccy`.
    pub currency: String,
    /// `CdtDbtInd == CRDT` (money came in); `DBIT` is false.
    pub credit: bool,
    /// `RvslInd`: the entry reverses an earlier one.
    pub reversal: bool,
    /// `BOOK`, `PDNG`, `INFO` (or a proprietary status).
    pub status: String,
    /// `BookgDt/Dt` or `BookgDt/DtTm`, as written.
    pub booking_date: Option<String>,
    /// The entry's `AcctSvcrRef`.
    pub account_servicer_reference: Option<String>,
    /// The `TxDtls` of all `NtryDtls`; empty when the bank gave none (then the
    /// entry's own fields describe the single movement).
    pub transactions: Vec<Transaction>,
}

/// One transaction (`TxDtls`) of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// `Refs/AcctSvcrRef`.
    pub account_servicer_reference: Option<String>,
    /// `Refs/EndToEndId`; `None` when absent or `NOTPROVIDED`.
    pub end_to_end_id: Option<String>,
    /// `Refs/InstrId`.
    pub instruction_id: Option<String>,
    /// `Amt` (.08) or `AmtDtls/TxAmt/Amt`, with its currency; `None` when neither is there.
    pub amount: Option<(Decimal, String)>,
    /// `RltdPties/Dbtr/Nm` or `RltdPties/Dbtr/Pty/Nm`.
    pub debtor_name: Option<String>,
    /// `RltdPties/DbtrAcct/Id/IBAN`.
    pub debtor_iban: Option<String>,
    /// `RltdPties/Cdtr/Nm` or `RltdPties/Cdtr/Pty/Nm`.
    pub creditor_name: Option<String>,
    /// `RltdPties/CdtrAcct/Id/IBAN`.
    pub creditor_iban: Option<String>,
    /// `RmtInf/Ustrd` lines joined with a space; when there is none, the structured
    /// creditor reference `RmtInf/Strd/CdtrRefInf/Ref` (e.g. an `RF…` reference).
    pub remittance: Option<String>,
    /// `RtrInf/Rsn/Cd` (or `Prtry`) of a returned transfer, e.g. `AC04`.
    pub return_reason: Option<String>,
}

/// Reads a camt.053 or camt.054 document (any version); anything else is refused
/// with [`Iso20022Error::WrongDocument`].
pub fn parse(xml: &str) -> Result<BankMessage, Iso20022Error> {
    let (kind, document) = match super::root_of(xml)? {
        DocumentKind::Camt053 => (DocumentKind::Camt053, "camt.053"),
        DocumentKind::Camt054 => (DocumentKind::Camt054, "camt.054"),
        found => {
            return Err(Iso20022Error::WrongDocument {
                expected: "camt.053 or camt.054",
                found,
            })
        }
    };
    let doc: de::Document = super::deserialize(xml, document)?;
    let structure = |message: &str| Iso20022Error::Structure {
        document,
        message: message.to_owned(),
    };
    let (message, reports) = match kind {
        DocumentKind::Camt053 => {
            let message = doc
                .BkToCstmrStmt
                .ok_or_else(|| structure("no BkToCstmrStmt element"))?;
            let reports = message.Stmt;
            (message.GrpHdr, reports)
        }
        _ => {
            let message = doc
                .BkToCstmrDbtCdtNtfctn
                .ok_or_else(|| structure("no BkToCstmrDbtCdtNtfctn element"))?;
            let reports = message.Ntfctn;
            (message.GrpHdr, reports)
        }
    };
    let message_id =
        non_empty(Some(message.MsgId)).ok_or_else(|| structure("empty GrpHdr/MsgId"))?;
    let reports = reports
        .into_iter()
        .map(|report| account_report(report, document))
        .collect::<Result<_, _>>()?;
    Ok(BankMessage {
        kind,
        message_id,
        created_at: non_empty(message.CreDtTm),
        reports,
    })
}

fn account_report(
    report: de::Report,
    document: &'static str,
) -> Result<AccountReport, Iso20022Error> {
    let id = non_empty(Some(report.Id)).ok_or_else(|| Iso20022Error::Structure {
        document,
        message: "a report without Id".into(),
    })?;
    let account_iban = report.Acct.and_then(de::Account::iban);
    let entries = report
        .Ntry
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            self::entry(entry).map_err(|e| match e {
                Iso20022Error::Invalid(message) => {
                    Iso20022Error::Invalid(format!("report {id}, entry {}: {message}", i + 1))
                }
                other => other,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(AccountReport {
        id,
        account_iban,
        entries,
    })
}

fn entry(entry: de::Ntry) -> Result<Entry, Iso20022Error> {
    let amount = parse_amount(&entry.Amt.value)?;
    let currency = currency(entry.Amt.Ccy)?;
    let credit = match entry.CdtDbtInd.trim() {
        "CRDT" => true,
        "DBIT" => false,
        other => {
            return Err(Iso20022Error::Invalid(format!(
                "credit/debit indicator '{other}' is neither CRDT nor DBIT"
            )))
        }
    };
    let reversal = flag(entry.RvslInd.as_deref());
    let status = entry
        .Sts
        .and_then(de::Status::code)
        .ok_or_else(|| Iso20022Error::Invalid("no entry status (Sts)".into()))?;
    let booking_date = entry
        .BookgDt
        .and_then(|d| non_empty(d.Dt).or_else(|| non_empty(d.DtTm)));
    let transactions = entry
        .NtryDtls
        .into_iter()
        .flat_map(|details| details.TxDtls)
        .map(transaction)
        .collect::<Result<_, _>>()?;
    Ok(Entry {
        entry_reference: non_empty(entry.NtryRef),
        amount,
        currency,
        credit,
        reversal,
        status,
        booking_date,
        account_servicer_reference: non_empty(entry.AcctSvcrRef),
        transactions,
    })
}

fn transaction(tx: de::TxDtls) -> Result<Transaction, Iso20022Error> {
    let refs = tx.Refs.unwrap_or_default();
    let end_to_end_id =
        non_empty(refs.EndToEndId).filter(|id| !id.eq_ignore_ascii_case("NOTPROVIDED"));
    let amount = match tx
        .Amt
        .or_else(|| tx.AmtDtls.and_then(|d| d.TxAmt).map(|a| a.Amt))
    {
        Some(amt) => Some((parse_amount(&amt.value)?, currency(amt.Ccy)?)),
        None => None,
    };
    let parties = tx.RltdPties.unwrap_or_default();
    let remittance = tx.RmtInf.and_then(|rmt| {
        let lines: Vec<String> = rmt
            .Ustrd
            .into_iter()
            .filter_map(|line| non_empty(Some(line)))
            .collect();
        if lines.is_empty() {
            rmt.Strd
                .into_iter()
                .find_map(|s| s.CdtrRefInf.and_then(|c| non_empty(c.Ref)))
        } else {
            Some(lines.join(" "))
        }
    });
    let return_reason = tx
        .RtrInf
        .and_then(|r| r.Rsn)
        .and_then(|r| non_empty(r.Cd).or_else(|| non_empty(r.Prtry)));
    Ok(Transaction {
        account_servicer_reference: non_empty(refs.AcctSvcrRef),
        end_to_end_id,
        instruction_id: non_empty(refs.InstrId),
        amount,
        debtor_name: parties.Dbtr.and_then(de::Party::name),
        debtor_iban: parties.DbtrAcct.and_then(de::Account::iban),
        creditor_name: parties.Cdtr.and_then(de::Party::name),
        creditor_iban: parties.CdtrAcct.and_then(de::Account::iban),
        remittance,
        return_reason,
    })
}

fn currency(code: String) -> Result<String, Iso20022Error> {
    let code = code.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(Iso20022Error::Invalid(format!(
            "currency '{code}' is not an ISO 4217 code"
        )))
    }
}

/// `xs:boolean`: `true` or `1`.
fn flag(text: Option<&str>) -> bool {
    matches!(text.map(str::trim), Some("true" | "1"))
}

/// An IBAN in electronic form: no spaces, upper case.
pub(crate) fn electronic_iban(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// One executed cash-out, as the bank simulator books it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebitBooking {
    /// The `EndToEndId` of the pain.001 transfer.
    pub end_to_end_id: String,
    pub amount: Decimal,
    pub currency: String,
    pub creditor_name: String,
    pub creditor_iban: String,
    /// The bank's own reference of the booking.
    pub account_servicer_reference: String,
}

/// A camt.054.001.08 debit notification for `account_iban`: one `DBIT` `BOOK`
/// entry per booking (booked and valued on `booking_date`, bank transaction code
/// PMNT/ICDT/ESCT, the booking's `AcctSvcrRef`), each with one `TxDtls` carrying
/// `Refs/AcctSvcrRef`, `Refs/EndToEndId`, the amount and the creditor.
/// [`parse`] reads it back. Amounts are written with two decimals; text is
/// trimmed to the schema's lengths.
pub fn write_debit_notification(
    message_id: &str,
    created_at: DateTime<Utc>,
    account_iban: &str,
    booking_date: NaiveDate,
    bookings: &[DebitBooking],
) -> String {
    let created = format_datetime(created_at);
    let date = booking_date.format("%Y-%m-%d").to_string();
    let id35 = |text: &str| {
        let text = xml_text(text, 35);
        if text.is_empty() {
            "NOTPROVIDED".to_owned()
        } else {
            text
        }
    };
    let entries = bookings
        .iter()
        .map(|booking| {
            let amount = se::Amount {
                Ccy: booking.currency.trim().to_ascii_uppercase(),
                value: format_amount(booking.amount),
            };
            let reference = id35(&booking.account_servicer_reference);
            se::Ntry {
                Amt: amount.clone(),
                CdtDbtInd: "DBIT",
                Sts: se::Code { Cd: "BOOK" },
                BookgDt: se::Date { Dt: date.clone() },
                ValDt: se::Date { Dt: date.clone() },
                AcctSvcrRef: reference.clone(),
                BkTxCd: se::BkTxCd {
                    Domn: se::Domn {
                        Cd: "PMNT",
                        Fmly: se::Fmly {
                            Cd: "ICDT",
                            SubFmlyCd: "ESCT",
                        },
                    },
                },
                NtryDtls: se::NtryDtls {
                    TxDtls: vec![se::TxDtls {
                        Refs: se::Refs {
                            AcctSvcrRef: reference,
                            EndToEndId: id35(&booking.end_to_end_id),
                        },
                        Amt: amount,
                        CdtDbtInd: "DBIT",
                        RltdPties: se::RltdPties {
                            Cdtr: se::Party {
                                Pty: se::Name {
                                    Nm: xml_text(&booking.creditor_name, 140),
                                },
                            },
                            CdtrAcct: se::Account {
                                Id: se::AccountId {
                                    IBAN: electronic_iban(&booking.creditor_iban),
                                },
                            },
                        },
                    }],
                },
            }
        })
        .collect();
    let document = se::Document {
        xmlns: namespace("camt.054.001.08"),
        BkToCstmrDbtCdtNtfctn: se::Notification {
            GrpHdr: se::GrpHdr {
                MsgId: id35(message_id),
                CreDtTm: created.clone(),
            },
            Ntfctn: se::Ntfctn {
                Id: id35(message_id),
                CreDtTm: created,
                Acct: se::Account {
                    Id: se::AccountId {
                        IBAN: electronic_iban(account_iban),
                    },
                },
                Ntry: entries,
            },
        },
    };
    write_document(&document)
}

/// The XML as read: lenient mirrors of camt.053/054 .001.02 to .001.08 (only the
/// elements the platform uses; others are ignored).
#[allow(non_snake_case)]
mod de {
    use serde::Deserialize;

    use super::non_empty;

    #[derive(Deserialize)]
    pub struct Document {
        pub BkToCstmrStmt: Option<Statements>,
        pub BkToCstmrDbtCdtNtfctn: Option<Notifications>,
    }

    #[derive(Deserialize)]
    pub struct Statements {
        pub GrpHdr: GrpHdr,
        #[serde(default)]
        pub Stmt: Vec<Report>,
    }

    #[derive(Deserialize)]
    pub struct Notifications {
        pub GrpHdr: GrpHdr,
        #[serde(default)]
        pub Ntfctn: Vec<Report>,
    }

    #[derive(Deserialize)]
    pub struct GrpHdr {
        pub MsgId: String,
        pub CreDtTm: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Report {
        pub Id: String,
        pub Acct: Option<Account>,
        #[serde(default)]
        pub Ntry: Vec<Ntry>,
    }

    #[derive(Deserialize)]
    pub struct Account {
        pub Id: Option<AccountId>,
    }

    impl Account {
        pub fn iban(self) -> Option<String> {
            self.Id
                .and_then(|id| non_empty(id.IBAN))
                .map(|iban| super::electronic_iban(&iban))
        }
    }

    #[derive(Deserialize)]
    pub struct AccountId {
        pub IBAN: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Amount {
        #[serde(rename = "@Ccy")]
        pub Ccy: String,
        #[serde(rename = "$text", default)]
        pub value: String,
    }

    #[derive(Deserialize)]
    pub struct Ntry {
        pub NtryRef: Option<String>,
        pub Amt: Amount,
        pub CdtDbtInd: String,
        pub RvslInd: Option<String>,
        pub Sts: Option<Status>,
        pub BookgDt: Option<DateChoice>,
        pub AcctSvcrRef: Option<String>,
        #[serde(default)]
        pub NtryDtls: Vec<NtryDtls>,
    }

    /// `<Sts>BOOK</Sts>` (.02) or `<Sts><Cd>BOOK</Cd></Sts>` / `<Prtry>` (.08).
    #[derive(Deserialize)]
    pub struct Status {
        #[serde(rename = "$text")]
        pub text: Option<String>,
        pub Cd: Option<String>,
        pub Prtry: Option<String>,
    }

    impl Status {
        pub fn code(self) -> Option<String> {
            non_empty(self.Cd)
                .or_else(|| non_empty(self.Prtry))
                .or_else(|| non_empty(self.text))
        }
    }

    #[derive(Deserialize)]
    pub struct DateChoice {
        pub Dt: Option<String>,
        pub DtTm: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct NtryDtls {
        #[serde(default)]
        pub TxDtls: Vec<TxDtls>,
    }

    #[derive(Deserialize)]
    pub struct TxDtls {
        pub Refs: Option<Refs>,
        pub Amt: Option<Amount>,
        pub AmtDtls: Option<AmtDtls>,
        pub RltdPties: Option<RltdPties>,
        pub RmtInf: Option<RmtInf>,
        pub RtrInf: Option<RtrInf>,
    }

    #[derive(Deserialize, Default)]
    pub struct Refs {
        pub AcctSvcrRef: Option<String>,
        pub InstrId: Option<String>,
        pub EndToEndId: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct AmtDtls {
        pub TxAmt: Option<AmountHolder>,
    }

    #[derive(Deserialize)]
    pub struct AmountHolder {
        pub Amt: Amount,
    }

    #[derive(Deserialize, Default)]
    pub struct RltdPties {
        pub Dbtr: Option<Party>,
        pub DbtrAcct: Option<Account>,
        pub Cdtr: Option<Party>,
        pub CdtrAcct: Option<Account>,
    }

    /// `Dbtr/Nm` (PartyIdentification32, .02) or `Dbtr/Pty/Nm` (Party40Choice, .08).
    #[derive(Deserialize)]
    pub struct Party {
        pub Nm: Option<String>,
        pub Pty: Option<PartyName>,
    }

    impl Party {
        pub fn name(self) -> Option<String> {
            non_empty(self.Nm).or_else(|| self.Pty.and_then(|p| non_empty(p.Nm)))
        }
    }

    #[derive(Deserialize)]
    pub struct PartyName {
        pub Nm: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct RmtInf {
        #[serde(default)]
        pub Ustrd: Vec<String>,
        #[serde(default)]
        pub Strd: Vec<Strd>,
    }

    #[derive(Deserialize)]
    pub struct Strd {
        pub CdtrRefInf: Option<CdtrRefInf>,
    }

    #[derive(Deserialize)]
    pub struct CdtrRefInf {
        pub Ref: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct RtrInf {
        pub Rsn: Option<Reason>,
    }

    #[derive(Deserialize)]
    pub struct Reason {
        pub Cd: Option<String>,
        pub Prtry: Option<String>,
    }
}

/// The XML as written: camt.054.001.08, elements in the schema's order.
#[allow(non_snake_case)]
mod se {
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct Document {
        #[serde(rename = "@xmlns")]
        pub xmlns: String,
        pub BkToCstmrDbtCdtNtfctn: Notification,
    }

    #[derive(Serialize)]
    pub struct Notification {
        pub GrpHdr: GrpHdr,
        pub Ntfctn: Ntfctn,
    }

    #[derive(Serialize)]
    pub struct GrpHdr {
        pub MsgId: String,
        pub CreDtTm: String,
    }

    #[derive(Serialize)]
    pub struct Ntfctn {
        pub Id: String,
        pub CreDtTm: String,
        pub Acct: Account,
        pub Ntry: Vec<Ntry>,
    }

    #[derive(Serialize)]
    pub struct Account {
        pub Id: AccountId,
    }

    #[derive(Serialize)]
    pub struct AccountId {
        pub IBAN: String,
    }

    #[derive(Serialize, Clone)]
    pub struct Amount {
        #[serde(rename = "@Ccy")]
        pub Ccy: String,
        #[serde(rename = "$text")]
        pub value: String,
    }

    #[derive(Serialize)]
    pub struct Ntry {
        pub Amt: Amount,
        pub CdtDbtInd: &'static str,
        pub Sts: Code,
        pub BookgDt: Date,
        pub ValDt: Date,
        pub AcctSvcrRef: String,
        pub BkTxCd: BkTxCd,
        pub NtryDtls: NtryDtls,
    }

    #[derive(Serialize)]
    pub struct Code {
        pub Cd: &'static str,
    }

    #[derive(Serialize)]
    pub struct Date {
        pub Dt: String,
    }

    #[derive(Serialize)]
    pub struct BkTxCd {
        pub Domn: Domn,
    }

    #[derive(Serialize)]
    pub struct Domn {
        pub Cd: &'static str,
        pub Fmly: Fmly,
    }

    #[derive(Serialize)]
    pub struct Fmly {
        pub Cd: &'static str,
        pub SubFmlyCd: &'static str,
    }

    #[derive(Serialize)]
    pub struct NtryDtls {
        pub TxDtls: Vec<TxDtls>,
    }

    #[derive(Serialize)]
    pub struct TxDtls {
        pub Refs: Refs,
        pub Amt: Amount,
        pub CdtDbtInd: &'static str,
        pub RltdPties: RltdPties,
    }

    #[derive(Serialize)]
    pub struct Refs {
        pub AcctSvcrRef: String,
        pub EndToEndId: String,
    }

    #[derive(Serialize)]
    pub struct RltdPties {
        pub Cdtr: Party,
        pub CdtrAcct: Account,
    }

    #[derive(Serialize)]
    pub struct Party {
        pub Pty: Name,
    }

    #[derive(Serialize)]
    pub struct Name {
        pub Nm: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// A day's statement in the common .02 form: a SEPA credit, an executed
    /// cash-out, a batch of two credits, a credit without end-to-end id and a fee
    /// without transaction details.
    const CAMT053_V02: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 camt.053.001.02.xsd">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>STMT-20240502-0001</MsgId>
      <CreDtTm>2024-05-02T06:00:12+02:00</CreDtTm>
      <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>
    </GrpHdr>
    <Stmt>
      <Id>STMT-20240502-0001-1</Id>
      <ElctrncSeqNb>122</ElctrncSeqNb>
      <CreDtTm>2024-05-02T06:00:12+02:00</CreDtTm>
      <FrToDt><FrDtTm>2024-05-01T00:00:00+02:00</FrDtTm><ToDtTm>2024-05-01T23:59:59+02:00</ToDtTm></FrToDt>
      <Acct>
        <Id><IBAN>DE89370400440532013000</IBAN></Id>
        <Ccy>EUR</Ccy>
        <Svcr><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></Svcr>
      </Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">10000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-04-30</Dt></Dt>
      </Bal>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">1245162.36</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-05-01</Dt></Dt>
      </Bal>
      <TxsSummry><TtlNtries><NbOfNtries>5</NbOfNtries></TtlNtries></TxsSummry>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">1234567.89</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <RvslInd>false</RvslInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-01</Dt></BookgDt>
        <ValDt><Dt>2024-05-01</Dt></ValDt>
        <AcctSvcrRef>2024050100012345</AcctSvcrRef>
        <BkTxCd>
          <Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>
          <Prtry><Cd>NTRF+166</Cd><Issr>DK</Issr></Prtry>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <AcctSvcrRef>2024050100012345-1</AcctSvcrRef>
              <InstrId>INSTR-77</InstrId>
              <EndToEndId>CASHIN-7f3a9c</EndToEndId>
            </Refs>
            <AmtDtls>
              <InstdAmt><Amt Ccy="EUR">1234567.89</Amt></InstdAmt>
              <TxAmt><Amt Ccy="EUR">1234567.89</Amt></TxAmt>
            </AmtDtls>
            <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
            <RltdPties>
              <Dbtr><Nm>Max Mustermann</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>FR14 2004 1010 0505 0001 3M02 606</IBAN></Id></DbtrAcct>
              <Cdtr><Nm>EMLEDGER SA</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RltdAgts><DbtrAgt><FinInstnId><BIC>PSSTFRPPPAR</BIC></FinInstnId></DbtrAgt></RltdAgts>
            <RmtInf>
              <Ustrd>Top-up wallet W-1001</Ustrd>
              <Ustrd>thanks</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
        <AddtlNtryInf>SEPA Credit Transfer</AddtlNtryInf>
      </Ntry>
      <Ntry>
        <NtryRef>2</NtryRef>
        <Amt Ccy="EUR">250.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <RvslInd>false</RvslInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-01</Dt></BookgDt>
        <ValDt><Dt>2024-05-01</Dt></ValDt>
        <AcctSvcrRef>2024050100012346</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><PmtInfId>PI-20240501-1</PmtInfId><NbOfTxs>1</NbOfTxs></Btch>
          <TxDtls>
            <Refs>
              <MsgId>MSG-20240501-1</MsgId>
              <PmtInfId>PI-20240501-1</PmtInfId>
              <InstrId>CO-1</InstrId>
              <EndToEndId>CASHOUT-0001</EndToEndId>
            </Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">250.00</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>EMLEDGER SA</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
              <Cdtr><Nm>Jane Doe</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>Cash-out CO-1</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>3</NtryRef>
        <Amt Ccy="EUR">0.30</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-01</Dt></BookgDt>
        <ValDt><Dt>2024-05-01</Dt></ValDt>
        <AcctSvcrRef>2024050100012347</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><NbOfTxs>2</NbOfTxs></Btch>
          <TxDtls>
            <Refs><EndToEndId>E2E-A</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">0.10</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Alice &amp; Bob</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>BE68539007547034</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>A</Ustrd></RmtInf>
          </TxDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-B</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">0.20</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Carol</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>AT611904300234573201</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>B</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>4</NtryRef>
        <Amt Ccy="EUR">42.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-01</Dt></BookgDt>
        <ValDt><Dt>2024-05-01</Dt></ValDt>
        <AcctSvcrRef>2024050100012348</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">42.00</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Dave</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>ES9121000418450200051332</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">2.50</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-01</Dt></BookgDt>
        <ValDt><Dt>2024-05-01</Dt></ValDt>
        <AcctSvcrRef>FEE-202405</AcctSvcrRef>
        <BkTxCd><Domn><Cd>ACMT</Cd><Fmly><Cd>MDOP</Cd><SubFmlyCd>CHRG</SubFmlyCd></Fmly></Domn></BkTxCd>
        <AddtlNtryInf>Account fee</AddtlNtryInf>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#;

    #[test]
    fn parses_camt053_v02_statement() {
        let message = parse(CAMT053_V02).unwrap();
        assert_eq!(message.kind, DocumentKind::Camt053);
        assert_eq!(message.message_id, "STMT-20240502-0001");
        assert_eq!(
            message.created_at.as_deref(),
            Some("2024-05-02T06:00:12+02:00")
        );
        assert_eq!(message.reports.len(), 1);
        let report = &message.reports[0];
        assert_eq!(report.id, "STMT-20240502-0001-1");
        assert_eq!(
            report.account_iban.as_deref(),
            Some("DE89370400440532013000")
        );
        assert_eq!(report.entries.len(), 5);

        let credit = &report.entries[0];
        assert_eq!(credit.entry_reference.as_deref(), Some("1"));
        assert_eq!(credit.amount, dec("1234567.89"));
        assert_eq!(credit.amount.to_string(), "1234567.89");
        assert_eq!(credit.currency, "EUR");
        assert!(credit.credit && !credit.reversal);
        assert_eq!(credit.status, "BOOK");
        assert_eq!(credit.booking_date.as_deref(), Some("2024-05-01"));
        assert_eq!(
            credit.account_servicer_reference.as_deref(),
            Some("2024050100012345")
        );
        assert_eq!(credit.transactions.len(), 1);
        let tx = &credit.transactions[0];
        assert_eq!(
            tx.account_servicer_reference.as_deref(),
            Some("2024050100012345-1")
        );
        assert_eq!(tx.end_to_end_id.as_deref(), Some("CASHIN-7f3a9c"));
        assert_eq!(tx.instruction_id.as_deref(), Some("INSTR-77"));
        assert_eq!(tx.amount, Some((dec("1234567.89"), "EUR".into())));
        assert_eq!(tx.debtor_name.as_deref(), Some("Max Mustermann"));
        assert_eq!(
            tx.debtor_iban.as_deref(),
            Some("FR1420041010050500013M02606")
        );
        assert_eq!(tx.creditor_name.as_deref(), Some("EMLEDGER SA"));
        assert_eq!(tx.creditor_iban.as_deref(), Some("DE89370400440532013000"));
        assert_eq!(
            tx.remittance.as_deref(),
            Some("Top-up wallet W-1001 thanks")
        );
        assert_eq!(tx.return_reason, None);

        let debit = &report.entries[1];
        assert!(!debit.credit);
        assert_eq!(debit.amount.to_string(), "250.00");
        let tx = &debit.transactions[0];
        assert_eq!(tx.end_to_end_id.as_deref(), Some("CASHOUT-0001"));
        assert_eq!(tx.instruction_id.as_deref(), Some("CO-1"));
        assert_eq!(tx.creditor_name.as_deref(), Some("Jane Doe"));
        assert_eq!(tx.creditor_iban.as_deref(), Some("NL91ABNA0417164300"));

        let batch = &report.entries[2];
        assert!(batch.credit && !batch.reversal);
        assert_eq!(batch.transactions.len(), 2);
        let sum: Decimal = batch
            .transactions
            .iter()
            .map(|tx| tx.amount.as_ref().unwrap().0)
            .sum();
        assert_eq!(sum, dec("0.30"));
        assert_eq!(sum, batch.amount);
        assert_eq!(sum.to_string(), "0.30");
        assert_eq!(
            batch.transactions[0].debtor_name.as_deref(),
            Some("Alice & Bob")
        );
        assert_eq!(
            batch.transactions[1].end_to_end_id.as_deref(),
            Some("E2E-B")
        );
        assert_eq!(
            batch.transactions[1].debtor_iban.as_deref(),
            Some("AT611904300234573201")
        );

        let anonymous = &report.entries[3];
        assert_eq!(anonymous.transactions[0].end_to_end_id, None);
        assert_eq!(
            anonymous.transactions[0].remittance.as_deref(),
            Some("RF18539007547034")
        );

        let fee = &report.entries[4];
        assert!(fee.transactions.is_empty());
        assert_eq!(fee.entry_reference, None);
        assert_eq!(fee.amount, dec("2.50"));
        assert!(!fee.credit);
        assert_eq!(
            fee.account_servicer_reference.as_deref(),
            Some("FEE-202405")
        );
    }

    /// A .02 notification: a credit, a returned cash-out (reversal, AC04), a
    /// pending credit without details.
    const CAMT054_V02: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>NTF-0002</MsgId>
      <CreDtTm>2024-05-02T14:00:00</CreDtTm>
    </GrpHdr>
    <Ntfctn>
      <Id>NTF-0002-1</Id>
      <CreDtTm>2024-05-02T14:00:00</CreDtTm>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
      <Ntry>
        <NtryRef>N1</NtryRef>
        <Amt Ccy="EUR">99.99</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-02</Dt></BookgDt>
        <ValDt><Dt>2024-05-02</Dt></ValDt>
        <AcctSvcrRef>R-1</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>CASHIN-1</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">99.99</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>Eve Example</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>IT60X0542811101000000123456</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Ustrd>W-2002</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>N2</NtryRef>
        <Amt Ccy="EUR">250.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <RvslInd>true</RvslInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>2024-05-02</Dt></BookgDt>
        <AcctSvcrRef>R-2</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>RRTN</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>CASHOUT-0001</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">250.00</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Cdtr><Nm>Jane Doe</Nm></Cdtr>
              <CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct>
            </RltdPties>
            <RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>Account closed</AddtlInf></RtrInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">5</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts>PDNG</Sts>
        <BkTxCd/>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"#;

    #[test]
    fn parses_camt054_v02_notification() {
        let message = parse(CAMT054_V02).unwrap();
        // banks' files may start with a byte order mark
        assert_eq!(parse(&format!("\u{FEFF}{CAMT054_V02}")).unwrap(), message);
        assert_eq!(message.kind, DocumentKind::Camt054);
        assert_eq!(message.message_id, "NTF-0002");
        let report = &message.reports[0];
        assert_eq!(report.id, "NTF-0002-1");
        assert_eq!(report.entries.len(), 3);
        let credit = &report.entries[0];
        assert!(credit.credit);
        assert_eq!(credit.amount, dec("99.99"));
        assert_eq!(
            credit.transactions[0].end_to_end_id.as_deref(),
            Some("CASHIN-1")
        );
        assert_eq!(credit.transactions[0].remittance.as_deref(), Some("W-2002"));
        let returned = &report.entries[1];
        assert!(returned.credit && returned.reversal);
        assert_eq!(
            returned.transactions[0].return_reason.as_deref(),
            Some("AC04")
        );
        assert_eq!(
            returned.transactions[0].end_to_end_id.as_deref(),
            Some("CASHOUT-0001")
        );
        let pending = &report.entries[2];
        assert_eq!(pending.status, "PDNG");
        assert_eq!(pending.amount.to_string(), "5");
        assert_eq!(pending.booking_date, None);
        assert!(pending.transactions.is_empty());
    }

    /// A .08 notification: status as a code, booking date-time, TxDtls/Amt,
    /// parties as Party40Choice, two NtryDtls blocks, an info entry.
    const CAMT054_V08: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>NTF-0008</MsgId>
      <CreDtTm>2024-05-03T09:30:00.000+02:00</CreDtTm>
    </GrpHdr>
    <Ntfctn>
      <Id>NTF-0008-1</Id>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ownr><Nm>EMLEDGER SA</Nm></Ownr></Acct>
      <Ntry>
        <NtryRef>A1</NtryRef>
        <Amt Ccy="EUR">1500.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <RvslInd>false</RvslInd>
        <Sts>
          <Cd>BOOK</Cd>
        </Sts>
        <BookgDt><DtTm>2024-05-03T09:29:58+02:00</DtTm></BookgDt>
        <ValDt><Dt>2024-05-03</Dt></ValDt>
        <AcctSvcrRef>B-1</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><AcctSvcrRef>B-1-1</AcctSvcrRef><EndToEndId>E2E-0008-1</EndToEndId><UETR>7d3c4a8e-3b1f-4c7a-9e2d-5f6a7b8c9d0e</UETR></Refs>
            <Amt Ccy="EUR">1000.00</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>Frank Fischer</Nm></Pty></Dbtr>
              <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>
              <Cdtr><Pty><Nm>EMLEDGER SA</Nm></Pty></Cdtr>
            </RltdPties>
            <RmtInf><Ustrd>W-3003</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <Amt Ccy="EUR">500.00</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>Grace</Nm></Pty></Dbtr>
              <DbtrAcct><Id><IBAN>DE02100100100006820101</IBAN></Id></DbtrAcct>
            </RltdPties>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">12.34</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>INFO</Cd></Sts>
        <BkTxCd><Prtry><Cd>X</Cd></Prtry></BkTxCd>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"#;

    #[test]
    fn parses_camt054_v08_notification() {
        let message = parse(CAMT054_V08).unwrap();
        assert_eq!(message.kind, DocumentKind::Camt054);
        assert_eq!(
            message.created_at.as_deref(),
            Some("2024-05-03T09:30:00.000+02:00")
        );
        let report = &message.reports[0];
        assert_eq!(
            report.account_iban.as_deref(),
            Some("DE89370400440532013000")
        );
        let entry = &report.entries[0];
        assert_eq!(entry.status, "BOOK");
        assert_eq!(
            entry.booking_date.as_deref(),
            Some("2024-05-03T09:29:58+02:00")
        );
        assert_eq!(entry.transactions.len(), 2);
        let first = &entry.transactions[0];
        assert_eq!(first.account_servicer_reference.as_deref(), Some("B-1-1"));
        assert_eq!(first.amount, Some((dec("1000.00"), "EUR".into())));
        assert_eq!(first.debtor_name.as_deref(), Some("Frank Fischer"));
        assert_eq!(first.debtor_iban.as_deref(), Some("DE02120300000000202051"));
        assert_eq!(first.creditor_name.as_deref(), Some("EMLEDGER SA"));
        assert_eq!(first.creditor_iban, None);
        let second = &entry.transactions[1];
        assert_eq!(second.end_to_end_id, None);
        assert_eq!(second.remittance, None);
        let total: Decimal = entry
            .transactions
            .iter()
            .filter_map(|t| t.amount.as_ref())
            .map(|a| a.0)
            .sum();
        assert_eq!(total, entry.amount);
        let info = &report.entries[1];
        assert_eq!(info.status, "INFO");
        assert!(!info.credit);
        assert!(info.transactions.is_empty());
    }

    #[test]
    fn reads_prefixed_elements() {
        let xml = r#"<?xml version="1.0"?>
<c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <c:BkToCstmrDbtCdtNtfctn>
    <c:GrpHdr><c:MsgId>P-1</c:MsgId></c:GrpHdr>
    <c:Ntfctn>
      <c:Id>P-1-1</c:Id>
      <c:Ntry>
        <c:Amt Ccy="EUR">1.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd><c:Sts><c:Cd>BOOK</c:Cd></c:Sts>
      </c:Ntry>
    </c:Ntfctn>
  </c:BkToCstmrDbtCdtNtfctn>
</c:Document>"#;
        let message = parse(xml).unwrap();
        assert_eq!(message.message_id, "P-1");
        assert_eq!(message.created_at, None);
        assert_eq!(message.reports[0].account_iban, None);
        assert_eq!(message.reports[0].entries[0].amount, dec("1.00"));
    }

    #[test]
    fn debit_notification_round_trips() {
        let created_at = DateTime::parse_from_rfc3339("2024-05-03T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let date = NaiveDate::from_ymd_opt(2024, 5, 3).unwrap();
        let bookings = vec![
            DebitBooking {
                end_to_end_id: "CASHOUT-0001".into(),
                amount: dec("250.00"),
                currency: "EUR".into(),
                creditor_name: "Jane Doe".into(),
                creditor_iban: "NL91 ABNA 0417 1643 00".into(),
                account_servicer_reference: "SIM-1".into(),
            },
            DebitBooking {
                end_to_end_id: "CASHOUT-0002".into(),
                amount: dec("1234567.89"),
                currency: "EUR".into(),
                creditor_name: "Müller & Søn <GmbH>".into(),
                creditor_iban: "DE02120300000000202051".into(),
                account_servicer_reference: "SIM-2".into(),
            },
        ];
        let xml = write_debit_notification(
            "SIM-NTF-1",
            created_at,
            "DE89370400440532013000",
            date,
            &bookings,
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">"), "{xml}");
        assert!(xml.contains("&lt;GmbH&gt;"), "{xml}");
        let message = parse(&xml).unwrap();
        assert_eq!(message.kind, DocumentKind::Camt054);
        assert_eq!(message.message_id, "SIM-NTF-1");
        assert_eq!(message.created_at.as_deref(), Some("2024-05-03T16:00:00Z"));
        let report = &message.reports[0];
        assert_eq!(
            report.account_iban.as_deref(),
            Some("DE89370400440532013000")
        );
        assert_eq!(report.entries.len(), 2);
        for (entry, booking) in report.entries.iter().zip(&bookings) {
            assert!(!entry.credit && !entry.reversal);
            assert_eq!(entry.status, "BOOK");
            assert_eq!(entry.booking_date.as_deref(), Some("2024-05-03"));
            assert_eq!(entry.amount, booking.amount);
            assert_eq!(entry.currency, "EUR");
            assert_eq!(
                entry.account_servicer_reference.as_deref(),
                Some(booking.account_servicer_reference.as_str())
            );
            let tx = &entry.transactions[0];
            assert_eq!(
                tx.end_to_end_id.as_deref(),
                Some(booking.end_to_end_id.as_str())
            );
            assert_eq!(
                tx.account_servicer_reference.as_deref(),
                Some(booking.account_servicer_reference.as_str())
            );
            assert_eq!(tx.amount, Some((booking.amount, "EUR".into())));
            assert_eq!(
                tx.creditor_name.as_deref(),
                Some(booking.creditor_name.as_str())
            );
            assert_eq!(
                tx.creditor_iban.as_deref(),
                Some(electronic_iban(&booking.creditor_iban).as_str())
            );
        }
        assert_eq!(report.entries[1].amount.to_string(), "1234567.89");

        let empty =
            write_debit_notification("SIM-NTF-2", created_at, "DE89370400440532013000", date, &[]);
        assert!(parse(&empty).unwrap().reports[0].entries.is_empty());
    }

    #[test]
    fn refuses_other_documents_and_bad_content() {
        let pain = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt/></Document>"#;
        let err = parse(pain).unwrap_err();
        assert!(matches!(
            err,
            Iso20022Error::WrongDocument {
                found: DocumentKind::Pain002,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "not a camt.053 or camt.054 document (found pain.002)"
        );

        let malformed = CAMT053_V02.replace("</Stmt>", "</Statement>");
        let err = parse(&malformed).unwrap_err();
        assert!(
            err.to_string().starts_with("malformed XML at line"),
            "{err}"
        );
        let cut = &CAMT054_V08[..CAMT054_V08.len() / 2];
        assert!(matches!(parse(cut), Err(Iso20022Error::Malformed { .. })));

        let bad_amount = CAMT054_V02.replace(
            "<Amt Ccy=\"EUR\">99.99</Amt>\n        <CdtDbtInd>",
            "<Amt Ccy=\"EUR\">99,99</Amt>\n        <CdtDbtInd>",
        );
        assert_eq!(
            parse(&bad_amount).unwrap_err().to_string(),
            "amount '99,99' is not a decimal"
        );

        let bad_indicator = CAMT054_V02.replacen(
            "<CdtDbtInd>CRDT</CdtDbtInd>",
            "<CdtDbtInd>CREDIT</CdtDbtInd>",
            1,
        );
        let err = parse(&bad_indicator).unwrap_err().to_string();
        assert_eq!(
            err,
            "report NTF-0002-1, entry 1: credit/debit indicator 'CREDIT' is neither CRDT nor DBIT"
        );

        let no_status = CAMT054_V02.replace("<Sts>PDNG</Sts>", "");
        assert!(parse(&no_status)
            .unwrap_err()
            .to_string()
            .contains("no entry status"));

        let missing_amount = CAMT054_V02.replace("<Amt Ccy=\"EUR\">5</Amt>", "");
        let err = parse(&missing_amount).unwrap_err();
        assert!(
            matches!(
                err,
                Iso20022Error::Structure {
                    document: "camt.054",
                    ..
                }
            ),
            "{err}"
        );

        let wrong_root = CAMT054_V02.replace("BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt");
        assert!(matches!(
            parse(&wrong_root),
            Err(Iso20022Error::Structure { .. })
        ));
    }
}
