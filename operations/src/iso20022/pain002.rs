//! pain.002 customer payment status reports (`CstmrPmtStsRpt`): the bank's
//! answer to a pain.001 file, accepting or rejecting the file as a whole
//! (`OrgnlGrpInfAndSts/GrpSts`), a payment information block (`PmtInfSts`) or
//! each transfer (`TxInfAndSts/TxSts` with a reason such as `AC04`).
//!
//! [`parse`] reads .001.03 and .001.10 (and the versions between, which share
//! their shape); [`write`] produces .001.10 for the local bank simulator. A
//! transfer without a status of its own takes its block's or the group's: see
//! [`StatusReport::effective_status`] and [`StatusReport::status_for`].

use chrono::{DateTime, Utc};

use super::{
    format_datetime, namespace, non_empty, parse_datetime, read_document, write_document, xml_text,
    DocumentKind, Iso20022Error,
};

/// The message identifier written in the namespace.
pub const MESSAGE_NAME: &str = "pain.002.001.10";

/// Longest `AddtlInf` line (`Max105Text`).
const ADDITIONAL_INFO_LEN: usize = 105;

/// A payment status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// `GrpHdr/MsgId`.
    pub message_id: String,
    /// `GrpHdr/CreDtTm` (a date-time without offset is taken as UTC; written in
    /// whole seconds).
    pub created_at: DateTime<Utc>,
    /// `OrgnlGrpInfAndSts/OrgnlMsgId`: the pain.001's `MsgId`.
    pub original_message_id: String,
    /// `OrgnlGrpInfAndSts/GrpSts`; when the bank gave none, the `PmtInfSts` of
    /// the report's only payment information block, if any.
    pub group_status: Option<String>,
    /// The `TxInfAndSts` of all payment information blocks.
    pub transactions: Vec<TxStatus>,
}

/// The status of one transfer (`TxInfAndSts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatus {
    /// `OrgnlInstrId`.
    pub original_instruction_id: Option<String>,
    /// `OrgnlEndToEndId`; empty when the bank gave only `OrgnlInstrId`.
    pub original_end_to_end_id: String,
    /// `TxSts`: ACCP ACSC ACSP ACTC ACWC PDNG RJCT (RCVD, ACFC, … in later
    /// versions); the block's `PmtInfSts` when the transaction has none; empty
    /// when neither is given (see [`StatusReport::effective_status`]).
    pub status: String,
    /// `StsRsnInf/Rsn/Cd` (or `Prtry`), e.g. `AC04` (account closed). A
    /// transaction without `TxSts` nor reason of its own takes the reason of its
    /// block, else of the group (e.g. `FF01` for a file the bank refused).
    pub reason_code: Option<String>,
    /// `StsRsnInf/AddtlInf` lines joined with a space (taken over like `reason_code`).
    pub reason_text: Option<String>,
}

impl TxStatus {
    /// The end-to-end id, or `None` when the bank did not give it.
    pub fn end_to_end_id(&self) -> Option<&str> {
        Some(self.original_end_to_end_id.as_str()).filter(|id| !id.is_empty())
    }
}

impl StatusReport {
    /// The status that applies to a transaction of this report: its own, else the
    /// group's (so a transfer without status in a report whose group status is
    /// `RJCT` is rejected), else `PDNG` (nothing decided yet).
    pub fn effective_status<'a>(&'a self, tx: &'a TxStatus) -> &'a str {
        if !tx.status.is_empty() {
            &tx.status
        } else {
            self.group_status.as_deref().unwrap_or("PDNG")
        }
    }

    /// The status this report gives a transfer of the original message, by its
    /// end-to-end id: its listed transaction's effective status, else the group
    /// status (which covers every transfer the report does not list), except
    /// `PART` (partially accepted: the unlisted ones are not decided here). `None`
    /// when the report says nothing about it.
    pub fn status_for(&self, end_to_end_id: &str) -> Option<&str> {
        match self
            .transactions
            .iter()
            .find(|tx| tx.original_end_to_end_id == end_to_end_id)
        {
            Some(tx) => Some(self.effective_status(tx)),
            None => self
                .group_status
                .as_deref()
                .filter(|status| *status != "PART"),
        }
    }
}

