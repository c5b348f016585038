// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IHoldable} from "./IHoldable.sol";
import {PackedERC20} from "./PackedERC20.sol";

/// @title Holdable
/// @notice ERC-20 with EIP-1996 holds, after ioBuilders' `holdable-token`. {balanceOf} is the
/// available balance (gross minus held), {netBalanceOf} the gross one; ERC-20 transfers move only
/// available funds. An account's held balance is kept in its {PackedERC20.Account} slot, next to
/// its balance: checking the available balance of a transfer costs no extra storage read.
///
/// Improvements over the reference implementation:
/// 1. Every execute, release and renew path checks the hold's status: only holds in Ordered or
///    ExecutedAndKeptOpen can be settled, so a hold resolves at most once.
/// 2. A hold backing a clearable transfer can only be settled through the clearable-transfer
///    functions; {executeHold}, {executeHoldAndKeepOpen}, {releaseHold} and the renew functions
///    refuse it ("Hold is backing a clearable transfer").
/// 3. Renewing can only postpone a hold unless the caller is an issuer who is not the payer: the
///    payer cannot renew a hold to expire sooner than it does now, nor turn a perpetual hold into
///    an expiring one, and then release it on expiration to escape it.
///
/// Otherwise the ABI is the reference's (holdable-token v3.0.1): event names, parameter names and
/// order, indexed flags, the values each path emits and the `require` reason strings, checked in
/// `test/Conformance.t.sol`.
///
/// Pausing: while paused, holds can neither be created nor executed; releasing and renewing stay
/// possible (they move no funds, and releasing only gives funds back to the payer).
/// Operation ids are unique forever: a settled id cannot be used again.
///
/// Extension points (`internal virtual`): {_isExpired}, {_hold}, {_executeHold},
/// {_checkHoldParties}, {_isDefaultOperator}, {_addDefaultOperator}, {_removeDefaultOperator}.
abstract contract Holdable is PackedERC20, Pausable, IHoldable {
    /// @dev A hold. `backsClearableTransfer` marks holds created by a clearable transfer order.
    struct Hold {
        address issuer;
        HoldStatusCode status;
        bool backsClearableTransfer;
        address origin;
        address target;
        address notary;
        uint256 expiration;
        uint256 value;
    }

    mapping(bytes32 key => Hold) internal _holds;
    mapping(address account => mapping(address operator => bool)) private _holdOperators;
    uint256 private _totalHeldBalance;

    // ---------------------------------------------------------------------------------------
    // Hold creation
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IHoldable
    function hold(string calldata operationId, address to, address notary, uint256 value, uint256 timeToExpiration)
        external
        returns (bool)
    {
        _checkPayee(to);
        _hold(operationId, _msgSender(), _msgSender(), to, notary, value, _computeExpiration(timeToExpiration));
        return true;
    }

    /// @inheritdoc IHoldable
    function holdFrom(
        string calldata operationId,
        address from,
        address to,
        address notary,
        uint256 value,
        uint256 timeToExpiration
    ) external returns (bool) {
        _checkHoldFrom(from, to);
        _hold(operationId, _msgSender(), from, to, notary, value, _computeExpiration(timeToExpiration));
        return true;
    }

    /// @inheritdoc IHoldable
    function holdWithExpirationDate(
        string calldata operationId,
        address to,
        address notary,
        uint256 value,
        uint256 expiration
    ) external returns (bool) {
        _checkPayee(to);
        _checkExpiration(expiration);
        _hold(operationId, _msgSender(), _msgSender(), to, notary, value, expiration);
        return true;
    }

    /// @inheritdoc IHoldable
    function holdFromWithExpirationDate(
        string calldata operationId,
        address from,
        address to,
        address notary,
        uint256 value,
        uint256 expiration
    ) external returns (bool) {
        _checkHoldFrom(from, to);
        _checkExpiration(expiration);
        _hold(operationId, _msgSender(), from, to, notary, value, expiration);
        return true;
    }

    // ---------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IHoldable
    /// @dev Allowed while paused. Status: 4 ReleasedByNotary, 5 ReleasedByPayee (before expiry),
    /// 6 ReleasedOnExpiration (at or after expiry, whoever calls).
    function releaseHold(string calldata operationId) external returns (bool) {
        Hold storage h = _holds[_holdKey(operationId)];
        _requireOpen(h, "A hold can only be released in status Ordered or ExecutedAndKeptOpen");
        _requireNotClearable(h);
        bool expired = _isExpired(h.expiration);
        address caller = _msgSender();
        require(
            expired || caller == h.notary || caller == h.target,
            "A not expired hold can only be released by the notary or the payee"
        );

        HoldStatusCode status;
        if (expired) status = HoldStatusCode.ReleasedOnExpiration;
        else if (caller == h.notary) status = HoldStatusCode.ReleasedByNotary;
        else status = HoldStatusCode.ReleasedByPayee;

        _releaseHold(h, operationId, status);
        return true;
    }

    /// @inheritdoc IHoldable
    function executeHold(string calldata operationId, uint256 value) external returns (bool) {
        _executeHold(operationId, value, false);
        return true;
    }

    /// @inheritdoc IHoldable
    function executeHoldAndKeepOpen(string calldata operationId, uint256 value) external returns (bool) {
        _executeHold(operationId, value, true);
        return true;
    }

    /// @inheritdoc IHoldable
    /// @dev Improvement 3: a caller who is not an issuer distinct from the payer can only
    /// postpone the expiration (see {_checkRenewal}).
    function renewHold(string calldata operationId, uint256 timeToExpiration) external returns (bool) {
        Hold storage h = _holds[_holdKey(operationId)];
        uint256 expiration = _computeExpiration(timeToExpiration);
        _checkRenewal(h);
        _checkPayerDoesNotShorten(h, expiration);
        _renewHold(h, operationId, expiration);
        return true;
    }

    /// @inheritdoc IHoldable
    /// @dev Improvement 3 applies as in {renewHold}.
    function renewHoldWithExpirationDate(string calldata operationId, uint256 expiration) external returns (bool) {
        Hold storage h = _holds[_holdKey(operationId)];
        _checkRenewal(h);
        _checkExpiration(expiration);
        _checkPayerDoesNotShorten(h, expiration);
        _renewHold(h, operationId, expiration);
        return true;
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IHoldable
    function retrieveHoldData(string calldata operationId)
        external
        view
        returns (address from, address to, address notary, uint256 value, uint256 expiration, HoldStatusCode status)
    {
        Hold storage h = _holds[_holdKey(operationId)];
        return (h.origin, h.target, h.notary, h.value, h.expiration, h.status);
    }

    /// @inheritdoc IHoldable
    function balanceOnHold(address account) public view returns (uint256) {
        return _accounts[account].held;
    }

    /// @inheritdoc IHoldable
    function netBalanceOf(address account) public view returns (uint256) {
        return _accounts[account].balance;
    }

    /// @inheritdoc IHoldable
    function totalSupplyOnHold() external view returns (uint256) {
        return _totalHeldBalance;
    }

    /// @notice Available balance of `account`: its gross balance minus what is on hold.
    /// @param account the account
    /// @return the available balance
    function balanceOf(address account) public view virtual override returns (uint256) {
        Account storage a = _accounts[account];
        return a.balance - a.held;
    }

    // ---------------------------------------------------------------------------------------
    // Operators
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IHoldable
    function authorizeHoldOperator(address operator) external returns (bool) {
        address account = _msgSender();
        require(!_holdOperators[account][operator], "The operator is already authorized");
        _holdOperators[account][operator] = true;
        emit HoldOperatorAuthorized(operator, account);
        return true;
    }

    /// @inheritdoc IHoldable
    /// @dev Only revokes an explicit authorization; a default operator stays an operator.
    function revokeHoldOperator(address operator) external returns (bool) {
        address account = _msgSender();
        require(_holdOperators[account][operator], "The operator is already not authorized");
        _holdOperators[account][operator] = false;
        emit RevokedHoldOperator(operator, account);
        return true;
    }

    /// @inheritdoc IHoldable
    function isHoldOperatorFor(address operator, address from) public view returns (bool) {
        return _isDefaultOperator(operator) || _holdOperators[from][operator];
    }

    // ---------------------------------------------------------------------------------------
    // Internal: extension points
    // ---------------------------------------------------------------------------------------

    /// @dev Whether a hold with this expiration has expired: at or after `expiration`; 0 never expires.
    function _isExpired(uint256 expiration) internal view virtual returns (bool) {
        // forge-lint: disable-next-line(block-timestamp)
        return expiration != 0 && block.timestamp >= expiration;
    }

    /// @dev Whether `operator` is a default operator: a hold (and clearable transfer) operator
    /// for every account.
    function _isDefaultOperator(address operator) internal view virtual returns (bool);

    /// @dev Makes `operator` a default operator.
    function _addDefaultOperator(address operator) internal virtual;

    /// @dev Removes `operator` from the default operators.
    function _removeDefaultOperator(address operator) internal virtual;

    /// @dev Extra checks on the parties of a new hold (e.g. frozen accounts). Reverts to refuse.
    function _checkHoldParties(address from, address to) internal view virtual {}

    /// @dev Creates a hold after checking it. Does not check the caller's right to hold for `from`.
    function _hold(
        string memory operationId,
        address issuer,
        address from,
        address to,
        address notary,
        uint256 value,
        uint256 expiration
    ) internal virtual {
        _requireNotPaused();
        require(bytes(operationId).length != 0, "Operation ID must not be empty");
        require(value != 0, "Value must be greater than zero");
        Hold storage h = _holds[_holdKey(operationId)];
        require(h.status == HoldStatusCode.Nonexistent, "This operationId already exists");
        require(notary != address(0), "Notary address must not be zero address");
        require(value <= balanceOf(from), "Amount of the hold can't be greater than the balance of the origin");
        _checkHoldParties(from, to);

        h.issuer = issuer;
        h.status = HoldStatusCode.Ordered;
        h.origin = from;
        h.target = to;
        h.notary = notary;
        h.expiration = expiration;
        h.value = value;
        // fits: value <= the available balance, so the new held balance <= the balance (120 bits)
        // forge-lint: disable-next-line(unsafe-typecast)
        _accounts[from].held += uint120(value);
        _totalHeldBalance += value;

        emit HoldCreated(issuer, operationId, from, to, notary, value, expiration);
    }

    /// @dev Executes a hold as its notary: checks, records the execution and transfers `value`
    /// from the payer to the payee.
    function _executeHold(string memory operationId, uint256 value, bool keepOpenIfHoldHasBalance) internal virtual {
        Hold storage h = _holds[_holdKey(operationId)];
        _checkExecution(h, value);
        (address from, address to) = _recordExecution(h, operationId, value, keepOpenIfHoldHasBalance);
        _transfer(from, to, value);
    }

    // ---------------------------------------------------------------------------------------
    // Internal: building blocks
    // ---------------------------------------------------------------------------------------

    /// @dev Storage key of an operation id.
    function _holdKey(string memory operationId) internal pure returns (bytes32) {
        return keccak256(abi.encode(operationId));
    }

    /// @dev Reverts with a reason string while paused.
    function _requireNotPaused() internal view virtual override {
        require(!paused(), "Pausable: paused");
    }

    /// @dev Improvement 1: only Ordered and ExecutedAndKeptOpen holds can be settled.
    function _requireOpen(Hold storage h, string memory reason) internal view {
        require(h.status == HoldStatusCode.Ordered || h.status == HoldStatusCode.ExecutedAndKeptOpen, reason);
    }

    /// @dev Improvement 2: clearable-backed holds only settle through the clearable functions.
    function _requireNotClearable(Hold storage h) internal view {
        require(!h.backsClearableTransfer, "Hold is backing a clearable transfer");
    }

    /// @dev All checks of a notary execution of `value` (also used by burn-on-execution paths).
    function _checkExecution(Hold storage h, uint256 value) internal view {
        _requireNotPaused();
        _requireOpen(h, "A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        _requireNotClearable(h);
        require(value != 0, "Value must be greater than zero");
        require(h.notary == _msgSender(), "The hold can only be executed by the notary");
        require(!_isExpired(h.expiration), "The hold has already expired");
        require(value <= h.value, "The value should be equal or less than the held amount");
    }

    /// @dev Records the execution of `value` (no checks, no token movement): frees the held
    /// balance, updates the status and emits {HoldExecuted} or {HoldExecutedAndKeptOpen}.
    /// Keeping open with the whole remaining value closes the hold (Executed), as the reference does.
    /// Emitted values follow the reference: {HoldExecuted} carries the value held before the
    /// execution, {HoldExecutedAndKeptOpen} the value still held after it.
    /// @return from the payer, to the payee; the caller moves (or burns) `value` from `from`.
    function _recordExecution(Hold storage h, string memory operationId, uint256 value, bool keepOpen)
        internal
        returns (address from, address to)
    {
        uint256 heldValue = h.value;
        from = h.origin;
        to = h.target;
        if (keepOpen && value < heldValue) {
            uint256 remaining = heldValue - value;
            h.status = HoldStatusCode.ExecutedAndKeptOpen;
            h.value = remaining;
            _decreaseHeldBalance(from, value);
            emit HoldExecutedAndKeptOpen(h.issuer, operationId, h.notary, remaining, value);
        } else {
            h.status = HoldStatusCode.Executed;
            _decreaseHeldBalance(from, heldValue);
            emit HoldExecuted(h.issuer, operationId, h.notary, heldValue, value);
        }
    }

    /// @dev Releases a hold with `status` (no checks): its remaining value becomes available.
    function _releaseHold(Hold storage h, string memory operationId, HoldStatusCode status) internal {
        h.status = status;
        _decreaseHeldBalance(h.origin, h.value);
        emit HoldReleased(h.issuer, operationId, uint8(status));
    }

    /// @dev Sets a new expiration (no checks).
    function _renewHold(Hold storage h, string memory operationId, uint256 expiration) internal {
        uint256 oldExpiration = h.expiration;
        h.expiration = expiration;
        emit HoldRenewed(h.issuer, operationId, oldExpiration, expiration);
    }

    /// @dev Only available funds leave an account (holds are freed before they are executed).
    function _update(address from, address to, uint256 value) internal virtual override {
        if (from != address(0)) {
            require(value <= balanceOf(from), "Not enough available balance");
        }
        super._update(from, to, value);
    }

    /// @dev Expiration `timeToExpiration` seconds from now; 0 stays 0 (perpetual).
    function _computeExpiration(uint256 timeToExpiration) internal view returns (uint256) {
        return timeToExpiration == 0 ? 0 : block.timestamp + timeToExpiration;
    }

    function _decreaseHeldBalance(address account, uint256 value) private {
        // value <= the account's held balance (a hold's value is part of it), so it fits
        // forge-lint: disable-next-line(unsafe-typecast)
        _accounts[account].held -= uint120(value);
        _totalHeldBalance -= value;
    }

    function _checkPayee(address to) private pure {
        require(to != address(0), "Payee address must not be zero address");
    }

    function _checkHoldFrom(address from, address to) private view {
        _checkPayee(to);
        require(from != address(0), "Payer address must not be zero address");
        require(isHoldOperatorFor(_msgSender(), from), "This operator is not authorized");
    }

    function _checkExpiration(uint256 expiration) private view {
        require(
            // forge-lint: disable-next-line(block-timestamp)
            expiration == 0 || expiration > block.timestamp,
            "Expiration date must be greater than block timestamp or zero"
        );
    }

    /// @dev Renewal checks (improvements 1 and 2 included).
    function _checkRenewal(Hold storage h) private view {
        _requireOpen(h, "A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
        _requireNotClearable(h);
        require(!_isExpired(h.expiration), "An expired hold can not be renewed");
        address caller = _msgSender();
        require(caller == h.origin || caller == h.issuer, "The hold can only be renewed by the issuer or the payer");
    }

    /// @dev Improvement 3: the payer (even when it also issued the hold) may only postpone the
    /// expiration: no earlier date, and no perpetual hold made expiring. Only an issuer who is
    /// not the payer may shorten a hold.
    function _checkPayerDoesNotShorten(Hold storage h, uint256 newExpiration) private view {
        if (_msgSender() != h.origin) return;
        uint256 current = h.expiration;
        bool sooner = newExpiration != 0 && (current == 0 || newExpiration < current);
        require(!sooner, "The payer can not renew a hold to expire sooner");
    }
}
