// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {MAX_TOTAL_SUPPLY} from "../src/PackedERC20.sol";

/// @dev Property tests over amounts and expirations (seeded in foundry.toml, so they replay).
contract FuzzTest is EmTokenTestBase {
    uint256 internal constant MAX_TTL = 100 * 365 days;

    function testFuzz_holdThenExecutePartially(uint256 supply, uint256 held, uint256 executed, uint256 ttl) public {
        supply = bound(supply, 1, MAX_TOTAL_SUPPLY - token.totalSupply());
        held = bound(held, 1, supply);
        executed = bound(executed, 1, held);
        ttl = bound(ttl, 0, MAX_TTL);
        vm.prank(platform);
        token.mint("fuzz", stranger, supply);

        vm.prank(stranger);
        token.hold(OP, payee, notary, held, ttl);
        assertEq(token.balanceOf(stranger), supply - held);
        assertEq(token.balanceOnHold(stranger), held);
        _assertBooks(stranger);

        vm.prank(notary);
        token.executeHold(OP, executed);
        assertEq(token.balanceOnHold(stranger), 0);
        assertEq(token.balanceOf(stranger), supply - executed);
        assertEq(token.balanceOf(payee), executed);
        assertEq(token.totalSupply(), INITIAL + supply);
        assertEq(token.totalSupplyOnHold(), 0);
    }

    function testFuzz_keepOpenThenExecute(uint256 held, uint256 first, uint256 second) public {
        held = bound(held, 2, INITIAL);
        first = bound(first, 1, held - 1);
        second = bound(second, 1, held - first);
        _hold(OP, held, 0);
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, first);
        assertEq(_holdValue(OP), held - first);
        assertEq(_holdStatus(OP), H_KEPT_OPEN);
        assertEq(token.balanceOnHold(payer), held - first);

        vm.prank(notary);
        token.executeHold(OP, second);
        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payee), first + second);
        assertEq(token.netBalanceOf(payer), INITIAL - first - second);
        _assertBooks(payer);
    }

    function testFuzz_expiryBoundary(uint256 ttl, uint256 value) public {
        ttl = bound(ttl, 1, MAX_TTL);
        value = bound(value, 1, INITIAL);
        _hold(OP, value, ttl);
        uint256 expiration = block.timestamp + ttl;
        assertEq(_holdExpiration(OP), expiration);

        vm.warp(expiration - 1);
        vm.prank(stranger);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        token.releaseHold(OP);

        vm.warp(expiration);
        vm.prank(notary);
        vm.expectRevert("The hold has already expired");
        token.executeHold(OP, value);
        vm.prank(stranger);
        token.releaseHold(OP);
        assertEq(_holdStatus(OP), H_RELEASED_ON_EXPIRATION);
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function testFuzz_holdWithExpirationDate(uint256 expiration) public {
        expiration = bound(expiration, 0, block.timestamp + MAX_TTL);
        vm.prank(payer);
        // forge-lint: disable-next-line(block-timestamp)
        if (expiration != 0 && expiration <= block.timestamp) {
            vm.expectRevert("Expiration date must be greater than block timestamp or zero");
            token.holdWithExpirationDate(OP, payee, notary, 1, expiration);
        } else {
            token.holdWithExpirationDate(OP, payee, notary, 1, expiration);
            assertEq(_holdExpiration(OP), expiration);
        }
    }

    /// Improvement 3 as a property: the payer's renewal succeeds iff it does not shorten the hold.
    function testFuzz_payerRenewalNeverShortens(uint256 ttl, uint256 newExpiration) public {
        ttl = bound(ttl, 0, MAX_TTL);
        _holdByOperator(OP, 10, ttl);
        uint256 current = _holdExpiration(OP);
        newExpiration = bound(newExpiration, 0, block.timestamp + 2 * MAX_TTL);
        // forge-lint: disable-next-line(block-timestamp)
        bool inFuture = newExpiration == 0 || newExpiration > block.timestamp;
        bool sooner = newExpiration != 0 && (current == 0 || newExpiration < current);

        vm.prank(payer);
        if (!inFuture) {
            vm.expectRevert("Expiration date must be greater than block timestamp or zero");
        } else if (sooner) {
            vm.expectRevert("The payer can not renew a hold to expire sooner");
        }
        token.renewHoldWithExpirationDate(OP, newExpiration);
        if (inFuture && !sooner) assertEq(_holdExpiration(OP), newExpiration);
        else assertEq(_holdExpiration(OP), current);
    }

    function testFuzz_transferNeverTouchesHeldFunds(uint256 held, uint256 amount) public {
        held = bound(held, 1, INITIAL);
        amount = bound(amount, 0, INITIAL);
        _hold(OP, held, 0);
        vm.prank(payer);
        if (amount > INITIAL - held) vm.expectRevert("Not enough available balance");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, amount);
        assertEq(token.balanceOnHold(payer), held);
        assertGe(token.netBalanceOf(payer), held);
        _assertBooks(payer);
    }

    function testFuzz_mintBurnHeld(uint256 minted, uint256 held, uint256 burned) public {
        minted = bound(minted, 1, MAX_TOTAL_SUPPLY - token.totalSupply());
        held = bound(held, 1, minted);
        burned = bound(burned, 1, held);
        vm.startPrank(platform);
        token.mint("in", stranger, minted);
        token.holdFrom("out", stranger, platform, platform, held, 0);
        token.burnHeld("out", burned);
        vm.stopPrank();
        assertEq(token.netBalanceOf(stranger), minted - burned);
        assertEq(token.balanceOnHold(stranger), 0);
        assertEq(token.totalSupply(), INITIAL + minted - burned);
    }
}