/// Reads a pain.002 document (any version; .001.03 and .001.10 are tested). An
/// unreadable `CreDtTm` is an error.
pub fn parse(xml: &str) -> Result<StatusReport, Iso20022Error> {
    let doc = read_document::<xml::Document>(xml, DocumentKind::Pain002, "pain.002")?;
    let report = doc.CstmrPmtStsRpt;
    let group = report.OrgnlGrpInfAndSts;
    let message_id =
        non_empty(Some(report.GrpHdr.MsgId)).ok_or_else(|| Iso20022Error::Structure {
            document: "pain.002",
            message: "empty GrpHdr/MsgId".into(),
        })?;
    let created_at = parse_datetime("CreDtTm", &report.GrpHdr.CreDtTm)?;
    let group_reason = reason(&group.StsRsnInf);
    let mut group_status = non_empty(group.GrpSts);
    let blocks = report.OrgnlPmtInfAndSts;
    if group_status.is_none() && blocks.len() == 1 {
        group_status = non_empty(blocks[0].PmtInfSts.clone());
    }
    let mut transactions = Vec::new();
    for block in blocks {
        let block_status = non_empty(block.PmtInfSts);
        let (block_code, block_text) = match reason(&block.StsRsnInf) {
            (None, None) => group_reason.clone(),
            block_reason => block_reason,
        };
        for tx in block.TxInfAndSts {
            let original_instruction_id = non_empty(tx.OrgnlInstrId);
            let original_end_to_end_id = non_empty(tx.OrgnlEndToEndId).unwrap_or_default();
            if original_end_to_end_id.is_empty() && original_instruction_id.is_none() {
                return Err(Iso20022Error::Invalid(
                    "a transaction status without OrgnlEndToEndId nor OrgnlInstrId".into(),
                ));
            }
            let (mut reason_code, mut reason_text) = reason(&tx.StsRsnInf);
            let status = match non_empty(tx.TxSts) {
                Some(status) => status,
                None => {
                    if reason_code.is_none() && reason_text.is_none() {
                        reason_code = block_code.clone();
                        reason_text = block_text.clone();
                    }
                    block_status.clone().unwrap_or_default()
                }
            };
            transactions.push(TxStatus {
                original_instruction_id,
                original_end_to_end_id,
                status,
                reason_code,
                reason_text,
            });
        }
    }
    Ok(StatusReport {
        message_id,
        created_at,
        original_message_id: group.OrgnlMsgId.trim().to_owned(),
        group_status,
        transactions,
    })
}

/// The first reason code and all additional-information lines of `StsRsnInf`s.
fn reason(infos: &[xml::StsRsnInf]) -> (Option<String>, Option<String>) {
    let code = infos.iter().find_map(|info| {
        info.Rsn
            .as_ref()
            .and_then(|r| non_empty(r.Cd.clone()).or_else(|| non_empty(r.Prtry.clone())))
    });
    let lines: Vec<String> = infos
        .iter()
        .flat_map(|info| info.AddtlInf.iter())
        .filter_map(|line| non_empty(Some(line.clone())))
        .collect();
    (code, Some(lines.join(" ")).filter(|t| !t.is_empty()))
}

fn reason_info(code: Option<&str>, text: Option<&str>) -> Vec<xml::StsRsnInf> {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let text = text
        .map(|t| xml_text(t, ADDITIONAL_INFO_LEN))
        .filter(|t| !t.is_empty());
    if code.is_none() && text.is_none() {
        return Vec::new();
    }
    vec![xml::StsRsnInf {
        Rsn: code.map(|c| xml::Reason {
            Cd: Some(c.to_owned()),
            Prtry: None,
        }),
        AddtlInf: text.into_iter().collect(),
    }]
}

/// A pain.002.001.10 document reporting on a pain.001.001.09 (`OrgnlMsgNmId`):
/// the group status, then one payment information block with every transaction
/// (none when there are no transactions), whose `OrgnlPmtInfId` is the original
/// `MsgId`; [`write_with_payment_info_id`] names the real one. Reason texts are
/// cut to 105 characters.
pub fn write(r: &StatusReport) -> String {
    write_with_payment_info_id(r, &r.original_message_id)
}

