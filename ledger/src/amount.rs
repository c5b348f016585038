//! Exact money: decimal amounts on the wire, integer minor units on chain and
//! in the database. Never floats.

use std::str::FromStr;

use alloy::primitives::U256;
use rust_decimal::Decimal;

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is not a decimal number")]
    NotANumber,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount has more than {0} decimal places")]
    TooPrecise(u32),
    #[error("amount is too large")]
    TooLarge,
}

/// A positive amount of the token, exact, with at most `decimals` fractional digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount {
    minor: u128,
}

impl Amount {
    /// From a decimal, refusing zero, negatives and excess precision.
    pub fn from_decimal(value: Decimal, decimals: u32) -> Result<Self, AmountError> {
        if value <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        let normalized = value.normalize();
        if normalized.scale() > decimals {
            return Err(AmountError::TooPrecise(decimals));
        }
        let mut scaled = normalized;
        scaled.rescale(decimals);
        if scaled.scale() != decimals {
            return Err(AmountError::TooLarge);
        }
        let mantissa = scaled.mantissa();
        u128::try_from(mantissa).map(|minor| Self { minor }).map_err(|_| AmountError::TooLarge)
    }

    /// Parses the text of a JSON string or number ("1.50", 1.5, "1000").
    pub fn parse(text: &str, decimals: u32) -> Result<Self, AmountError> {
        let text = text.trim();
        if text.is_empty() || text.contains(['e', 'E']) {
            return Err(AmountError::NotANumber);
        }
        let value = Decimal::from_str(text).map_err(|_| AmountError::NotANumber)?;
        Self::from_decimal(value, decimals)
    }

    /// From on-chain minor units.
    pub const fn from_minor(minor: u128) -> Self {
        Self { minor }
    }

    /// Integer minor units.
    pub const fn minor(self) -> u128 {
        self.minor
    }

    /// As a uint256 for contract calls.
    pub fn to_u256(self) -> U256 {
        U256::from(self.minor)
    }
}

/// Minor units (as stored, a NUMERIC(78,0) read as Decimal) to a wire decimal
/// with exactly `decimals` fractional digits.
pub fn minor_to_decimal(minor: Decimal, decimals: u32) -> Decimal {
    let mut d = minor;
    d.set_scale(minor.scale() + decimals).unwrap_or(());
    d
}

/// A uint256 in minor units to the decimal text Postgres takes for NUMERIC.
pub fn u256_to_numeric(value: U256) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts() {
        assert_eq!(Amount::parse("1.50", 2).unwrap().minor(), 150);
        assert_eq!(Amount::parse("1000", 2).unwrap().minor(), 100_000);
        assert_eq!(Amount::parse("0.01", 2).unwrap().minor(), 1);
        assert_eq!(Amount::parse("2.500", 2).unwrap().minor(), 250);
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(Amount::parse("0.001", 2), Err(AmountError::TooPrecise(2)));
        assert_eq!(Amount::parse("0", 2), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("-1", 2), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("abc", 2), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("1e3", 2), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("", 2), Err(AmountError::NotANumber));
    }

    #[test]
    fn minor_units_scale_back() {
        let d = minor_to_decimal(Decimal::from(150), 2);
        assert_eq!(d.to_string(), "1.50");
        assert_eq!(minor_to_decimal(Decimal::ZERO, 2).to_string(), "0.00");
    }
}
