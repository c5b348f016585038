// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CrossLedgerTestBase} from "./utils/CrossLedgerTestBase.sol";
import {ICrossLedgerLink} from "../src/ICrossLedgerLink.sol";
import {MAX_TOTAL_SUPPLY} from "../src/PackedERC20.sol";

/// @dev Property tests of CrossLedgerLink over amounts, balances, operation ids, secrets and
/// reasons (seeded in foundry.toml, so they replay).
contract CrossLedgerLinkFuzzTest is CrossLedgerTestBase {
    /// @dev A whole transfer moves exactly `amount` from A to B; the supply over both networks
    /// dips by `amount` between the burn and the mint and never grows.
    function testFuzz_transferMovesTheSupply(uint256 balance, uint256 amount, bytes32 secret) public {
        balance = bound(balance, 1, MAX_TOTAL_SUPPLY - tokenA.totalSupply());
        amount = bound(amount, 1, balance);
        vm.prank(platform);
        tokenA.mint("fuzz", bob, balance);
        uint256 total = tokenA.totalSupply() + tokenB.totalSupply();

        vm.prank(bob);
        linkA.orderTransfer(ID, amount, alice, EUR, CHAIN_B);
        assertEq(tokenA.balanceOf(bob), balance - amount);
        assertEq(tokenA.balanceOnHold(bob), amount);
        vm.startPrank(platform);
        bytes32 acceptHash = linkB.acceptTransfer(ID, bob, amount, alice, EUR, CHAIN_A, _lock(secret));
        linkA.acknowledgeTransfer(ID, acceptHash, _lock(secret));
        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), total);
        linkA.executeTransferOut(ID, secret);
        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), total - amount, "burned before minted");
        linkB.executeTransferIn(ID, secret);
        vm.stopPrank();

        assertEq(tokenA.totalSupply() + tokenB.totalSupply(), total);
        assertEq(tokenA.netBalanceOf(bob), balance - amount);
        assertEq(tokenA.balanceOnHold(bob), 0);
        assertEq(tokenB.balanceOf(alice), amount);
        assertEq(tokenA.totalSupplyOnHold(), 0);
    }

    /// @dev A revoked transfer gives the whole amount back, whatever the reason and the way.
    function testFuzz_revocationRestoresTheBalance(uint256 amount, uint8 reason, bool askDestination) public {
        amount = bound(amount, 1, INITIAL);
        reason = uint8(bound(reason, 1, type(uint8).max));
        _order(ID, amount);
        bytes32 revokeHash = askDestination ? _revoke(ID, amount, reason) : bytes32(0);
        vm.prank(platform);
        linkA.acknowledgeRevocation(ID, revokeHash, reason);

        assertEq(tokenA.balanceOf(alice), INITIAL);
        assertEq(tokenA.balanceOnHold(alice), 0);
        assertEq(tokenA.totalSupply(), INITIAL);
        assertEq(tokenB.totalSupply(), 0);
        ICrossLedgerLink.TransferData memory d = _data(linkA, ID);
        assertEq(uint8(d.status), S_REVOKED);
        assertEq(d.reason, reason);
    }

    /// @dev Only the preimage of the hash lock executes, on either side, and only once.
    function testFuzz_onlyThePreimageExecutesOnce(bytes32 secret, bytes32 guess, uint256 amount) public {
        vm.assume(guess != secret);
        amount = bound(amount, 1, INITIAL);
        _order(ID, amount);
        _accept(ID, amount, secret);
        _acknowledge(ID);

        vm.startPrank(platform);
        vm.expectRevert("Secret does not match the hash lock");
        linkA.executeTransferOut(ID, guess);
        vm.expectRevert("Secret does not match the hash lock");
        linkB.executeTransferIn(ID, guess);
        linkA.executeTransferOut(ID, secret);
        linkB.executeTransferIn(ID, secret);
        vm.expectRevert("Transfer out can only be executed in status Acknowledged");
        linkA.executeTransferOut(ID, secret);
        vm.expectRevert("Transfer in can only be executed in status Accepted");
        linkB.executeTransferIn(ID, secret);
        vm.stopPrank();
        assertEq(tokenA.totalSupply(), INITIAL - amount);
        assertEq(tokenB.totalSupply(), amount);
    }

    /// @dev An order above the available balance is refused and leaves no trace.
    function testFuzz_orderNeverExceedsTheAvailableBalance(uint256 held, uint256 amount) public {
        held = bound(held, 0, INITIAL);
        amount = bound(amount, 1, type(uint256).max);
        if (held != 0) {
            vm.prank(alice);
            tokenA.hold("other-hold", bob, stranger, held, 0);
        }
        vm.prank(alice);
        if (amount > INITIAL - held) {
            vm.expectRevert("Amount of the hold can't be greater than the balance of the origin");
            linkA.orderTransfer(ID, amount, bob, EUR, CHAIN_B);
            assertEq(_status(linkA, ID), S_NON_ESTABLISHED);
        } else {
            linkA.orderTransfer(ID, amount, bob, EUR, CHAIN_B);
            assertEq(tokenA.balanceOnHold(alice), held + amount);
        }
    }

    /// @dev Any non-empty operation id works end to end and keys the hold and the mint; the
    /// order message hash is the same on both links.
    function testFuzz_anyOperationId(string memory id, uint256 amount) public {
        vm.assume(bytes(id).length != 0);
        amount = bound(amount, 1, INITIAL);
        bytes32 orderHash = _order(id, amount);
        (address from,,, uint256 value,,) = tokenA.retrieveHoldData(id);
        assertEq(from, alice);
        assertEq(value, amount);
        _accept(id, amount, SECRET);
        assertEq(_data(linkB, id).orderMessageHash, orderHash);
        _acknowledge(id);
        _executeOut(id, SECRET);
        _executeIn(id, SECRET);
        assertEq(tokenB.balanceOf(bob), amount);
        assertEq(_status(linkA, id), S_OUT_EXECUTED);
        assertEq(_status(linkB, id), S_IN_EXECUTED);
    }

    /// @dev Order message hashes differ as soon as one field differs.
    function testFuzz_orderHashesAreUnique(uint256 a1, uint256 a2, address to1, address to2) public view {
        vm.assume(a1 != a2 || to1 != to2);
        assertTrue(
            linkA.hashOrder(ID, alice, a1, to1, EUR, CHAIN_A, CHAIN_B)
                != linkA.hashOrder(ID, alice, a2, to2, EUR, CHAIN_A, CHAIN_B)
        );
    }

    /// @dev Acknowledging needs exactly the destination's accept message and hash lock.
    function testFuzz_acknowledgeChecksTheAcceptMessage(uint256 amount, bytes32 lie) public {
        amount = bound(amount, 1, INITIAL);
        _order(ID, amount);
        bytes32 acceptHash = _accept(ID, amount, SECRET);
        vm.assume(lie != acceptHash);
        vm.prank(platform);
        vm.expectRevert("Accept message hash does not match the order");
        linkA.acknowledgeTransfer(ID, lie, _lock(SECRET));
        vm.prank(platform);
        linkA.acknowledgeTransfer(ID, acceptHash, _lock(SECRET));
    }
}
