// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {EmToken} from "../../src/EmToken.sol";
import {CrossLedgerLink} from "../../src/CrossLedgerLink.sol";
import {ICrossLedgerLink} from "../../src/ICrossLedgerLink.sol";

/// @dev Two networks in one EVM: network A (chain 1001) and network B (chain 1002), each with a
/// EUR EmToken and a CrossLedgerLink that knows its own chain id and has the other's active.
/// The platform is the tokens' operator and the links' cross-ledger operator; alice has 1,000 on A.
abstract contract CrossLedgerTestBase is Test {
    uint256 internal constant CHAIN_A = 1001;
    uint256 internal constant CHAIN_B = 1002;
    uint256 internal constant INITIAL = 1_000;
    string internal constant EUR = "EUR";
    string internal constant ID = "xfer-1";
    bytes32 internal constant SECRET = keccak256("secret-1");

    // Status and type numbering (part of the ABI).
    uint8 internal constant S_NON_ESTABLISHED = 0;
    uint8 internal constant S_ORDERED = 1;
    uint8 internal constant S_ACCEPTED = 2;
    uint8 internal constant S_REVOKED = 3;
    uint8 internal constant S_ACKNOWLEDGED = 4;
    uint8 internal constant S_IN_EXECUTED = 5;
    uint8 internal constant S_OUT_EXECUTED = 6;
    uint8 internal constant T_IN = 0;
    uint8 internal constant T_OUT = 1;

    EmToken internal tokenA;
    EmToken internal tokenB;
    CrossLedgerLink internal linkA;
    CrossLedgerLink internal linkB;

    address internal admin = makeAddr("admin");
    address internal platform = makeAddr("platform");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal stranger = makeAddr("stranger");

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        (tokenA, linkA) = _network(CHAIN_A, CHAIN_B);
        (tokenB, linkB) = _network(CHAIN_B, CHAIN_A);
        vm.prank(platform);
        tokenA.mint("mint-alice", alice, INITIAL);
    }

    /// @dev Deploys a token and its link on `chain`, grants the link its token roles and
    /// activates EUR towards `other`.
    function _network(uint256 chain, uint256 other) internal returns (EmToken t, CrossLedgerLink l) {
        t = new EmToken("Euro e-money", "EURE", 2, EUR, admin, platform);
        l = new CrossLedgerLink(t, chain, admin, platform);
        vm.startPrank(admin);
        t.grantRole(t.OPERATOR_ROLE(), address(l));
        t.grantRole(t.BURNER_ROLE(), address(l));
        t.grantRole(t.MINTER_ROLE(), address(l));
        l.activateChain(other);
        l.activateCurrency(EUR, other);
        vm.stopPrank();
    }

    // ---- helpers --------------------------------------------------------------------------

    function _lock(bytes32 secret) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(secret));
    }

    function _data(CrossLedgerLink l, string memory id) internal view returns (ICrossLedgerLink.TransferData memory) {
        return l.getTransferData(id);
    }

    function _status(CrossLedgerLink l, string memory id) internal view returns (uint8) {
        return uint8(l.getTransferData(id).status);
    }

    /// @dev alice orders `amount` on A for bob on B.
    function _order(string memory id, uint256 amount) internal returns (bytes32) {
        vm.prank(alice);
        return linkA.orderTransfer(id, amount, bob, EUR, CHAIN_B);
    }

    /// @dev The platform accepts on B the order alice placed on A.
    function _accept(string memory id, uint256 amount, bytes32 secret) internal returns (bytes32) {
        vm.prank(platform);
        return linkB.acceptTransfer(id, alice, amount, bob, EUR, CHAIN_A, _lock(secret));
    }

    /// @dev The platform revokes on B the order alice placed on A.
    function _revoke(string memory id, uint256 amount, uint8 reason) internal returns (bytes32) {
        vm.prank(platform);
        return linkB.revokeTransfer(id, alice, amount, bob, EUR, CHAIN_A, reason);
    }

    /// @dev The platform acknowledges on A what B accepted.
    function _acknowledge(string memory id) internal returns (bytes32) {
        ICrossLedgerLink.TransferData memory d = linkB.getTransferData(id);
        vm.prank(platform);
        return linkA.acknowledgeTransfer(id, d.answerMessageHash, d.hashLock);
    }

    function _executeOut(string memory id, bytes32 secret) internal returns (bytes32) {
        vm.prank(platform);
        return linkA.executeTransferOut(id, secret);
    }

    function _executeIn(string memory id, bytes32 secret) internal returns (bytes32) {
        vm.prank(platform);
        return linkB.executeTransferIn(id, secret);
    }

    /// @dev The whole protocol for `amount` from alice on A to bob on B.
    function _transfer(string memory id, uint256 amount, bytes32 secret) internal {
        _order(id, amount);
        _accept(id, amount, secret);
        _acknowledge(id);
        _executeOut(id, secret);
        _executeIn(id, secret);
    }
}
