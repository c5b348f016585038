// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Holdable} from "./Holdable.sol";
import {IClearable} from "./IClearable.sol";

/// @title Clearable
/// @notice EIP-2018 clearable transfers on top of {Holdable}, after ioBuilders' `clearable-token`.
///
/// Every clearable transfer is backed by a hold with the SAME operation id: payer = `from`,
/// payee = `to`, notary = this contract, issuer = the orderer, expiration 0 (perpetual). So the
/// hold events accompany the clearable ones, in this order:
/// - order:   HoldCreated, ClearableTransferOrdered
/// - process: ClearableTransferInProcess
/// - execute: HoldExecuted(heldValue = transferredValue = value), Transfer(from, to, value),
///            ClearableTransferExecuted
/// - reject:  HoldReleased(status 4 ReleasedByNotary), ClearableTransferRejected
/// - cancel:  HoldReleased(status 4 ReleasedByNotary), ClearableTransferCancelled
/// Rejection and cancellation both release the hold as its notary (this contract) on behalf of
/// the clearing process; the clearable event says which one happened.
/// As in the reference, the `orderer` of {ClearableTransferOrdered} is who ordered the transfer,
/// and the `orderer` of the later clearable events is the caller of that step: the clearing agent
/// for InProcess/Executed/Rejected, the canceller for Cancelled. The backing hold cannot be
/// executed, released or renewed through the plain hold functions, and every clearable path also
/// checks the hold's status, so the hold resolves exactly once.
///
/// Event names, parameter names and order, indexed flags and revert reason strings are the
/// reference's (clearable-token at d2def55), checked in `test/Conformance.t.sol`. Where this
/// contract does more than the reference: the hold events above accompany the clearable ones
/// (the reference's clearable paths emit none), the backing hold's notary is this contract (the
/// clearing agents are a role, not one address), the orderer as well as the payer may cancel
/// (EIP-2018: the orderer cancels its own orders), and the status checks of improvement 1.
///
/// Pausing: ordering, processing and executing are refused while paused; rejecting and
/// cancelling stay possible (they only give the funds back to the payer).
abstract contract Clearable is Holdable, IClearable {
    mapping(bytes32 key => ClearableTransferStatusCode) private _clearableStatus;
    mapping(address account => mapping(address operator => bool)) private _clearableOperators;

    /// @inheritdoc IClearable
    function orderTransfer(string calldata operationId, address to, uint256 value) external returns (bool) {
        require(to != address(0), "Payee address must not be zero address");
        _orderTransfer(operationId, _msgSender(), _msgSender(), to, value);
        return true;
    }

    /// @inheritdoc IClearable
    function orderTransferFrom(string calldata operationId, address from, address to, uint256 value)
        external
        returns (bool)
    {
        require(to != address(0), "Payee address must not be zero address");
        require(from != address(0), "Payer address must not be zero address");
        require(isClearableTransferOperatorFor(_msgSender(), from), "This operator is not authorized");
        _orderTransfer(operationId, _msgSender(), from, to, value);
        return true;
    }

    /// @inheritdoc IClearable
    /// @dev Allowed while paused. Releases the backing hold with status ReleasedByNotary.
    function cancelTransfer(string calldata operationId) external returns (bool) {
        bytes32 key = _holdKey(operationId);
        Hold storage h = _holds[key];
        address caller = _msgSender();
        // the reference's reason text, although the orderer may cancel too
        require(caller == h.origin || caller == h.issuer, "Can only be processed by the payer");
        require(
            _clearableStatus[key] == ClearableTransferStatusCode.Ordered,
            "A transfer can only be cancelled in status Ordered"
        );
        _requireOpen(h, "A hold can only be released in status Ordered or ExecutedAndKeptOpen");

        _clearableStatus[key] = ClearableTransferStatusCode.Cancelled;
        _releaseHold(h, operationId, HoldStatusCode.ReleasedByNotary);
        emit ClearableTransferCancelled(caller, operationId);
        return true;
    }

    /// @inheritdoc IClearable
    function processClearableTransfer(string calldata operationId) external returns (bool) {
        _requireNotPaused();
        require(_isClearingAgent(_msgSender()), "Can only be processed by the agent");
        bytes32 key = _holdKey(operationId);
        require(
            _clearableStatus[key] == ClearableTransferStatusCode.Ordered,
            "A transfer can only be processed in status Ordered"
        );

        _clearableStatus[key] = ClearableTransferStatusCode.InProcess;
        emit ClearableTransferInProcess(_msgSender(), operationId);
        return true;
    }

    /// @inheritdoc IClearable
    function executeClearableTransfer(string calldata operationId) external returns (bool) {
        _requireNotPaused();
        require(_isClearingAgent(_msgSender()), "Can only be executed by the agent");
        bytes32 key = _holdKey(operationId);
        _requirePending(key, "A transfer can only be executed in status Ordered or InProcess");
        Hold storage h = _holds[key];
        _requireOpen(h, "A hold can only be executed in status Ordered or ExecutedAndKeptOpen");

        _clearableStatus[key] = ClearableTransferStatusCode.Executed;
        uint256 value = h.value;
        (address from, address to) = _recordExecution(h, operationId, value, false);
        _transfer(from, to, value);
        emit ClearableTransferExecuted(_msgSender(), operationId);
        return true;
    }

    /// @inheritdoc IClearable
    /// @dev Allowed while paused. Releases the backing hold with status ReleasedByNotary.
    function rejectClearableTransfer(string calldata operationId, string calldata reason) external returns (bool) {
        require(_isClearingAgent(_msgSender()), "Can only be rejected by the agent");
        bytes32 key = _holdKey(operationId);
        _requirePending(key, "A transfer can only be rejected in status Ordered or InProcess");
        Hold storage h = _holds[key];
        _requireOpen(h, "A hold can only be released in status Ordered or ExecutedAndKeptOpen");

        _clearableStatus[key] = ClearableTransferStatusCode.Rejected;
        _releaseHold(h, operationId, HoldStatusCode.ReleasedByNotary);
        emit ClearableTransferRejected(_msgSender(), operationId, reason);
        return true;
    }

    /// @inheritdoc IClearable
    function retrieveClearableTransferData(string calldata operationId)
        external
        view
        returns (address from, address to, uint256 value, ClearableTransferStatusCode status)
    {
        bytes32 key = _holdKey(operationId);
        status = _clearableStatus[key];
        if (status == ClearableTransferStatusCode.Nonexistent) return (address(0), address(0), 0, status);
        Hold storage h = _holds[key];
        return (h.origin, h.target, h.value, status);
    }

    /// @inheritdoc IClearable
    function authorizeClearableTransferOperator(address operator) external returns (bool) {
        address account = _msgSender();
        require(!_clearableOperators[account][operator], "The operator is already authorized");
        _clearableOperators[account][operator] = true;
        emit AuthorizedClearableTransferOperator(operator, account);
        return true;
    }

    /// @inheritdoc IClearable
    /// @dev Only revokes an explicit authorization; a default operator stays an operator.
    function revokeClearableTransferOperator(address operator) external returns (bool) {
        address account = _msgSender();
        require(_clearableOperators[account][operator], "The operator is already not authorized");
        _clearableOperators[account][operator] = false;
        emit RevokedClearableTransferOperator(operator, account);
        return true;
    }

    /// @inheritdoc IClearable
    function isClearableTransferOperatorFor(address operator, address from) public view returns (bool) {
        return _isDefaultOperator(operator) || _clearableOperators[from][operator];
    }

    /// @dev Whether `account` is a clearing agent.
    function _isClearingAgent(address account) internal view virtual returns (bool);

    /// @dev Orders a clearable transfer: creates the backing hold (notary = this contract,
    /// perpetual) and marks it as clearable.
    function _orderTransfer(string memory operationId, address orderer, address from, address to, uint256 value)
        internal
        virtual
    {
        _hold(operationId, orderer, from, to, address(this), value, 0);
        bytes32 key = _holdKey(operationId);
        _holds[key].backsClearableTransfer = true;
        _clearableStatus[key] = ClearableTransferStatusCode.Ordered;
        emit ClearableTransferOrdered(orderer, operationId, from, to, value);
    }

    function _requirePending(bytes32 key, string memory reason) private view {
        ClearableTransferStatusCode status = _clearableStatus[key];
        require(
            status == ClearableTransferStatusCode.Ordered || status == ClearableTransferStatusCode.InProcess, reason
        );
    }
}
