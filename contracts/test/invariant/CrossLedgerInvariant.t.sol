// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {console2} from "forge-std/console2.sol";
import {EmToken} from "../../src/EmToken.sol";
import {IHoldable} from "../../src/IHoldable.sol";
import {CrossLedgerLink} from "../../src/CrossLedgerLink.sol";
import {ICrossLedgerLink} from "../../src/ICrossLedgerLink.sol";
import {CrossLedgerHandler} from "./CrossLedgerHandler.sol";

/// @dev Two networks in one EVM (A = chain 1001, B = chain 1002), each an EmToken and a
/// CrossLedgerLink, driven by {CrossLedgerHandler} in random order (seeded in foundry.toml, so
/// runs replay). Invariants: the supply over both networks only moves (never grows; it is short
/// exactly by what was burned and not minted yet); each side of a transfer executes at most once;
/// a revoked transfer's hold is released and the payer's balance restored; the amounts on hold
/// are exactly the open transfers; both sides of a transfer agree.
/// A transfer takes five steps, so the runs are deeper than the token's (about 20 orders and a
/// handful of finished and revoked transfers per run). The checks walk every transfer of the run,
/// so they run every 4 calls and at the end of each run: what they catch (a double mint, a hold
/// left open, a missing burn) cannot be undone by later calls, so a violation is still there at
/// the next check.
/// forge-config: default.invariant.depth = 96
/// forge-config: default.invariant.check_interval = 4
/// forge-config: ci.invariant.depth = 128
/// forge-config: ci.invariant.check_interval = 4
contract CrossLedgerInvariantTest is Test {
    using Statuses for ICrossLedgerLink.CrossLedgerTransferStatus;

    uint256 internal constant INITIAL = 1e9;
    uint256 internal constant ACTORS = 4;

    EmToken[2] internal tokens;
    CrossLedgerLink[2] internal links;
    CrossLedgerHandler internal handler;
    address internal admin = makeAddr("admin");
    address internal platform = makeAddr("platform");
    address[] internal actors;
    uint256 internal initialTotal;

    function setUp() public {
        vm.warp(1_700_000_000);
        uint256[2] memory chains = [uint256(1001), uint256(1002)];
        for (uint256 n; n < 2; n++) {
            tokens[n] = new EmToken("Euro e-money", "EURE", 2, "EUR", admin, platform);
            links[n] = new CrossLedgerLink(tokens[n], chains[n], admin, platform);
        }
        for (uint256 i; i < ACTORS; i++) {
            actors.push(makeAddr(string.concat("actor", vm.toString(i))));
        }
        vm.startPrank(admin);
        for (uint256 n; n < 2; n++) {
            EmToken t = tokens[n];
            t.grantRole(t.OPERATOR_ROLE(), address(links[n]));
            t.grantRole(t.BURNER_ROLE(), address(links[n]));
            t.grantRole(t.MINTER_ROLE(), address(links[n]));
            links[n].activateChain(chains[1 - n]);
            links[n].activateCurrency("EUR", chains[1 - n]);
        }
        vm.stopPrank();
        vm.startPrank(platform);
        for (uint256 n; n < 2; n++) {
            for (uint256 i; i < ACTORS; i++) {
                tokens[n].mint(string.concat("seed-", vm.toString(n), "-", vm.toString(i)), actors[i], INITIAL);
            }
        }
        vm.stopPrank();
        initialTotal = tokens[0].totalSupply() + tokens[1].totalSupply();

        handler = new CrossLedgerHandler(tokens, links, platform, admin, actors, INITIAL);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = CrossLedgerHandler.order.selector;
        selectors[1] = CrossLedgerHandler.relay.selector;
        selectors[2] = CrossLedgerHandler.chaos.selector;
        selectors[3] = CrossLedgerHandler.transfer.selector;
        selectors[4] = CrossLedgerHandler.disturb.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function _supply() internal view returns (uint256) {
        return tokens[0].totalSupply() + tokens[1].totalSupply();
    }

    function _transfer(uint256 net, string memory id) internal view returns (ICrossLedgerLink.TransferData memory) {
        return links[net].getTransferData(id);
    }

    // ---- invariants -----------------------------------------------------------------------

    /// @dev Supply only moves: never more than at the start, and short exactly by what was
    /// burned on an origin and not minted yet on its destination.
    function invariant_supplyOnlyMoves() public view {
        assertLe(_supply(), initialTotal, "supply grew");
        assertEq(_supply() + handler.inFlight(), initialTotal, "supply = initial - in flight");
    }

    /// @dev Each side of each transfer executes at most once, and no destination mints what its
    /// origin did not burn.
    function invariant_eachSideExecutesAtMostOnce() public view {
        assertEq(handler.doubleExecutions(), 0, "a side executed twice");
        assertEq(handler.mintsWithoutBurn(), 0, "minted before the burn");
        for (uint256 i; i < handler.idCount(); i++) {
            string memory id = handler.idAt(i);
            bytes32 k = keccak256(bytes(id));
            CrossLedgerHandler.Ghost memory g = handler.ghost(id);
            assertLe(handler.outExecutions(k), 1);
            assertLe(handler.inExecutions(k), 1);
            assertEq(
                handler.outExecutions(k) == 1,
                _transfer(g.origin, id).status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted)
            );
            assertEq(
                handler.inExecutions(k) == 1,
                _transfer(1 - g.origin, id).status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferInExecuted)
            );
        }
    }

    /// @dev Every origin hold is in the state its transfer says: open while Ordered or
    /// Acknowledged, executed once executed out, released once revoked.
    function invariant_revokedHoldsAreReleased() public view {
        for (uint256 i; i < handler.idCount(); i++) {
            string memory id = handler.idAt(i);
            CrossLedgerHandler.Ghost memory g = handler.ghost(id);
            ICrossLedgerLink.CrossLedgerTransferStatus s = _transfer(g.origin, id).status;
            (address from, address to, address notary, uint256 value,, IHoldable.HoldStatusCode hs) =
                tokens[g.origin].retrieveHoldData(id);
            assertEq(from, g.from);
            assertEq(to, address(links[g.origin]));
            assertEq(notary, address(links[g.origin]));
            assertEq(value, g.amount);
            if (s.is_(ICrossLedgerLink.CrossLedgerTransferStatus.Revoked)) {
                assertEq(uint8(hs), uint8(IHoldable.HoldStatusCode.ReleasedByNotary), "revoked: released");
            } else if (s.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted)) {
                assertEq(uint8(hs), uint8(IHoldable.HoldStatusCode.Executed), "executed out: burned");
            } else {
                assertTrue(s.isOpen(), "an origin record is Ordered, Acknowledged, Revoked or executed");
                assertEq(uint8(hs), uint8(IHoldable.HoldStatusCode.Ordered), "open: held");
            }
        }
    }

    /// @dev Every account's gross balance is its start plus what it received minus what it sent
    /// or had burned: revoked transfers cost nothing (the balance is restored).
    function invariant_balancesFollowTheTransfers() public view {
        for (uint256 n; n < 2; n++) {
            for (uint256 i; i < actors.length; i++) {
                assertEq(tokens[n].netBalanceOf(actors[i]), handler.expectedGross(n, actors[i]), "gross balance");
            }
            assertEq(tokens[n].netBalanceOf(address(links[n])), 0, "the link holds no money");
        }
    }

    /// @dev The amounts on hold are exactly the open transfers (Ordered or Acknowledged on their
    /// origin), per account and in total, as the links' records and the ghost books say.
    function invariant_heldAmountsMatchOpenTransfers() public view {
        uint256[2] memory openTotal;
        uint256[2][ACTORS] memory openPerActor;
        for (uint256 i; i < handler.idCount(); i++) {
            string memory id = handler.idAt(i);
            CrossLedgerHandler.Ghost memory g = handler.ghost(id);
            ICrossLedgerLink.TransferData memory o = _transfer(g.origin, id);
            if (!o.status.isOpen()) continue;
            openTotal[g.origin] += o.amount;
            for (uint256 a; a < ACTORS; a++) {
                if (actors[a] == o.from) openPerActor[a][g.origin] += o.amount;
            }
        }
        for (uint256 n; n < 2; n++) {
            assertEq(tokens[n].totalSupplyOnHold(), openTotal[n], "total held = open transfers");
            for (uint256 a; a < ACTORS; a++) {
                assertEq(tokens[n].balanceOnHold(actors[a]), openPerActor[a][n], "held = open transfers");
                assertEq(tokens[n].balanceOnHold(actors[a]), handler.expectedHeld(n, actors[a]), "held = ghost");
            }
        }
    }

    /// @dev Both sides agree: a mint needs a burn, a burn needs an acceptance, an acknowledgement
    /// needs an acceptance (same accept message, same hash lock), every execution revealed the
    /// hash lock's preimage, and the destination answered the very order the origin recorded.
    function invariant_sidesAgree() public view {
        for (uint256 i; i < handler.idCount(); i++) {
            string memory id = handler.idAt(i);
            CrossLedgerHandler.Ghost memory g = handler.ghost(id);
            ICrossLedgerLink.TransferData memory o = _transfer(g.origin, id);
            ICrossLedgerLink.TransferData memory d = _transfer(1 - g.origin, id);
            assertEq(uint8(o.transferType), uint8(ICrossLedgerLink.CrossLedgerTransferType.TransferOut));
            if (d.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferInExecuted)) {
                assertTrue(o.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted), "mint: burned");
                assertEq(d.secret, o.secret);
                assertEq(keccak256(abi.encodePacked(d.secret)), d.hashLock, "minted against the preimage");
            }
            if (o.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted)) {
                assertEq(keccak256(abi.encodePacked(o.secret)), o.hashLock, "burned against the preimage");
            }
            if (
                o.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.Acknowledged)
                    || o.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted)
            ) {
                assertTrue(
                    d.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.Accepted)
                        || d.status.is_(ICrossLedgerLink.CrossLedgerTransferStatus.TransferInExecuted),
                    "acknowledged: accepted"
                );
                assertEq(o.answerMessageHash, d.answerMessageHash);
                assertEq(o.hashLock, d.hashLock);
            }
            if (d.status != ICrossLedgerLink.CrossLedgerTransferStatus.NonEstablished) {
                assertEq(uint8(d.transferType), uint8(ICrossLedgerLink.CrossLedgerTransferType.TransferIn));
                assertEq(d.orderMessageHash, o.orderMessageHash, "the destination answered this order");
                assertEq(d.amount, o.amount);
                assertEq(d.to, o.to);
            }
        }
    }

    function afterInvariant() public view {
        console2.log("orders accepts revokes", handler.orders(), handler.accepts(), handler.revokes());
        console2.log("acks revs outs", handler.acknowledgements(), handler.revocations(), handler.outs());
        console2.log("ins", handler.ins());
    }

    // ---- the handler itself ---------------------------------------------------------------

    /// @dev The handler completes transfers, revokes them, and its detectors see retries fail.
    /// Seed 0 picks the latest transfer, an odd seed 2i+1 the i-th.
    function test_handlerCompletesRevokesAndRefusesRepeats() public {
        handler.order(0, 0, 1, 100, 0); // cl-1: A -> B, actor0 -> actor1, by the user
        handler.accept(0);
        handler.executeIn(0, false); // before the burn: the secret is not public yet
        handler.acknowledge(0);
        handler.executeOut(0, true); // wrong secret
        handler.executeOut(0, false);
        handler.executeOut(0, false); // repeat
        handler.executeIn(0, true); // wrong secret
        handler.executeIn(0, false);
        handler.executeIn(0, false); // repeat
        assertEq(handler.outs(), 1);
        assertEq(handler.ins(), 1);
        assertEq(tokens[1].balanceOf(actors[1]), INITIAL + 100);

        handler.order(1, 2, 3, 50, 1); // cl-2: B -> A by the platform, lock fixed at order time
        handler.revoke(0, 7);
        handler.accept(0); // refused: revoked
        handler.acknowledge(0); // refused: not accepted
        handler.acknowledgeRevocation(0, 0, 1);
        handler.executeOut(0, false); // refused: revoked
        assertEq(handler.revocations(), 1);
        assertEq(tokens[1].balanceOf(actors[2]), INITIAL, "restored");

        handler.order(0, 1, 2, 10, 2); // cl-3: accepted on B, then revoked alone on A
        handler.accept(0);
        handler.acknowledgeRevocation(0, 3, 0);
        handler.acknowledge(0); // refused: revoked
        handler.executeIn(0, false); // refused: no secret revealed
        handler.executeIn(5, false); // cl-3 by its index: refused again
        assertEq(handler.ins(), 1);

        handler.order(1, 3, 0, 20, 0); // cl-4: B -> A, the relayer does it all
        handler.relay(0, 1, 4);
        assertEq(handler.ins(), 2);
        handler.chaos(4, 7, 1); // execute out again on cl-4 (index 3): refused
        handler.chaos(5, 7, 1); // execute in again: refused
        handler.relay(1, 1, 4); // cl-1 is done: nothing to do
        assertEq(handler.outs(), 2);
        assertEq(handler.ins(), 2);
        assertEq(handler.doubleExecutions(), 0);
        assertEq(handler.mintsWithoutBurn(), 0);
        assertEq(_supply(), initialTotal);

        handler.disturb(3, 0, 0); // pause A
        handler.order(0, 0, 1, 1, 0); // refused while paused
        assertEq(handler.orders(), 4);
        handler.disturb(4, 0, 0); // everything back
        handler.order(0, 0, 1, 1, 0);
        assertEq(handler.orders(), 5);

        invariant_supplyOnlyMoves();
        invariant_eachSideExecutesAtMostOnce();
        invariant_revokedHoldsAreReleased();
        invariant_balancesFollowTheTransfers();
        invariant_heldAmountsMatchOpenTransfers();
        invariant_sidesAgree();
    }
}

/// @dev Status predicates for readable invariants.
library Statuses {
    function is_(ICrossLedgerLink.CrossLedgerTransferStatus s, ICrossLedgerLink.CrossLedgerTransferStatus t)
        internal
        pure
        returns (bool)
    {
        return s == t;
    }

    /// @dev An origin transfer whose amount is still held.
    function isOpen(ICrossLedgerLink.CrossLedgerTransferStatus s) internal pure returns (bool) {
        return s == ICrossLedgerLink.CrossLedgerTransferStatus.Ordered
            || s == ICrossLedgerLink.CrossLedgerTransferStatus.Acknowledged;
    }
}
