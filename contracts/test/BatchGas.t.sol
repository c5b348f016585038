// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EmTokenTestBase} from "./utils/EmTokenTestBase.sol";
import {EmToken} from "../src/EmToken.sol";

/// @dev Gas of {EmToken.batch} at 1, 10, 64 (the platform's batch size) and 100 inner operatorTransfer calls and of a lone
/// operatorTransfer, recorded in `.gas-snapshot` (issue 21 item 4).
///
/// Every transfer has the same shape, lone or batched: its own payer and payee (100 of each,
/// random-looking addresses, funded in setUp, so each balance write is a cold non-zero → non-zero
/// SSTORE), a 36-character UUID-like operation id (as the platform sends), a 2-decimal amount.
///
/// The snapshot figure of a `test_gas_*` test is the test's whole execution gas: the test
/// contract building and ABI-encoding the calls in its own memory (which a real transaction does
/// not pay) + the call into the token; no 21,000 base, no calldata. It tracks changes; it is not
/// the transaction's cost. The `test_report_*` tests log (forge test --match-contract
/// BatchGasTest -vv) the transaction-level figure of the same call:
///     tx gas = 21,000 + calldata gas (16 per non-zero byte, 4 per zero byte of the call's ABI
///              encoding; Berlin pricing, no access list) + the token frame's execution gas
///              (vm.lastCallGas: what the transaction's top frame would use)
/// and that divided by the number of inner calls.
contract BatchGasTest is EmTokenTestBase {
    uint256 internal constant N = 100;
    uint256 internal constant VALUE = 2_500;
    uint256 internal constant FUNDS = 1_000_000;

    function setUp() public override {
        super.setUp();
        vm.startPrank(platform);
        for (uint256 i = 0; i < N; ++i) {
            token.mint("fund", _payer(i), FUNDS);
            token.mint("fund", _payee(i), FUNDS);
        }
        vm.stopPrank();
    }

    /// @dev Wallet addresses look like real ones (20 random bytes): calldata is priced per byte.
    function _payer(uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("payer", i)))));
    }

    function _payee(uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("payee", i)))));
    }

    /// @dev A 36-character id shaped like the platform's UUIDv7 strings, distinct per `i`.
    function _id(uint256 i) internal pure returns (string memory) {
        bytes memory s = bytes("0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4000");
        s[33] = bytes1(uint8(0x30 + (i / 100) % 10));
        s[34] = bytes1(uint8(0x30 + (i / 10) % 10));
        s[35] = bytes1(uint8(0x30 + i % 10));
        return string(s);
    }

    function _call(uint256 i) internal pure returns (bytes memory) {
        return abi.encodeCall(EmToken.operatorTransfer, (_id(i), _payer(i), _payee(i), VALUE));
    }

    /// @dev Calldata gas of a transaction carrying `data` (EIP-2028 pricing).
    function _calldataGas(bytes memory data) internal pure returns (uint256 g) {
        for (uint256 i = 0; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev Builds `n` calls, runs them in one batch as the platform; returns the call's gas.
    function _batch(uint256 n) internal returns (uint256 g, bytes[] memory calls) {
        calls = new bytes[](n);
        for (uint256 i = 0; i < n; ++i) {
            calls[i] = _call(i);
        }
        vm.prank(platform);
        uint256 failed = token.batch(calls);
        g = vm.lastCallGas().gasTotalUsed;
        assertEq(failed, 0);
        assertEq(token.balanceOf(_payee(n - 1)), FUNDS + VALUE);
    }

    function _lone() internal returns (uint256 g) {
        vm.prank(platform);
        token.operatorTransfer(_id(0), _payer(0), _payee(0), VALUE);
        g = vm.lastCallGas().gasTotalUsed;
        assertEq(token.balanceOf(_payee(0)), FUNDS + VALUE);
    }

    // ---- the snapshot: building the calls + the call, nothing else -----------------------

    function test_gas_operatorTransfer_lone() public {
        _lone();
    }

    function test_gas_batch_001() public {
        _batch(1);
    }

    function test_gas_batch_010() public {
        _batch(10);
    }

    function test_gas_batch_064() public {
        _batch(64);
    }

    function test_gas_batch_100() public {
        _batch(100);
    }

    // ---- transaction-level figures (forge test --match-contract BatchGasTest -vv) ---------

    function _report(string memory what, uint256 ops, uint256 exec, bytes memory txData) internal {
        uint256 cd = _calldataGas(txData);
        uint256 txGas = 21_000 + cd + exec;
        emit log_named_uint(string.concat(what, ": execution gas (the token's frame)"), exec);
        emit log_named_uint(string.concat(what, ": calldata gas"), cd);
        emit log_named_uint(string.concat(what, ": transaction gas"), txGas);
        emit log_named_uint(string.concat(what, ": transaction gas per operation"), txGas / ops);
    }

    function _reportBatch(uint256 n) internal {
        (uint256 g, bytes[] memory calls) = _batch(n);
        _report(string.concat("batch x", vm.toString(n)), n, g, abi.encodeCall(EmToken.batch, (calls)));
    }

    function test_report_operatorTransfer_lone() public {
        _report("lone operatorTransfer", 1, _lone(), _call(0));
    }

    function test_report_batch_001() public {
        _reportBatch(1);
    }

    function test_report_batch_010() public {
        _reportBatch(10);
    }

    /// @dev 64: the batch size the platform sends.
    function test_report_batch_064() public {
        _reportBatch(64);
    }

    function test_report_batch_100() public {
        _reportBatch(100);
    }
}