/// [`write`], with the original `PmtInfId` as `OrgnlPmtInfId`.
pub fn write_with_payment_info_id(r: &StatusReport, original_payment_info_id: &str) -> String {
    let id35 = |text: &str| {
        let text = xml_text(text, 35);
        if text.is_empty() {
            "NOTPROVIDED".to_owned()
        } else {
            text
        }
    };
    let transactions: Vec<xml::TxInfAndSts> = r
        .transactions
        .iter()
        .map(|tx| xml::TxInfAndSts {
            OrgnlInstrId: tx.original_instruction_id.as_deref().map(id35),
            OrgnlEndToEndId: tx.end_to_end_id().map(id35),
            TxSts: non_empty(Some(tx.status.clone())),
            StsRsnInf: reason_info(tx.reason_code.as_deref(), tx.reason_text.as_deref()),
        })
        .collect();
    let blocks = if transactions.is_empty() {
        Vec::new()
    } else {
        vec![xml::OrgnlPmtInfAndSts {
            OrgnlPmtInfId: id35(original_payment_info_id),
            PmtInfSts: None,
            StsRsnInf: Vec::new(),
            TxInfAndSts: transactions,
        }]
    };
    let document = xml::Document {
        xmlns: namespace(MESSAGE_NAME),
        CstmrPmtStsRpt: xml::CstmrPmtStsRpt {
            GrpHdr: xml::GrpHdr {
                MsgId: id35(&r.message_id),
                CreDtTm: format_datetime(r.created_at),
            },
            OrgnlGrpInfAndSts: xml::OrgnlGrpInfAndSts {
                OrgnlMsgId: id35(&r.original_message_id),
                OrgnlMsgNmId: super::pain001::MESSAGE_NAME.to_owned(),
                GrpSts: r
                    .group_status
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                StsRsnInf: Vec::new(),
            },
            OrgnlPmtInfAndSts: blocks,
        },
    };
    write_document(&document)
}

/// The XML, written and read: pain.002.001.10 in the schema's order (.001.03 has
/// the same elements where the platform looks).
#[allow(non_snake_case)]
mod xml {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    pub struct Document {
        #[serde(rename = "@xmlns", default)]
        pub xmlns: String,
        pub CstmrPmtStsRpt: CstmrPmtStsRpt,
    }

    #[derive(Serialize, Deserialize)]
    pub struct CstmrPmtStsRpt {
        pub GrpHdr: GrpHdr,
        pub OrgnlGrpInfAndSts: OrgnlGrpInfAndSts,
        #[serde(default)]
        pub OrgnlPmtInfAndSts: Vec<OrgnlPmtInfAndSts>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct GrpHdr {
        pub MsgId: String,
        pub CreDtTm: String,
    }

