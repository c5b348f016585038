// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {EmToken} from "../../src/EmToken.sol";
import {IHoldable} from "../../src/IHoldable.sol";

/// @dev Drives EmToken with random operations across five actors and the platform. It tries
/// settlement paths on ANY known id (settled ones and clearable-backed ones included) and counts
/// every successful settlement of an id it had already seen settled as a violation.
contract EmTokenHandler is CommonBase, StdCheats, StdUtils {
    EmToken public immutable token;
    address public immutable platform;
    address[] public actors;

    string[] internal _ids;
    mapping(bytes32 => bool) public settled;
    mapping(bytes32 => bool) public clearable;
    uint256 public doubleSettlements;
    uint256 public successfulSettlements;
    uint256 internal _nonce;

    constructor(EmToken token_, address platform_, address[] memory actors_) {
        token = token_;
        platform = platform_;
        actors = actors_;
    }

    function idCount() external view returns (uint256) {
        return _ids.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    // ---- helpers --------------------------------------------------------------------------

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _newId() internal returns (string memory id) {
        id = string.concat("op-", vm.toString(++_nonce));
        _ids.push(id);
    }

    /// @dev A fresh platform operation id that is not a hold (mint, burn, operator transfer).
    function _opId() internal returns (string memory) {
        return string.concat("platform-op-", vm.toString(++_nonce));
    }

    function _pickId(uint256 seed) internal view returns (string memory) {
        if (_ids.length == 0) return "none";
        return _ids[seed % _ids.length];
    }

    function _status(string memory id) internal view returns (IHoldable.HoldStatusCode s) {
        (,,,,, s) = token.retrieveHoldData(id);
    }

    function _isTerminal(string memory id) internal view returns (bool) {
        IHoldable.HoldStatusCode s = _status(id);
        return s != IHoldable.HoldStatusCode.Nonexistent && s != IHoldable.HoldStatusCode.Ordered
            && s != IHoldable.HoldStatusCode.ExecutedAndKeptOpen;
    }

    /// @dev Call after a successful settle attempt on `id` that started with `wasSettled`.
    function _afterSettle(string memory id, bool wasSettled) internal {
        successfulSettlements++;
        if (wasSettled) doubleSettlements++;
        if (_isTerminal(id)) settled[keccak256(bytes(id))] = true;
    }

    function _wasSettled(string memory id) internal view returns (bool) {
        return settled[keccak256(bytes(id))];
    }

    // ---- money in / out / around ----------------------------------------------------------

    function mint(uint256 actorSeed, uint256 amount) external {
        amount = bound(amount, 1, 1e12);
        vm.prank(platform);
        token.mint(_opId(), _actor(actorSeed), amount);
    }

    function burn(uint256 actorSeed, uint256 amount) external {
        address from = _actor(actorSeed);
        uint256 available = token.balanceOf(from);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(platform);
        token.burn(_opId(), from, amount);
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = bound(amount, 0, token.balanceOf(from));
        vm.prank(from);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(_actor(toSeed), amount);
    }

    function operatorTransfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = bound(amount, 0, token.balanceOf(from));
        vm.prank(platform);
        token.operatorTransfer(_opId(), from, _actor(toSeed), amount);
    }

    // ---- holds ----------------------------------------------------------------------------

    function hold(uint256 fromSeed, uint256 toSeed, uint256 notarySeed, uint256 amount, uint256 ttl) external {
        address from = _actor(fromSeed);
        uint256 available = token.balanceOf(from);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        ttl = bound(ttl, 0, 30 days);
        vm.prank(from);
        token.hold(_newId(), _actor(toSeed), _actor(notarySeed), amount, ttl);
    }

    /// @dev The platform as default operator; half of the time a cash-out hold (notary and payee
    /// = platform) that burnHeld can settle.
    function holdFrom(uint256 fromSeed, uint256 toSeed, uint256 amount, uint256 ttl, bool cashOut) external {
        address from = _actor(fromSeed);
        uint256 available = token.balanceOf(from);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        ttl = bound(ttl, 0, 30 days);
        address to = cashOut ? platform : _actor(toSeed);
        address notary = cashOut ? platform : _actor(toSeed % actors.length + 1);
        vm.prank(platform);
        token.holdFrom(_newId(), from, to, notary, amount, ttl);
    }

    function executeHold(uint256 idSeed, uint256 amount, bool keepOpen) external {
        string memory id = _pickId(idSeed);
        (,, address notary, uint256 value,,) = token.retrieveHoldData(id);
        amount = bound(amount, 1, value == 0 ? 1 : value);
        bool wasSettled = _wasSettled(id);
        vm.prank(notary);
        if (keepOpen) {
            try token.executeHoldAndKeepOpen(id, amount) {
                _afterSettle(id, wasSettled);
            } catch {}
        } else {
            try token.executeHold(id, amount) {
                _afterSettle(id, wasSettled);
            } catch {}
        }
    }

    function burnHeld(uint256 idSeed, uint256 amount) external {
        string memory id = _pickId(idSeed);
        (,,, uint256 value,,) = token.retrieveHoldData(id);
        amount = bound(amount, 1, value == 0 ? 1 : value);
        bool wasSettled = _wasSettled(id);
        vm.prank(platform);
        try token.burnHeld(id, amount) {
            _afterSettle(id, wasSettled);
        } catch {}
    }

    function releaseHold(uint256 idSeed, uint256 who) external {
        string memory id = _pickId(idSeed);
        (, address to, address notary,,,) = token.retrieveHoldData(id);
        address caller = who % 3 == 0 ? notary : who % 3 == 1 ? to : _actor(who);
        bool wasSettled = _wasSettled(id);
        vm.prank(caller);
        try token.releaseHold(id) {
            _afterSettle(id, wasSettled);
        } catch {}
    }

    function renewHold(uint256 idSeed, uint256 ttl, bool byPayer) external {
        string memory id = _pickId(idSeed);
        (address from,,,,,) = token.retrieveHoldData(id);
        ttl = bound(ttl, 0, 30 days);
        bool wasSettled = _wasSettled(id);
        vm.prank(byPayer ? from : platform);
        try token.renewHold(id, ttl) {
            if (wasSettled) doubleSettlements++; // a settled hold must not be renewable
        } catch {}
    }

    // ---- clearable transfers --------------------------------------------------------------

    function orderTransfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        uint256 available = token.balanceOf(from);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        string memory id = _newId();
        clearable[keccak256(bytes(id))] = true;
        vm.prank(from);
        token.orderTransfer(id, _actor(toSeed), amount);
    }

    function processClearableTransfer(uint256 idSeed) external {
        string memory id = _pickId(idSeed);
        vm.prank(platform);
        try token.processClearableTransfer(id) {} catch {}
    }

    function executeClearableTransfer(uint256 idSeed) external {
        string memory id = _pickId(idSeed);
        bool wasSettled = _wasSettled(id);
        vm.prank(platform);
        try token.executeClearableTransfer(id) {
            _afterSettle(id, wasSettled);
        } catch {}
    }

    function rejectClearableTransfer(uint256 idSeed) external {
        string memory id = _pickId(idSeed);
        bool wasSettled = _wasSettled(id);
        vm.prank(platform);
        try token.rejectClearableTransfer(id, "rejected") {
            _afterSettle(id, wasSettled);
        } catch {}
    }

    function cancelTransfer(uint256 idSeed) external {
        string memory id = _pickId(idSeed);
        (address from,,,) = token.retrieveClearableTransferData(id);
        bool wasSettled = _wasSettled(id);
        vm.prank(from);
        try token.cancelTransfer(id) {
            _afterSettle(id, wasSettled);
        } catch {}
    }

    // ---- time -----------------------------------------------------------------------------

    function warp(uint256 secondsForward) external {
        vm.warp(block.timestamp + bound(secondsForward, 1, 10 days));
    }
}
