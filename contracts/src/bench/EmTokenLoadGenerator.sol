// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {EmToken} from "../EmToken.sol";

/// @title EmTokenLoadGenerator
/// @notice Benchmark-only helper: makes EmToken emit many real events per
/// transaction (transfers, holds, executions, releases) so the indexer's
/// decode and movement paths run at volume. It must hold EmToken's
/// OPERATOR_ROLE (default operator: moves funds and creates holds for anyone)
/// and MINTER_ROLE. It is the notary of the holds it creates. Never deploy it
/// next to a production token.
contract EmTokenLoadGenerator {
    /// @notice The token under load.
    EmToken public immutable token;

    /// @notice Counter that keeps operation ids unique across calls.
    uint256 public counter;

    /// @param token_ the EmToken to drive
    constructor(EmToken token_) {
        token = token_;
    }

    /// @notice Mints `value` to every account (2 events each).
    /// @param accounts the accounts to fund
    /// @param value amount per account, in minor units
    function fund(address[] calldata accounts, uint256 value) external {
        for (uint256 i = 0; i < accounts.length; i++) {
            token.mint(_id("fund-", counter++), accounts[i], value);
        }
    }

    /// @notice Makes EmToken emit exactly `events` events among `accounts`,
    /// in rounds of seven: an operator transfer (2), a hold executed partially
    /// (1 + 2) and a hold released (1 + 1); the remainder with transfers (2)
    /// and, for a last odd event, a hold left open (1).
    /// @param accounts funded accounts (at least two)
    /// @param events how many EmToken events to emit
    function generate(address[] calldata accounts, uint256 events) external {
        uint256 n = accounts.length;
        while (events >= 7) {
            uint256 c = counter++;
            address a = accounts[c % n];
            address b = accounts[(c + 1) % n];
            token.operatorTransfer(_id("t-", c), a, b, 1);
            string memory executed = _id("he-", c);
            token.holdFrom(executed, a, b, address(this), 3, 0);
            token.executeHold(executed, 2);
            string memory released = _id("hr-", c);
            token.holdFrom(released, b, a, address(this), 1, 0);
            token.releaseHold(released);
            events -= 7;
        }
        while (events >= 2) {
            uint256 c = counter++;
            token.operatorTransfer(_id("t-", c), accounts[c % n], accounts[(c + 1) % n], 1);
            events -= 2;
        }
        if (events == 1) {
            uint256 c = counter++;
            token.holdFrom(_id("ho-", c), accounts[c % n], accounts[(c + 1) % n], address(this), 1, 0);
        }
    }

    function _id(string memory prefix, uint256 c) private pure returns (string memory) {
        return string.concat(prefix, Strings.toString(c));
    }
}