    #[derive(Serialize, Deserialize)]
    pub struct OrgnlGrpInfAndSts {
        pub OrgnlMsgId: String,
        #[serde(default)]
        pub OrgnlMsgNmId: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub GrpSts: Option<String>,
        #[serde(default)]
        pub StsRsnInf: Vec<StsRsnInf>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct OrgnlPmtInfAndSts {
        #[serde(default)]
        pub OrgnlPmtInfId: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub PmtInfSts: Option<String>,
        #[serde(default)]
        pub StsRsnInf: Vec<StsRsnInf>,
        #[serde(default)]
        pub TxInfAndSts: Vec<TxInfAndSts>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct TxInfAndSts {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub OrgnlInstrId: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub OrgnlEndToEndId: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub TxSts: Option<String>,
        #[serde(default)]
        pub StsRsnInf: Vec<StsRsnInf>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct StsRsnInf {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Rsn: Option<Reason>,
        #[serde(default)]
        pub AddtlInf: Vec<String>,
    }

    #[derive(Serialize, Deserialize)]
    pub struct Reason {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Cd: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Prtry: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A .03 report rejecting the file, with one transfer rejected for a closed
    /// account (AC04), one accepted and one without a status of its own.
    const PAIN002_V03: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>STS-20240502-01</MsgId>
      <CreDtTm>2024-05-02T11:05:33+02:00</CreDtTm>
      <InitgPty><Id><OrgId><BICOrBEI>COBADEFFXXX</BICOrBEI></OrgId></Id></InitgPty>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>MSG-20240502-0001</OrgnlMsgId>
      <OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>
      <OrgnlNbOfTxs>3</OrgnlNbOfTxs>
      <OrgnlCtrlSum>1234568.19</OrgnlCtrlSum>
      <GrpSts>RJCT</GrpSts>
      <StsRsnInf>
        <Orgtr><Nm>Bank</Nm></Orgtr>
        <Rsn><Cd>FF01</Cd></Rsn>
        <AddtlInf>File rejected:</AddtlInf>
        <AddtlInf>see transactions</AddtlInf>
      </StsRsnInf>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>PI-20240502-0001</OrgnlPmtInfId>
      <TxInfAndSts>
        <StsId>S1</StsId>
        <OrgnlInstrId>CO-1</OrgnlInstrId>
        <OrgnlEndToEndId>CASHOUT-0001</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf>
          <Rsn><Cd>AC04</Cd></Rsn>
          <AddtlInf>Account closed</AddtlInf>
        </StsRsnInf>
        <OrgnlTxRef><Amt><InstdAmt Ccy="EUR">0.10</InstdAmt></Amt></OrgnlTxRef>
      </TxInfAndSts>
      <TxInfAndSts>
        <OrgnlInstrId>CO-2</OrgnlInstrId>
        <OrgnlEndToEndId>CASHOUT-0002</OrgnlEndToEndId>
        <TxSts>ACCP</TxSts>
      </TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>CASHOUT-0003</OrgnlEndToEndId>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#;

    #[test]
    fn parses_pain002_v03_with_group_rejection() {
        let report = parse(PAIN002_V03).unwrap();
        assert_eq!(report.message_id, "STS-20240502-01");
        assert_eq!(format_datetime(report.created_at), "2024-05-02T09:05:33Z");
        assert_eq!(report.original_message_id, "MSG-20240502-0001");
        assert_eq!(report.group_status.as_deref(), Some("RJCT"));
        assert_eq!(report.transactions.len(), 3);

        let rejected = &report.transactions[0];
        assert_eq!(rejected.original_instruction_id.as_deref(), Some("CO-1"));
        assert_eq!(rejected.original_end_to_end_id, "CASHOUT-0001");
        assert_eq!(rejected.status, "RJCT");
        assert_eq!(rejected.reason_code.as_deref(), Some("AC04"));
        assert_eq!(rejected.reason_text.as_deref(), Some("Account closed"));
        assert_eq!(report.effective_status(rejected), "RJCT");

        let accepted = &report.transactions[1];
        assert_eq!(report.effective_status(accepted), "ACCP");
        assert_eq!(accepted.reason_code, None);

        let silent = &report.transactions[2];
        assert_eq!(silent.status, "");
        assert_eq!(silent.original_instruction_id, None);
        assert_eq!(report.effective_status(silent), "RJCT");
        assert_eq!(silent.reason_code.as_deref(), Some("FF01"));
        assert_eq!(
            silent.reason_text.as_deref(),
            Some("File rejected: see transactions")
        );

        assert_eq!(report.status_for("CASHOUT-0001"), Some("RJCT"));
        assert_eq!(report.status_for("CASHOUT-0002"), Some("ACCP"));
        assert_eq!(report.status_for("CASHOUT-0003"), Some("RJCT"));
        assert_eq!(report.status_for("UNLISTED"), Some("RJCT"));
    }

    #[test]
    fn block_status_and_partial_group() {
        let xml = PAIN002_V03
            .replace("<GrpSts>RJCT</GrpSts>", "<GrpSts>PART</GrpSts>")
            .replace(
                "<OrgnlPmtInfId>PI-20240502-0001</OrgnlPmtInfId>",
                "<OrgnlPmtInfId>PI-20240502-0001</OrgnlPmtInfId><PmtInfSts>ACSP</PmtInfSts>",
            );
        let report = parse(&xml).unwrap();
        assert_eq!(report.group_status.as_deref(), Some("PART"));
        assert_eq!(report.transactions[2].status, "ACSP");
        assert_eq!(report.status_for("CASHOUT-0003"), Some("ACSP"));
        assert_eq!(report.status_for("UNLISTED"), None);

        // no group status: the only block's status stands for the group
        let whole_block = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>
<GrpHdr><MsgId>S</MsgId><CreDtTm>2024-05-02T10:00:00</CreDtTm></GrpHdr>
<OrgnlGrpInfAndSts><OrgnlMsgId>M</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId></OrgnlGrpInfAndSts>
<OrgnlPmtInfAndSts><OrgnlPmtInfId>P</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf></OrgnlPmtInfAndSts>
</CstmrPmtStsRpt></Document>"#;
        let report = parse(whole_block).unwrap();
        assert_eq!(report.group_status.as_deref(), Some("RJCT"));
        assert_eq!(report.status_for("ANY"), Some("RJCT"));
        assert!(report.transactions.is_empty());
    }

    fn sample() -> StatusReport {
        StatusReport {
            message_id: "SIM-STS-1".into(),
            created_at: DateTime::parse_from_rfc3339("2024-05-02T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            original_message_id: "MSG-20240502-0001".into(),
            group_status: Some("PART".into()),
            transactions: vec![
                TxStatus {
                    original_instruction_id: Some("CO-1".into()),
                    original_end_to_end_id: "CASHOUT-0001".into(),
                    status: "RJCT".into(),
                    reason_code: Some("AC04".into()),
                    reason_text: Some("Konto geschlossen <closed> & gone".into()),
                },
                TxStatus {
                    original_instruction_id: None,
                    original_end_to_end_id: "CASHOUT-0002".into(),
                    status: "ACSC".into(),
                    reason_code: None,
                    reason_text: None,
                },
            ],
        }
    }

    #[test]
    fn round_trips_v10() {
        let report = sample();
        let xml = write(&report);
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">"
        ), "{xml}");
        assert!(
            xml.contains("<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"),
            "{xml}"
        );
        assert!(xml.contains("&lt;closed&gt; &amp; gone"), "{xml}");
        assert_eq!(parse(&xml).unwrap(), report);

        let flat: String = xml.lines().map(str::trim).collect();
        assert!(
            flat.contains(
                "<OrgnlPmtInfAndSts><OrgnlPmtInfId>MSG-20240502-0001</OrgnlPmtInfId><TxInfAndSts>"
            ),
            "{xml}"
        );
        let xml = write_with_payment_info_id(&report, "PI-20240502-0001");
        assert!(
            xml.contains("<OrgnlPmtInfId>PI-20240502-0001</OrgnlPmtInfId>"),
            "{xml}"
        );
        assert_eq!(parse(&xml).unwrap(), report);

        let mut long_reason = report.clone();
        long_reason.transactions[0].reason_text = Some("x".repeat(200));
        let read = parse(&write(&long_reason)).unwrap();
        assert_eq!(
            read.transactions[0].reason_text.as_ref().map(String::len),
            Some(105)
        );

        let mut rejected_file = report.clone();
        rejected_file.group_status = Some("RJCT".into());
        rejected_file.transactions.clear();
        let xml = write(&rejected_file);
        assert!(!xml.contains("OrgnlPmtInfAndSts"), "{xml}");
        let read = parse(&xml).unwrap();
        assert_eq!(read, rejected_file);
        assert_eq!(read.status_for("CASHOUT-0001"), Some("RJCT"));

        let mut silent = report.clone();
        silent.group_status = Some("ACCP".into());
        silent.transactions[1].status = String::new();
        let read = parse(&write(&silent)).unwrap();
        assert_eq!(read, silent);
        assert_eq!(read.effective_status(&read.transactions[1]), "ACCP");
        silent.group_status = None;
        let read = parse(&write(&silent)).unwrap();
        assert_eq!(read.effective_status(&read.transactions[1]), "PDNG");
    }

    #[test]
    fn refuses_bad_documents() {
        let bad_time = PAIN002_V03.replace("2024-05-02T11:05:33+02:00", "2.5.2024");
        let err = parse(&bad_time).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CreDtTm '2.5.2024' is not an ISO 8601 date-time"
        );
        let no_time = PAIN002_V03.replace("<CreDtTm>2024-05-02T11:05:33+02:00</CreDtTm>", "");
        assert!(matches!(
            parse(&no_time),
            Err(Iso20022Error::Structure { .. })
        ));
        let camt = PAIN002_V03.replace("pain.002.001.03", "camt.054.001.08");
        assert_eq!(
            parse(&camt).unwrap_err().to_string(),
            "not a pain.002 document (found camt.054)"
        );
        let broken = PAIN002_V03.replace("</TxSts>", "</TxSt>");
        assert!(matches!(
            parse(&broken),
            Err(Iso20022Error::Malformed { .. })
        ));
        let anonymous = PAIN002_V03.replace("<OrgnlEndToEndId>CASHOUT-0003</OrgnlEndToEndId>", "");
        assert!(parse(&anonymous)
            .unwrap_err()
            .to_string()
            .contains("without OrgnlEndToEndId"));
    }
}
