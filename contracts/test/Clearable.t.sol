// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {IClearable} from "../src/IClearable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @dev EIP-2018 clearable transfers and their backing holds.
contract ClearableTest is EmTokenTestBase {
    address internal agent; // the platform holds CLEARING_AGENT_ROLE

    function setUp() public override {
        super.setUp();
        agent = platform;
    }

    // ---- ordering -------------------------------------------------------------------------

    function test_orderTransfer_createsBackingHoldAndEmits() public {
        vm.expectEmit(address(token));
        emit IHoldable.HoldCreated(payer, OP, payer, payee, address(token), 100, 0);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferOrdered(payer, OP, payer, payee, 100);
        vm.prank(payer);
        assertTrue(token.orderTransfer(OP, payee, 100));

        (address f, address t, uint256 v, IClearable.ClearableTransferStatusCode s) =
            token.retrieveClearableTransferData(OP);
        assertEq(f, payer);
        assertEq(t, payee);
        assertEq(v, 100);
        assertEq(uint8(s), C_ORDERED);

        (address hf, address ht, address hn, uint256 hv, uint256 he, IHoldable.HoldStatusCode hs) =
            token.retrieveHoldData(OP);
        assertEq(hf, payer);
        assertEq(ht, payee);
        assertEq(hn, address(token));
        assertEq(hv, 100);
        assertEq(he, 0);
        assertEq(uint8(hs), H_ORDERED);
        assertEq(token.balanceOnHold(payer), 100);
        assertEq(token.balanceOf(payer), INITIAL - 100);
    }

    function test_orderTransfer_reverts() public {
        vm.startPrank(payer);
        vm.expectRevert("Operation ID must not be empty");
        token.orderTransfer("", payee, 1);
        vm.expectRevert("Value must be greater than zero");
        token.orderTransfer(OP, payee, 0);
        vm.expectRevert("Payee address must not be zero address");
        token.orderTransfer(OP, address(0), 1);
        vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
        token.orderTransfer(OP, payee, INITIAL + 1);
        token.orderTransfer(OP, payee, 1);
        vm.expectRevert("This operationId already exists");
        token.orderTransfer(OP, payee, 1);
        // ids are shared with plain holds
        token.hold("plain", payee, notary, 1, 0);
        vm.expectRevert("This operationId already exists");
        token.orderTransfer("plain", payee, 1);
        vm.stopPrank();
    }

    function test_orderTransferFrom_byAuthorizedOperator() public {
        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);
        vm.expectEmit(address(token));
        emit IHoldable.HoldCreated(operator, OP, payer, payee, address(token), 5, 0);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferOrdered(operator, OP, payer, payee, 5);
        vm.prank(operator);
        assertTrue(token.orderTransferFrom(OP, payer, payee, 5));
        assertEq(_clearableStatus(OP), C_ORDERED);
    }

    function test_orderTransferFrom_byDefaultOperator() public {
        assertTrue(token.isClearableTransferOperatorFor(platform, payer));
        vm.prank(platform);
        token.orderTransferFrom(OP, payer, payee, 5);
        assertEq(_clearableStatus(OP), C_ORDERED);
    }

    function test_orderTransferFrom_reverts() public {
        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);
        vm.startPrank(operator);
        vm.expectRevert("Payee address must not be zero address");
        token.orderTransferFrom(OP, payer, address(0), 1);
        vm.expectRevert("Payer address must not be zero address");
        token.orderTransferFrom(OP, address(0), payee, 1);
        vm.expectRevert("Operation ID must not be empty");
        token.orderTransferFrom("", payer, payee, 1);
        vm.expectRevert("Value must be greater than zero");
        token.orderTransferFrom(OP, payer, payee, 0);
        vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
        token.orderTransferFrom(OP, payer, payee, INITIAL + 1);
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.expectRevert("This operationId already exists");
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.stopPrank();

        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        token.orderTransferFrom("op-2", payer, payee, 1);
        // a hold operator is not a clearable transfer operator
        vm.prank(payer);
        token.authorizeHoldOperator(stranger);
        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        token.orderTransferFrom("op-2", payer, payee, 1);
    }

    // ---- process / execute / reject / cancel ----------------------------------------------

    function test_process_thenExecute() public {
        _order(OP, 100);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferInProcess(agent, OP); // orderer = the caller, as in the reference
        vm.prank(agent);
        assertTrue(token.processClearableTransfer(OP));
        assertEq(_clearableStatus(OP), C_IN_PROCESS);

        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, address(token), 100, 100);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, payee, 100);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferExecuted(agent, OP);
        vm.prank(agent);
        assertTrue(token.executeClearableTransfer(OP));

        assertEq(_clearableStatus(OP), C_EXECUTED);
        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.netBalanceOf(payer), INITIAL - 100);
        assertEq(token.balanceOf(payee), 100);
    }

    function test_executeDirectlyFromOrdered() public {
        _order(OP, 100);
        vm.prank(agent);
        token.executeClearableTransfer(OP);
        assertEq(_clearableStatus(OP), C_EXECUTED);
        assertEq(token.balanceOf(payee), 100);
    }

    function test_reject_fromOrderedAndInProcess() public {
        _order(OP, 100);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_BY_NOTARY);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferRejected(agent, OP, "no funds");
        vm.prank(agent);
        assertTrue(token.rejectClearableTransfer(OP, "no funds"));
        assertEq(_clearableStatus(OP), C_REJECTED);
        assertEq(_holdStatus(OP), H_RELEASED_BY_NOTARY);
        assertEq(token.balanceOf(payer), INITIAL);

        _order("op-2", 100);
        vm.prank(agent);
        token.processClearableTransfer("op-2");
        vm.prank(agent);
        token.rejectClearableTransfer("op-2", "kyc");
        assertEq(_clearableStatus("op-2"), C_REJECTED);
        assertEq(token.balanceOnHold(payer), 0);
    }

    function test_cancel_byPayerAndByOrderer() public {
        _order(OP, 100);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_BY_NOTARY);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferCancelled(payer, OP);
        vm.prank(payer);
        assertTrue(token.cancelTransfer(OP));
        assertEq(_clearableStatus(OP), C_CANCELLED);
        assertEq(_holdStatus(OP), H_RELEASED_BY_NOTARY);
        assertEq(token.balanceOf(payer), INITIAL);

        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);
        vm.prank(operator);
        token.orderTransferFrom("op-2", payer, payee, 10);
        vm.expectEmit(address(token));
        emit IClearable.ClearableTransferCancelled(operator, "op-2");
        vm.prank(operator);
        token.cancelTransfer("op-2");
        assertEq(_clearableStatus("op-2"), C_CANCELLED);
    }

    function test_cancel_reverts() public {
        vm.prank(payer);
        vm.expectRevert("Can only be processed by the payer");
        token.cancelTransfer("nope");

        _order(OP, 100);
        vm.prank(payee);
        vm.expectRevert("Can only be processed by the payer");
        token.cancelTransfer(OP);
        vm.prank(agent);
        vm.expectRevert("Can only be processed by the payer");
        token.cancelTransfer(OP);

        vm.prank(agent);
        token.processClearableTransfer(OP);
        vm.prank(payer);
        vm.expectRevert("A transfer can only be cancelled in status Ordered");
        token.cancelTransfer(OP);

        // a plain hold is not a clearable transfer
        _hold("plain", 1, 0);
        vm.prank(payer);
        vm.expectRevert("A transfer can only be cancelled in status Ordered");
        token.cancelTransfer("plain");
    }

    function test_agentOnly() public {
        _order(OP, 100);
        address[3] memory others = [payer, payee, admin];
        for (uint256 i; i < others.length; i++) {
            vm.startPrank(others[i]);
            vm.expectRevert("Can only be processed by the agent");
            token.processClearableTransfer(OP);
            vm.expectRevert("Can only be executed by the agent");
            token.executeClearableTransfer(OP);
            vm.expectRevert("Can only be rejected by the agent");
            token.rejectClearableTransfer(OP, "x");
            vm.stopPrank();
        }
        // any CLEARING_AGENT_ROLE holder is an agent
        bytes32 role = token.CLEARING_AGENT_ROLE();
        vm.prank(admin);
        token.grantRole(role, stranger);
        vm.prank(stranger);
        token.executeClearableTransfer(OP);
        assertEq(_clearableStatus(OP), C_EXECUTED);
    }

    function test_statusGuards() public {
        vm.startPrank(agent);
        vm.expectRevert("A transfer can only be processed in status Ordered");
        token.processClearableTransfer("nope");
        vm.expectRevert("A transfer can only be executed in status Ordered or InProcess");
        token.executeClearableTransfer("nope");
        vm.expectRevert("A transfer can only be rejected in status Ordered or InProcess");
        token.rejectClearableTransfer("nope", "x");
        vm.stopPrank();

        // In process cannot be processed again
        _order(OP, 10);
        vm.startPrank(agent);
        token.processClearableTransfer(OP);
        vm.expectRevert("A transfer can only be processed in status Ordered");
        token.processClearableTransfer(OP);
        token.executeClearableTransfer(OP);
        // Executed is final
        vm.expectRevert("A transfer can only be processed in status Ordered");
        token.processClearableTransfer(OP);
        vm.expectRevert("A transfer can only be executed in status Ordered or InProcess");
        token.executeClearableTransfer(OP);
        vm.expectRevert("A transfer can only be rejected in status Ordered or InProcess");
        token.rejectClearableTransfer(OP, "x");
        vm.stopPrank();
        vm.prank(payer);
        vm.expectRevert("A transfer can only be cancelled in status Ordered");
        token.cancelTransfer(OP);

        // Rejected is final
        _order("op-r", 10);
        vm.startPrank(agent);
        token.rejectClearableTransfer("op-r", "x");
        vm.expectRevert("A transfer can only be executed in status Ordered or InProcess");
        token.executeClearableTransfer("op-r");
        vm.expectRevert("A transfer can only be rejected in status Ordered or InProcess");
        token.rejectClearableTransfer("op-r", "x");
        vm.stopPrank();

        // Cancelled is final
        _order("op-c", 10);
        vm.prank(payer);
        token.cancelTransfer("op-c");
        vm.prank(payer);
        vm.expectRevert("A transfer can only be cancelled in status Ordered");
        token.cancelTransfer("op-c");
        vm.prank(agent);
        vm.expectRevert("A transfer can only be executed in status Ordered or InProcess");
        token.executeClearableTransfer("op-c");
        assertEq(token.balanceOnHold(payer), 0);
    }

    function test_retrieveClearableTransferData_plainHoldIsNotClearable() public {
        _hold("plain", 10, 0);
        (address f, address t, uint256 v, IClearable.ClearableTransferStatusCode s) =
            token.retrieveClearableTransferData("plain");
        assertEq(f, address(0));
        assertEq(t, address(0));
        assertEq(v, 0);
        assertEq(uint8(s), C_NONEXISTENT);
    }

    function test_execute_revertsIfPayeeFrozen_thenRejectReturnsFunds() public {
        _order(OP, 10);
        vm.prank(admin);
        token.freeze(payee);
        vm.prank(agent);
        vm.expectRevert("Recipient account is frozen");
        token.executeClearableTransfer(OP);
        vm.prank(agent);
        token.rejectClearableTransfer(OP, "frozen");
        assertEq(token.balanceOf(payer), INITIAL);
    }

    // ---- operators ------------------------------------------------------------------------

    function test_clearableOperator_authorizeAndRevoke() public {
        assertFalse(token.isClearableTransferOperatorFor(operator, payer));
        vm.expectEmit(address(token));
        emit IClearable.AuthorizedClearableTransferOperator(operator, payer);
        vm.prank(payer);
        assertTrue(token.authorizeClearableTransferOperator(operator));
        assertTrue(token.isClearableTransferOperatorFor(operator, payer));
        assertFalse(token.isHoldOperatorFor(operator, payer));

        vm.prank(payer);
        vm.expectRevert("The operator is already authorized");
        token.authorizeClearableTransferOperator(operator);

        vm.expectEmit(address(token));
        emit IClearable.RevokedClearableTransferOperator(operator, payer);
        vm.prank(payer);
        assertTrue(token.revokeClearableTransferOperator(operator));
        assertFalse(token.isClearableTransferOperatorFor(operator, payer));

        vm.prank(payer);
        vm.expectRevert("The operator is already not authorized");
        token.revokeClearableTransferOperator(operator);
    }
}
