// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title EIP-2018 clearable token
/// @notice A clearable transfer is ordered by the payer (or an operator), backed by a hold with the
/// same operation id, and then executed or rejected by a clearing agent. Names, parameters, events
/// and status numbering follow the ioBuilders `clearable-token` reference implementation.
interface IClearable {
    /// @notice Life cycle of a clearable transfer (returned as `uint8`).
    enum ClearableTransferStatusCode {
        Nonexistent, // 0
        Ordered, // 1
        InProcess, // 2
        Executed, // 3
        Rejected, // 4
        Cancelled // 5
    }

    /// @notice A clearable transfer was ordered. `orderer` is who ordered it (payer or operator),
    /// `from` the payer, `to` the payee.
    event ClearableTransferOrdered(
        address indexed orderer, string operationId, address indexed from, address indexed to, uint256 value
    );
    /// @notice A clearing agent started processing the transfer. As in the reference, `orderer`
    /// is the caller of this step (the clearing agent), not who ordered the transfer (that one is
    /// in {ClearableTransferOrdered} and in the backing hold's issuer).
    event ClearableTransferInProcess(address indexed orderer, string operationId);
    /// @notice A clearing agent executed the transfer. `orderer` is the caller (the agent).
    event ClearableTransferExecuted(address indexed orderer, string operationId);
    /// @notice A clearing agent rejected the transfer. `orderer` is the caller (the agent).
    event ClearableTransferRejected(address indexed orderer, string operationId, string reason);
    /// @notice The transfer was cancelled. `orderer` is the caller (the payer, or the orderer).
    event ClearableTransferCancelled(address indexed orderer, string operationId);
    /// @notice `account` authorized `operator` to order clearable transfers on its behalf.
    event AuthorizedClearableTransferOperator(address indexed operator, address indexed account);
    /// @notice `account` revoked `operator`'s right to order clearable transfers on its behalf.
    event RevokedClearableTransferOperator(address indexed operator, address indexed account);

    /// @notice Orders a clearable transfer of `value` from the caller to `to`.
    /// @param operationId unique, non-empty id (shared with the backing hold)
    /// @param to payee
    /// @param value amount, at most the caller's available balance
    /// @return true on success
    function orderTransfer(string calldata operationId, address to, uint256 value) external returns (bool);

    /// @notice Orders a clearable transfer on behalf of `from`; the caller must be a clearable
    /// transfer operator for `from`.
    /// @param operationId unique, non-empty id (shared with the backing hold)
    /// @param from payer
    /// @param to payee
    /// @param value amount, at most `from`'s available balance
    /// @return true on success
    function orderTransferFrom(string calldata operationId, address from, address to, uint256 value)
        external
        returns (bool);

    /// @notice The orderer or the payer cancels a transfer still in status Ordered. Anyone else
    /// gets the reference's revert reason "Can only be processed by the payer" (kept verbatim:
    /// reference suites match on it).
    /// @param operationId id of the transfer
    /// @return true on success
    function cancelTransfer(string calldata operationId) external returns (bool);

    /// @notice A clearing agent moves an Ordered transfer to InProcess.
    /// @param operationId id of the transfer
    /// @return true on success
    function processClearableTransfer(string calldata operationId) external returns (bool);

    /// @notice A clearing agent executes an Ordered or InProcess transfer: the funds move.
    /// @param operationId id of the transfer
    /// @return true on success
    function executeClearableTransfer(string calldata operationId) external returns (bool);

    /// @notice A clearing agent rejects an Ordered or InProcess transfer: the funds are released.
    /// @param operationId id of the transfer
    /// @param reason free text carried in the event
    /// @return true on success
    function rejectClearableTransfer(string calldata operationId, string calldata reason) external returns (bool);

    /// @notice Reads a clearable transfer. An unknown id returns zeroes and status Nonexistent.
    /// @param operationId id of the transfer
    /// @return from payer
    /// @return to payee
    /// @return value amount
    /// @return status the {ClearableTransferStatusCode}
    function retrieveClearableTransferData(string calldata operationId)
        external
        view
        returns (address from, address to, uint256 value, ClearableTransferStatusCode status);

    /// @notice Lets `operator` order clearable transfers for the caller. Reverts if already authorized.
    /// @param operator the operator
    /// @return true on success
    function authorizeClearableTransferOperator(address operator) external returns (bool);

    /// @notice Withdraws `operator`'s right to order clearable transfers for the caller. Reverts if
    /// not authorized.
    /// @param operator the operator
    /// @return true on success
    function revokeClearableTransferOperator(address operator) external returns (bool);

    /// @notice Whether `operator` may order clearable transfers for `from` (explicitly authorized,
    /// or a default operator).
    /// @param operator the operator
    /// @param from the payer
    /// @return true if it may
    function isClearableTransferOperatorFor(address operator, address from) external view returns (bool);
}
