// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @dev EIP-1996 holds: creation (4 variants), execution, release, renewal, operators, views.
contract HoldableTest is EmTokenTestBase {
    // ---- creation: the four variants through one dispatcher ------------------------------

    uint8 internal constant HOLD = 0;
    uint8 internal constant HOLD_FROM = 1;
    uint8 internal constant HOLD_WITH_DATE = 2;
    uint8 internal constant HOLD_FROM_WITH_DATE = 3;

    function setUp() public override {
        super.setUp();
        vm.prank(payer);
        token.authorizeHoldOperator(operator);
    }

    /// @dev Creates a hold with variant `kind`; `expiration` is absolute (0 = perpetual). The
    /// caller is `from` for hold/holdWithExpirationDate and `operator` for the From variants.
    function _create(uint8 kind, string memory id, address from, address to, address n, uint256 v, uint256 expiration)
        internal
    {
        uint256 ttl = expiration == 0 ? 0 : expiration - block.timestamp;
        if (kind == HOLD) {
            vm.prank(from);
            token.hold(id, to, n, v, ttl);
        } else if (kind == HOLD_FROM) {
            vm.prank(operator);
            token.holdFrom(id, from, to, n, v, ttl);
        } else if (kind == HOLD_WITH_DATE) {
            vm.prank(from);
            token.holdWithExpirationDate(id, to, n, v, expiration);
        } else {
            vm.prank(operator);
            token.holdFromWithExpirationDate(id, from, to, n, v, expiration);
        }
    }

    function test_create_allVariants_emitHoldCreatedAndHoldFunds() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            string memory id = string.concat("h", vm.toString(kind));
            uint256 expiration = kind % 2 == 0 ? block.timestamp + ONE_DAY : 0;
            address issuer = (kind == HOLD || kind == HOLD_WITH_DATE) ? payer : operator;
            uint256 heldBefore = token.balanceOnHold(payer);

            vm.expectEmit(address(token));
            emit IHoldable.HoldCreated(issuer, id, payer, payee, notary, 10, expiration);
            _create(kind, id, payer, payee, notary, 10, expiration);

            (address f, address t, address n, uint256 v, uint256 e, IHoldable.HoldStatusCode s) =
                token.retrieveHoldData(id);
            assertEq(f, payer);
            assertEq(t, payee);
            assertEq(n, notary);
            assertEq(v, 10);
            assertEq(e, expiration);
            assertEq(uint8(s), H_ORDERED);
            assertEq(token.balanceOnHold(payer), heldBefore + 10);
        }
        assertEq(token.totalSupplyOnHold(), 40);
        assertEq(token.balanceOf(payer), INITIAL - 40);
        assertEq(token.netBalanceOf(payer), INITIAL);
        assertEq(token.totalSupply(), INITIAL);
        _assertBooks(payer);
    }

    function test_create_returnsTrue() public {
        vm.startPrank(payer);
        assertTrue(token.hold("a", payee, notary, 1, 0));
        assertTrue(token.holdWithExpirationDate("b", payee, notary, 1, 0));
        vm.stopPrank();
        vm.startPrank(operator);
        assertTrue(token.holdFrom("c", payer, payee, notary, 1, 0));
        assertTrue(token.holdFromWithExpirationDate("d", payer, payee, notary, 1, 0));
        vm.stopPrank();
    }

    function test_create_revertsOnEmptyOperationId() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("Operation ID must not be empty");
            _create(kind, "", payer, payee, notary, 1, 0);
        }
    }

    function test_create_revertsOnZeroValue() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("Value must be greater than zero");
            _create(kind, OP, payer, payee, notary, 0, 0);
        }
    }

    function test_create_revertsOnExistingOperationId() public {
        _hold(OP, 1, 0);
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("This operationId already exists");
            _create(kind, OP, payer, payee, notary, 1, 0);
        }
    }

    function test_create_revertsOnReusedIdAfterRelease() public {
        _hold(OP, 1, 0);
        vm.prank(notary);
        token.releaseHold(OP);
        vm.expectRevert("This operationId already exists");
        _hold(OP, 1, 0);
    }

    function test_create_revertsOnReusedIdAfterExecution() public {
        _hold(OP, 1, 0);
        vm.prank(notary);
        token.executeHold(OP, 1);
        vm.expectRevert("This operationId already exists");
        _hold(OP, 1, 0);
    }

    function test_create_revertsOnZeroPayee() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("Payee address must not be zero address");
            _create(kind, OP, payer, address(0), notary, 1, 0);
        }
    }

    function test_create_revertsOnZeroNotary() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("Notary address must not be zero address");
            _create(kind, OP, payer, payee, address(0), 1, 0);
        }
    }

    function test_create_revertsOnValueAboveAvailableBalance() public {
        for (uint8 kind = 0; kind < 4; kind++) {
            vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
            _create(kind, OP, payer, payee, notary, INITIAL + 1, 0);
        }
        // Held funds are not available for another hold.
        _hold("first", INITIAL, 0);
        vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
        _hold(OP, 1, 0);
    }

    function test_create_allowsExactlyTheAvailableBalance() public {
        _hold(OP, INITIAL, 0);
        assertEq(token.balanceOf(payer), 0);
        assertEq(token.balanceOnHold(payer), INITIAL);
    }

    function test_holdFrom_revertsOnZeroPayer() public {
        vm.expectRevert("Payer address must not be zero address");
        _create(HOLD_FROM, OP, address(0), payee, notary, 1, 0);
        vm.expectRevert("Payer address must not be zero address");
        _create(HOLD_FROM_WITH_DATE, OP, address(0), payee, notary, 1, 0);
    }

    function test_holdFrom_revertsOnUnauthorizedOperator() public {
        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        token.holdFrom(OP, payer, payee, notary, 1, 0);
        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, 0);
    }

    function test_holdWithExpirationDate_revertsOnPastOrCurrentExpiration() public {
        for (uint8 kind = 2; kind < 4; kind++) {
            // now is not in the future
            uint256 nowTs = block.timestamp;
            if (kind == HOLD_WITH_DATE) {
                vm.prank(payer);
                vm.expectRevert("Expiration date must be greater than block timestamp or zero");
                token.holdWithExpirationDate(OP, payee, notary, 1, nowTs);
                vm.prank(payer);
                vm.expectRevert("Expiration date must be greater than block timestamp or zero");
                token.holdWithExpirationDate(OP, payee, notary, 1, 1);
            } else {
                vm.prank(operator);
                vm.expectRevert("Expiration date must be greater than block timestamp or zero");
                token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, nowTs);
            }
        }
    }

    function test_hold_timeToExpirationIsRelativeToBlockTime() public {
        _hold(OP, 1, 3600);
        assertEq(_holdExpiration(OP), block.timestamp + 3600);
    }

    // ---- execution ------------------------------------------------------------------------

    function test_executeHold_full() public {
        _hold(OP, 100, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, notary, 100, 100);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, payee, 100);
        vm.prank(notary);
        assertTrue(token.executeHold(OP, 100));

        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.totalSupplyOnHold(), 0);
        assertEq(token.netBalanceOf(payer), INITIAL - 100);
        assertEq(token.balanceOf(payee), 100);
        _assertBooks(payer);
    }

    function test_executeHold_partialFreesTheRemainder() public {
        _hold(OP, 100, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, notary, 100, 30);
        vm.prank(notary);
        token.executeHold(OP, 30);

        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payer), INITIAL - 30);
        assertEq(token.balanceOf(payee), 30);
        vm.prank(notary);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.executeHold(OP, 1);
    }

    function test_executeHoldAndKeepOpen_thenFullExecute() public {
        _hold(OP, 100, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecutedAndKeptOpen(payer, OP, notary, 60, 40); // heldValue: what stays held
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, payee, 40);
        vm.prank(notary);
        assertTrue(token.executeHoldAndKeepOpen(OP, 40));

        assertEq(_holdStatus(OP), H_KEPT_OPEN);
        assertEq(_holdValue(OP), 60);
        assertEq(token.balanceOnHold(payer), 60);
        assertEq(token.balanceOf(payee), 40);
        _assertBooks(payer);

        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, notary, 60, 60);
        vm.prank(notary);
        token.executeHold(OP, 60);
        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payee), 100);
        assertEq(token.netBalanceOf(payer), INITIAL - 100);
    }

    function test_executeHoldAndKeepOpen_repeatedThenWholeRemainderCloses() public {
        _hold(OP, 100, 0);
        vm.startPrank(notary);
        token.executeHoldAndKeepOpen(OP, 10);
        token.executeHoldAndKeepOpen(OP, 20);
        assertEq(_holdValue(OP), 70);
        // Keep-open with the whole remaining value closes the hold, as the reference does.
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, notary, 70, 70);
        token.executeHoldAndKeepOpen(OP, 70);
        vm.stopPrank();
        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payee), 100);
        vm.prank(notary);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.executeHoldAndKeepOpen(OP, 1);
    }

    function test_executeHoldAndKeepOpen_thenPartialExecuteFreesRemainder() public {
        _hold(OP, 100, 0);
        vm.startPrank(notary);
        token.executeHoldAndKeepOpen(OP, 10);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(payer, OP, notary, 90, 5);
        token.executeHold(OP, 5);
        vm.stopPrank();
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payer), INITIAL - 15);
    }

    function test_execute_revertsOnNonexistentHold() public {
        vm.prank(notary);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.executeHold("nope", 1);
        vm.prank(notary);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.executeHoldAndKeepOpen("nope", 1);
    }

    function test_execute_revertsOnZeroValue() public {
        _hold(OP, 10, 0);
        vm.prank(notary);
        vm.expectRevert("Value must be greater than zero");
        token.executeHold(OP, 0);
        vm.prank(notary);
        vm.expectRevert("Value must be greater than zero");
        token.executeHoldAndKeepOpen(OP, 0);
    }

    function test_execute_revertsIfNotNotary() public {
        _hold(OP, 10, 0);
        address[3] memory others = [payer, payee, platform];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            vm.expectRevert("The hold can only be executed by the notary");
            token.executeHold(OP, 1);
            vm.prank(others[i]);
            vm.expectRevert("The hold can only be executed by the notary");
            token.executeHoldAndKeepOpen(OP, 1);
        }
    }

    function test_execute_revertsAboveHeldValue() public {
        _hold(OP, 10, 0);
        vm.prank(notary);
        vm.expectRevert("The value should be equal or less than the held amount");
        token.executeHold(OP, 11);
        vm.prank(notary);
        vm.expectRevert("The value should be equal or less than the held amount");
        token.executeHoldAndKeepOpen(OP, 11);
    }

    function test_execute_expiryBoundary() public {
        _hold(OP, 10, ONE_DAY);
        uint256 expiration = _holdExpiration(OP);

        vm.warp(expiration - 1);
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, 1); // still executable one second before

        vm.warp(expiration);
        vm.prank(notary);
        vm.expectRevert("The hold has already expired");
        token.executeHold(OP, 1);
        vm.prank(notary);
        vm.expectRevert("The hold has already expired");
        token.executeHoldAndKeepOpen(OP, 1);
    }

    function test_execute_perpetualNeverExpires() public {
        _hold(OP, 10, 0);
        vm.warp(block.timestamp + 100 * 365 days);
        vm.prank(notary);
        token.executeHold(OP, 10);
        assertEq(_holdStatus(OP), H_EXECUTED);
    }

    // ---- release --------------------------------------------------------------------------

    function test_release_byNotary() public {
        _hold(OP, 10, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_BY_NOTARY);
        vm.prank(notary);
        assertTrue(token.releaseHold(OP));
        assertEq(_holdStatus(OP), H_RELEASED_BY_NOTARY);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.totalSupplyOnHold(), 0);
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function test_release_byPayee() public {
        _hold(OP, 10, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_BY_PAYEE);
        vm.prank(payee);
        token.releaseHold(OP);
        assertEq(_holdStatus(OP), H_RELEASED_BY_PAYEE);
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function test_release_expiryBoundary() public {
        _hold(OP, 10, ONE_DAY);
        uint256 expiration = _holdExpiration(OP);

        vm.warp(expiration - 1);
        vm.prank(payer);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        token.releaseHold(OP);
        vm.prank(stranger);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        token.releaseHold(OP);

        vm.warp(expiration);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_ON_EXPIRATION);
        vm.prank(stranger);
        token.releaseHold(OP);
        assertEq(_holdStatus(OP), H_RELEASED_ON_EXPIRATION);
        assertEq(token.balanceOf(payer), INITIAL);
    }

    function test_release_byNotaryAfterExpiryIsReleasedOnExpiration() public {
        _hold(OP, 10, ONE_DAY);
        vm.warp(block.timestamp + ONE_DAY);
        vm.prank(notary);
        token.releaseHold(OP);
        assertEq(_holdStatus(OP), H_RELEASED_ON_EXPIRATION);
    }

    function test_release_perpetualCannotBeReleasedByPayer() public {
        _hold(OP, 10, 0);
        vm.warp(block.timestamp + 100 * 365 days);
        vm.prank(payer);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        token.releaseHold(OP);
    }

    function test_release_keptOpenReleasesTheRemainder() public {
        _hold(OP, 100, 0);
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, 30);
        vm.expectEmit(address(token));
        emit IHoldable.HoldReleased(payer, OP, H_RELEASED_BY_PAYEE);
        vm.prank(payee);
        token.releaseHold(OP);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payer), INITIAL - 30);
        assertEq(token.balanceOf(payee), 30);
    }

    function test_release_revertsOnNonexistentOrSettledHold() public {
        vm.prank(notary);
        vm.expectRevert("A hold can only be released in status Ordered or ExecutedAndKeptOpen");
        token.releaseHold("nope");

        _hold(OP, 10, 0);
        vm.prank(notary);
        token.releaseHold(OP);
        vm.prank(notary);
        vm.expectRevert("A hold can only be released in status Ordered or ExecutedAndKeptOpen");
        token.releaseHold(OP);
    }

    // ---- renewal --------------------------------------------------------------------------

    function test_renewHold_byPayerExtends() public {
        _hold(OP, 10, ONE_DAY);
        uint256 old = _holdExpiration(OP);
        vm.expectEmit(address(token));
        emit IHoldable.HoldRenewed(payer, OP, old, block.timestamp + 2 * ONE_DAY);
        vm.prank(payer);
        assertTrue(token.renewHold(OP, 2 * ONE_DAY));
        assertEq(_holdExpiration(OP), block.timestamp + 2 * ONE_DAY);
        assertEq(token.balanceOnHold(payer), 10);
        assertEq(_holdStatus(OP), H_ORDERED);
    }

    function test_renewHold_toPerpetualAndBack() public {
        _holdByOperator(OP, 10, ONE_DAY);
        uint256 old = _holdExpiration(OP);
        // payer: expiring -> perpetual (an extension) is allowed
        vm.expectEmit(address(token));
        emit IHoldable.HoldRenewed(operator, OP, old, 0);
        vm.prank(payer);
        token.renewHold(OP, 0);
        assertEq(_holdExpiration(OP), 0);
        // issuer: perpetual -> expiring is allowed
        vm.expectEmit(address(token));
        emit IHoldable.HoldRenewed(operator, OP, 0, block.timestamp + 60);
        vm.prank(operator);
        token.renewHold(OP, 60);
        assertEq(_holdExpiration(OP), block.timestamp + 60);
    }

    function test_renewHoldWithExpirationDate() public {
        _holdByOperator(OP, 10, ONE_DAY);
        uint256 old = _holdExpiration(OP);
        uint256 later = block.timestamp + 7 * ONE_DAY;
        vm.expectEmit(address(token));
        emit IHoldable.HoldRenewed(operator, OP, old, later);
        vm.prank(payer);
        assertTrue(token.renewHoldWithExpirationDate(OP, later));
        assertEq(_holdExpiration(OP), later);

        vm.prank(operator);
        token.renewHoldWithExpirationDate(OP, 0);
        assertEq(_holdExpiration(OP), 0);
        vm.prank(operator);
        token.renewHoldWithExpirationDate(OP, block.timestamp + 1);
        assertEq(_holdExpiration(OP), block.timestamp + 1);
    }

    function test_renewHoldWithExpirationDate_revertsOnPastDate() public {
        _hold(OP, 10, ONE_DAY);
        vm.prank(payer);
        vm.expectRevert("Expiration date must be greater than block timestamp or zero");
        token.renewHoldWithExpirationDate(OP, block.timestamp);
    }

    function test_renew_revertsOnNonexistentOrSettledHold() public {
        vm.prank(payer);
        vm.expectRevert("A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
        token.renewHold("nope", ONE_DAY);
        vm.prank(payer);
        vm.expectRevert("A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
        token.renewHoldWithExpirationDate("nope", 0);

        _hold(OP, 10, ONE_DAY);
        vm.prank(notary);
        token.executeHold(OP, 10);
        vm.prank(payer);
        vm.expectRevert("A hold can only be renewed in status Ordered or ExecutedAndKeptOpen");
        token.renewHold(OP, ONE_DAY);
    }

    function test_renew_keptOpenHoldCanBeRenewed() public {
        _hold(OP, 10, ONE_DAY);
        vm.prank(notary);
        token.executeHoldAndKeepOpen(OP, 1);
        vm.prank(payer);
        token.renewHold(OP, 2 * ONE_DAY);
        assertEq(_holdExpiration(OP), block.timestamp + 2 * ONE_DAY);
        assertEq(_holdStatus(OP), H_KEPT_OPEN);
    }

    function test_renew_expiryBoundary() public {
        _hold(OP, 10, ONE_DAY);
        uint256 expiration = _holdExpiration(OP);
        vm.warp(expiration - 1);
        vm.prank(payer);
        token.renewHold(OP, ONE_DAY);

        vm.warp(_holdExpiration(OP));
        vm.prank(payer);
        vm.expectRevert("An expired hold can not be renewed");
        token.renewHold(OP, ONE_DAY);
        vm.prank(payer);
        vm.expectRevert("An expired hold can not be renewed");
        token.renewHoldWithExpirationDate(OP, 0);
    }

    function test_renew_revertsIfNotIssuerOrPayer() public {
        _hold(OP, 10, ONE_DAY);
        address[3] memory others = [notary, payee, stranger];
        for (uint256 i; i < others.length; i++) {
            vm.prank(others[i]);
            vm.expectRevert("The hold can only be renewed by the issuer or the payer");
            token.renewHold(OP, 2 * ONE_DAY);
            vm.prank(others[i]);
            vm.expectRevert("The hold can only be renewed by the issuer or the payer");
            token.renewHoldWithExpirationDate(OP, 0);
        }
    }

    // ---- operators ------------------------------------------------------------------------

    function test_holdOperator_authorizeAndRevoke() public {
        assertFalse(token.isHoldOperatorFor(stranger, payer));
        vm.expectEmit(address(token));
        emit IHoldable.HoldOperatorAuthorized(stranger, payer);
        vm.prank(payer);
        assertTrue(token.authorizeHoldOperator(stranger));
        assertTrue(token.isHoldOperatorFor(stranger, payer));
        assertFalse(token.isHoldOperatorFor(stranger, payee));

        vm.prank(payer);
        vm.expectRevert("The operator is already authorized");
        token.authorizeHoldOperator(stranger);

        vm.expectEmit(address(token));
        emit IHoldable.RevokedHoldOperator(stranger, payer);
        vm.prank(payer);
        assertTrue(token.revokeHoldOperator(stranger));
        assertFalse(token.isHoldOperatorFor(stranger, payer));

        vm.prank(payer);
        vm.expectRevert("The operator is already not authorized");
        token.revokeHoldOperator(stranger);

        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        token.holdFrom(OP, payer, payee, notary, 1, 0);
    }

    function test_defaultOperator_isOperatorForEveryone() public {
        assertTrue(token.isHoldOperatorFor(platform, payer));
        assertTrue(token.isHoldOperatorFor(platform, stranger));
        vm.expectEmit(address(token));
        emit IHoldable.HoldCreated(platform, OP, payer, payee, notary, 5, 0);
        vm.prank(platform);
        token.holdFrom(OP, payer, payee, notary, 5, 0);
        vm.prank(platform);
        token.holdFromWithExpirationDate("op-2", payer, payee, notary, 5, block.timestamp + 10);
        assertEq(token.balanceOnHold(payer), 10);
    }

    function test_defaultOperator_followsTheRole() public {
        bytes32 role = token.OPERATOR_ROLE();
        vm.prank(admin);
        token.grantRole(role, stranger);
        assertTrue(token.isHoldOperatorFor(stranger, payer));
        vm.prank(admin);
        token.revokeRole(role, platform);
        assertFalse(token.isHoldOperatorFor(platform, payer));
        vm.prank(platform);
        vm.expectRevert("This operator is not authorized");
        token.holdFrom(OP, payer, payee, notary, 1, 0);
    }

    // ---- views / ERC-20 interplay ---------------------------------------------------------

    function test_transfer_onlyMovesAvailableFunds() public {
        _hold(OP, 600, 0);
        vm.prank(payer);
        vm.expectRevert("Not enough available balance");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 401);
        vm.prank(payer);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 400);
        assertEq(token.balanceOf(payer), 0);
        assertEq(token.netBalanceOf(payer), 600);
        _assertBooks(payer);
    }

    function test_transferFrom_onlyMovesAvailableFunds() public {
        _hold(OP, 600, 0);
        vm.prank(payer);
        token.approve(stranger, INITIAL);
        vm.prank(stranger);
        vm.expectRevert("Not enough available balance");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 401);
        vm.prank(stranger);
        assertTrue(token.transferFrom(payer, payee, 400));
        assertEq(token.balanceOf(payee), 400);
        assertEq(token.allowance(payer, stranger), INITIAL - 400);
    }

    function test_retrieveHoldData_unknownIdIsEmpty() public view {
        (address f, address t, address n, uint256 v, uint256 e, IHoldable.HoldStatusCode s) =
            token.retrieveHoldData("nope");
        assertEq(f, address(0));
        assertEq(t, address(0));
        assertEq(n, address(0));
        assertEq(v, 0);
        assertEq(e, 0);
        assertEq(uint8(s), H_NONEXISTENT);
    }

    function test_holdToSelfAndNotaryIsPayer() public {
        // The payer may be its own payee and notary; books stay consistent.
        vm.prank(payer);
        token.hold(OP, payer, payer, 10, 0);
        vm.prank(payer);
        token.executeHold(OP, 4);
        assertEq(token.netBalanceOf(payer), INITIAL);
        assertEq(token.balanceOf(payer), INITIAL);
        _assertBooks(payer);
    }
}
