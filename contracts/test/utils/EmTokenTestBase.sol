// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {EmToken} from "../../src/EmToken.sol";
import {IHoldable} from "../../src/IHoldable.sol";
import {IClearable} from "../../src/IClearable.sol";

/// @dev Shared fixture: a 2-decimal EUR token, an admin, the platform and a few wallets.
abstract contract EmTokenTestBase is Test {
    EmToken internal token;

    address internal admin = makeAddr("admin");
    address internal platform = makeAddr("platform");
    address internal payer = makeAddr("payer");
    address internal payee = makeAddr("payee");
    address internal notary = makeAddr("notary");
    address internal operator = makeAddr("operator");
    address internal stranger = makeAddr("stranger");

    uint256 internal constant INITIAL = 1_000;
    uint256 internal constant ONE_DAY = 1 days;
    string internal constant OP = "op-1";

    // Status numbering (part of the ABI).
    uint8 internal constant H_NONEXISTENT = 0;
    uint8 internal constant H_ORDERED = 1;
    uint8 internal constant H_EXECUTED = 2;
    uint8 internal constant H_KEPT_OPEN = 3;
    uint8 internal constant H_RELEASED_BY_NOTARY = 4;
    uint8 internal constant H_RELEASED_BY_PAYEE = 5;
    uint8 internal constant H_RELEASED_ON_EXPIRATION = 6;

    uint8 internal constant C_NONEXISTENT = 0;
    uint8 internal constant C_ORDERED = 1;
    uint8 internal constant C_IN_PROCESS = 2;
    uint8 internal constant C_EXECUTED = 3;
    uint8 internal constant C_REJECTED = 4;
    uint8 internal constant C_CANCELLED = 5;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        token = _deploy();
        vm.prank(platform);
        token.mint("mint-payer", payer, INITIAL);
    }

    function _deploy() internal virtual returns (EmToken) {
        return new EmToken("Euro e-money", "EURE", 2, "EUR", admin, platform);
    }

    // ---- helpers ------------------------------------------------------------------------

    function _holdStatus(string memory id) internal view returns (uint8) {
        (,,,,, IHoldable.HoldStatusCode s) = token.retrieveHoldData(id);
        return uint8(s);
    }

    function _holdValue(string memory id) internal view returns (uint256) {
        (,,, uint256 v,,) = token.retrieveHoldData(id);
        return v;
    }

    function _holdExpiration(string memory id) internal view returns (uint256) {
        (,,,, uint256 e,) = token.retrieveHoldData(id);
        return e;
    }

    function _clearableStatus(string memory id) internal view returns (uint8) {
        (,,, IClearable.ClearableTransferStatusCode s) = token.retrieveClearableTransferData(id);
        return uint8(s);
    }

    /// @dev payer holds `value` for payee with notary, expiring in `ttl` seconds (0 = perpetual).
    function _hold(string memory id, uint256 value, uint256 ttl) internal {
        vm.prank(payer);
        token.hold(id, payee, notary, value, ttl);
    }

    /// @dev operator (authorized by payer) holds for payer: issuer != payer.
    function _holdByOperator(string memory id, uint256 value, uint256 ttl) internal {
        if (!token.isHoldOperatorFor(operator, payer)) {
            vm.prank(payer);
            token.authorizeHoldOperator(operator);
        }
        vm.prank(operator);
        token.holdFrom(id, payer, payee, notary, value, ttl);
    }

    function _order(string memory id, uint256 value) internal {
        vm.prank(payer);
        token.orderTransfer(id, payee, value);
    }

    /// @dev Gross = available + held for `a`.
    function _assertBooks(address a) internal view {
        assertEq(token.balanceOf(a) + token.balanceOnHold(a), token.netBalanceOf(a), "available + held == gross");
    }
}
