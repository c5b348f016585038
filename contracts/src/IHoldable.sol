// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title EIP-1996 holdable token
/// @notice A hold reserves part of a payer's balance for a payee until a notary executes it, the
/// notary or the payee releases it, or it expires. Names, parameters, events and status numbering
/// follow the ioBuilders `holdable-token` reference implementation.
interface IHoldable {
    /// @notice Life cycle of a hold. The numbering is part of the ABI (it is returned as `uint8`).
    enum HoldStatusCode {
        Nonexistent, // 0
        Ordered, // 1
        Executed, // 2
        ExecutedAndKeptOpen, // 3
        ReleasedByNotary, // 4
        ReleasedByPayee, // 5
        ReleasedOnExpiration // 6
    }

    /// @notice A hold was created; `value` of `from`'s balance is now on hold.
    event HoldCreated(
        address indexed holdIssuer,
        string operationId,
        address from,
        address to,
        address indexed notary,
        uint256 value,
        uint256 expiration
    );
    /// @notice A hold was executed and closed. `heldValue` is the value on hold before this
    /// execution, `transferredValue` the value that moved to the payee (or was burned) now; any
    /// remainder went back to the payer's available balance.
    event HoldExecuted(
        address indexed holdIssuer,
        string operationId,
        address indexed notary,
        uint256 heldValue,
        uint256 transferredValue
    );
    /// @notice A hold was partially executed and stays open. As in the reference, `heldValue` is
    /// the value still on hold AFTER this execution (the hold's new value) and `transferredValue`
    /// the value that moved to the payee now.
    event HoldExecutedAndKeptOpen(
        address indexed holdIssuer,
        string operationId,
        address indexed notary,
        uint256 heldValue,
        uint256 transferredValue
    );
    /// @notice A hold was released; its remaining value is available to the payer again. `status`
    /// is the {HoldStatusCode} it ended in (4, 5 or 6); the reference declares it as the enum,
    /// whose ABI type is `uint8`, so the signature is the same.
    event HoldReleased(address indexed holdIssuer, string operationId, uint8 status);
    /// @notice The expiration of a hold changed (0 = perpetual).
    event HoldRenewed(address indexed holdIssuer, string operationId, uint256 oldExpiration, uint256 newExpiration);
    /// @notice `account` authorized `operator` to create holds on its behalf.
    event HoldOperatorAuthorized(address indexed operator, address indexed account);
    /// @notice `account` revoked `operator`'s right to create holds on its behalf.
    event RevokedHoldOperator(address indexed operator, address indexed account);

    /// @notice Puts `value` of the caller's balance on hold for `to`, executable by `notary`.
    /// @param operationId unique, non-empty id of the hold (never reusable)
    /// @param to payee
    /// @param notary the only address that can execute the hold
    /// @param value amount to hold, at most the caller's available balance
    /// @param timeToExpiration seconds from now until the hold expires; 0 = perpetual
    /// @return true on success
    function hold(string calldata operationId, address to, address notary, uint256 value, uint256 timeToExpiration)
        external
        returns (bool);

    /// @notice Like {hold}, on behalf of `from`; the caller must be a hold operator for `from`.
    /// @param operationId unique, non-empty id of the hold
    /// @param from payer
    /// @param to payee
    /// @param notary the only address that can execute the hold
    /// @param value amount to hold, at most `from`'s available balance
    /// @param timeToExpiration seconds from now until the hold expires; 0 = perpetual
    /// @return true on success
    function holdFrom(
        string calldata operationId,
        address from,
        address to,
        address notary,
        uint256 value,
        uint256 timeToExpiration
    ) external returns (bool);

    /// @notice Like {hold}, with an absolute expiration timestamp.
    /// @param operationId unique, non-empty id of the hold
    /// @param to payee
    /// @param notary the only address that can execute the hold
    /// @param value amount to hold
    /// @param expiration unix time at which the hold expires (must be in the future); 0 = perpetual
    /// @return true on success
    function holdWithExpirationDate(
        string calldata operationId,
        address to,
        address notary,
        uint256 value,
        uint256 expiration
    ) external returns (bool);

