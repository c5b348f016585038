// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {EmToken} from "../../src/EmToken.sol";
import {CrossLedgerLink} from "../../src/CrossLedgerLink.sol";
import {ICrossLedgerLink} from "../../src/ICrossLedgerLink.sol";

/// @dev Drives two networks (index 0 = A, 1 = B, each a token and its link) in random order:
/// users order transfers either way (themselves or through the platform, with or without a hash
/// lock fixed at order time); the platform accepts, revokes, acknowledges acceptances and
/// revocations and executes out and in; users move funds; the admin toggles chains, currencies,
/// freezes and pauses. Every step may hit any known transfer in any state, and executions are
/// also tried with wrong secrets.
///
/// The handler plays an honest relayer that can only see each chain's public state: it answers on
/// the destination with the fields of the origin's record, acknowledges on the origin the
/// destination's accept message and hash lock, and executes in with the secret the origin's
/// execute-out revealed (nothing before). It executes out with the secret it chose. It also takes
/// steps an honest relayer would not (revoking on the origin after the destination accepted,
/// executing with a wrong secret, repeating steps): the contracts must refuse them or stay safe.
///
/// Ghost books, updated only when a call succeeded: the gross balance and the held amount each
/// account should have, the amount burned on an origin and not minted yet on its destination,
/// and how many times each side of each transfer executed.
contract CrossLedgerHandler is CommonBase, StdCheats, StdUtils {
    struct Ghost {
        uint8 origin; // network index of the origin
        address from;
        address to;
        uint256 amount;
        bytes32 secret; // the relayer's secret
    }

    EmToken[2] public tokens;
    CrossLedgerLink[2] public links;
    address public immutable platform;
    address public immutable admin;
    address[] public actors;

    string[] internal _ids;
    mapping(bytes32 idKey => Ghost) internal _ghosts;
    mapping(bytes32 idKey => uint256) public outExecutions;
    mapping(bytes32 idKey => uint256) public inExecutions;
    mapping(uint256 net => mapping(address account => uint256)) public expectedGross;
    mapping(uint256 net => mapping(address account => uint256)) public expectedHeld;
    /// @dev Burned on an origin, not minted on the destination yet.
    uint256 public inFlight;
    /// @dev A side executed a second time.
    uint256 public doubleExecutions;
    /// @dev A destination minted what its origin had not burned.
    uint256 public mintsWithoutBurn;
    /// @dev Successful steps, to see that runs get somewhere.
    uint256 public orders;
    uint256 public accepts;
    uint256 public revokes;
    uint256 public acknowledgements;
    uint256 public revocations;
    uint256 public outs;
    uint256 public ins;

    uint256 internal _nonce;

    constructor(
        EmToken[2] memory tokens_,
        CrossLedgerLink[2] memory links_,
        address platform_,
        address admin_,
        address[] memory actors_,
        uint256 initialBalance
    ) {
        tokens = tokens_;
        links = links_;
        platform = platform_;
        admin = admin_;
        actors = actors_;
        for (uint256 n; n < 2; n++) {
            for (uint256 i; i < actors_.length; i++) {
                expectedGross[n][actors_[i]] = initialBalance;
            }
        }
    }

    function idCount() external view returns (uint256) {
        return _ids.length;
    }

    function idAt(uint256 i) external view returns (string memory) {
        return _ids[i];
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function ghost(string memory id) external view returns (Ghost memory) {
        return _ghosts[_k(id)];
    }

    // ---- users ----------------------------------------------------------------------------

    /// @dev An actor orders a transfer from network `netSeed % 2` to the other, directly or
    /// through the platform (which may fix the hash lock at order time).
    function order(uint256 netSeed, uint256 fromSeed, uint256 toSeed, uint256 amount, uint8 how) external {
        uint8 origin = uint8(netSeed % 2);
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        uint256 available = tokens[origin].balanceOf(from);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        string memory id = string.concat("cl-", vm.toString(++_nonce));
        bytes32 secret = keccak256(abi.encode("secret", id));
        uint256 destChain = links[1 - origin].chainId();

        bool ok;
        if (how % 3 == 0) {
            vm.prank(from);
            try links[origin].orderTransfer(id, amount, to, "EUR", destChain) {
                ok = true;
            } catch {}
        } else {
            bytes32 lock = how % 3 == 1 ? keccak256(abi.encodePacked(secret)) : bytes32(0);
            vm.prank(platform);
            try links[origin].orderTransferFrom(id, from, amount, to, "EUR", destChain, lock) {
                ok = true;
            } catch {}
        }
        if (!ok) return;
        _ids.push(id);
        _ghosts[_k(id)] = Ghost(origin, from, to, amount, secret);
        expectedHeld[origin][from] += amount;
        orders++;
    }

    /// @dev An ordinary ERC-20 transfer of available funds on one network.
    function transfer(uint256 netSeed, uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        uint256 net = netSeed % 2;
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        amount = bound(amount, 0, tokens[net].balanceOf(from));
        vm.prank(from);
        try tokens[net].transfer(to, amount) {
            expectedGross[net][from] -= amount;
            expectedGross[net][to] += amount;
        } catch {}
    }

    // ---- the platform ---------------------------------------------------------------------

    /// @dev Accepts on the destination the order as the origin recorded it.
    function accept(uint256 idSeed) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _accept(id, g);
    }

    function _accept(string memory id, Ghost memory g) internal {
        ICrossLedgerLink.TransferData memory o = links[g.origin].getTransferData(id);
        bytes32 lock = o.hashLock != bytes32(0) ? o.hashLock : keccak256(abi.encodePacked(g.secret));
        vm.prank(platform);
        try links[1 - g.origin].acceptTransfer(id, o.from, o.amount, o.to, o.currency, o.originChainId, lock) {
            accepts++;
        } catch {}
    }

    /// @dev Refuses on the destination the order as the origin recorded it.
    function revoke(uint256 idSeed, uint8 reason) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _revoke(id, g, reason);
    }

    function _revoke(string memory id, Ghost memory g, uint8 reason) internal {
        ICrossLedgerLink.TransferData memory o = links[g.origin].getTransferData(id);
        reason = uint8(bound(reason, 1, type(uint8).max));
        vm.prank(platform);
        try links[1 - g.origin].revokeTransfer(id, o.from, o.amount, o.to, o.currency, o.originChainId, reason) {
            revokes++;
        } catch {}
    }

    /// @dev Acknowledges on the origin what the destination recorded (fails unless it accepted).
    function acknowledge(uint256 idSeed) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _acknowledge(id, g);
    }

    function _acknowledge(string memory id, Ghost memory g) internal {
        ICrossLedgerLink.TransferData memory d = links[1 - g.origin].getTransferData(id);
        vm.prank(platform);
        try links[g.origin].acknowledgeTransfer(id, d.answerMessageHash, d.hashLock) {
            acknowledgements++;
        } catch {}
    }

    /// @dev Acknowledges a revocation on the origin: the destination's, or (one time in four) the
    /// platform's own, even when the destination accepted.
    function acknowledgeRevocation(uint256 idSeed, uint8 reason, uint8 aloneSeed) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _acknowledgeRevocation(id, g, reason, aloneSeed % 4 == 0);
    }

    function _acknowledgeRevocation(string memory id, Ghost memory g, uint8 reason, bool alone) internal {
        ICrossLedgerLink.TransferData memory d = links[1 - g.origin].getTransferData(id);
        bytes32 revokeHash;
        if (!alone && d.status == ICrossLedgerLink.CrossLedgerTransferStatus.Revoked) {
            revokeHash = d.answerMessageHash;
            reason = d.reason;
        } else {
            reason = uint8(bound(reason, 1, type(uint8).max));
        }
        vm.prank(platform);
        try links[g.origin].acknowledgeRevocation(id, revokeHash, reason) {
            expectedHeld[g.origin][g.from] -= g.amount;
            revocations++;
        } catch {}
    }

    /// @dev Executes out on the origin with the relayer's secret, or a wrong one.
    function executeOut(uint256 idSeed, bool wrongSecret) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _executeOut(id, g, wrongSecret);
    }

    function _executeOut(string memory id, Ghost memory g, bool wrongSecret) internal {
        bytes32 secret = wrongSecret ? keccak256(abi.encode(g.secret)) : g.secret;
        vm.prank(platform);
        try links[g.origin].executeTransferOut(id, secret) {
            outs++;
            if (outExecutions[_k(id)]++ != 0) {
                doubleExecutions++; // the books cannot follow a second burn
                return;
            }
            expectedGross[g.origin][g.from] -= g.amount;
            expectedHeld[g.origin][g.from] -= g.amount;
            inFlight += g.amount;
        } catch {}
    }

    /// @dev Executes in on the destination with the secret the origin revealed (zero before its
    /// execute-out), or a wrong one.
    function executeIn(uint256 idSeed, bool wrongSecret) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length != 0) _executeIn(id, g, wrongSecret);
    }

    function _executeIn(string memory id, Ghost memory g, bool wrongSecret) internal {
        bytes32 revealed = links[g.origin].getTransferData(id).secret;
        bytes32 secret = wrongSecret ? keccak256(abi.encode(revealed, "wrong")) : revealed;
        vm.prank(platform);
        try links[1 - g.origin].executeTransferIn(id, secret) {
            ins++;
            expectedGross[1 - g.origin][g.to] += g.amount;
            if (inExecutions[_k(id)]++ != 0) {
                doubleExecutions++;
                mintsWithoutBurn++; // the second mint has no burn of its own
            } else if (outExecutions[_k(id)] == 0) {
                mintsWithoutBurn++;
            } else {
                inFlight -= g.amount;
            }
        } catch {}
    }

    /// @dev One single step on any known transfer, in any state: `which` % 6 picks accept,
    /// revoke, acknowledge, acknowledge a revocation (alone when `arg` is even), execute out or
    /// execute in (both with a wrong secret when `arg` is even). The invariant test targets this
    /// rather than the single-step functions, so that ordering and relaying are not drowned.
    function chaos(uint8 which, uint256 idSeed, uint8 arg) external {
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length == 0) return;
        which = which % 6;
        bool even = arg % 2 == 0;
        if (which == 0) _accept(id, g);
        else if (which == 1) _revoke(id, g, arg);
        else if (which == 2) _acknowledge(id, g);
        else if (which == 3) _acknowledgeRevocation(id, g, arg, even);
        else if (which == 4) _executeOut(id, g, even);
        else _executeIn(id, g, even);
    }

    /// @dev The next 1 to 4 steps an honest relayer takes for one transfer, whatever they are:
    /// answer on the destination (accept, or one time in four revoke), acknowledge the answer on the
    /// origin, execute out, execute in. Makes runs finish transfers; the single steps above add
    /// the chaos.
    function relay(uint256 idSeed, uint8 refuseSeed, uint8 steps) external {
        bool refuse = refuseSeed % 4 == 0;
        (string memory id, Ghost memory g) = _pick(idSeed);
        if (bytes(id).length == 0) return;
        steps = uint8(bound(steps, 1, 4));
        for (uint256 i; i < steps; i++) {
            _relayStep(id, g, refuse);
        }
    }

    function _relayStep(string memory id, Ghost memory g, bool refuse) internal {
        ICrossLedgerLink.CrossLedgerTransferStatus o = links[g.origin].getTransferData(id).status;
        ICrossLedgerLink.CrossLedgerTransferStatus d = links[1 - g.origin].getTransferData(id).status;
        if (o == ICrossLedgerLink.CrossLedgerTransferStatus.Ordered) {
            if (d == ICrossLedgerLink.CrossLedgerTransferStatus.NonEstablished) {
                if (refuse) _revoke(id, g, 1);
                else _accept(id, g);
            } else if (d == ICrossLedgerLink.CrossLedgerTransferStatus.Accepted) {
                _acknowledge(id, g);
            } else {
                _acknowledgeRevocation(id, g, 0, false);
            }
        } else if (o == ICrossLedgerLink.CrossLedgerTransferStatus.Acknowledged) {
            _executeOut(id, g, false);
        } else if (o == ICrossLedgerLink.CrossLedgerTransferStatus.TransferOutExecuted) {
            _executeIn(id, g, false);
        }
    }

    // ---- the admin ------------------------------------------------------------------------

    /// @dev The admin disturbs one network (`what` % 16: 0 deactivates the other chain, 1
    /// deactivates EUR towards it, 2 freezes an actor, 3 pauses the token) or, three times in
    /// four, puts everything back (chains and currency active, actors unfrozen, tokens unpaused),
    /// so that transfers meet the disturbances without being stopped by them for good.
    function disturb(uint8 what, uint256 netSeed, uint256 actorSeed) external {
        uint256 net = netSeed % 2;
        EmToken t = tokens[net];
        CrossLedgerLink l = links[net];
        uint256 other = links[1 - net].chainId();
        vm.startPrank(admin);
        what = what % 16;
        if (what == 0 && l.isChainActive(other)) l.deactivateChain(other);
        else if (what == 1 && l.isCurrencyActiveForChain("EUR", other)) l.deactivateCurrency("EUR", other);
        else if (what == 2 && !t.isFrozen(_actor(actorSeed))) t.freeze(_actor(actorSeed));
        else if (what == 3 && !t.paused()) t.pause();
        else if (what >= 4) _restore();
        vm.stopPrank();
    }

    /// @dev Everything active, unfrozen and unpaused again (as the admin).
    function _restore() internal {
        for (uint256 n; n < 2; n++) {
            uint256 other = links[1 - n].chainId();
            if (!links[n].isChainActive(other)) links[n].activateChain(other);
            if (!links[n].isCurrencyActiveForChain("EUR", other)) links[n].activateCurrency("EUR", other);
            if (tokens[n].paused()) tokens[n].unpause();
            for (uint256 i; i < actors.length; i++) {
                if (tokens[n].isFrozen(actors[i])) tokens[n].unfreeze(actors[i]);
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _pick(uint256 seed) internal view returns (string memory id, Ghost memory g) {
        if (_ids.length == 0) return ("", g);
        // half of the time the latest transfer, so its steps follow each other
        id = seed % 2 == 0 ? _ids[_ids.length - 1] : _ids[(seed / 2) % _ids.length];
        g = _ghosts[_k(id)];
    }

    function _k(string memory id) internal pure returns (bytes32) {
        return keccak256(bytes(id));
    }
}
