// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PackedERC20} from "./PackedERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Holdable} from "./Holdable.sol";
import {Clearable} from "./Clearable.sol";

/// @title EmToken
/// @notice E-money token: ERC-20 with EIP-1996 holds ({Holdable}) and EIP-2018 clearable
/// transfers ({Clearable}), issued by a platform.
///
/// Roles: the admin holds DEFAULT_ADMIN_ROLE, PAUSER_ROLE and COMPLIANCE_ROLE; the platform holds
/// MINTER_ROLE, BURNER_ROLE, OPERATOR_ROLE and CLEARING_AGENT_ROLE. An OPERATOR_ROLE holder is the
/// platform's "default operator": a hold and clearable transfer operator for every account, and
/// it may move available funds of any account with {operatorTransfer}.
///
/// Every platform-initiated balance change carries the platform's operation id in an event:
/// {Minted}, {Burned}, {OperatorTransfer}; holds and clearable transfers carry it in their own
/// events. {burnHeld} (cash-out from a hold) emits HoldExecuted, Transfer(payer, 0) and {Burned}.
///
/// Pause (PAUSER_ROLE): every balance-changing function reverts with "Pausable: paused"
/// (transfers, mint, burn, burnHeld, operatorTransfer, hold creation and execution, clearable
/// order/process/execute). Releasing holds, renewing them, and rejecting or cancelling clearable
/// transfers stay possible: they move no funds or only give them back to the payer.
///
/// Freeze (COMPLIANCE_ROLE): a frozen account can neither send nor receive tokens (including
/// mint, burn and hold executions) nor be the payer or payee of a new hold. Its existing holds
/// can still be released. The flag is kept in the account's {PackedERC20.Account} slot, next to its
/// balance and held balance, so a transfer reads one storage slot per account.
contract EmToken is Clearable, AccessControl {
    /// @notice May {mint}.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice May {burn} and {burnHeld}.
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");
    /// @notice Default operator: hold/clearable operator for every account, may {operatorTransfer}.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice Clearing agent of clearable transfers.
    bytes32 public constant CLEARING_AGENT_ROLE = keccak256("CLEARING_AGENT_ROLE");
    /// @notice May {pause} and {unpause}.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @notice May {freeze} and {unfreeze}.
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");

    uint8 private immutable _decimals;
    string private _currency;

    /// @notice `value` was minted to `to` for the platform operation `operationId`.
    event Minted(string operationId, address indexed to, uint256 value);
    /// @notice `value` was burned from `from` for the platform operation `operationId`.
    event Burned(string operationId, address indexed from, uint256 value);
    /// @notice `operator` moved `value` from `from` to `to` for the platform operation `operationId`.
    event OperatorTransfer(
        string operationId, address indexed operator, address indexed from, address indexed to, uint256 value
    );
    /// @notice Inner call `index` of a {batch} reverted; the other calls of the batch are unaffected.
    /// @param index position of the call in the batch
    /// @param operationId the call's operation id (its first argument)
    /// @param reason the call's revert data, as returned
    event BatchCallFailed(uint256 index, string operationId, bytes reason);
    /// @notice `account` was frozen.
    event AccountFrozen(address indexed account);
    /// @notice `account` was unfrozen.
    event AccountUnfrozen(address indexed account);

    /// @param name_ ERC-20 name
    /// @param symbol_ ERC-20 symbol
    /// @param decimals_ number of decimals (e.g. 2 for EUR-style e-money)
    /// @param currency_ ISO 4217 code of the currency the token represents
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and COMPLIANCE_ROLE
    /// @param platform receives MINTER_ROLE, BURNER_ROLE, OPERATOR_ROLE and CLEARING_AGENT_ROLE
    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        string memory currency_,
        address admin,
        address platform
    ) PackedERC20(name_, symbol_) {
        require(admin != address(0), "Admin address must not be zero address");
        require(platform != address(0), "Platform address must not be zero address");
        _decimals = decimals_;
        _currency = currency_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(COMPLIANCE_ROLE, admin);
        _grantRole(MINTER_ROLE, platform);
        _grantRole(BURNER_ROLE, platform);
        _grantRole(CLEARING_AGENT_ROLE, platform);
        _addDefaultOperator(platform);
    }

    // ---------------------------------------------------------------------------------------
    // Metadata
    // ---------------------------------------------------------------------------------------

    /// @notice Number of decimals, chosen at deployment.
    /// @return the decimals
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice ISO 4217 code of the currency this token represents.
    /// @return the currency code
    function currency() external view returns (string memory) {
        return _currency;
    }

    /// @notice Version of this contract.
    /// @return "1.0.0"
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    // ---------------------------------------------------------------------------------------
    // Issuer side
    // ---------------------------------------------------------------------------------------

    /// @notice Mints `value` to `to` (cash-in). Emits Transfer(0, to, value) and {Minted}.
    /// @param operationId the platform's operation id (non-empty)
    /// @param to receiver
    /// @param value amount, greater than zero
    function mint(string calldata operationId, address to, uint256 value) external onlyRole(MINTER_ROLE) {
        _mint(operationId, to, value);
    }

    /// @notice Burns `value` from `from`'s available balance (cash-out). Emits
    /// Transfer(from, 0, value) and {Burned}.
    /// @param operationId the platform's operation id (non-empty)
    /// @param from account to burn from
    /// @param value amount, greater than zero, at most `from`'s available balance
    function burn(string calldata operationId, address from, uint256 value) external onlyRole(BURNER_ROLE) {
        _burn(operationId, from, value);
    }

    /// @notice Burns `value` out of the hold `operationId` (cash-out reserved with a hold): the
    /// caller must be the hold's notary; the hold must be Ordered or ExecutedAndKeptOpen, not
    /// backing a clearable transfer and not expired; 0 < value <= held value. Any remainder is
    /// released, the hold ends Executed. Emits HoldExecuted(issuer, operationId, notary,
    /// heldValue, value), Transfer(payer, 0, value) and {Burned}(operationId, payer, value).
    /// @param operationId id of the hold, also the operation id in {Burned}
    /// @param value amount to burn
    function burnHeld(string calldata operationId, uint256 value) external onlyRole(BURNER_ROLE) {
        Hold storage h = _holds[_holdKey(operationId)];
        _checkExecution(h, value);
        (address from,) = _recordExecution(h, operationId, value, false);
        _burn(operationId, from, value);
    }

    /// @notice Moves `value` of `from`'s available balance to `to` as the default operator.
    /// Emits Transfer(from, to, value) and {OperatorTransfer}.
    /// @param operationId the platform's operation id (non-empty)
    /// @param from payer
    /// @param to payee
    /// @param value amount
    function operatorTransfer(string calldata operationId, address from, address to, uint256 value)
        external
        onlyRole(OPERATOR_ROLE)
    {
        _requireOperationId(operationId);
        _transfer(from, to, value);
        emit OperatorTransfer(operationId, _msgSender(), from, to, value);
    }

    /// @notice Runs many platform calls in one transaction, each on its own: a call that reverts
    /// emits {BatchCallFailed} with its index, operation id and revert data, its effects are
    /// undone, and the batch goes on. Only an OPERATOR_ROLE holder may batch, and every call still
    /// checks its own role (the calls run with the batch caller as sender). Allowed calls: the
    /// platform functions that take an operation id first — mint, burn, burnHeld,
    /// operatorTransfer, holdFrom, holdFromWithExpirationDate, executeHold, executeHoldAndKeepOpen,
    /// releaseHold, renewHold, renewHoldWithExpirationDate, processClearableTransfer,
    /// executeClearableTransfer, rejectClearableTransfer; any other call fails on its own with
    /// "Call not allowed in a batch".
    /// @param calls ABI-encoded calls (selector and arguments)
    /// @return failed how many calls reverted
    function batch(bytes[] calldata calls) external onlyRole(OPERATOR_ROLE) returns (uint256 failed) {
        uint256 n = calls.length;
        for (uint256 i = 0; i < n;) {
            bytes calldata call = calls[i];
            bool ok;
            bytes memory reason;
            if (_batchable(call)) {
                // The call is copied to the free memory without claiming it (every call reuses the
                // same bytes) and its return data is read only when it failed: a batch's memory
                // does not grow with its length.
                assembly ("memory-safe") {
                    let ptr := mload(0x40)
                    calldatacopy(ptr, call.offset, call.length)
                    ok := delegatecall(gas(), address(), ptr, call.length, 0, 0)
                    if iszero(ok) {
                        reason := ptr
                        mstore(reason, returndatasize())
                        returndatacopy(add(reason, 0x20), 0, returndatasize())
                        mstore(0x40, and(add(add(reason, 0x3f), returndatasize()), not(0x1f)))
                    }
                }
            } else {
                reason = abi.encodeWithSignature("Error(string)", "Call not allowed in a batch");
            }
            if (!ok) {
                emit BatchCallFailed(i, _firstString(call), reason);
                unchecked {
                    ++failed;
                }
            }
            unchecked {
                ++i;
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Compliance
    // ---------------------------------------------------------------------------------------

    /// @notice Stops all token movements. Reverts if already paused.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes token movements. Reverts if not paused.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Freezes `account`: it can neither send nor receive. Reverts if already frozen.
    /// @param account the account
    function freeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        require(!_accounts[account].frozen, "Account is already frozen");
        _accounts[account].frozen = true;
        emit AccountFrozen(account);
    }

    /// @notice Unfreezes `account`. Reverts if not frozen.
    /// @param account the account
    function unfreeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        require(_accounts[account].frozen, "Account is not frozen");
        _accounts[account].frozen = false;
        emit AccountUnfrozen(account);
    }

    /// @notice Whether `account` is frozen.
    /// @param account the account
    /// @return true if frozen
    function isFrozen(address account) external view returns (bool) {
        return _accounts[account].frozen;
    }

    // ---------------------------------------------------------------------------------------
    // Internal: extension points
    // ---------------------------------------------------------------------------------------

    /// @dev Mints with an operation id; emits Transfer and {Minted}.
    function _mint(string memory operationId, address to, uint256 value) internal virtual {
        _requireOperationId(operationId);
        require(value != 0, "Value must be greater than zero");
        _mint(to, value);
        emit Minted(operationId, to, value);
    }

    /// @dev Burns from the available balance with an operation id; emits Transfer and {Burned}.
    function _burn(string memory operationId, address from, uint256 value) internal virtual {
        _requireOperationId(operationId);
        require(value != 0, "Value must be greater than zero");
        _burn(from, value);
        emit Burned(operationId, from, value);
    }

    /// @dev Default operators are the OPERATOR_ROLE holders.
    function _isDefaultOperator(address operator) internal view virtual override returns (bool) {
        return hasRole(OPERATOR_ROLE, operator);
    }

    /// @dev Grants OPERATOR_ROLE.
    function _addDefaultOperator(address operator) internal virtual override {
        _grantRole(OPERATOR_ROLE, operator);
    }

    /// @dev Revokes OPERATOR_ROLE.
    function _removeDefaultOperator(address operator) internal virtual override {
        _revokeRole(OPERATOR_ROLE, operator);
    }

    /// @dev Clearing agents are the CLEARING_AGENT_ROLE holders.
    function _isClearingAgent(address account) internal view virtual override returns (bool) {
        return hasRole(CLEARING_AGENT_ROLE, account);
    }

    /// @dev Neither party of a new hold may be frozen.
    function _checkHoldParties(address from, address to) internal view virtual override {
        require(!_accounts[from].frozen, "Payer account is frozen");
        require(!_accounts[to].frozen, "Payee account is frozen");
    }

    /// @dev Every token movement: not paused, neither side frozen, only available funds.
    function _update(address from, address to, uint256 value) internal virtual override {
        _requireNotPaused();
        if (from != address(0)) require(!_accounts[from].frozen, "Sender account is frozen");
        if (to != address(0)) require(!_accounts[to].frozen, "Recipient account is frozen");
        super._update(from, to, value);
    }

    /// @dev Whether `call` may run inside {batch}.
    function _batchable(bytes calldata call) private pure returns (bool) {
        if (call.length < 4) return false;
        bytes4 s;
        assembly ("memory-safe") {
            s := and(calldataload(call.offset), shl(224, 0xffffffff))
        }
        // operatorTransfer first: the platform's most frequent call
        return s == this.operatorTransfer.selector || s == this.mint.selector || s == this.burn.selector
            || s == this.burnHeld.selector || s == this.holdFrom.selector
            || s == this.holdFromWithExpirationDate.selector || s == this.executeHold.selector
            || s == this.executeHoldAndKeepOpen.selector || s == this.releaseHold.selector
            || s == this.renewHold.selector || s == this.renewHoldWithExpirationDate.selector
            || s == this.processClearableTransfer.selector || s == this.executeClearableTransfer.selector
            || s == this.rejectClearableTransfer.selector;
    }

    /// @dev The first argument of `call` read as a string, or "" when it is not one. Never reverts.
    function _firstString(bytes calldata call) private pure returns (string memory) {
        if (call.length < 36) return "";
        uint256 offset = uint256(bytes32(call[4:36]));
        if (offset < 32 || offset > call.length || offset + 36 > call.length) return "";
        uint256 start = 4 + offset + 32;
        uint256 len = uint256(bytes32(call[4 + offset:start]));
        if (len > call.length - start) return "";
        return string(call[start:start + len]);
    }

    function _requireOperationId(string memory operationId) private pure {
        require(bytes(operationId).length != 0, "Operation ID must not be empty");
    }
}