    /// @notice Like {holdFrom}, with an absolute expiration timestamp.
    /// @param operationId unique, non-empty id of the hold
    /// @param from payer
    /// @param to payee
    /// @param notary the only address that can execute the hold
    /// @param value amount to hold
    /// @param expiration unix time at which the hold expires (must be in the future); 0 = perpetual
    /// @return true on success
    function holdFromWithExpirationDate(
        string calldata operationId,
        address from,
        address to,
        address notary,
        uint256 value,
        uint256 expiration
    ) external returns (bool);

    /// @notice Releases a hold: the notary or the payee before expiry, anyone at or after expiry.
    /// @param operationId id of the hold
    /// @return true on success
    function releaseHold(string calldata operationId) external returns (bool);

    /// @notice The notary transfers `value` from the payer to the payee and closes the hold; any
    /// remainder is released to the payer.
    /// @param operationId id of the hold
    /// @param value amount to transfer, 0 < value <= held value
    /// @return true on success
    function executeHold(string calldata operationId, uint256 value) external returns (bool);

    /// @notice The notary transfers `value` from the payer to the payee and keeps the remainder
    /// on hold. Executing the whole remaining value closes the hold (status Executed).
    /// @param operationId id of the hold
    /// @param value amount to transfer, 0 < value <= held value
    /// @return true on success
    function executeHoldAndKeepOpen(string calldata operationId, uint256 value) external returns (bool);

    /// @notice The issuer or the payer sets a new expiration, `timeToExpiration` seconds from now.
    /// @param operationId id of the hold
    /// @param timeToExpiration seconds from now; 0 = perpetual
    /// @return true on success
    function renewHold(string calldata operationId, uint256 timeToExpiration) external returns (bool);

    /// @notice The issuer or the payer sets a new absolute expiration.
    /// @param operationId id of the hold
    /// @param expiration unix time in the future, or 0 = perpetual
    /// @return true on success
    function renewHoldWithExpirationDate(string calldata operationId, uint256 expiration) external returns (bool);

    /// @notice Reads a hold. An unknown id returns zeroes and status Nonexistent.
    /// @param operationId id of the hold
    /// @return from payer
    /// @return to payee
    /// @return notary notary
    /// @return value value on hold (after a final execution: the value held before it)
    /// @return expiration expiration timestamp, 0 = perpetual
    /// @return status the {HoldStatusCode}
    function retrieveHoldData(string calldata operationId)
        external
        view
        returns (address from, address to, address notary, uint256 value, uint256 expiration, HoldStatusCode status);

    /// @notice Total value on hold with `account` as payer.
    /// @param account the payer
    /// @return the held amount
    function balanceOnHold(address account) external view returns (uint256);

    /// @notice Gross balance of `account`: available ({balanceOf}) plus on hold.
    /// @param account the account
    /// @return the gross balance
    function netBalanceOf(address account) external view returns (uint256);

    /// @notice Total value on hold across all accounts.
    /// @return the held amount
    function totalSupplyOnHold() external view returns (uint256);

    /// @notice Lets `operator` create holds on the caller's behalf. Reverts if already authorized.
    /// @param operator the operator
    /// @return true on success
    function authorizeHoldOperator(address operator) external returns (bool);

    /// @notice Withdraws `operator`'s right to create holds for the caller. Reverts if not authorized.
    /// @param operator the operator
    /// @return true on success
    function revokeHoldOperator(address operator) external returns (bool);

    /// @notice Whether `operator` may create holds on behalf of `from` (explicitly authorized, or
    /// a default operator).
    /// @param operator the operator
    /// @param from the payer
    /// @return true if it may
    function isHoldOperatorFor(address operator, address from) external view returns (bool);
}
