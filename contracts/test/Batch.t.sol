// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {EmToken} from "../src/EmToken.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @dev {EmToken.batch}: many platform calls per transaction, each succeeding or failing alone.
contract BatchTest is EmTokenTestBase {
    event BatchCallFailed(uint256 index, string operationId, bytes reason);
    event OperatorTransfer(string operationId, address indexed operator, address indexed from, address indexed to, uint256 value);

    function _transfer(string memory id, address from, address to, uint256 value) internal pure returns (bytes memory) {
        return abi.encodeCall(EmToken.operatorTransfer, (id, from, to, value));
    }

    function test_batch_eachCallOnItsOwn() public {
        bytes[] memory calls = new bytes[](4);
        calls[0] = _transfer("t1", payer, payee, 100);
        calls[1] = _transfer("t2", payer, payee, 5_000); // more than the payer has
        calls[2] = abi.encodeCall(EmToken.mint, ("m1", payee, 7));
        calls[3] = abi.encodeCall(IHoldable.holdFrom, ("h1", payer, payee, platform, 50, ONE_DAY));

        vm.expectEmit();
        emit OperatorTransfer("t1", platform, payer, payee, 100);
        vm.expectEmit();
        emit BatchCallFailed(1, "t2", abi.encodeWithSignature("Error(string)", "Not enough available balance"));
        vm.prank(platform);
        uint256 failed = token.batch(calls);

        assertEq(failed, 1);
        assertEq(token.balanceOf(payee), 107);
        assertEq(token.netBalanceOf(payer), 900);
        assertEq(token.balanceOnHold(payer), 50);
        assertEq(token.totalSupply(), INITIAL + 7);
        assertEq(_holdStatus("h1"), H_ORDERED);
    }

    function test_batch_callsSeeTheEffectsOfEarlierOnes() public {
        bytes[] memory calls = new bytes[](3);
        calls[0] = abi.encodeCall(IHoldable.holdFrom, ("h", payer, payee, platform, 60, ONE_DAY));
        calls[1] = abi.encodeCall(IHoldable.executeHold, ("h", 60));
        calls[2] = abi.encodeCall(IHoldable.releaseHold, ("h")); // already executed: fails alone
        vm.prank(platform);
        assertEq(token.batch(calls), 1);
        assertEq(token.balanceOf(payee), 60);
        assertEq(_holdStatus("h"), H_EXECUTED);
    }

    function test_batch_onlyTheOperator() public {
        bytes[] memory calls = new bytes[](1);
        calls[0] = _transfer("t", payer, stranger, 1);
        bytes32 role = token.OPERATOR_ROLE();
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role
            )
        );
        token.batch(calls);
    }

    function test_batch_refusesOtherCallsOneByOne() public {
        bytes[] memory calls = new bytes[](4);
        calls[0] = abi.encodeCall(EmToken.pause, ());
        calls[1] = abi.encodeWithSelector(EmToken.batch.selector, new bytes[](0));
        calls[2] = hex"01"; // shorter than a selector
        calls[3] = _transfer("ok", payer, payee, 1);
        bytes memory refused = abi.encodeWithSignature("Error(string)", "Call not allowed in a batch");
        vm.expectEmit();
        emit BatchCallFailed(0, "", refused);
        vm.expectEmit();
        emit BatchCallFailed(1, "", refused);
        vm.expectEmit();
        emit BatchCallFailed(2, "", refused);
        vm.prank(platform);
        assertEq(token.batch(calls), 3);
        assertEq(token.balanceOf(payee), 1);
    }

    function test_batch_innerRoleChecksStillApply() public {
        // the platform holds no PAUSER/COMPLIANCE role; an operator that is not a minter cannot mint by batching
        vm.startPrank(admin);
        token.grantRole(token.OPERATOR_ROLE(), operator);
        vm.stopPrank();
        bytes[] memory calls = new bytes[](1);
        calls[0] = abi.encodeCall(EmToken.mint, ("m", operator, 1));
        vm.prank(operator);
        assertEq(token.batch(calls), 1);
        assertEq(token.balanceOf(operator), 0);
    }

    function test_batch_emptyIsANoOp() public {
        vm.prank(platform);
        assertEq(token.batch(new bytes[](0)), 0);
    }
}

/// @dev Fuzzed batches (kept out of the gas snapshot: their gas depends on the fuzz dictionary).
contract BatchFuzzTest is EmTokenTestBase {
    /// Malformed calldata of an allowed function fails alone, and its operation id reads as "".
    function testFuzz_batch_malformedCallsNeverRevertTheBatch(bytes calldata junk) public {
        bytes[] memory calls = new bytes[](2);
        calls[0] = bytes.concat(EmToken.operatorTransfer.selector, junk);
        calls[1] = abi.encodeCall(EmToken.operatorTransfer, ("good", payer, payee, 3));
        vm.prank(platform);
        token.batch(calls);
        assertEq(token.balanceOf(payee) >= 3, true);
    }
}
