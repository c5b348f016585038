// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {MAX_TOTAL_SUPPLY} from "../src/PackedERC20.sol";

/// @dev {PackedERC20}: an account's balance, held balance and freeze flag share one storage slot
/// (120 + 120 + 8 bits). The total supply is capped at MAX_TOTAL_SUPPLY so that no balance can
/// overflow its width; the ERC-20 surface is OpenZeppelin's.
contract PackedERC20Test is EmTokenTestBase {
    string internal constant CAP_REASON = "Total supply can't exceed the maximum supply";

    /// @dev The raw storage slot of `account`'s packed state, found by what changes when the
    /// account's balance changes (keeps the test independent of the slot number).
    function _slotOf(address account) internal returns (bytes32 slot) {
        vm.record();
        token.netBalanceOf(account);
        (bytes32[] memory reads,) = vm.accesses(address(token));
        assertEq(reads.length, 1, "netBalanceOf reads exactly one slot");
        slot = reads[0];
    }

    function test_maxTotalSupply_is120Bits() public pure {
        assertEq(MAX_TOTAL_SUPPLY, 2 ** 120 - 1);
    }

    function test_mint_upToTheCap() public {
        uint256 room = MAX_TOTAL_SUPPLY - token.totalSupply();
        vm.prank(platform);
        token.mint("to-the-cap", stranger, room);
        assertEq(token.totalSupply(), MAX_TOTAL_SUPPLY);
        assertEq(token.balanceOf(stranger), room);

        // the largest balance moves and is held like any other
        vm.prank(stranger);
        assertTrue(token.transfer(payee, room));
        assertEq(token.balanceOf(payee), room);
        vm.prank(payee);
        token.hold(OP, stranger, notary, room, 0);
        assertEq(token.balanceOnHold(payee), room);
        assertEq(token.netBalanceOf(payee), room);
        assertEq(token.balanceOf(payee), 0);
        vm.prank(notary);
        token.executeHold(OP, room);
        assertEq(token.balanceOf(stranger), room);
        assertEq(token.balanceOnHold(payee), 0);
    }

    function test_mint_aboveTheCapIsRefusedAndChangesNothing() public {
        uint256 room = MAX_TOTAL_SUPPLY - token.totalSupply();
        uint256[3] memory tooMuch = [room + 1, uint256(type(uint128).max), type(uint256).max];
        for (uint256 i = 0; i < tooMuch.length; ++i) {
            bytes32 before = vm.load(address(token), _slotOf(payer));
            vm.prank(platform);
            vm.expectRevert(bytes(CAP_REASON));
            token.mint("too-much", payer, tooMuch[i]);
            assertEq(token.totalSupply(), INITIAL);
            assertEq(token.balanceOf(payer), INITIAL);
            assertEq(vm.load(address(token), _slotOf(payer)), before, "packed slot untouched");
        }

        // at the cap, even 1 more is refused, and the balances stay as they were
        vm.prank(platform);
        token.mint("to-the-cap", stranger, room);
        vm.prank(platform);
        vm.expectRevert(bytes(CAP_REASON));
        token.mint("one-more", payee, 1);
        assertEq(token.totalSupply(), MAX_TOTAL_SUPPLY);
        assertEq(token.balanceOf(payee), 0);
        assertEq(token.balanceOf(stranger), room);
    }

    function test_mint_aboveTheCapInABatchFailsAlone() public {
        uint256 room = MAX_TOTAL_SUPPLY - token.totalSupply();
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeCall(token.mint, ("over", stranger, room + 1));
        calls[1] = abi.encodeCall(token.mint, ("fits", stranger, room));
        vm.prank(platform);
        assertEq(token.batch(calls), 1);
        assertEq(token.totalSupply(), MAX_TOTAL_SUPPLY);
        assertEq(token.balanceOf(stranger), room);
    }

    /// @dev Burning at the cap frees room again: the cap is on the supply, not a one-way limit.
    function test_burn_makesRoomUnderTheCap() public {
        uint256 room = MAX_TOTAL_SUPPLY - token.totalSupply();
        vm.startPrank(platform);
        token.mint("to-the-cap", stranger, room);
        token.burn("out", stranger, 7);
        token.mint("again", payee, 7);
        vm.stopPrank();
        assertEq(token.totalSupply(), MAX_TOTAL_SUPPLY);
    }

    /// @dev The three fields share one slot and never disturb each other.
    function test_balanceHeldAndFrozen_stayIndependentInOneSlot() public {
        bytes32 slot = _slotOf(payer);
        assertEq(slot, _slotOf(payer));
        assertTrue(slot != _slotOf(payee), "one slot per account");

        _hold(OP, 300, 0);
        vm.prank(admin);
        token.freeze(payer);
        // the same slot carries all three, low bits first: balance, held, frozen
        bytes32 raw = vm.load(address(token), slot);
        assertEq(uint256(raw) & MAX_TOTAL_SUPPLY, INITIAL);
        assertEq((uint256(raw) >> 120) & MAX_TOTAL_SUPPLY, 300);
        assertEq(uint256(raw) >> 240, 1);

        assertTrue(token.isFrozen(payer));
        assertEq(token.netBalanceOf(payer), INITIAL);
        assertEq(token.balanceOnHold(payer), 300);
        assertEq(token.balanceOf(payer), INITIAL - 300);

        // frozen: the hold can still be released; held changes, balance and flag do not
        vm.prank(notary);
        token.releaseHold(OP);
        assertTrue(token.isFrozen(payer));
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.netBalanceOf(payer), INITIAL);

        // unfreezing changes only the flag
        vm.prank(admin);
        token.unfreeze(payer);
        assertFalse(token.isFrozen(payer));
        assertEq(token.netBalanceOf(payer), INITIAL);
        assertEq(token.balanceOnHold(payer), 0);

        // a transfer changes only the balances
        _hold("op-2", 100, 0);
        vm.prank(platform);
        token.operatorTransfer("move", payer, payee, 250);
        assertEq(token.netBalanceOf(payer), INITIAL - 250);
        assertEq(token.balanceOnHold(payer), 100);
        assertFalse(token.isFrozen(payer));
        assertEq(token.netBalanceOf(payee), 250);
        assertEq(token.balanceOnHold(payee), 0);
        assertFalse(token.isFrozen(payee));

        // freezing the payee leaves its balance and the payer's state alone
        vm.prank(admin);
        token.freeze(payee);
        assertEq(token.netBalanceOf(payee), 250);
        assertEq(token.netBalanceOf(payer), INITIAL - 250);
        assertEq(token.balanceOnHold(payer), 100);
        assertFalse(token.isFrozen(payer));
    }

    // ---- OpenZeppelin ERC20 behaviour kept ------------------------------------------------

    function test_erc20_zeroAddressErrors() public {
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(address(0), 1);

        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSpender.selector, address(0)));
        token.approve(address(0), 1);

        vm.prank(address(0));
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidApprover.selector, address(0)));
        token.approve(stranger, 1);

        vm.prank(platform);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSender.selector, address(0)));
        token.burn("burn-zero", address(0), 1);
    }

    function test_erc20_allowance() public {
        vm.prank(payer);
        vm.expectEmit(address(token));
        emit IERC20.Approval(payer, stranger, 10);
        assertTrue(token.approve(stranger, 10));

        vm.prank(stranger);
        vm.recordLogs();
        assertTrue(token.transferFrom(payer, payee, 4));
        assertEq(vm.getRecordedLogs().length, 1, "Transfer only, no Approval when spending");
        assertEq(token.allowance(payer, stranger), 6);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, stranger, 6, 7));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 7);

        // an infinite allowance is never spent
        vm.prank(payer);
        token.approve(stranger, type(uint256).max);
        vm.prank(stranger);
        assertTrue(token.transferFrom(payer, payee, 5));
        assertEq(token.allowance(payer, stranger), type(uint256).max);
        assertEq(token.balanceOf(payee), 9);
    }

    /// @dev A shortfall is still refused by Holdable's available-balance check, before the base's
    /// ERC20InsufficientBalance, as with OpenZeppelin's base.
    function test_erc20_shortfallReportsTheAvailableBalanceFirst() public {
        vm.prank(payer);
        vm.expectRevert(bytes("Not enough available balance"));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, INITIAL + 1);
        assertEq(token.balanceOf(payer), INITIAL);
    }
}

/// @dev Property test of the packed fields (a FuzzTest: kept out of `.gas-snapshot`, whose fuzz
/// figures would depend on the fuzz dictionary).
contract PackedERC20FuzzTest is EmTokenTestBase {
    /// @dev Any balance, held part and flag are read back exactly, each on its own.
    function testFuzz_fieldsRoundTrip(uint256 balance, uint256 held, bool frozen) public {
        balance = bound(balance, 1, MAX_TOTAL_SUPPLY - token.totalSupply());
        held = bound(held, 1, balance);
        vm.prank(platform);
        token.mint("fuzz", stranger, balance);
        vm.prank(stranger);
        token.hold(OP, payee, notary, held, 0);
        if (frozen) {
            vm.prank(admin);
            token.freeze(stranger);
        }
        assertEq(token.netBalanceOf(stranger), balance);
        assertEq(token.balanceOnHold(stranger), held);
        assertEq(token.balanceOf(stranger), balance - held);
        assertEq(token.isFrozen(stranger), frozen);
        assertEq(token.totalSupplyOnHold(), held);
    }
}
