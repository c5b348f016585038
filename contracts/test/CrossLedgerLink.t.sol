// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CrossLedgerTestBase} from "./utils/CrossLedgerTestBase.sol";
import {EmToken} from "../src/EmToken.sol";
import {IHoldable} from "../src/IHoldable.sol";
import {CrossLedgerLink} from "../src/CrossLedgerLink.sol";
import {ICrossLedgerLink} from "../src/ICrossLedgerLink.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @dev Every function of CrossLedgerLink, every transition and every revert reason, over two
/// simulated networks (see CrossLedgerTestBase).
contract CrossLedgerLinkTest is CrossLedgerTestBase {
    bytes32 internal constant OPERATOR = keccak256("CROSS_LEDGER_OPERATOR_ROLE");
    bytes32 internal constant ADMIN = 0x00;

    function _expectUnauthorized(address who, bytes32 role) internal {
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, who, role));
    }

    function _orderHash(string memory id, uint256 amount) internal view returns (bytes32) {
        return linkA.hashOrder(id, alice, amount, bob, EUR, CHAIN_A, CHAIN_B);
    }

    function _acceptHash(string memory id, uint256 amount, bytes32 secret) internal view returns (bytes32) {
        return linkA.hashMessage(S_ACCEPTED, CHAIN_B, _orderHash(id, amount), _lock(secret));
    }

    function _holdStatus(EmToken t, string memory id) internal view returns (uint8) {
        (,,,,, IHoldable.HoldStatusCode s) = t.retrieveHoldData(id);
        return uint8(s);
    }

    // ---- deployment -----------------------------------------------------------------------

    function test_constructor_setsTokenChainAndRoles() public view {
        assertEq(address(linkA.token()), address(tokenA));
        assertEq(linkA.chainId(), CHAIN_A);
        assertEq(linkB.chainId(), CHAIN_B);
        assertEq(linkA.CROSS_LEDGER_OPERATOR_ROLE(), OPERATOR);
        assertTrue(linkA.hasRole(ADMIN, admin));
        assertTrue(linkA.hasRole(OPERATOR, platform));
        assertFalse(linkA.hasRole(OPERATOR, admin));
        assertFalse(linkA.hasRole(ADMIN, platform));
    }

    function test_constructor_reverts() public {
        vm.expectRevert("Token address must not be zero address");
        new CrossLedgerLink(EmToken(address(0)), CHAIN_A, admin, platform);
        vm.expectRevert("Chain id must not be zero");
        new CrossLedgerLink(tokenA, 0, admin, platform);
        vm.expectRevert("Admin address must not be zero address");
        new CrossLedgerLink(tokenA, CHAIN_A, address(0), platform);
        vm.expectRevert("Operator address must not be zero address");
        new CrossLedgerLink(tokenA, CHAIN_A, admin, address(0));
    }

    function test_isCrossLedgerOperator() public {
        assertTrue(linkA.isCrossLedgerOperator(platform));
        assertFalse(linkA.isCrossLedgerOperator(stranger));
        vm.prank(admin);
        linkA.grantRole(OPERATOR, stranger);
        assertTrue(linkA.isCrossLedgerOperator(stranger));
    }

    // ---- configuration --------------------------------------------------------------------

    function test_activateAndDeactivateChain() public {
        assertTrue(linkA.isChainActive(CHAIN_B));
        assertFalse(linkA.isChainActive(7));

        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerChainActivated(7, admin);
        vm.prank(admin);
        linkA.activateChain(7);
        assertTrue(linkA.isChainActive(7));

        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerChainDeactivated(7, admin);
        vm.prank(admin);
        linkA.deactivateChain(7);
        assertFalse(linkA.isChainActive(7));
    }

    function test_activateChain_reverts() public {
        vm.startPrank(admin);
        vm.expectRevert("Chain id must not be zero");
        linkA.activateChain(0);
        vm.expectRevert("Chain id must not be this link's chain");
        linkA.activateChain(CHAIN_A);
        vm.expectRevert("Chain is already active");
        linkA.activateChain(CHAIN_B);
        vm.stopPrank();
        _expectUnauthorized(platform, ADMIN);
        vm.prank(platform);
        linkA.activateChain(7);
    }

    function test_deactivateChain_reverts() public {
        vm.prank(admin);
        vm.expectRevert("Chain is not active");
        linkA.deactivateChain(7);
        _expectUnauthorized(platform, ADMIN);
        vm.prank(platform);
        linkA.deactivateChain(CHAIN_B);
    }

    function test_activateAndDeactivateCurrency() public {
        assertTrue(linkA.isCurrencyActiveForChain(EUR, CHAIN_B));
        assertFalse(linkA.isCurrencyActiveForChain("eur", CHAIN_B), "case-sensitive");
        assertFalse(linkA.isCurrencyActiveForChain("USD", CHAIN_B));

        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerCurrencyActivated("USD", CHAIN_B, admin);
        vm.prank(admin);
        linkA.activateCurrency("USD", CHAIN_B);
        assertTrue(linkA.isCurrencyActiveForChain("USD", CHAIN_B));
        assertFalse(linkA.isCurrencyActiveForChain("USD", 7), "per chain");

        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerCurrencyDeactivated("USD", CHAIN_B, admin);
        vm.prank(admin);
        linkA.deactivateCurrency("USD", CHAIN_B);
        assertFalse(linkA.isCurrencyActiveForChain("USD", CHAIN_B));
    }

    function test_activateCurrency_reverts() public {
        vm.startPrank(admin);
        vm.expectRevert("Currency must not be empty");
        linkA.activateCurrency("", CHAIN_B);
        vm.expectRevert("Chain id must not be zero");
        linkA.activateCurrency(EUR, 0);
        vm.expectRevert("Chain id must not be this link's chain");
        linkA.activateCurrency(EUR, CHAIN_A);
        vm.expectRevert("Currency is already active for the chain");
        linkA.activateCurrency(EUR, CHAIN_B);
        vm.stopPrank();
        _expectUnauthorized(platform, ADMIN);
        vm.prank(platform);
        linkA.activateCurrency("USD", CHAIN_B);
    }

    function test_deactivateCurrency_reverts() public {
        vm.prank(admin);
        vm.expectRevert("Currency is not active for the chain");
        linkA.deactivateCurrency("USD", CHAIN_B);
        _expectUnauthorized(platform, ADMIN);
        vm.prank(platform);
        linkA.deactivateCurrency(EUR, CHAIN_B);
    }

    // ---- orderTransfer --------------------------------------------------------------------

    function test_orderTransfer_holdsTheAmountAndRecords() public {
        bytes32 orderHash = _orderHash(ID, 250);
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerTransferOrdered(
            ID, alice, bob, 250, CHAIN_A, CHAIN_B, EUR, alice, orderHash, bytes32(0)
        );
        vm.expectEmit(address(tokenA));
        emit IHoldable.HoldCreated(address(linkA), ID, alice, address(linkA), address(linkA), 250, 0);
        vm.prank(alice);
        bytes32 messageHash = linkA.orderTransfer(ID, 250, bob, EUR, CHAIN_B);
        assertEq(messageHash, orderHash);

        // the token: held, not moved
        assertEq(tokenA.balanceOf(alice), INITIAL - 250);
        assertEq(tokenA.balanceOnHold(alice), 250);
        assertEq(tokenA.netBalanceOf(alice), INITIAL);
        assertEq(tokenA.totalSupply(), INITIAL);
        (address from, address to, address notary, uint256 value, uint256 expiration,) = tokenA.retrieveHoldData(ID);
        assertEq(from, alice);
        assertEq(to, address(linkA));
        assertEq(notary, address(linkA));
        assertEq(value, 250);
        assertEq(expiration, 0);
        assertEq(_holdStatus(tokenA, ID), 1);

        ICrossLedgerLink.TransferData memory d = _data(linkA, ID);
        assertEq(uint8(d.transferType), T_OUT);
        assertEq(uint8(d.status), S_ORDERED);
        assertEq(d.reason, 0);
        assertEq(d.from, alice);
        assertEq(d.to, bob);
        assertEq(d.amount, 250);
        assertEq(d.currency, EUR);
        assertEq(d.originChainId, CHAIN_A);
        assertEq(d.destinationChainId, CHAIN_B);
        assertEq(d.hashLock, bytes32(0));
        assertEq(d.secret, bytes32(0));
        assertEq(d.orderMessageHash, orderHash);
        assertEq(d.answerMessageHash, bytes32(0));
        assertEq(d.acknowledgeMessageHash, bytes32(0));
        assertEq(d.executeMessageHash, bytes32(0));
        assertEq(_status(linkB, ID), S_NON_ESTABLISHED, "B knows nothing yet");
    }

    function test_orderTransfer_holdCannotBeSettledByOthers() public {
        _order(ID, 100);
        vm.prank(alice);
        vm.expectRevert("A not expired hold can only be released by the notary or the payee");
        tokenA.releaseHold(ID);
        vm.prank(platform);
        vm.expectRevert("The hold can only be executed by the notary");
        tokenA.executeHold(ID, 100);
        vm.prank(platform);
        vm.expectRevert("The hold can only be executed by the notary");
        tokenA.burnHeld(ID, 100);
        vm.prank(alice);
        vm.expectRevert("Not enough available balance");
        tokenA.transfer(bob, INITIAL - 99);
        // nor can the payer make the perpetual hold expire, to release it on expiration
        vm.prank(alice);
        vm.expectRevert("The payer can not renew a hold to expire sooner");
        tokenA.renewHold(ID, 1);
        assertEq(_holdStatus(tokenA, ID), 1);
    }

    function test_orderTransfer_reverts() public {
        vm.startPrank(alice);
        vm.expectRevert("Operation ID must not be empty");
        linkA.orderTransfer("", 1, bob, EUR, CHAIN_B);
        vm.expectRevert("Recipient address must not be zero address");
        linkA.orderTransfer(ID, 1, address(0), EUR, CHAIN_B);
        vm.expectRevert("Value must be greater than zero");
        linkA.orderTransfer(ID, 0, bob, EUR, CHAIN_B);
        vm.expectRevert("Destination chain is not active");
        linkA.orderTransfer(ID, 1, bob, EUR, 7);
        vm.expectRevert("Destination chain is not active");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_A);
        vm.expectRevert("Currency is not the token's currency");
        linkA.orderTransfer(ID, 1, bob, "USD", CHAIN_B);
        vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
        linkA.orderTransfer(ID, INITIAL + 1, bob, EUR, CHAIN_B);
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
        vm.expectRevert("This operationId already exists");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
        vm.stopPrank();

        vm.prank(admin);
        linkA.deactivateCurrency(EUR, CHAIN_B);
        vm.prank(alice);
        vm.expectRevert("Currency is not active for the destination chain");
        linkA.orderTransfer("xfer-2", 1, bob, EUR, CHAIN_B);
    }

    function test_orderTransfer_refusedWhenTheOperationIdIsAHoldAlready() public {
        vm.prank(alice);
        tokenA.hold(ID, bob, stranger, 1, 0);
        vm.prank(alice);
        vm.expectRevert("This operationId already exists");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
    }

    function test_orderTransfer_tokenRulesApply() public {
        vm.prank(admin);
        tokenA.freeze(alice);
        vm.prank(alice);
        vm.expectRevert("Payer account is frozen");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
        vm.startPrank(admin);
        tokenA.unfreeze(alice);
        tokenA.pause();
        vm.stopPrank();
        vm.prank(alice);
        vm.expectRevert("Pausable: paused");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
    }

    function test_orderTransfer_needsTheLinkToBeAHoldOperator() public {
        vm.startPrank(admin);
        tokenA.revokeRole(tokenA.OPERATOR_ROLE(), address(linkA));
        vm.stopPrank();
        vm.prank(alice);
        vm.expectRevert("This operator is not authorized");
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
        // a payer may authorize the link itself instead
        vm.startPrank(alice);
        tokenA.authorizeHoldOperator(address(linkA));
        linkA.orderTransfer(ID, 1, bob, EUR, CHAIN_B);
        vm.stopPrank();
        assertEq(tokenA.balanceOnHold(alice), 1);
    }

    // ---- orderTransferFrom ----------------------------------------------------------------

    function test_orderTransferFrom_byThePlatformWithAHashLock() public {
        bytes32 lock = _lock(SECRET);
        bytes32 orderHash = _orderHash(ID, 300);
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerTransferOrdered(
            ID, alice, bob, 300, CHAIN_A, CHAIN_B, EUR, platform, orderHash, lock
        );
        vm.prank(platform);
        assertEq(linkA.orderTransferFrom(ID, alice, 300, bob, EUR, CHAIN_B, lock), orderHash);
        assertEq(_data(linkA, ID).hashLock, lock);
        assertEq(tokenA.balanceOnHold(alice), 300);
        (address from,,,,,) = tokenA.retrieveHoldData(ID);
        assertEq(from, alice);
    }

    function test_orderTransferFrom_byAnAuthorizedHoldOperator() public {
        vm.prank(alice);
        tokenA.authorizeHoldOperator(stranger);
        vm.prank(stranger);
        linkA.orderTransferFrom(ID, alice, 5, bob, EUR, CHAIN_B, bytes32(0));
        assertEq(_status(linkA, ID), S_ORDERED);
        assertEq(tokenA.balanceOnHold(alice), 5);
    }

    function test_orderTransferFrom_reverts() public {
        vm.prank(platform);
        vm.expectRevert("Payer address must not be zero address");
        linkA.orderTransferFrom(ID, address(0), 1, bob, EUR, CHAIN_B, bytes32(0));
        vm.prank(stranger);
        vm.expectRevert("This operator is not authorized");
        linkA.orderTransferFrom(ID, alice, 1, bob, EUR, CHAIN_B, bytes32(0));
        vm.prank(bob);
        vm.expectRevert("This operator is not authorized");
        linkA.orderTransferFrom(ID, alice, 1, bob, EUR, CHAIN_B, bytes32(0));
        vm.prank(platform);
        vm.expectRevert("Value must be greater than zero");
        linkA.orderTransferFrom(ID, alice, 0, bob, EUR, CHAIN_B, bytes32(0));
    }

    // ---- acceptTransfer -------------------------------------------------------------------

    function test_acceptTransfer_recordsWithoutMinting() public {
        bytes32 orderHash = _order(ID, 250);
        bytes32 lock = _lock(SECRET);
        bytes32 acceptHash = linkB.hashMessage(S_ACCEPTED, CHAIN_B, orderHash, lock);
        vm.expectEmit(address(linkB));
        emit ICrossLedgerLink.CrossLedgerTransferAccepted(
            ID, alice, bob, 250, CHAIN_A, CHAIN_B, EUR, platform, orderHash, acceptHash, lock
        );
        vm.prank(platform);
        assertEq(linkB.acceptTransfer(ID, alice, 250, bob, EUR, CHAIN_A, lock), acceptHash);

        assertEq(tokenB.totalSupply(), 0, "nothing minted before the burn on the origin");
        ICrossLedgerLink.TransferData memory d = _data(linkB, ID);
        assertEq(uint8(d.transferType), T_IN);
        assertEq(uint8(d.status), S_ACCEPTED);
        assertEq(d.from, alice);
        assertEq(d.to, bob);
        assertEq(d.amount, 250);
        assertEq(d.currency, EUR);
        assertEq(d.originChainId, CHAIN_A);
        assertEq(d.destinationChainId, CHAIN_B);
        assertEq(d.hashLock, lock);
        assertEq(d.orderMessageHash, orderHash, "same order hash on both links");
        assertEq(d.answerMessageHash, acceptHash);
        assertEq(d.acknowledgeMessageHash, bytes32(0));
        assertEq(_status(linkA, ID), S_ORDERED, "A is unaffected");
    }

    function test_acceptTransfer_reverts() public {
        bytes32 lock = _lock(SECRET);
        vm.startPrank(platform);
        vm.expectRevert("Operation ID must not be empty");
        linkB.acceptTransfer("", alice, 1, bob, EUR, CHAIN_A, lock);
        vm.expectRevert("Payer address must not be zero address");
        linkB.acceptTransfer(ID, address(0), 1, bob, EUR, CHAIN_A, lock);
        vm.expectRevert("Recipient address must not be zero address");
        linkB.acceptTransfer(ID, alice, 1, address(0), EUR, CHAIN_A, lock);
        vm.expectRevert("Value must be greater than zero");
        linkB.acceptTransfer(ID, alice, 0, bob, EUR, CHAIN_A, lock);
        vm.expectRevert("Hash lock must not be zero");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, bytes32(0));
        vm.expectRevert("Origin chain is not active");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, 7, lock);
        vm.expectRevert("Origin chain is not active");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_B, lock);
        vm.expectRevert("Currency is not the token's currency");
        linkB.acceptTransfer(ID, alice, 1, bob, "USD", CHAIN_A, lock);
        vm.stopPrank();

        vm.prank(admin);
        linkB.deactivateCurrency(EUR, CHAIN_A);
        vm.prank(platform);
        vm.expectRevert("Currency is not active for the origin chain");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, lock);
        vm.prank(admin);
        linkB.activateCurrency(EUR, CHAIN_A);

        vm.prank(admin);
        tokenB.freeze(bob);
        vm.prank(platform);
        vm.expectRevert("Recipient account is frozen");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, lock);
        vm.prank(admin);
        tokenB.unfreeze(bob);

        _expectUnauthorized(alice, OPERATOR);
        vm.prank(alice);
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, lock);

        _accept(ID, 1, SECRET);
        vm.prank(platform);
        vm.expectRevert("This operationId already exists");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, lock);
    }

    // ---- revokeTransfer -------------------------------------------------------------------

    function test_revokeTransfer_recordsARefusal() public {
        bytes32 orderHash = _order(ID, 250);
        bytes32 revokeHash = linkB.hashMessage(S_REVOKED, CHAIN_B, orderHash, bytes32(uint256(3)));
        vm.expectEmit(address(linkB));
        emit ICrossLedgerLink.CrossLedgerTransferRevoked(ID, platform, orderHash, revokeHash, 3);
        assertEq(_revoke(ID, 250, 3), revokeHash);

        ICrossLedgerLink.TransferData memory d = _data(linkB, ID);
        assertEq(uint8(d.transferType), T_IN);
        assertEq(uint8(d.status), S_REVOKED);
        assertEq(d.reason, 3);
        assertEq(d.amount, 250);
        assertEq(d.hashLock, bytes32(0));
        assertEq(d.orderMessageHash, orderHash);
        assertEq(d.answerMessageHash, revokeHash);
        assertEq(tokenB.totalSupply(), 0);
        assertEq(tokenA.balanceOnHold(alice), 250, "the origin hold waits for the acknowledgement");
    }

    function test_revokeTransfer_acceptsAMalformedOrder() public {
        vm.prank(admin);
        linkB.deactivateChain(CHAIN_A);
        vm.prank(platform);
        linkB.revokeTransfer(ID, address(0), 0, address(0), "XXX", 99, 1);
        assertEq(_status(linkB, ID), S_REVOKED);
    }

    function test_revokeTransfer_reverts() public {
        vm.startPrank(platform);
        vm.expectRevert("Operation ID must not be empty");
        linkB.revokeTransfer("", alice, 1, bob, EUR, CHAIN_A, 1);
        vm.expectRevert("Reason must not be zero");
        linkB.revokeTransfer(ID, alice, 1, bob, EUR, CHAIN_A, 0);
        vm.stopPrank();
        _expectUnauthorized(alice, OPERATOR);
        vm.prank(alice);
        linkB.revokeTransfer(ID, alice, 1, bob, EUR, CHAIN_A, 1);
    }

    function test_revokeAndAcceptExcludeEachOther() public {
        _revoke(ID, 1, 1);
        vm.prank(platform);
        vm.expectRevert("This operationId already exists");
        linkB.acceptTransfer(ID, alice, 1, bob, EUR, CHAIN_A, _lock(SECRET));
        vm.prank(platform);
        vm.expectRevert("This operationId already exists");
        linkB.revokeTransfer(ID, alice, 1, bob, EUR, CHAIN_A, 2);

        _accept("xfer-2", 1, SECRET);
        vm.prank(platform);
        vm.expectRevert("This operationId already exists");
        linkB.revokeTransfer("xfer-2", alice, 1, bob, EUR, CHAIN_A, 1);
    }

    // ---- acknowledgeTransfer --------------------------------------------------------------

    function test_acknowledgeTransfer_fixesTheHashLock() public {
        bytes32 orderHash = _order(ID, 250);
        bytes32 acceptHash = _accept(ID, 250, SECRET);
        bytes32 lock = _lock(SECRET);
        bytes32 ackHash = linkA.hashMessage(S_ACKNOWLEDGED, CHAIN_A, acceptHash, lock);
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerTransferAcknowledged(
            ID, alice, bob, CHAIN_A, CHAIN_B, platform, acceptHash, ackHash, lock
        );
        vm.prank(platform);
        assertEq(linkA.acknowledgeTransfer(ID, acceptHash, lock), ackHash);

        ICrossLedgerLink.TransferData memory d = _data(linkA, ID);
        assertEq(uint8(d.status), S_ACKNOWLEDGED);
        assertEq(d.hashLock, lock);
        assertEq(d.orderMessageHash, orderHash);
        assertEq(d.answerMessageHash, acceptHash);
        assertEq(d.acknowledgeMessageHash, ackHash);
        assertEq(tokenA.balanceOnHold(alice), 250, "still held");
        assertEq(tokenA.totalSupply(), INITIAL);
    }

    function test_acknowledgeTransfer_withTheLockFixedAtOrderTime() public {
        vm.prank(platform);
        linkA.orderTransferFrom(ID, alice, 10, bob, EUR, CHAIN_B, _lock(SECRET));
        bytes32 otherLock = _lock(keccak256("other"));
        bytes32 otherAccept = _acceptHash(ID, 10, keccak256("other"));
        vm.prank(platform);
        vm.expectRevert("Hash lock does not match the order");
        linkA.acknowledgeTransfer(ID, otherAccept, otherLock);

        _accept(ID, 10, SECRET);
        _acknowledge(ID);
        assertEq(_status(linkA, ID), S_ACKNOWLEDGED);
    }

    function test_acknowledgeTransfer_reverts() public {
        bytes32 lock = _lock(SECRET);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be acknowledged in status Ordered");
        linkA.acknowledgeTransfer("unknown", bytes32(uint256(1)), lock);

        _order(ID, 10);
        bytes32 acceptHash = _acceptHash(ID, 10, SECRET);
        bytes32 otherAmountAccept = _acceptHash(ID, 11, SECRET);
        vm.startPrank(platform);
        vm.expectRevert("Hash lock must not be zero");
        linkA.acknowledgeTransfer(ID, acceptHash, bytes32(0));
        vm.expectRevert("Accept message hash does not match the order");
        linkA.acknowledgeTransfer(ID, bytes32(uint256(1)), lock);
        vm.expectRevert("Accept message hash does not match the order");
        linkA.acknowledgeTransfer(ID, acceptHash, _lock(keccak256("other")));
        vm.expectRevert("Accept message hash does not match the order");
        linkA.acknowledgeTransfer(ID, otherAmountAccept, lock);
        vm.stopPrank();

        _expectUnauthorized(alice, OPERATOR);
        vm.prank(alice);
        linkA.acknowledgeTransfer(ID, acceptHash, lock);

        vm.prank(platform);
        linkA.acknowledgeTransfer(ID, acceptHash, lock);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be acknowledged in status Ordered");
        linkA.acknowledgeTransfer(ID, acceptHash, lock);
    }

    function test_acknowledgeTransfer_refusedOnTheDestinationRecord() public {
        _order(ID, 10);
        bytes32 acceptHash = _accept(ID, 10, SECRET);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be acknowledged in status Ordered");
        linkB.acknowledgeTransfer(ID, acceptHash, _lock(SECRET));
    }

    // ---- acknowledgeRevocation ------------------------------------------------------------

    function test_acknowledgeRevocation_releasesTheHold() public {
        bytes32 orderHash = _order(ID, 250);
        bytes32 revokeHash = _revoke(ID, 250, 4);
        bytes32 ackHash = linkA.hashMessage(S_REVOKED, CHAIN_A, revokeHash, bytes32(uint256(4)));
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerRevocationAcknowledged(ID, alice, platform, revokeHash, ackHash, 4);
        vm.expectEmit(address(tokenA));
        emit IHoldable.HoldReleased(address(linkA), ID, 4);
        vm.prank(platform);
        assertEq(linkA.acknowledgeRevocation(ID, revokeHash, 4), ackHash);

        assertEq(tokenA.balanceOf(alice), INITIAL, "available again");
        assertEq(tokenA.balanceOnHold(alice), 0);
        assertEq(tokenA.totalSupply(), INITIAL);
        assertEq(_holdStatus(tokenA, ID), 4, "ReleasedByNotary");
        ICrossLedgerLink.TransferData memory d = _data(linkA, ID);
        assertEq(uint8(d.status), S_REVOKED);
        assertEq(d.reason, 4);
        assertEq(d.orderMessageHash, orderHash);
        assertEq(d.answerMessageHash, revokeHash);
        assertEq(d.acknowledgeMessageHash, ackHash);
    }

    function test_acknowledgeRevocation_withoutTheDestination() public {
        bytes32 orderHash = _order(ID, 250);
        bytes32 ackHash = linkA.hashMessage(S_REVOKED, CHAIN_A, orderHash, bytes32(uint256(9)));
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerRevocationAcknowledged(ID, alice, platform, orderHash, ackHash, 9);
        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, bytes32(0), 9);
        assertEq(tokenA.balanceOf(alice), INITIAL);
        assertEq(_data(linkA, ID).answerMessageHash, bytes32(0));
    }

    function test_acknowledgeRevocation_worksWhileTheTokenIsPaused() public {
        _order(ID, 250);
        vm.prank(admin);
        tokenA.pause();
        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, bytes32(0), 1);
        assertEq(tokenA.balanceOnHold(alice), 0);
    }

    function test_acknowledgeRevocation_reverts() public {
        vm.prank(platform);
        vm.expectRevert("A transfer can only be revoked in status Ordered");
        linkA.acknowledgeRevocation("unknown", bytes32(0), 1);

        _order(ID, 10);
        bytes32 revokeHash = _revoke(ID, 10, 2);
        vm.startPrank(platform);
        vm.expectRevert("Reason must not be zero");
        linkA.acknowledgeRevocation(ID, revokeHash, 0);
        vm.expectRevert("Revoke message hash does not match the order");
        linkA.acknowledgeRevocation(ID, revokeHash, 3);
        vm.expectRevert("Revoke message hash does not match the order");
        linkA.acknowledgeRevocation(ID, bytes32(uint256(1)), 2);
        vm.stopPrank();

        _expectUnauthorized(alice, OPERATOR);
        vm.prank(alice);
        linkA.acknowledgeRevocation(ID, revokeHash, 2);

        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, revokeHash, 2);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be revoked in status Ordered");
        linkA.acknowledgeRevocation(ID, revokeHash, 2);
    }

    function test_acknowledgeRevocation_refusedOnceAccepted() public {
        _order(ID, 10);
        _accept(ID, 10, SECRET);
        _acknowledge(ID);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be revoked in status Ordered");
        linkA.acknowledgeRevocation(ID, bytes32(0), 1);
        // nor can a revoked transfer be acknowledged later
        _order("xfer-2", 10);
        vm.prank(platform);
        linkA.acknowledgeRevocation("xfer-2", bytes32(0), 1);
        bytes32 acceptHash = _acceptHash("xfer-2", 10, SECRET);
        vm.prank(platform);
        vm.expectRevert("A transfer can only be acknowledged in status Ordered");
        linkA.acknowledgeTransfer("xfer-2", acceptHash, _lock(SECRET));
    }

    // ---- executeTransferOut ---------------------------------------------------------------

    function test_executeTransferOut_burnsTheHeldAmount() public {
        _order(ID, 250);
        _accept(ID, 250, SECRET);
        bytes32 ackHash = _acknowledge(ID);
        bytes32 outHash = linkA.hashMessage(S_OUT_EXECUTED, CHAIN_A, ackHash, SECRET);
        vm.expectEmit(address(linkA));
        emit ICrossLedgerLink.CrossLedgerTransferOutExecuted(ID, alice, 250, ackHash, outHash, platform, SECRET);
        vm.expectEmit(address(tokenA));
        emit IHoldable.HoldExecuted(address(linkA), ID, address(linkA), 250, 250);
        vm.expectEmit(address(tokenA));
        emit EmToken.Burned(ID, alice, 250);
        assertEq(_executeOut(ID, SECRET), outHash);

        assertEq(tokenA.totalSupply(), INITIAL - 250);
        assertEq(tokenA.netBalanceOf(alice), INITIAL - 250);
        assertEq(tokenA.balanceOnHold(alice), 0);
        assertEq(_holdStatus(tokenA, ID), 2, "Executed");
        ICrossLedgerLink.TransferData memory d = _data(linkA, ID);
        assertEq(uint8(d.status), S_OUT_EXECUTED);
        assertEq(d.secret, SECRET);
        assertEq(d.executeMessageHash, outHash);
    }

    function test_executeTransferOut_reverts() public {
        vm.prank(platform);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut("unknown", SECRET);

        _order(ID, 10);
        vm.prank(platform);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut(ID, SECRET);
        _accept(ID, 10, SECRET);
        _acknowledge(ID);

        vm.prank(platform);
        vm.expectRevert("Secret does not match the hash lock");
        linkA.executeTransferOut(ID, keccak256("wrong"));
        vm.prank(platform);
        vm.expectRevert("Secret does not match the hash lock");
        linkA.executeTransferOut(ID, _lock(SECRET));

        _expectUnauthorized(alice, OPERATOR);
        vm.prank(alice);
        linkA.executeTransferOut(ID, SECRET);

        _executeOut(ID, SECRET);
        vm.prank(platform);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut(ID, SECRET);
        assertEq(tokenA.totalSupply(), INITIAL - 10, "burned once");
    }

    function test_executeTransferOut_refusedAfterRevocation() public {
        _order(ID, 10);
        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, bytes32(0), 1);
        vm.prank(platform);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut(ID, SECRET);
    }

    function test_executeTransferOut_tokenRulesApply() public {
        _order(ID, 10);
        _accept(ID, 10, SECRET);
        _acknowledge(ID);
        vm.prank(admin);
        tokenA.pause();
        vm.prank(platform);
        vm.expectRevert("Pausable: paused");
        linkA.executeTransferOut(ID, SECRET);
        vm.startPrank(admin);
        tokenA.unpause();
        tokenA.freeze(alice);
        vm.stopPrank();
        vm.prank(platform);
        vm.expectRevert("Sender account is frozen");
        linkA.executeTransferOut(ID, SECRET);
        assertEq(_status(linkA, ID), S_ACKNOWLEDGED, "retried after the unfreeze");
        vm.prank(admin);
        tokenA.unfreeze(alice);
        _executeOut(ID, SECRET);
        assertEq(_status(linkA, ID), S_OUT_EXECUTED);
    }

    // ---- executeTransferIn ----------------------------------------------------------------

    function test_executeTransferIn_mintsToTheRecipient() public {
        _order(ID, 250);
        bytes32 acceptHash = _accept(ID, 250, SECRET);
        _acknowledge(ID);
        _executeOut(ID, SECRET);
        bytes32 inHash = linkB.hashMessage(S_IN_EXECUTED, CHAIN_B, acceptHash, SECRET);
        vm.expectEmit(address(linkB));
        emit ICrossLedgerLink.CrossLedgerTransferInExecuted(ID, bob, 250, acceptHash, inHash, platform, SECRET);
        vm.expectEmit(address(tokenB));
        emit EmToken.Minted(ID, bob, 250);
        assertEq(_executeIn(ID, SECRET), inHash);

        assertEq(tokenB.balanceOf(bob), 250);
        assertEq(tokenB.totalSupply(), 250);
        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), INITIAL, "supply moved");
        ICrossLedgerLink.TransferData memory d = _data(linkB, ID);
        assertEq(uint8(d.status), S_IN_EXECUTED);
        assertEq(d.secret, SECRET);
        assertEq(d.executeMessageHash, inHash);
    }

    function test_executeTransferIn_reverts() public {
        vm.prank(platform);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkB.executeTransferIn("unknown", SECRET);

        _order(ID, 10);
        vm.prank(platform);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkA.executeTransferIn(ID, SECRET); // the origin record
        _accept(ID, 10, SECRET);

        vm.prank(platform);
        vm.expectRevert("Secret does not match the hash lock");
        linkB.executeTransferIn(ID, keccak256("wrong"));
        vm.prank(platform);
        vm.expectRevert("Secret does not match the hash lock");
        linkB.executeTransferIn(ID, bytes32(0));

        _expectUnauthorized(bob, OPERATOR);
        vm.prank(bob);
        linkB.executeTransferIn(ID, SECRET);

        _executeIn(ID, SECRET);
        vm.prank(platform);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkB.executeTransferIn(ID, SECRET);
        assertEq(tokenB.totalSupply(), 10, "minted once");
    }

    function test_executeTransferIn_refusedWhenRevoked() public {
        _revoke(ID, 10, 1);
        vm.prank(platform);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkB.executeTransferIn(ID, SECRET);
    }

    function test_executeTransferIn_tokenRulesApply() public {
        _accept(ID, 10, SECRET);
        vm.prank(admin);
        tokenB.freeze(bob);
        vm.prank(platform);
        vm.expectRevert("Recipient account is frozen");
        linkB.executeTransferIn(ID, SECRET);
        vm.prank(admin);
        tokenB.unfreeze(bob);
        bytes32 minter = tokenB.MINTER_ROLE();
        vm.prank(admin);
        tokenB.revokeRole(minter, address(linkB));
        _expectUnauthorized(address(linkB), minter);
        vm.prank(platform);
        linkB.executeTransferIn(ID, SECRET);
        assertEq(_status(linkB, ID), S_ACCEPTED);
    }

    // ---- views ----------------------------------------------------------------------------

    function test_getTransferData_unknownIsZero() public view {
        ICrossLedgerLink.TransferData memory d = _data(linkA, "unknown");
        assertEq(uint8(d.status), S_NON_ESTABLISHED);
        assertEq(d.from, address(0));
        assertEq(d.amount, 0);
        assertEq(d.currency, "");
        assertEq(d.orderMessageHash, bytes32(0));
    }

    function test_hashOrder_andHashMessage() public view {
        assertEq(
            linkA.hashOrder(ID, alice, 1, bob, EUR, CHAIN_A, CHAIN_B),
            keccak256(abi.encode(uint8(1), ID, alice, uint256(1), bob, EUR, CHAIN_A, CHAIN_B))
        );
        assertEq(
            linkA.hashMessage(2, CHAIN_B, bytes32(uint256(5)), bytes32(uint256(6))),
            keccak256(abi.encode(uint8(2), CHAIN_B, bytes32(uint256(5)), bytes32(uint256(6))))
        );
        assertTrue(
            linkA.hashOrder(ID, alice, 1, bob, EUR, CHAIN_A, CHAIN_B)
                != linkA.hashOrder(ID, alice, 1, bob, EUR, CHAIN_B, CHAIN_A),
            "direction matters"
        );
    }

    // ---- whole protocol -------------------------------------------------------------------

    function test_roundTrip_AtoBandBack() public {
        _transfer(ID, 400, SECRET);
        assertEq(tokenA.balanceOf(alice), INITIAL - 400);
        assertEq(tokenB.balanceOf(bob), 400);
        assertEq(_status(linkA, ID), S_OUT_EXECUTED);
        assertEq(_status(linkB, ID), S_IN_EXECUTED);

        // back from B to A: bob pays alice 150
        bytes32 secret2 = keccak256("secret-2");
        vm.prank(bob);
        bytes32 orderHash = linkB.orderTransfer("xfer-2", 150, alice, EUR, CHAIN_A);
        assertEq(orderHash, linkA.hashOrder("xfer-2", bob, 150, alice, EUR, CHAIN_B, CHAIN_A));
        vm.startPrank(platform);
        bytes32 acceptHash = linkA.acceptTransfer("xfer-2", bob, 150, alice, EUR, CHAIN_B, _lock(secret2));
        linkB.acknowledgeTransfer("xfer-2", acceptHash, _lock(secret2));
        linkB.executeTransferOut("xfer-2", secret2);
        linkA.executeTransferIn("xfer-2", secret2);
        vm.stopPrank();

        assertEq(tokenA.balanceOf(alice), INITIAL - 250);
        assertEq(tokenB.balanceOf(bob), 250);
        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), INITIAL);
        assertEq(uint8(_data(linkA, "xfer-2").transferType), T_IN);
        assertEq(uint8(_data(linkB, "xfer-2").transferType), T_OUT);
    }

    function test_messagesChainAcrossTheLinks() public {
        _transfer(ID, 1, SECRET);
        ICrossLedgerLink.TransferData memory a = _data(linkA, ID);
        ICrossLedgerLink.TransferData memory b = _data(linkB, ID);
        assertEq(a.orderMessageHash, b.orderMessageHash);
        assertEq(a.answerMessageHash, b.answerMessageHash, "A acknowledged what B accepted");
        assertEq(a.hashLock, b.hashLock);
        assertEq(a.secret, b.secret);
        assertEq(a.acknowledgeMessageHash, linkA.hashMessage(S_ACKNOWLEDGED, CHAIN_A, b.answerMessageHash, a.hashLock));
        assertEq(a.executeMessageHash, linkA.hashMessage(S_OUT_EXECUTED, CHAIN_A, a.acknowledgeMessageHash, SECRET));
        assertEq(b.executeMessageHash, linkB.hashMessage(S_IN_EXECUTED, CHAIN_B, b.answerMessageHash, SECRET));
        assertEq(b.acknowledgeMessageHash, bytes32(0));
    }

    function test_revokedTransfer_cannotBeExecutedOnEitherSide() public {
        _order(ID, 100);
        bytes32 revokeHash = _revoke(ID, 100, 5);
        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, revokeHash, 5);
        vm.startPrank(platform);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut(ID, SECRET);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkB.executeTransferIn(ID, SECRET);
        vm.stopPrank();
        assertEq(tokenA.balanceOf(alice), INITIAL);
        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), INITIAL);
    }

    function test_deactivation_letsTransfersUnderWayFinish() public {
        _order(ID, 100);
        _accept(ID, 100, SECRET);
        vm.startPrank(admin);
        linkA.deactivateChain(CHAIN_B);
        linkB.deactivateCurrency(EUR, CHAIN_A);
        vm.stopPrank();
        _acknowledge(ID);
        _executeOut(ID, SECRET);
        _executeIn(ID, SECRET);
        assertEq(tokenB.balanceOf(bob), 100);
        vm.prank(alice);
        vm.expectRevert("Destination chain is not active");
        linkA.orderTransfer("xfer-2", 1, bob, EUR, CHAIN_B);
    }

    function test_operationIdIsUsedOncePerLinkWhicheverSide() public {
        _accept(ID, 1, SECRET); // B knows ID as an incoming transfer
        vm.prank(platform);
        tokenB.mint("seed-bob", bob, 10);
        vm.prank(bob);
        vm.expectRevert("This operationId already exists");
        linkB.orderTransfer(ID, 1, alice, EUR, CHAIN_A);
    }
}
