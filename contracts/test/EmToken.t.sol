// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {EmToken} from "../src/EmToken.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @dev Metadata, roles, issuer side (mint/burn/burnHeld/operatorTransfer), pause and freeze.
contract EmTokenTest is EmTokenTestBase {
    function _expectUnauthorized(address who, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, who, role));
    }

    // ---- deployment -----------------------------------------------------------------------

    function test_metadata() public view {
        assertEq(token.name(), "Euro e-money");
        assertEq(token.symbol(), "EURE");
        assertEq(token.decimals(), 2);
        assertEq(token.currency(), "EUR");
        assertEq(token.version(), "1.0.0");
        assertEq(token.totalSupply(), INITIAL);
    }

    function test_decimalsChosenAtDeploy() public {
        EmToken t = new EmToken("Yen", "JPYE", 0, "JPY", admin, platform);
        assertEq(t.decimals(), 0);
        assertEq(t.currency(), "JPY");
    }

    function test_constructor_revertsOnZeroAddresses() public {
        vm.expectRevert("Admin address must not be zero address");
        new EmToken("n", "s", 2, "EUR", address(0), platform);
        vm.expectRevert("Platform address must not be zero address");
        new EmToken("n", "s", 2, "EUR", admin, address(0));
    }

    function test_roles() public view {
        assertEq(token.MINTER_ROLE(), keccak256("MINTER_ROLE"));
        assertEq(token.BURNER_ROLE(), keccak256("BURNER_ROLE"));
        assertEq(token.OPERATOR_ROLE(), keccak256("OPERATOR_ROLE"));
        assertEq(token.CLEARING_AGENT_ROLE(), keccak256("CLEARING_AGENT_ROLE"));
        assertEq(token.PAUSER_ROLE(), keccak256("PAUSER_ROLE"));
        assertEq(token.COMPLIANCE_ROLE(), keccak256("COMPLIANCE_ROLE"));

        assertTrue(token.hasRole(token.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(token.hasRole(token.PAUSER_ROLE(), admin));
        assertTrue(token.hasRole(token.COMPLIANCE_ROLE(), admin));
        assertFalse(token.hasRole(token.MINTER_ROLE(), admin));

        assertTrue(token.hasRole(token.MINTER_ROLE(), platform));
        assertTrue(token.hasRole(token.BURNER_ROLE(), platform));
        assertTrue(token.hasRole(token.OPERATOR_ROLE(), platform));
        assertTrue(token.hasRole(token.CLEARING_AGENT_ROLE(), platform));
        assertFalse(token.hasRole(token.DEFAULT_ADMIN_ROLE(), platform));
        assertFalse(token.hasRole(token.PAUSER_ROLE(), platform));
    }

    // ---- ERC-20 ---------------------------------------------------------------------------

    function test_transfer_andApprove() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, payee, 10);
        vm.prank(payer);
        assertTrue(token.transfer(payee, 10));
        assertEq(token.balanceOf(payee), 10);

        vm.prank(payer);
        assertTrue(token.approve(stranger, 5));
        assertEq(token.allowance(payer, stranger), 5);
        vm.prank(stranger);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 5);
        assertEq(token.balanceOf(payee), 15);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, stranger, 0, 1));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 1);
    }

    // ---- mint / burn ----------------------------------------------------------------------

    function test_mint_emitsTransferAndMinted() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(0), payee, 50);
        vm.expectEmit(address(token));
        emit EmToken.Minted("cash-in-1", payee, 50);
        vm.prank(platform);
        token.mint("cash-in-1", payee, 50);
        assertEq(token.balanceOf(payee), 50);
        assertEq(token.totalSupply(), INITIAL + 50);
    }

    function test_mint_reverts() public {
        vm.prank(stranger);
        _expectUnauthorized(stranger, keccak256("MINTER_ROLE"));
        token.mint(OP, payee, 1);
        vm.startPrank(platform);
        vm.expectRevert("Operation ID must not be empty");
        token.mint("", payee, 1);
        vm.expectRevert("Value must be greater than zero");
        token.mint(OP, payee, 0);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        token.mint(OP, address(0), 1);
        vm.stopPrank();
    }

    function test_burn_emitsTransferAndBurned() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, address(0), 40);
        vm.expectEmit(address(token));
        emit EmToken.Burned("cash-out-1", payer, 40);
        vm.prank(platform);
        token.burn("cash-out-1", payer, 40);
        assertEq(token.balanceOf(payer), INITIAL - 40);
        assertEq(token.totalSupply(), INITIAL - 40);
    }

    function test_burn_onlyAvailableFunds() public {
        _hold(OP, 900, 0);
        vm.prank(platform);
        vm.expectRevert("Not enough available balance");
        token.burn("b", payer, 101);
        vm.prank(platform);
        token.burn("b", payer, 100);
        assertEq(token.netBalanceOf(payer), 900);
        assertEq(token.balanceOf(payer), 0);
    }

    function test_burn_reverts() public {
        vm.prank(stranger);
        _expectUnauthorized(stranger, keccak256("BURNER_ROLE"));
        token.burn(OP, payer, 1);
        vm.startPrank(platform);
        vm.expectRevert("Operation ID must not be empty");
        token.burn("", payer, 1);
        vm.expectRevert("Value must be greater than zero");
        token.burn(OP, payer, 0);
        vm.expectRevert("Not enough available balance");
        token.burn(OP, payer, INITIAL + 1);
        vm.stopPrank();
    }

    // ---- burnHeld -------------------------------------------------------------------------

    /// @dev Cash-out: the platform holds the payer's funds with itself as notary, then burns.
    function _cashOutHold(string memory id, uint256 value, uint256 ttl) internal {
        vm.prank(platform);
        token.holdFrom(id, payer, platform, platform, value, ttl);
    }

    function test_burnHeld_full() public {
        _cashOutHold(OP, 300, ONE_DAY);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(platform, OP, platform, 300, 300);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, address(0), 300);
        vm.expectEmit(address(token));
        emit EmToken.Burned(OP, payer, 300);
        vm.prank(platform);
        token.burnHeld(OP, 300);
        assertEq(_holdStatus(OP), H_EXECUTED);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.totalSupplyOnHold(), 0);
        assertEq(token.netBalanceOf(payer), INITIAL - 300);
        assertEq(token.totalSupply(), INITIAL - 300);
        assertEq(token.balanceOf(platform), 0);
    }

    function test_burnHeld_partialFreesRemainder() public {
        _cashOutHold(OP, 300, 0);
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(platform, OP, platform, 300, 120);
        vm.prank(platform);
        token.burnHeld(OP, 120);
        assertEq(token.balanceOnHold(payer), 0);
        assertEq(token.balanceOf(payer), INITIAL - 120);
        assertEq(_holdStatus(OP), H_EXECUTED);
    }

    function test_burnHeld_afterKeepOpen() public {
        _cashOutHold(OP, 300, 0);
        vm.prank(platform);
        token.executeHoldAndKeepOpen(OP, 100); // pays 100 to the platform
        vm.expectEmit(address(token));
        emit IHoldable.HoldExecuted(platform, OP, platform, 200, 200);
        vm.prank(platform);
        token.burnHeld(OP, 200);
        assertEq(token.totalSupply(), INITIAL - 200);
        assertEq(token.balanceOf(platform), 100);
    }

    function test_burnHeld_reverts() public {
        vm.prank(stranger);
        _expectUnauthorized(stranger, keccak256("BURNER_ROLE"));
        token.burnHeld(OP, 1);

        vm.prank(platform);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.burnHeld("nope", 1);

        // burner but not the notary
        _hold(OP, 10, ONE_DAY);
        vm.prank(platform);
        vm.expectRevert("The hold can only be executed by the notary");
        token.burnHeld(OP, 1);

        _cashOutHold("c", 10, ONE_DAY);
        vm.startPrank(platform);
        vm.expectRevert("Value must be greater than zero");
        token.burnHeld("c", 0);
        vm.expectRevert("The value should be equal or less than the held amount");
        token.burnHeld("c", 11);
        vm.warp(block.timestamp + ONE_DAY);
        vm.expectRevert("The hold has already expired");
        token.burnHeld("c", 1);
        vm.stopPrank();

        // clearable-backed hold
        _order("clr", 10);
        vm.prank(platform);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.burnHeld("nope2", 1);
        vm.prank(platform);
        vm.expectRevert("Hold is backing a clearable transfer");
        token.burnHeld("clr", 1);

        // settled hold
        _cashOutHold("d", 10, 0);
        vm.startPrank(platform);
        token.burnHeld("d", 10);
        vm.expectRevert("A hold can only be executed in status Ordered or ExecutedAndKeptOpen");
        token.burnHeld("d", 1);
        vm.stopPrank();
    }

    function test_burnHeld_expiryBoundary() public {
        _cashOutHold(OP, 10, ONE_DAY);
        uint256 expiration = _holdExpiration(OP);
        vm.warp(expiration - 1);
        vm.prank(platform);
        token.burnHeld(OP, 10);
        assertEq(token.totalSupply(), INITIAL - 10);
    }

    // ---- operatorTransfer -----------------------------------------------------------------

    function test_operatorTransfer_emitsTransferAndOperatorTransfer() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(payer, payee, 25);
        vm.expectEmit(address(token));
        emit EmToken.OperatorTransfer("tx-1", platform, payer, payee, 25);
        vm.prank(platform);
        token.operatorTransfer("tx-1", payer, payee, 25);
        assertEq(token.balanceOf(payee), 25);
    }

    function test_operatorTransfer_reverts() public {
        vm.prank(stranger);
        _expectUnauthorized(stranger, keccak256("OPERATOR_ROLE"));
        token.operatorTransfer(OP, payer, payee, 1);
        // an explicitly authorized hold operator is not a default operator
        vm.prank(payer);
        token.authorizeHoldOperator(stranger);
        vm.prank(stranger);
        _expectUnauthorized(stranger, keccak256("OPERATOR_ROLE"));
        token.operatorTransfer(OP, payer, payee, 1);

        vm.prank(platform);
        vm.expectRevert("Operation ID must not be empty");
        token.operatorTransfer("", payer, payee, 1);

        _hold("h", 990, 0);
        vm.prank(platform);
        vm.expectRevert("Not enough available balance");
        token.operatorTransfer(OP, payer, payee, 11);
    }

    // ---- pause ----------------------------------------------------------------------------

    function test_pause_onlyPauser() public {
        vm.prank(platform);
        _expectUnauthorized(platform, keccak256("PAUSER_ROLE"));
        token.pause();
        vm.expectEmit(address(token));
        emit Pausable.Paused(admin);
        vm.prank(admin);
        token.pause();
        assertTrue(token.paused());
        vm.prank(admin);
        vm.expectRevert("Pausable: paused");
        token.pause();
        vm.prank(platform);
        _expectUnauthorized(platform, keccak256("PAUSER_ROLE"));
        token.unpause();
        vm.expectEmit(address(token));
        emit Pausable.Unpaused(admin);
        vm.prank(admin);
        token.unpause();
        assertFalse(token.paused());
        vm.prank(admin);
        vm.expectRevert(Pausable.ExpectedPause.selector);
        token.unpause();
    }

    function test_pause_blocksEveryBalanceChange() public {
        _hold("h", 10, ONE_DAY);
        vm.prank(platform);
        token.holdFrom("cash", payer, platform, platform, 10, 0);
        _order("clr", 10);
        _order("clr2", 10);
        vm.prank(payer);
        token.approve(stranger, 100);
        vm.prank(payer);
        token.authorizeHoldOperator(operator);
        vm.prank(payer);
        token.authorizeClearableTransferOperator(operator);

        vm.prank(admin);
        token.pause();

        string memory reason = "Pausable: paused";
        vm.prank(payer);
        vm.expectRevert(bytes(reason));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 1);
        vm.prank(stranger);
        vm.expectRevert(bytes(reason));
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 1);

        vm.startPrank(platform);
        vm.expectRevert(bytes(reason));
        token.mint(OP, payee, 1);
        vm.expectRevert(bytes(reason));
        token.burn(OP, payer, 1);
        vm.expectRevert(bytes(reason));
        token.burnHeld("cash", 1);
        vm.expectRevert(bytes(reason));
        token.operatorTransfer(OP, payer, payee, 1);
        vm.expectRevert(bytes(reason));
        token.processClearableTransfer("clr");
        vm.expectRevert(bytes(reason));
        token.executeClearableTransfer("clr");
        vm.stopPrank();

        vm.startPrank(payer);
        vm.expectRevert(bytes(reason));
        token.hold(OP, payee, notary, 1, 0);
        vm.expectRevert(bytes(reason));
        token.holdWithExpirationDate(OP, payee, notary, 1, 0);
        vm.expectRevert(bytes(reason));
        token.orderTransfer(OP, payee, 1);
        vm.stopPrank();
        vm.startPrank(operator);
        vm.expectRevert(bytes(reason));
        token.holdFrom(OP, payer, payee, notary, 1, 0);
        vm.expectRevert(bytes(reason));
        token.holdFromWithExpirationDate(OP, payer, payee, notary, 1, 0);
        vm.expectRevert(bytes(reason));
        token.orderTransferFrom(OP, payer, payee, 1);
        vm.stopPrank();
        vm.startPrank(notary);
        vm.expectRevert(bytes(reason));
        token.executeHold("h", 1);
        vm.expectRevert(bytes(reason));
        token.executeHoldAndKeepOpen("h", 1);
        vm.stopPrank();

        // Allowed while paused: releases, renewals, clearable reject/cancel (funds go back).
        vm.prank(payer);
        token.renewHold("h", 2 * ONE_DAY);
        vm.prank(payee);
        token.releaseHold("h");
        vm.prank(platform);
        token.rejectClearableTransfer("clr", "paused");
        vm.prank(payer);
        token.cancelTransfer("clr2");
        assertEq(token.balanceOnHold(payer), 10); // only the cash-out hold remains

        vm.prank(admin);
        token.unpause();
        vm.prank(payer);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 1);
    }

    // ---- freeze ---------------------------------------------------------------------------

    function test_freeze_onlyCompliance() public {
        vm.prank(platform);
        _expectUnauthorized(platform, keccak256("COMPLIANCE_ROLE"));
        token.freeze(payer);

        vm.expectEmit(address(token));
        emit EmToken.AccountFrozen(payer);
        vm.prank(admin);
        token.freeze(payer);
        assertTrue(token.isFrozen(payer));
        vm.prank(admin);
        vm.expectRevert("Account is already frozen");
        token.freeze(payer);

        vm.prank(platform);
        _expectUnauthorized(platform, keccak256("COMPLIANCE_ROLE"));
        token.unfreeze(payer);

        vm.expectEmit(address(token));
        emit EmToken.AccountUnfrozen(payer);
        vm.prank(admin);
        token.unfreeze(payer);
        assertFalse(token.isFrozen(payer));
        vm.prank(admin);
        vm.expectRevert("Account is not frozen");
        token.unfreeze(payer);
    }

    function test_freeze_effects() public {
        _hold("before", 10, 0); // created before the freeze
        vm.prank(payer);
        token.approve(stranger, 100);
        vm.prank(admin);
        token.freeze(payer);

        // cannot send
        vm.prank(payer);
        vm.expectRevert("Sender account is frozen");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 1);
        vm.prank(stranger);
        vm.expectRevert("Sender account is frozen");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(payer, payee, 1);
        vm.prank(platform);
        vm.expectRevert("Sender account is frozen");
        token.operatorTransfer(OP, payer, payee, 1);
        vm.prank(platform);
        vm.expectRevert("Sender account is frozen");
        token.burn(OP, payer, 1);
        vm.prank(notary);
        vm.expectRevert("Sender account is frozen");
        token.executeHold("before", 1);

        // cannot receive
        vm.prank(payee);
        vm.expectRevert("Recipient account is frozen");
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payer, 0);
        vm.prank(platform);
        vm.expectRevert("Recipient account is frozen");
        token.mint(OP, payer, 1);

        // cannot be payer or payee of a new hold / clearable transfer
        vm.prank(payer);
        vm.expectRevert("Payer account is frozen");
        token.hold(OP, payee, notary, 1, 0);
        vm.prank(platform);
        vm.expectRevert("Payer account is frozen");
        token.holdFrom(OP, payer, payee, notary, 1, 0);
        vm.prank(payer);
        vm.expectRevert("Payer account is frozen");
        token.orderTransfer(OP, payee, 1);

        vm.prank(platform);
        token.mint("m", payee, 10);
        vm.prank(payee);
        vm.expectRevert("Payee account is frozen");
        token.hold(OP, payer, notary, 1, 0);
        vm.prank(payee);
        vm.expectRevert("Payee account is frozen");
        token.orderTransfer(OP, payer, 1);

        // existing holds can still be released back
        vm.prank(notary);
        token.releaseHold("before");
        assertEq(token.balanceOnHold(payer), 0);

        // unfreezing restores everything
        vm.prank(admin);
        token.unfreeze(payer);
        vm.prank(payer);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(payee, 1);
    }

    function test_freeze_payeeCannotReceiveHoldExecution() public {
        _hold(OP, 10, 0);
        vm.prank(admin);
        token.freeze(payee);
        vm.prank(notary);
        vm.expectRevert("Recipient account is frozen");
        token.executeHold(OP, 10);
        vm.prank(notary);
        vm.expectRevert("Recipient account is frozen");
        token.executeHoldAndKeepOpen(OP, 1);
    }
}
