// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {EmToken} from "../src/EmToken.sol";
import {IHoldable} from "../src/IHoldable.sol";

/// @dev A derived token exposing the unchecked release building block, to reproduce what the
/// reference's clearable paths do (release the backing hold without looking at its status).
contract EmTokenHarness is EmToken {
    constructor(address admin, address platform) EmToken("Euro e-money", "EURE", 2, "EUR", admin, platform) {}

    function forceReleaseHold(string calldata operationId) external {
        _releaseHold(_holds[_holdKey(operationId)], operationId, HoldStatusCode.ReleasedByNotary);
    }
}

/// @dev One test group per improvement over the reference implementation: each shows the attack
/// the reference allows and that EmToken refuses it.
contract ImprovementsTest is EmTokenTestBase {
    function _deploy() internal override returns (EmToken) {
        return new EmTokenHarness(admin, platform);
    }

    // ---- 1. every settle path checks status; a hold resolves at most once ----------------

    /// Reference: Clearable.executeClearableTransfer/rejectClearableTransfer/cancelTransfer settle
    /// the backing hold without checking the hold's own status, so a hold already released is
    /// released or executed a second time (its value is subtracted from the held balance twice,
    /// eating other holds' reservations). Here every clearable path checks the hold status too.
    function test_improvement1_clearablePathsCheckTheHoldStatus() public {
        _hold("other", 500, 0); // another reservation that a double settle would eat into
        _order(OP, 100);
        EmTokenHarness(address(token)).forceReleaseHold(OP); // the hold is settled once
        assertEq(token.balanceOnHold(payer), 500);

        vm.prank(platform);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.executeClearableTransfer(OP);
        vm.prank(platform);
        vm.expectRevert("A hold can only be released in status Ordered or ExecutedAndKeptOpen");
        token.rejectClearableTransfer(OP, "x");
        vm.prank(payer);
        vm.expectRevert("A hold can only be released in status Ordered or ExecutedAndKeptOpen");
        token.cancelTransfer(OP);

        assertEq(token.balanceOnHold(payer), 500, "the other hold keeps its reservation");
        assertEq(token.totalSupplyOnHold(), 500);
        assertEq(token.balanceOf(payee), 0);
    }

    /// Every terminal hold status refuses every settle path.
    function test_improvement1_terminalHoldsRefuseEverySettlePath() public {
        // Executed, ReleasedByNotary, ReleasedByPayee, ReleasedOnExpiration
        vm.startPrank(platform);
        token.holdFrom("executed", payer, payee, platform, 10, ONE_DAY);
        token.holdFrom("byNotary", payer, payee, platform, 10, ONE_DAY);
        token.holdFrom("byPayee", payer, payee, platform, 10, ONE_DAY);
        token.holdFrom("onExpiration", payer, payee, platform, 10, 1);
        token.executeHold("executed", 10);
        token.releaseHold("byNotary");
        vm.stopPrank();
        vm.prank(payee);
        token.releaseHold("byPayee");
        vm.warp(block.timestamp + 1);
        token.releaseHold("onExpiration");
        assertEq(_holdStatus("executed"), H_EXECUTED);
        assertEq(_holdStatus("byNotary"), H_RELEASED_BY_NOTARY);
        assertEq(_holdStatus("byPayee"), H_RELEASED_BY_PAYEE);
        assertEq(_holdStatus("onExpiration"), H_RELEASED_ON_EXPIRATION);

        string[4] memory ids = ["executed", "byNotary", "byPayee", "onExpiration"];
        uint256 heldBefore = token.balanceOnHold(payer);
        for (uint256 i; i < ids.length; i++) {
            vm.startPrank(platform); // notary, issuer and burner of these holds
            vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
            token.executeHold(ids[i], 1);
            vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
            token.executeHoldAndKeepOpen(ids[i], 1);
            vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
            token.burnHeld(ids[i], 1);
            vm.expectRevert("A hold can only be released in status Ordered or ExecutedAndKeptOpen");
            token.releaseHold(ids[i]);
            vm.expectRevert("A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
            token.renewHold(ids[i], ONE_DAY);
            vm.expectRevert("A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
            token.renewHoldWithExpirationDate(ids[i], 0);
            vm.stopPrank();
        }
        assertEq(token.balanceOnHold(payer), heldBefore);
        assertEq(token.netBalanceOf(payer), INITIAL - 10);
    }

    // ---- 2. a clearable-backed hold only settles through the clearable functions ----------

    /// Reference: the backing hold is an ordinary hold, so its payee may `releaseHold` it (or
    /// its notary execute it) while the clearable transfer stays Ordered; the agent then
    /// executes the transfer anyway and the hold is settled twice.
    function test_improvement2_payeeCannotReleaseBackingHold() public {
        _order(OP, 100);
        vm.prank(payee);
        vm.expectRevert("Hold is backing a clearable transfer");
        token.releaseHold(OP);

        // not even after "expiry" or via the notary (the contract itself)
        vm.warp(block.timestamp + 1000 days);
        vm.prank(stranger);
        vm.expectRevert("Hold is backing a clearable transfer");
        token.releaseHold(OP);
        vm.prank(address(token));
        vm.expectRevert("Hold is backing a clearable transfer");
        token.executeHold(OP, 100);
        vm.prank(address(token));
        vm.expectRevert("Hold is backing a clearable transfer");
        token.executeHoldAndKeepOpen(OP, 1);
        vm.prank(address(token));
        vm.expectRevert("Hold is backing a clearable transfer");
        token.releaseHold(OP);

        // the clearable life cycle is intact
        vm.prank(platform);
        token.executeClearableTransfer(OP);
        assertEq(token.balanceOf(payee), 100);
        assertEq(token.balanceOnHold(payer), 0);
    }

    /// Reference: the orderer (hold issuer) may renew the backing hold to expire, after which
    /// anyone releases it behind the clearing agent's back.
    function test_improvement2_backingHoldCannotBeRenewed() public {
        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);
        vm.prank(operator);
        token.orderTransferFrom(OP, payer, payee, 100);

        vm.prank(operator);
        vm.expectRevert("Hold is backing a clearable transfer");
        token.renewHold(OP, 1);
        vm.prank(payer);
        vm.expectRevert("Hold is backing a clearable transfer");
        token.renewHoldWithExpirationDate(OP, block.timestamp + 1);
        assertEq(_holdExpiration(OP), 0);
        assertEq(_clearableStatus(OP), C_ORDERED);
    }

    // ---- 3. a payer cannot shorten a hold to escape it -------------------------------------

    /// Reference: the payer renews the hold to expire in one second and releases it on
    /// expiration, taking the funds back from under the payee and notary.
    function test_improvement3_payerCannotShortenToEscape() public {
        _holdByOperator(OP, 100, 30 days);
        uint256 expiration = _holdExpiration(OP);

        vm.prank(payer);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        token.renewHold(OP, 1);
        vm.prank(payer);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        token.renewHoldWithExpirationDate(OP, expiration - 1);

        // the escape would have been: warp past the shortened expiry and release
        vm.warp(block.timestamp + 2);
        vm.prank(payer);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        token.releaseHold(OP);
        assertEq(token.balanceOnHold(payer), 100);

        // renewing to the same expiration or later is fine
        vm.prank(payer);
        token.renewHoldWithExpirationDate(OP, expiration);
        vm.prank(payer);
        token.renewHoldWithExpirationDate(OP, expiration + 1);
        assertEq(_holdExpiration(OP), expiration + 1);
    }

    function test_improvement3_payerCannotMakePerpetualHoldExpire() public {
        _holdByOperator(OP, 100, 0);
        vm.prank(payer);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        token.renewHold(OP, 365 days);
        vm.prank(payer);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        token.renewHoldWithExpirationDate(OP, block.timestamp + 365 days);
        // perpetual -> perpetual is a no-op renewal and allowed
        vm.prank(payer);
        token.renewHold(OP, 0);
        assertEq(_holdExpiration(OP), 0);
    }

    /// The payer is bound even when it issued the hold itself (hold()): the payee relies on it.
    function test_improvement3_selfIssuedHoldCannotBeShortenedByThePayer() public {
        _hold(OP, 100, 30 days);
        vm.prank(payer);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        token.renewHold(OP, 1 days);
    }

    function test_improvement3_issuerMayShorten() public {
        _holdByOperator(OP, 100, 30 days);
        vm.prank(operator);
        token.renewHold(OP, 1);
        assertEq(_holdExpiration(OP), block.timestamp + 1);

        _holdByOperator("perpetual", 100, 0);
        vm.prank(operator);
        token.renewHoldWithExpirationDate("perpetual", block.timestamp + 5);
        assertEq(_holdExpiration("perpetual"), block.timestamp + 5);
    }
}
