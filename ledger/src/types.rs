//! Statuses and movement types, spelled as seed 003 spells them.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
    };
}

text_enum!(
    /// Movement types (seed 003).
    MovementType {
        CARD_CASHIN,
        BANK_ACCOUNT_CASHIN,
        BANK_ACCOUNT_CASHOUT,
        TRANSFER_IN,
        TRANSFER_OUT,
        LOCK,
        RELEASE,
    }
);

text_enum!(
    /// Movement statuses (seed 003).
    MovementStatus { PENDING, SUCCESS, ERROR }
);

text_enum!(
    /// Hold statuses (seed 003): the API's request/pending chains and the chain's outcomes.
    HoldStatus {
        CREATION_REQUESTED,
        PENDING_DLT_CREATION,
        CREATED,
        CREATION_FAILED,
        PENDING_DLT_EXPIRATION,
        EXECUTION_REQUESTED,
        PENDING_DLT_EXECUTION,
        EXECUTED,
        EXECUTION_FAILED,
        EXECUTION_AND_KEEP_OPEN_REQUESTED,
        PENDING_DLT_EXECUTE_AND_KEPT_OPEN,
        EXECUTED_AND_KEPT_OPEN,
        EXECUTION_AND_KEPT_OPEN_FAILED,
        RELEASE_REQUESTED,
        PENDING_DLT_RELEASE,
        RELEASE_FAILED,
        RELEASED_BY_NOTARY,
        RELEASED_BY_PAYEE,
        RELEASED_ON_EXPIRATION,
        RENEWAL_REQUESTED,
        PENDING_DLT_RENEWAL,
        RENEWED,
        RENEWAL_FAILED,
        // CANCELLED: the hold backed a clearable transfer (EIP-2018) that its
        // payer or orderer cancelled (released by neither notary nor payee)
        CANCELLED,
    }
);

impl HoldStatus {
    /// The status a hold has after the chain reported `code` (EIP-1996 numbering).
    pub fn from_chain_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::CREATED,
            2 => Self::EXECUTED,
            3 => Self::EXECUTED_AND_KEPT_OPEN,
            4 => Self::RELEASED_BY_NOTARY,
            5 => Self::RELEASED_BY_PAYEE,
            6 => Self::RELEASED_ON_EXPIRATION,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_round_trips() {
        for t in MovementType::ALL {
            assert_eq!(t.as_str().parse::<MovementType>().unwrap(), *t);
        }
        for s in HoldStatus::ALL {
            assert_eq!(s.as_str().parse::<HoldStatus>().unwrap(), *s);
        }
        assert!("LOCKED".parse::<MovementType>().is_err());
    }
}
