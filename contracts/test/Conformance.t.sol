// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "forge-std/Vm.sol";
import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {IClearable} from "../src/IClearable.sol";

/// @dev Conformance with the reference implementation the public EIP-1996/EIP-2018 suites are
/// written against: ioBuilders holdable-token v3.0.1 (contracts/IHoldable.sol, Holdable.sol) and
/// clearable-token at d2def55 (contracts/IClearable.sol, Clearable.sol).
///
/// Per event: the declaration in the compiled ABI (name, parameter names, types, order, indexed
/// flags — the suites filter decoded events by parameter name), its topic0 against the keccak of
/// the canonical signature, and the log every hold and clearable path emits (topic count =
/// indexed flags, each topic, and the data = abi.encode of the non-indexed values in order).
/// Per revert reason: the exact `Error(string)` revert data on every path that gives it.
///
/// Where EmToken differs on purpose, the test says so: the three improvements (their reasons
/// "Hold is backing a clearable transfer" and "The payer can not renew a hold to expire sooner",
/// tested in Improvements.t.sol), hold events that accompany the clearable ones, and the backing
/// hold's notary (this contract).
contract ConformanceTest is EmTokenTestBase {
    // ---- the reference's event signatures (canonical form, what topic0 hashes) ------------

    string internal constant SIG_HOLD_CREATED = "HoldCreated(address,string,address,address,address,uint256,uint256)";
    string internal constant SIG_HOLD_EXECUTED = "HoldExecuted(address,string,address,uint256,uint256)";
    string internal constant SIG_HOLD_KEPT_OPEN = "HoldExecutedAndKeptOpen(address,string,address,uint256,uint256)";
    string internal constant SIG_HOLD_RELEASED = "HoldReleased(address,string,uint8)";
    string internal constant SIG_HOLD_RENEWED = "HoldRenewed(address,string,uint256,uint256)";
    string internal constant SIG_HOLD_OPERATOR_AUTHORIZED = "HoldOperatorAuthorized(address,address)";
    string internal constant SIG_HOLD_OPERATOR_REVOKED = "RevokedHoldOperator(address,address)";
    string internal constant SIG_CT_ORDERED = "ClearableTransferOrdered(address,string,address,address,uint256)";
    string internal constant SIG_CT_IN_PROCESS = "ClearableTransferInProcess(address,string)";
    string internal constant SIG_CT_EXECUTED = "ClearableTransferExecuted(address,string)";
    string internal constant SIG_CT_REJECTED = "ClearableTransferRejected(address,string,string)";
    string internal constant SIG_CT_CANCELLED = "ClearableTransferCancelled(address,string)";
    string internal constant SIG_CT_OPERATOR_AUTHORIZED = "AuthorizedClearableTransferOperator(address,address)";
    string internal constant SIG_CT_OPERATOR_REVOKED = "RevokedClearableTransferOperator(address,address)";

    // ---- the reference's revert reasons ----------------------------------------------------

    string internal constant R_EMPTY_ID = "Operation ID must not be empty";
    string internal constant R_ZERO_VALUE = "Value must be greater than zero";
    string internal constant R_ID_EXISTS = "This operationId already exists";
    string internal constant R_ZERO_NOTARY = "Notary address must not be zero address";
    string internal constant R_OVER_BALANCE = "Amount of the hold can't be greater than the balance of the origin";
    string internal constant R_ZERO_PAYEE = "Payee address must not be zero address";
    string internal constant R_ZERO_PAYER = "Payer address must not be zero address";
    string internal constant R_NOT_OPERATOR = "This operator is not authorized";
    string internal constant R_EXPIRATION = "Expiration date must be greater than block timestamp or zero";
    string internal constant R_RELEASE_STATUS = "A hold can only be released in status Ordered or ExecutedAndKeptOpen";
    string internal constant R_RELEASE_CALLER = "A not expired hold can only be released by the notary or the payee";
    string internal constant R_EXECUTE_STATUS = "A hold can only be executed in status Ordered or ExecutedAndKeptOpen";
    string internal constant R_EXECUTE_CALLER = "The hold can only be executed by the notary";
    string internal constant R_EXECUTE_EXPIRED = "The hold has already expired";
    string internal constant R_EXECUTE_VALUE = "The value should be equal or less than the held amount";
    string internal constant R_RENEW_STATUS = "A hold can only be renewed in status Ordered or ExecutedAndKeptOpen";
    string internal constant R_RENEW_EXPIRED = "An expired hold can not be renewed";
    string internal constant R_RENEW_CALLER = "The hold can only be renewed by the issuer or the payer";
    string internal constant R_ALREADY_AUTHORIZED = "The operator is already authorized";
    string internal constant R_NOT_AUTHORIZED = "The operator is already not authorized";
    string internal constant R_AVAILABLE = "Not enough available balance";
    string internal constant R_CANCEL_CALLER = "Can only be processed by the payer";
    string internal constant R_CANCEL_STATUS = "A transfer can only be cancelled in status Ordered";
    string internal constant R_PROCESS_CALLER = "Can only be processed by the agent";
    string internal constant R_PROCESS_STATUS = "A transfer can only be processed in status Ordered";
    string internal constant R_CT_EXECUTE_CALLER = "Can only be executed by the agent";
    string internal constant R_CT_EXECUTE_STATUS = "A transfer can only be executed in status Ordered or InProcess";
    string internal constant R_REJECT_CALLER = "Can only be rejected by the agent";
    string internal constant R_REJECT_STATUS = "A transfer can only be rejected in status Ordered or InProcess";

    address internal agent; // the platform holds CLEARING_AGENT_ROLE

    function setUp() public override {
        super.setUp();
        agent = platform;
        vm.prank(payer);
        token.authorizeHoldOperator(operator);
        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);
    }

    // =======================================================================================
    // Events: one test per event signature
    // =======================================================================================

    function test_abi_eventSetIsTheReferencesPlusEmTokensOwn() public {
        string[14] memory referenceEvents = [
            "HoldCreated",
            "HoldExecuted",
            "HoldExecutedAndKeptOpen",
            "HoldReleased",
            "HoldRenewed",
            "HoldOperatorAuthorized",
            "RevokedHoldOperator",
            "ClearableTransferOrdered",
            "ClearableTransferInProcess",
            "ClearableTransferExecuted",
            "ClearableTransferRejected",
            "ClearableTransferCancelled",
            "AuthorizedClearableTransferOperator",
            "RevokedClearableTransferOperator"
        ];
        // ERC-20, AccessControl, Pausable, and EmToken's issuer side
        string[13] memory others = [
            "Transfer",
            "Approval",
            "RoleGranted",
            "RoleRevoked",
            "RoleAdminChanged",
            "Paused",
            "Unpaused",
            "Minted",
            "Burned",
            "OperatorTransfer",
            "BatchCallFailed",
            "AccountFrozen",
            "AccountUnfrozen"
        ];
        string[] memory names = _abiEventNames();
        assertEq(names.length, referenceEvents.length + others.length, "no event beyond the known ones");
        for (uint256 i; i < names.length; i++) {
            bool known;
            for (uint256 j; j < referenceEvents.length; j++) {
                known = known || _eq(names[i], referenceEvents[j]);
            }
            for (uint256 j; j < others.length; j++) {
                known = known || _eq(names[i], others[j]);
            }
            assertTrue(known, string.concat("unexpected event in the ABI: ", names[i]));
        }
        // the names the reference does not use are gone
        for (uint256 i; i < names.length; i++) {
            assertFalse(_eq(names[i], "ClearableTransferOperatorAuthorized"), "old operator event name");
        }
    }

    function test_HoldCreated_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_CREATED,
            IHoldable.HoldCreated.selector,
            "HoldCreated(address indexed holdIssuer, string operationId, address from, address to, address indexed notary, uint256 value, uint256 expiration)"
        );
        uint256 t = block.timestamp;

        vm.recordLogs();
        vm.prank(payer);
        token.hold("h-hold", payee, notary, 3, ONE_DAY);
        _holdCreated(vm.getRecordedLogs(), payer, "h-hold", payer, payee, notary, 3, t + ONE_DAY);

        vm.recordLogs();
        vm.prank(payer);
        token.hold("h-perpetual", payee, notary, 3, 0);
        _holdCreated(vm.getRecordedLogs(), payer, "h-perpetual", payer, payee, notary, 3, 0);

        vm.recordLogs();
        vm.prank(operator);
        token.holdFrom("h-from", payer, payee, notary, 2, ONE_DAY);
        _holdCreated(vm.getRecordedLogs(), operator, "h-from", payer, payee, notary, 2, t + ONE_DAY);

        vm.recordLogs();
        vm.prank(platform); // default operator
        token.holdFrom("h-default", payer, payee, notary, 2, 0);
        _holdCreated(vm.getRecordedLogs(), platform, "h-default", payer, payee, notary, 2, 0);

        vm.recordLogs();
        vm.prank(payer);
        token.holdWithExpirationDate("h-date", payee, notary, 4, t + 7 days);
        _holdCreated(vm.getRecordedLogs(), payer, "h-date", payer, payee, notary, 4, t + 7 days);

        vm.recordLogs();
        vm.prank(operator);
        token.holdFromWithExpirationDate("h-from-date", payer, payee, notary, 5, t + 7 days);
        _holdCreated(vm.getRecordedLogs(), operator, "h-from-date", payer, payee, notary, 5, t + 7 days);

        // clearable orders create their backing hold (our addition: the reference's clearable
        // paths emit no hold events); its notary is this contract, its expiration perpetual
        vm.recordLogs();
        vm.prank(payer);
        token.orderTransfer("c-order", payee, 6);
        _holdCreated(vm.getRecordedLogs(), payer, "c-order", payer, payee, address(token), 6, 0);

        vm.recordLogs();
        vm.prank(operator);
        token.orderTransferFrom("c-order-from", payer, payee, 7);
        _holdCreated(vm.getRecordedLogs(), operator, "c-order-from", payer, payee, address(token), 7, 0);
    }

    function test_HoldExecuted_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_EXECUTED,
            IHoldable.HoldExecuted.selector,
            "HoldExecuted(address indexed holdIssuer, string operationId, address indexed notary, uint256 heldValue, uint256 transferredValue)"
        );
        Vm.Log[] memory logs;

        // executeHold of the whole value: heldValue = transferredValue = 3
        _hold("full", 3, ONE_DAY);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHold("full", 3);
        logs = vm.getRecordedLogs();
        _holdExecuted(logs, payer, "full", notary, 3, 3);
        _none(logs, SIG_HOLD_KEPT_OPEN);
        _none(logs, SIG_HOLD_RELEASED);

        // partial executeHold: heldValue is the value held before, the rest is freed
        _hold("partial", 3, ONE_DAY);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHold("partial", 1);
        logs = vm.getRecordedLogs();
        _holdExecuted(logs, payer, "partial", notary, 3, 1);
        _none(logs, SIG_HOLD_RELEASED);
        assertEq(token.balanceOnHold(payer), 0);

        // executeHoldAndKeepOpen of the whole value closes the hold: HoldExecuted, not kept open
        _hold("keep-all", 3, ONE_DAY);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHoldAndKeepOpen("keep-all", 3);
        logs = vm.getRecordedLogs();
        _holdExecuted(logs, payer, "keep-all", notary, 3, 3);
        _none(logs, SIG_HOLD_KEPT_OPEN);
        assertEq(_holdStatus("keep-all"), H_EXECUTED);

        // after a keep-open execution (3 -> 2 held), heldValue is what was still held
        _hold("kept-then-execute", 3, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-then-execute", 1);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHold("kept-then-execute", 2);
        _holdExecuted(vm.getRecordedLogs(), payer, "kept-then-execute", notary, 2, 2);

        _hold("kept-then-keep", 3, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-then-keep", 1);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-then-keep", 2);
        _holdExecuted(vm.getRecordedLogs(), payer, "kept-then-keep", notary, 2, 2);

        // a hold issued by an operator: holdIssuer is the operator
        vm.prank(operator);
        token.holdFrom("by-operator", payer, payee, notary, 3, 0);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHold("by-operator", 2);
        _holdExecuted(vm.getRecordedLogs(), operator, "by-operator", notary, 3, 2);

        // burnHeld (cash-out from a hold, EmToken's issuer side)
        vm.prank(platform);
        token.holdFrom("burn", payer, payee, platform, 300, ONE_DAY);
        vm.recordLogs();
        vm.prank(platform);
        token.burnHeld("burn", 120);
        _holdExecuted(vm.getRecordedLogs(), platform, "burn", platform, 300, 120);

        // through a platform batch: same event from the token
        vm.prank(platform);
        token.holdFrom("batched", payer, payee, platform, 5, ONE_DAY);
        bytes[] memory calls = new bytes[](1);
        calls[0] = abi.encodeCall(token.executeHold, ("batched", 5));
        vm.recordLogs();
        vm.prank(platform);
        assertEq(token.batch(calls), 0);
        _holdExecuted(vm.getRecordedLogs(), platform, "batched", platform, 5, 5);

        // executeClearableTransfer settles the backing hold (our addition, see the contract docs)
        _order("clearable", 8);
        vm.recordLogs();
        vm.prank(agent);
        token.executeClearableTransfer("clearable");
        _holdExecuted(vm.getRecordedLogs(), payer, "clearable", address(token), 8, 8);
    }

    function test_HoldExecutedAndKeptOpen_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_KEPT_OPEN,
            IHoldable.HoldExecutedAndKeptOpen.selector,
            "HoldExecutedAndKeptOpen(address indexed holdIssuer, string operationId, address indexed notary, uint256 heldValue, uint256 transferredValue)"
        );
        Vm.Log[] memory logs;

        // the reference suite's numbers: 3 held, 1 executed -> heldValue 2 (what stays held), 1
        _hold(OP, 3, ONE_DAY);
        vm.recordLogs();
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, 1);
        logs = vm.getRecordedLogs();
        _holdKeptOpen(logs, payer, OP, notary, 2, 1);
        _none(logs, SIG_HOLD_EXECUTED);
        assertEq(_holdStatus(OP), H_KEPT_OPEN);
        assertEq(_holdValue(OP), 2);

        // again: 2 held, 1 executed -> 1 stays held
        vm.recordLogs();
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, 1);
        _holdKeptOpen(vm.getRecordedLogs(), payer, OP, notary, 1, 1);
        assertEq(_holdValue(OP), 1);
        assertEq(token.balanceOnHold(payer), 1);

        // an operator-issued hold, through a platform batch
        vm.prank(platform);
        token.holdFrom("batched", payer, payee, platform, 10, 0);
        bytes[] memory calls = new bytes[](1);
        calls[0] = abi.encodeCall(token.executeHoldAndKeepOpen, ("batched", 4));
        vm.recordLogs();
        vm.prank(platform);
        assertEq(token.batch(calls), 0);
        _holdKeptOpen(vm.getRecordedLogs(), platform, "batched", platform, 6, 4);
    }

    function test_HoldReleased_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_RELEASED,
            IHoldable.HoldReleased.selector,
            // the referenceEvents declares `HoldStatusCode status`: an enum is uint8 in the ABI
            "HoldReleased(address indexed holdIssuer, string operationId, uint8 status)"
        );

        _hold("by-notary", 1, ONE_DAY);
        vm.recordLogs();
        vm.prank(notary);
        token.releaseHold("by-notary");
        _holdReleased(vm.getRecordedLogs(), payer, "by-notary", H_RELEASED_BY_NOTARY);

        _hold("by-payee", 1, ONE_DAY);
        vm.recordLogs();
        vm.prank(payee);
        token.releaseHold("by-payee");
        _holdReleased(vm.getRecordedLogs(), payer, "by-payee", H_RELEASED_BY_PAYEE);

        vm.prank(operator);
        token.holdFrom("on-expiration", payer, payee, notary, 1, ONE_DAY);
        vm.warp(block.timestamp + ONE_DAY);
        vm.recordLogs();
        vm.prank(stranger);
        token.releaseHold("on-expiration");
        _holdReleased(vm.getRecordedLogs(), operator, "on-expiration", H_RELEASED_ON_EXPIRATION);

        _hold("kept-open", 3, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-open", 1);
        vm.recordLogs();
        vm.prank(notary);
        token.releaseHold("kept-open");
        _holdReleased(vm.getRecordedLogs(), payer, "kept-open", H_RELEASED_BY_NOTARY);
        assertEq(token.balanceOnHold(payer), 0);

        // rejecting and cancelling a clearable transfer release its backing hold (our addition)
        _order("rejected", 2);
        vm.recordLogs();
        vm.prank(agent);
        token.rejectClearableTransfer("rejected", "no");
        _holdReleased(vm.getRecordedLogs(), payer, "rejected", H_RELEASED_BY_NOTARY);

        _order("cancelled", 2);
        vm.recordLogs();
        vm.prank(payer);
        token.cancelTransfer("cancelled");
        _holdReleased(vm.getRecordedLogs(), payer, "cancelled", H_RELEASED_BY_NOTARY);
    }

    function test_HoldRenewed_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_RENEWED,
            IHoldable.HoldRenewed.selector,
            "HoldRenewed(address indexed holdIssuer, string operationId, uint256 oldExpiration, uint256 newExpiration)"
        );
        uint256 t = block.timestamp;

        _hold("renew", 2, ONE_DAY);
        vm.warp(t + 1 hours);
        vm.recordLogs();
        vm.prank(payer);
        token.renewHold("renew", ONE_DAY);
        _holdRenewed(vm.getRecordedLogs(), payer, "renew", t + ONE_DAY, t + 1 hours + ONE_DAY);

        vm.recordLogs();
        vm.prank(payer);
        token.renewHold("renew", 0);
        _holdRenewed(vm.getRecordedLogs(), payer, "renew", t + 1 hours + ONE_DAY, 0);

        _hold("renew-date", 2, ONE_DAY);
        vm.recordLogs();
        vm.prank(payer);
        token.renewHoldWithExpirationDate("renew-date", t + 30 days);
        _holdRenewed(vm.getRecordedLogs(), payer, "renew-date", t + 1 hours + ONE_DAY, t + 30 days);

        // renewing after a keep-open execution
        _hold("kept-open", 3, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-open", 1);
        vm.recordLogs();
        vm.prank(payer);
        token.renewHold("kept-open", 2 * ONE_DAY);
        _holdRenewed(vm.getRecordedLogs(), payer, "kept-open", t + 1 hours + ONE_DAY, t + 1 hours + 2 * ONE_DAY);

        // the issuer (an operator) renews; holdIssuer is the issuer
        vm.prank(operator);
        token.holdFrom("by-issuer", payer, payee, notary, 2, ONE_DAY);
        vm.recordLogs();
        vm.prank(operator);
        token.renewHoldWithExpirationDate("by-issuer", 0);
        _holdRenewed(vm.getRecordedLogs(), operator, "by-issuer", t + 1 hours + ONE_DAY, 0);
    }

    function test_HoldOperatorAuthorized_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_OPERATOR_AUTHORIZED,
            IHoldable.HoldOperatorAuthorized.selector,
            "HoldOperatorAuthorized(address indexed operator, address indexed account)"
        );
        vm.recordLogs();
        vm.prank(payer);
        assertTrue(token.authorizeHoldOperator(stranger));
        _operatorEvent(vm.getRecordedLogs(), SIG_HOLD_OPERATOR_AUTHORIZED, stranger, payer);
    }

    function test_RevokedHoldOperator_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_HOLD_OPERATOR_REVOKED,
            IHoldable.RevokedHoldOperator.selector,
            "RevokedHoldOperator(address indexed operator, address indexed account)"
        );
        vm.recordLogs();
        vm.prank(payer);
        assertTrue(token.revokeHoldOperator(operator));
        _operatorEvent(vm.getRecordedLogs(), SIG_HOLD_OPERATOR_REVOKED, operator, payer);
    }

    function test_ClearableTransferOrdered_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_ORDERED,
            IClearable.ClearableTransferOrdered.selector,
            "ClearableTransferOrdered(address indexed orderer, string operationId, address indexed from, address indexed to, uint256 value)"
        );

        vm.recordLogs();
        vm.prank(payer);
        token.orderTransfer("by-payer", payee, 1);
        _ordered(vm.getRecordedLogs(), payer, "by-payer", payer, payee, 1);

        vm.recordLogs();
        vm.prank(operator);
        token.orderTransferFrom("by-operator", payer, payee, 2);
        _ordered(vm.getRecordedLogs(), operator, "by-operator", payer, payee, 2);

        vm.recordLogs();
        vm.prank(platform); // default operator
        token.orderTransferFrom("by-default-operator", payer, payee, 3);
        _ordered(vm.getRecordedLogs(), platform, "by-default-operator", payer, payee, 3);
    }

    function test_ClearableTransferInProcess_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_IN_PROCESS,
            IClearable.ClearableTransferInProcess.selector,
            "ClearableTransferInProcess(address indexed orderer, string operationId)"
        );
        // `orderer` is the caller of this step (the agent), as in the reference
        vm.prank(operator);
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.recordLogs();
        vm.prank(agent);
        token.processClearableTransfer(OP);
        _clearableStep(vm.getRecordedLogs(), SIG_CT_IN_PROCESS, agent, OP);

        address otherAgent = _secondAgent();
        _order("op-2", 1);
        vm.recordLogs();
        vm.prank(otherAgent);
        token.processClearableTransfer("op-2");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_IN_PROCESS, otherAgent, "op-2");
    }

    function test_ClearableTransferExecuted_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_EXECUTED,
            IClearable.ClearableTransferExecuted.selector,
            "ClearableTransferExecuted(address indexed orderer, string operationId)"
        );
        // from Ordered
        _order("from-ordered", 3);
        vm.recordLogs();
        vm.prank(agent);
        token.executeClearableTransfer("from-ordered");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_EXECUTED, agent, "from-ordered");

        // from InProcess, ordered by an operator, executed by another agent
        address otherAgent = _secondAgent();
        vm.prank(operator);
        token.orderTransferFrom("from-in-process", payer, payee, 3);
        vm.prank(agent);
        token.processClearableTransfer("from-in-process");
        vm.recordLogs();
        vm.prank(otherAgent);
        token.executeClearableTransfer("from-in-process");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_EXECUTED, otherAgent, "from-in-process");
        assertEq(token.balanceOf(payee), 6);
    }

    function test_ClearableTransferRejected_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_REJECTED,
            IClearable.ClearableTransferRejected.selector,
            "ClearableTransferRejected(address indexed orderer, string operationId, string reason)"
        );
        _order("from-ordered", 1);
        vm.recordLogs();
        vm.prank(agent);
        token.rejectClearableTransfer("from-ordered", "test");
        _rejected(vm.getRecordedLogs(), agent, "from-ordered", "test");

        vm.prank(operator);
        token.orderTransferFrom("from-in-process", payer, payee, 1);
        vm.prank(agent);
        token.processClearableTransfer("from-in-process");
        vm.recordLogs();
        vm.prank(agent);
        token.rejectClearableTransfer("from-in-process", "");
        _rejected(vm.getRecordedLogs(), agent, "from-in-process", "");
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function test_ClearableTransferCancelled_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_CANCELLED,
            IClearable.ClearableTransferCancelled.selector,
            "ClearableTransferCancelled(address indexed orderer, string operationId)"
        );
        // `orderer` is the caller: the payer ...
        _order("by-payer", 3);
        vm.recordLogs();
        vm.prank(payer);
        token.cancelTransfer("by-payer");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_CANCELLED, payer, "by-payer");

        vm.prank(operator);
        token.orderTransferFrom("operator-order-payer-cancels", payer, payee, 3);
        vm.recordLogs();
        vm.prank(payer);
        token.cancelTransfer("operator-order-payer-cancels");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_CANCELLED, payer, "operator-order-payer-cancels");

        // ... or the orderer (EIP-2018 lets the orderer cancel; the referenceEvents only the payer)
        vm.prank(operator);
        token.orderTransferFrom("by-orderer", payer, payee, 3);
        vm.recordLogs();
        vm.prank(operator);
        token.cancelTransfer("by-orderer");
        _clearableStep(vm.getRecordedLogs(), SIG_CT_CANCELLED, operator, "by-orderer");
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function test_AuthorizedClearableTransferOperator_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_OPERATOR_AUTHORIZED,
            IClearable.AuthorizedClearableTransferOperator.selector,
            "AuthorizedClearableTransferOperator(address indexed operator, address indexed account)"
        );
        vm.recordLogs();
        vm.prank(payer);
        assertTrue(token.authorizeClearableTransferOperator(stranger));
        _operatorEvent(vm.getRecordedLogs(), SIG_CT_OPERATOR_AUTHORIZED, stranger, payer);
        assertTrue(token.isClearableTransferOperatorFor(stranger, payer));
    }

    function test_RevokedClearableTransferOperator_signatureAndEveryPath() public {
        _assertDeclared(
            SIG_CT_OPERATOR_REVOKED,
            IClearable.RevokedClearableTransferOperator.selector,
            "RevokedClearableTransferOperator(address indexed operator, address indexed account)"
        );
        vm.recordLogs();
        vm.prank(payer);
        assertTrue(token.revokeClearableTransferOperator(operator));
        _operatorEvent(vm.getRecordedLogs(), SIG_CT_OPERATOR_REVOKED, operator, payer);
        assertFalse(token.isClearableTransferOperatorFor(operator, payer));
    }

    // =======================================================================================
    // Revert reasons: one test per reason string, every path that gives it
    // =======================================================================================

    function test_reason_operationIdMustNotBeEmpty() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.startPrank(payer);
        _expectReason(R_EMPTY_ID);
        token.hold("", payee, notary, 1, ONE_DAY);
        _expectReason(R_EMPTY_ID);
        token.holdWithExpirationDate("", payee, notary, 1, later);
        _expectReason(R_EMPTY_ID);
        token.orderTransfer("", payee, 1);
        vm.stopPrank();
        vm.startPrank(operator);
        _expectReason(R_EMPTY_ID);
        token.holdFrom("", payer, payee, notary, 1, ONE_DAY);
        _expectReason(R_EMPTY_ID);
        token.holdFromWithExpirationDate("", payer, payee, notary, 1, later);
        _expectReason(R_EMPTY_ID);
        token.orderTransferFrom("", payer, payee, 0); // the reference suite passes 0 here
        vm.stopPrank();
    }

    function test_reason_valueMustBeGreaterThanZero() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.startPrank(payer);
        _expectReason(R_ZERO_VALUE);
        token.hold(OP, payee, notary, 0, ONE_DAY);
        _expectReason(R_ZERO_VALUE);
        token.holdWithExpirationDate(OP, payee, notary, 0, later);
        _expectReason(R_ZERO_VALUE);
        token.orderTransfer(OP, payee, 0);
        vm.stopPrank();
        vm.startPrank(operator);
        _expectReason(R_ZERO_VALUE);
        token.holdFrom(OP, payer, payee, notary, 0, ONE_DAY);
        _expectReason(R_ZERO_VALUE);
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 0, later);
        _expectReason(R_ZERO_VALUE);
        token.orderTransferFrom(OP, payer, payee, 0);
        vm.stopPrank();

        _hold(OP, 3, ONE_DAY);
        vm.startPrank(notary);
        _expectReason(R_ZERO_VALUE);
        token.executeHold(OP, 0);
        _expectReason(R_ZERO_VALUE);
        token.executeHoldAndKeepOpen(OP, 0);
        vm.stopPrank();
    }

    function test_reason_thisOperationIdAlreadyExists() public {
        uint256 later = block.timestamp + ONE_DAY;
        _hold("taken", 1, ONE_DAY);
        _order("taken-by-order", 1);
        string[2] memory taken = ["taken", "taken-by-order"];
        for (uint256 i; i < taken.length; i++) {
            vm.startPrank(payer);
            _expectReason(R_ID_EXISTS);
            token.hold(taken[i], payee, notary, 1, ONE_DAY);
            _expectReason(R_ID_EXISTS);
            token.holdWithExpirationDate(taken[i], payee, notary, 1, later);
            _expectReason(R_ID_EXISTS);
            token.orderTransfer(taken[i], payee, 1);
            vm.stopPrank();
            vm.startPrank(operator);
            _expectReason(R_ID_EXISTS);
            token.holdFrom(taken[i], payer, payee, notary, 1, ONE_DAY);
            _expectReason(R_ID_EXISTS);
            token.holdFromWithExpirationDate(taken[i], payer, payee, notary, 1, later);
            _expectReason(R_ID_EXISTS);
            token.orderTransferFrom(taken[i], payer, payee, 1);
            vm.stopPrank();
        }
    }

    function test_reason_notaryAddressMustNotBeZeroAddress() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.prank(payer);
        _expectReason(R_ZERO_NOTARY);
        token.hold(OP, payee, address(0), 1, ONE_DAY);
        vm.prank(payer);
        _expectReason(R_ZERO_NOTARY);
        token.holdWithExpirationDate(OP, payee, address(0), 1, later);
        vm.prank(operator);
        _expectReason(R_ZERO_NOTARY);
        token.holdFrom(OP, payer, payee, address(0), 1, ONE_DAY);
        vm.prank(operator);
        _expectReason(R_ZERO_NOTARY);
        token.holdFromWithExpirationDate(OP, payer, payee, address(0), 1, later);
    }

    function test_reason_amountOfTheHoldCantBeGreaterThanTheBalanceOfTheOrigin() public {
        uint256 later = block.timestamp + ONE_DAY;
        uint256 tooMuch = INITIAL + 1;
        vm.startPrank(payer);
        _expectReason(R_OVER_BALANCE);
        token.hold(OP, payee, notary, tooMuch, ONE_DAY);
        _expectReason(R_OVER_BALANCE);
        token.holdWithExpirationDate(OP, payee, notary, tooMuch, later);
        _expectReason(R_OVER_BALANCE);
        token.orderTransfer(OP, payee, tooMuch);
        vm.stopPrank();
        vm.startPrank(operator);
        _expectReason(R_OVER_BALANCE);
        token.holdFrom(OP, payer, payee, notary, tooMuch, ONE_DAY);
        _expectReason(R_OVER_BALANCE);
        token.holdFromWithExpirationDate(OP, payer, payee, notary, tooMuch, later);
        _expectReason(R_OVER_BALANCE);
        token.orderTransferFrom(OP, payer, payee, tooMuch);
        vm.stopPrank();

        // what is on hold is not available for another hold
        _hold("first", INITIAL, 0);
        vm.prank(payer);
        _expectReason(R_OVER_BALANCE);
        token.hold(OP, payee, notary, 1, ONE_DAY);
    }

    function test_reason_payeeAddressMustNotBeZeroAddress() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.startPrank(payer);
        _expectReason(R_ZERO_PAYEE);
        token.hold(OP, address(0), notary, 1, ONE_DAY);
        _expectReason(R_ZERO_PAYEE);
        token.holdWithExpirationDate(OP, address(0), notary, 1, later);
        _expectReason(R_ZERO_PAYEE);
        token.orderTransfer(OP, address(0), 1);
        vm.stopPrank();
        vm.startPrank(operator);
        _expectReason(R_ZERO_PAYEE);
        token.holdFrom(OP, payer, address(0), notary, 1, ONE_DAY);
        _expectReason(R_ZERO_PAYEE);
        token.holdFromWithExpirationDate(OP, payer, address(0), notary, 1, later);
        _expectReason(R_ZERO_PAYEE);
        token.orderTransferFrom(OP, payer, address(0), 1);
        vm.stopPrank();
    }

    function test_reason_payerAddressMustNotBeZeroAddress() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.startPrank(operator);
        _expectReason(R_ZERO_PAYER);
        token.holdFrom(OP, address(0), payee, notary, 1, ONE_DAY);
        _expectReason(R_ZERO_PAYER);
        token.holdFromWithExpirationDate(OP, address(0), payee, notary, 1, later);
        _expectReason(R_ZERO_PAYER);
        token.orderTransferFrom(OP, address(0), payee, 1);
        vm.stopPrank();
    }

    function test_reason_thisOperatorIsNotAuthorized() public {
        uint256 later = block.timestamp + ONE_DAY;
        vm.startPrank(stranger);
        _expectReason(R_NOT_OPERATOR);
        token.holdFrom(OP, payer, payee, notary, 1, ONE_DAY);
        _expectReason(R_NOT_OPERATOR);
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, later);
        _expectReason(R_NOT_OPERATOR);
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.stopPrank();

        // a revoked operator, and a removed default operator, are refused the same way
        vm.prank(payer);
        token.revokeHoldOperator(operator);
        vm.prank(payer);
        token.revokeClearableTransferOperator(operator);
        vm.startPrank(operator);
        _expectReason(R_NOT_OPERATOR);
        token.holdFrom(OP, payer, payee, notary, 1, ONE_DAY);
        _expectReason(R_NOT_OPERATOR);
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.stopPrank();

        bytes32 role = token.OPERATOR_ROLE();
        vm.prank(admin);
        token.revokeRole(role, platform);
        vm.startPrank(platform);
        _expectReason(R_NOT_OPERATOR);
        token.holdFrom(OP, payer, payee, notary, 1, ONE_DAY);
        _expectReason(R_NOT_OPERATOR);
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, later);
        _expectReason(R_NOT_OPERATOR);
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.stopPrank();
    }

    function test_reason_expirationDateMustBeGreaterThanBlockTimestampOrZero() public {
        uint256 past = block.timestamp - 1;
        vm.prank(payer);
        _expectReason(R_EXPIRATION);
        token.holdWithExpirationDate(OP, payee, notary, 1, past);
        vm.prank(payer);
        _expectReason(R_EXPIRATION);
        token.holdWithExpirationDate(OP, payee, notary, 1, block.timestamp); // now is not the future
        vm.prank(operator);
        _expectReason(R_EXPIRATION);
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, past);

        _hold(OP, 2, ONE_DAY);
        vm.prank(payer);
        _expectReason(R_EXPIRATION);
        token.renewHoldWithExpirationDate(OP, past);
    }

    function test_reason_aHoldCanOnlyBeReleasedInStatusOrderedOrExecutedAndKeptOpen() public {
        _settledHolds();
        string[3] memory ids = ["nonexistent", "released", "executed"];
        for (uint256 i; i < ids.length; i++) {
            vm.prank(notary);
            _expectReason(R_RELEASE_STATUS);
            token.releaseHold(ids[i]);
        }
    }

    function test_reason_aNotExpiredHoldCanOnlyBeReleasedByTheNotaryOrThePayee() public {
        _hold(OP, 1, ONE_DAY);
        address[3] memory others = [payer, operator, stranger];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            _expectReason(R_RELEASE_CALLER);
            token.releaseHold(OP);
        }
        // after a keep-open execution too
        _hold("kept-open", 3, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen("kept-open", 1);
        vm.prank(payer);
        _expectReason(R_RELEASE_CALLER);
        token.releaseHold("kept-open");
    }

    function test_reason_aHoldCanOnlyBeExecutedInStatusOrderedOrExecutedAndKeptOpen() public {
        _settledHolds();
        string[3] memory ids = ["nonexistent", "released", "executed"];
        for (uint256 i; i < ids.length; i++) {
            vm.startPrank(notary);
            _expectReason(R_EXECUTE_STATUS);
            token.executeHold(ids[i], 1);
            _expectReason(R_EXECUTE_STATUS);
            token.executeHoldAndKeepOpen(ids[i], 1);
            vm.stopPrank();
        }
    }

    function test_reason_theHoldCanOnlyBeExecutedByTheNotary() public {
        _hold(OP, 3, ONE_DAY);
        address[3] memory others = [payer, payee, operator];
        for (uint256 i; i < others.length; i++) {
            vm.startPrank(others[i]);
            _expectReason(R_EXECUTE_CALLER);
            token.executeHold(OP, 1);
            _expectReason(R_EXECUTE_CALLER);
            token.executeHoldAndKeepOpen(OP, 1);
            vm.stopPrank();
        }
    }

    function test_reason_theHoldHasAlreadyExpired() public {
        _hold(OP, 3, ONE_DAY);
        vm.warp(block.timestamp + ONE_DAY); // expired at the expiration instant
        vm.startPrank(notary);
        _expectReason(R_EXECUTE_EXPIRED);
        token.executeHold(OP, 1);
        _expectReason(R_EXECUTE_EXPIRED);
        token.executeHoldAndKeepOpen(OP, 1);
        vm.stopPrank();
    }

    function test_reason_theValueShouldBeEqualOrLessThanTheHeldAmount() public {
        _hold(OP, 3, ONE_DAY);
        vm.startPrank(notary);
        _expectReason(R_EXECUTE_VALUE);
        token.executeHold(OP, 4);
        _expectReason(R_EXECUTE_VALUE);
        token.executeHoldAndKeepOpen(OP, 4);
        token.executeHoldAndKeepOpen(OP, 1); // 2 stay held
        _expectReason(R_EXECUTE_VALUE);
        token.executeHold(OP, 3);
        _expectReason(R_EXECUTE_VALUE);
        token.executeHoldAndKeepOpen(OP, 3);
        vm.stopPrank();
    }

    function test_reason_aHoldCanOnlyBeRenewedInStatusOrderedOrExecutedAndKeptOpen() public {
        _settledHolds();
        string[3] memory ids = ["nonexistent", "released", "executed"];
        for (uint256 i; i < ids.length; i++) {
            vm.startPrank(payer);
            _expectReason(R_RENEW_STATUS);
            token.renewHold(ids[i], ONE_DAY);
            _expectReason(R_RENEW_STATUS);
            token.renewHoldWithExpirationDate(ids[i], 0);
            vm.stopPrank();
        }
        // the reference suite renews the executed hold as its notary: the status is checked first
        vm.prank(notary);
        _expectReason(R_RENEW_STATUS);
        token.renewHold("executed", ONE_DAY);
    }

    function test_reason_anExpiredHoldCanNotBeRenewed() public {
        _hold(OP, 2, ONE_DAY);
        vm.warp(block.timestamp + ONE_DAY);
        vm.startPrank(payer);
        _expectReason(R_RENEW_EXPIRED);
        token.renewHold(OP, ONE_DAY);
        _expectReason(R_RENEW_EXPIRED);
        token.renewHoldWithExpirationDate(OP, 0);
        vm.stopPrank();
    }

    function test_reason_theHoldCanOnlyBeRenewedByTheIssuerOrThePayer() public {
        _hold(OP, 2, ONE_DAY);
        address[3] memory others = [notary, payee, stranger];
        for (uint256 i; i < others.length; i++) {
            vm.startPrank(others[i]);
            _expectReason(R_RENEW_CALLER);
            token.renewHold(OP, ONE_DAY);
            _expectReason(R_RENEW_CALLER);
            token.renewHoldWithExpirationDate(OP, 0);
            vm.stopPrank();
        }
    }

    function test_reason_theOperatorIsAlreadyAuthorized() public {
        // setUp authorized `operator` for both
        vm.startPrank(payer);
        _expectReason(R_ALREADY_AUTHORIZED);
        token.authorizeHoldOperator(operator);
        _expectReason(R_ALREADY_AUTHORIZED);
        token.authorizeClearableTransferOperator(operator);
        vm.stopPrank();
    }

    function test_reason_theOperatorIsAlreadyNotAuthorized() public {
        vm.startPrank(payer);
        _expectReason(R_NOT_AUTHORIZED);
        token.revokeHoldOperator(stranger);
        _expectReason(R_NOT_AUTHORIZED);
        token.revokeClearableTransferOperator(stranger);
        token.revokeHoldOperator(operator);
        token.revokeClearableTransferOperator(operator);
        _expectReason(R_NOT_AUTHORIZED);
        token.revokeHoldOperator(operator);
        _expectReason(R_NOT_AUTHORIZED);
        token.revokeClearableTransferOperator(operator);
        vm.stopPrank();
    }

    function test_reason_notEnoughAvailableBalance() public {
        _hold(OP, 1, ONE_DAY);
        vm.prank(payer);
        _expectReason(R_AVAILABLE);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, INITIAL);
        vm.prank(payer);
        token.approve(stranger, INITIAL);
        vm.prank(stranger);
        _expectReason(R_AVAILABLE);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, INITIAL);
        // a clearable order's funds are held the same way
        _order("order", INITIAL - 1);
        vm.prank(payer);
        _expectReason(R_AVAILABLE);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 1);
    }

    function test_reason_canOnlyBeProcessedByThePayer_cancel() public {
        _order(OP, 3);
        vm.prank(payer);
        _expectReason(R_CANCEL_CALLER);
        token.cancelTransfer("nonexistent");
        address[4] memory others = [payee, agent, operator, stranger];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            _expectReason(R_CANCEL_CALLER);
            token.cancelTransfer(OP);
        }
    }

    function test_reason_aTransferCanOnlyBeCancelledInStatusOrdered() public {
        _order("rejected", 1);
        _order("executed", 1);
        _order("in-process", 1);
        _order("cancelled", 1);
        vm.startPrank(agent);
        token.rejectClearableTransfer("rejected", "test");
        token.executeClearableTransfer("executed");
        token.processClearableTransfer("in-process");
        vm.stopPrank();
        vm.startPrank(payer);
        token.cancelTransfer("cancelled");
        string[4] memory ids = ["rejected", "executed", "in-process", "cancelled"];
        for (uint256 i; i < ids.length; i++) {
            _expectReason(R_CANCEL_STATUS);
            token.cancelTransfer(ids[i]);
        }
        // a plain hold of the payer is not a clearable transfer
        token.hold("plain", payee, notary, 1, 0);
        _expectReason(R_CANCEL_STATUS);
        token.cancelTransfer("plain");
        vm.stopPrank();
    }

    function test_reason_canOnlyBeProcessedByTheAgent() public {
        _order(OP, 3);
        address[4] memory others = [payer, payee, operator, admin];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            _expectReason(R_PROCESS_CALLER);
            token.processClearableTransfer(OP);
        }
    }

    function test_reason_aTransferCanOnlyBeProcessedInStatusOrdered() public {
        _clearablesInEveryStatus();
        string[5] memory ids = ["nonexistent", "rejected", "executed", "in-process", "cancelled"];
        for (uint256 i; i < ids.length; i++) {
            vm.prank(agent);
            _expectReason(R_PROCESS_STATUS);
            token.processClearableTransfer(ids[i]);
        }
    }

    function test_reason_canOnlyBeExecutedByTheAgent() public {
        _order(OP, 3);
        address[4] memory others = [payer, payee, operator, admin];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            _expectReason(R_CT_EXECUTE_CALLER);
            token.executeClearableTransfer(OP);
        }
    }

    function test_reason_aTransferCanOnlyBeExecutedInStatusOrderedOrInProcess() public {
        _clearablesInEveryStatus();
        string[4] memory ids = ["nonexistent", "rejected", "executed", "cancelled"];
        for (uint256 i; i < ids.length; i++) {
            vm.prank(agent);
            _expectReason(R_CT_EXECUTE_STATUS);
            token.executeClearableTransfer(ids[i]);
        }
    }

    function test_reason_canOnlyBeRejectedByTheAgent() public {
        _order(OP, 1);
        address[4] memory others = [payer, payee, operator, admin];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            _expectReason(R_REJECT_CALLER);
            token.rejectClearableTransfer(OP, "test");
        }
    }

    function test_reason_aTransferCanOnlyBeRejectedInStatusOrderedOrInProcess() public {
        _clearablesInEveryStatus();
        string[4] memory ids = ["nonexistent", "rejected", "executed", "cancelled"];
        for (uint256 i; i < ids.length; i++) {
            vm.prank(agent);
            _expectReason(R_REJECT_STATUS);
            token.rejectClearableTransfer(ids[i], "test");
        }
    }

    /// The reasons EmToken adds for its documented improvements (2 and 3), exact too; the
    /// attacks they stop are in Improvements.t.sol.
    function test_reason_improvementsAddTheirOwnReasons() public {
        _order(OP, 1);
        vm.prank(payee);
        _expectReason("Hold is backing a clearable transfer");
        token.releaseHold(OP);

        _hold("h", 1, ONE_DAY);
        vm.prank(payer);
        _expectReason("The payer can not renew a hold to expire sooner");
        token.renewHold("h", 1);
    }

    // =======================================================================================
    // Helpers
    // =======================================================================================

    /// @dev Exactly this `Error(string)` revert data, nothing more (the suites match on it).
    function _expectReason(string memory reason) internal {
        vm.expectRevert(abi.encodeWithSignature("Error(string)", reason));
    }

    function _secondAgent() internal returns (address otherAgent) {
        otherAgent = makeAddr("second agent");
        bytes32 role = token.CLEARING_AGENT_ROLE();
        vm.prank(admin);
        token.grantRole(role, otherAgent);
    }

    /// @dev "released" (by the notary) and "executed" holds; "nonexistent" is never created.
    function _settledHolds() internal {
        _hold("released", 1, ONE_DAY);
        _hold("executed", 2, ONE_DAY);
        vm.startPrank(notary);
        token.releaseHold("released");
        token.executeHold("executed", 2);
        vm.stopPrank();
    }

    /// @dev Clearable transfers "rejected", "executed", "in-process", "cancelled".
    function _clearablesInEveryStatus() internal {
        _order("rejected", 1);
        _order("executed", 1);
        _order("in-process", 1);
        _order("cancelled", 1);
        vm.startPrank(agent);
        token.rejectClearableTransfer("rejected", "test");
        token.executeClearableTransfer("executed");
        token.processClearableTransfer("in-process");
        vm.stopPrank();
        vm.prank(payer);
        token.cancelTransfer("cancelled");
    }

    // ---- the declaration: selector and compiled ABI -----------------------------------------

    /// @dev `selector` (the compiler's topic0) is the keccak of the reference's canonical
    /// signature, and the compiled ABI declares the event exactly as `declaration` (parameter
    /// names, types, order, indexed flags; not anonymous).
    function _assertDeclared(string memory signature, bytes32 selector, string memory declaration) internal {
        assertEq(selector, keccak256(bytes(signature)), string.concat("topic0 of ", signature));
        string memory name = _nameOf(signature);
        assertEq(_abiDeclaration(name), declaration, string.concat("ABI declaration of ", name));
    }

    function _artifact() internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), "/out/EmToken.sol/EmToken.json"));
    }

    /// @dev The compiled ABI is read in a call of its own with gas metering paused: the
    /// artifact's size (it changes with any contract change, and with the checkout's path) then
    /// weighs on neither the gas nor the memory of the test, so the gas snapshot stays put.
    function _abiEventNames() internal returns (string[] memory names) {
        vm.pauseGasMetering();
        names = this.abiEventNames();
        vm.resumeGasMetering();
    }

    /// @dev See {_abiEventNames}.
    function _abiDeclaration(string memory name) internal returns (string memory declaration) {
        vm.pauseGasMetering();
        uint256 found;
        (declaration, found) = this.abiDeclaration(name);
        vm.resumeGasMetering();
        assertEq(found, 1, string.concat("one event named ", name, " in the ABI"));
    }

    /// @dev The names of the events the compiled ABI declares (not a test: called by them).
    function abiEventNames() external view returns (string[] memory names) {
        string memory json = _artifact();
        string[] memory kinds = _strings(json, ".abi[*].type");
        uint256 n;
        for (uint256 i; i < kinds.length; i++) {
            if (_eq(kinds[i], "event")) n++;
        }
        names = new string[](n);
        n = 0;
        for (uint256 i; i < kinds.length; i++) {
            if (!_eq(kinds[i], "event")) continue;
            names[n++] = vm.parseJsonString(json, string.concat(".abi[", vm.toString(i), "].name"));
        }
    }

    /// @dev "Name(type [indexed ]name, ...)" as the compiled ABI declares the event `name`, and
    /// how many events of that name it declares (not a test: called by them).
    function abiDeclaration(string memory name) external view returns (string memory declaration, uint256 found) {
        string memory json = _artifact();
        string[] memory kinds = _strings(json, ".abi[*].type");
        for (uint256 i; i < kinds.length; i++) {
            if (!_eq(kinds[i], "event")) continue;
            string memory entry = string.concat(".abi[", vm.toString(i), "]");
            if (!_eq(vm.parseJsonString(json, string.concat(entry, ".name")), name)) continue;
            found++;
            if (vm.parseJsonBool(json, string.concat(entry, ".anonymous"))) declaration = "anonymous ";
            string[] memory names = _strings(json, string.concat(entry, ".inputs[*].name"));
            string[] memory types = _strings(json, string.concat(entry, ".inputs[*].type"));
            bool[] memory isIndexed = abi.decode(vm.parseJson(json, string.concat(entry, ".inputs[*].indexed")), (bool[]));
            declaration = string.concat(declaration, name, "(");
            for (uint256 j; j < names.length; j++) {
                string memory separator = j == 0 ? string("") : string(", ");
                string memory flag = isIndexed[j] ? string(" indexed ") : string(" ");
                declaration = string.concat(declaration, separator, types[j], flag, names[j]);
            }
            declaration = string.concat(declaration, ")");
        }
    }

    /// @dev The values a wildcard path matches (at least two), as strings.
    function _strings(string memory json, string memory path) internal pure returns (string[] memory) {
        return abi.decode(vm.parseJson(json, path), (string[]));
    }

    function _nameOf(string memory signature) internal pure returns (string memory) {
        bytes memory s = bytes(signature);
        uint256 n;
        while (s[n] != "(") n++;
        bytes memory name = new bytes(n);
        for (uint256 i; i < n; i++) {
            name[i] = s[i];
        }
        return string(name);
    }

    function _eq(string memory a, string memory b) internal pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }

    // ---- the logs: topic0, indexed topics, data ----------------------------------------------

    function _t(address a) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    /// @dev The one log with this signature's topic0 the token emitted.
    function _one(Vm.Log[] memory logs, string memory signature) internal view returns (Vm.Log memory log) {
        bytes32 topic0 = keccak256(bytes(signature));
        uint256 n;
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].emitter == address(token) && logs[i].topics.length != 0 && logs[i].topics[0] == topic0) {
                log = logs[i];
                n++;
            }
        }
        assertEq(n, 1, string.concat("exactly one ", signature));
    }

    function _none(Vm.Log[] memory logs, string memory signature) internal view {
        bytes32 topic0 = keccak256(bytes(signature));
        for (uint256 i; i < logs.length; i++) {
            if (logs[i].emitter == address(token) && logs[i].topics.length != 0) {
                assertTrue(logs[i].topics[0] != topic0, string.concat("no ", signature));
            }
        }
    }

    function _topics(Vm.Log memory log, bytes32[] memory expected, string memory what) internal pure {
        assertEq(log.topics.length, expected.length + 1, string.concat(what, ": indexed parameters"));
        for (uint256 i; i < expected.length; i++) {
            assertEq(log.topics[i + 1], expected[i], string.concat(what, ": indexed value"));
        }
    }

    function _two(address a, address b) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](2);
        (t[0], t[1]) = (_t(a), _t(b));
    }

    function _oneTopic(address a) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](1);
        t[0] = _t(a);
    }

    function _holdCreated(
        Vm.Log[] memory logs,
        address issuer,
        string memory id,
        address from,
        address to,
        address notary_,
        uint256 value,
        uint256 expiration
    ) internal view {
        Vm.Log memory l = _one(logs, SIG_HOLD_CREATED);
        _topics(l, _two(issuer, notary_), "HoldCreated(holdIssuer, notary)");
        assertEq(l.data, abi.encode(id, from, to, value, expiration), "HoldCreated data");
    }

    function _holdExecuted(
        Vm.Log[] memory logs,
        address issuer,
        string memory id,
        address notary_,
        uint256 heldValue,
        uint256 transferredValue
    ) internal view {
        Vm.Log memory l = _one(logs, SIG_HOLD_EXECUTED);
        _topics(l, _two(issuer, notary_), "HoldExecuted(holdIssuer, notary)");
        assertEq(l.data, abi.encode(id, heldValue, transferredValue), "HoldExecuted data");
    }

    function _holdKeptOpen(
        Vm.Log[] memory logs,
        address issuer,
        string memory id,
        address notary_,
        uint256 heldValue,
        uint256 transferredValue
    ) internal view {
        Vm.Log memory l = _one(logs, SIG_HOLD_KEPT_OPEN);
        _topics(l, _two(issuer, notary_), "HoldExecutedAndKeptOpen(holdIssuer, notary)");
        assertEq(l.data, abi.encode(id, heldValue, transferredValue), "HoldExecutedAndKeptOpen data");
    }

    function _holdReleased(Vm.Log[] memory logs, address issuer, string memory id, uint8 status) internal view {
        Vm.Log memory l = _one(logs, SIG_HOLD_RELEASED);
        _topics(l, _oneTopic(issuer), "HoldReleased(holdIssuer)");
        assertEq(l.data, abi.encode(id, status), "HoldReleased data");
    }

    function _holdRenewed(
        Vm.Log[] memory logs,
        address issuer,
        string memory id,
        uint256 oldExpiration,
        uint256 newExpiration
    ) internal view {
        Vm.Log memory l = _one(logs, SIG_HOLD_RENEWED);
        _topics(l, _oneTopic(issuer), "HoldRenewed(holdIssuer)");
        assertEq(l.data, abi.encode(id, oldExpiration, newExpiration), "HoldRenewed data");
    }

    function _operatorEvent(Vm.Log[] memory logs, string memory signature, address operator_, address account)
        internal
        view
    {
        Vm.Log memory l = _one(logs, signature);
        _topics(l, _two(operator_, account), string.concat(signature, "(operator, account)"));
        assertEq(l.data.length, 0, string.concat(signature, ": no data"));
    }

    function _ordered(Vm.Log[] memory logs, address orderer, string memory id, address from, address to, uint256 value)
        internal
        view
    {
        Vm.Log memory l = _one(logs, SIG_CT_ORDERED);
        bytes32[] memory t = new bytes32[](3);
        (t[0], t[1], t[2]) = (_t(orderer), _t(from), _t(to));
        _topics(l, t, "ClearableTransferOrdered(orderer, from, to)");
        assertEq(l.data, abi.encode(id, value), "ClearableTransferOrdered data");
    }

    /// @dev InProcess, Executed, Cancelled: (address indexed orderer, string operationId).
    function _clearableStep(Vm.Log[] memory logs, string memory signature, address orderer, string memory id)
        internal
        view
    {
        Vm.Log memory l = _one(logs, signature);
        _topics(l, _oneTopic(orderer), string.concat(signature, "(orderer)"));
        assertEq(l.data, abi.encode(id), string.concat(signature, " data"));
    }

    function _rejected(Vm.Log[] memory logs, address orderer, string memory id, string memory reason) internal view {
        Vm.Log memory l = _one(logs, SIG_CT_REJECTED);
        _topics(l, _oneTopic(orderer), "ClearableTransferRejected(orderer)");
        assertEq(l.data, abi.encode(id, reason), "ClearableTransferRejected data");
    }
}
