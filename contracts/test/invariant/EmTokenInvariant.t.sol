// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {EmToken} from "../../src/EmToken.sol";
import {EmTokenHandler} from "./EmTokenHandler.sol";

/// @dev Book-keeping invariants of EmToken under random holds, executions, releases, renewals,
/// transfers, mints, burns and clearable transfers (seeded in foundry.toml, so runs replay).
contract EmTokenInvariantTest is Test {
    EmToken internal token;
    EmTokenHandler internal handler;
    address internal platform = makeAddr("platform");
    address[] internal actors;

    function setUp() public {
        vm.warp(1_700_000_000);
        token = new EmToken("Euro e-money", "EURE", 2, "EUR", makeAddr("admin"), platform);
        for (uint256 i; i < 5; i++) {
            address a = makeAddr(string.concat("actor", vm.toString(i)));
            actors.push(a);
            vm.prank(platform);
            token.mint(string.concat("seed", vm.toString(i)), a, 1e9);
        }
        handler = new EmTokenHandler(token, platform, actors);
        targetContract(address(handler));
    }

    /// @dev Everyone who can hold tokens: the actors and the platform (cash-out payee).
    function _holders() internal view returns (address[] memory all) {
        all = new address[](actors.length + 1);
        for (uint256 i; i < actors.length; i++) {
            all[i] = actors[i];
        }
        all[actors.length] = platform;
    }

    function invariant_grossBalancesSumToTotalSupply() public view {
        address[] memory all = _holders();
        uint256 sum;
        for (uint256 i; i < all.length; i++) {
            sum += token.netBalanceOf(all[i]);
        }
        assertEq(sum, token.totalSupply());
    }

    function invariant_heldBalancesSumToTotalOnHold() public view {
        address[] memory all = _holders();
        uint256 sum;
        for (uint256 i; i < all.length; i++) {
            sum += token.balanceOnHold(all[i]);
        }
        assertEq(sum, token.totalSupplyOnHold());
    }

    function invariant_heldNeverExceedsGross() public view {
        address[] memory all = _holders();
        for (uint256 i; i < all.length; i++) {
            assertLe(token.balanceOnHold(all[i]), token.netBalanceOf(all[i]));
        }
    }

    function invariant_availablePlusHeldIsGross() public view {
        address[] memory all = _holders();
        for (uint256 i; i < all.length; i++) {
            assertEq(token.balanceOf(all[i]) + token.balanceOnHold(all[i]), token.netBalanceOf(all[i]));
        }
    }

    function invariant_noHoldSettlesTwice() public view {
        assertEq(handler.doubleSettlements(), 0);
    }

    /// @dev The handler really settles holds, and its double-settle detector sees retries fail.
    function test_handlerSettlesOnceAndRetriesFail() public {
        handler.hold(0, 1, 2, 100, 0); // op-1: actor0 -> actor1, notary actor2
        handler.executeHold(0, 40, true); // keep open: not final yet
        assertEq(handler.successfulSettlements(), 1);
        assertFalse(handler.settled(keccak256("op-1")));
        handler.executeHold(0, 10, false); // final
        assertTrue(handler.settled(keccak256("op-1")));
        handler.executeHold(0, 1, false);
        handler.releaseHold(0, 0);
        handler.releaseHold(0, 1);
        handler.burnHeld(0, 1);
        handler.renewHold(0, 10, true);
        handler.orderTransfer(0, 1, 5); // op-2
        handler.releaseHold(1, 1); // plain release of a clearable-backed hold: refused
        handler.executeClearableTransfer(1);
        handler.rejectClearableTransfer(1);
        handler.cancelTransfer(1);
        assertEq(handler.successfulSettlements(), 3);
        assertEq(handler.doubleSettlements(), 0);
    }
}
