// SPDX-License-Identifier: MIT
// Adapted from OpenZeppelin Contracts v5.4.0 (token/ERC20/ERC20.sol), MIT licensed.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @dev Largest total supply (and so largest balance or held balance) a {PackedERC20} accepts:
/// 2^120 - 1, about 1.3e36 base units (1.3e34 currency units at 2 decimals, 1.3e18 at 18).
uint256 constant MAX_TOTAL_SUPPLY = type(uint120).max;

/// @title PackedERC20
/// @notice ERC-20 base with OpenZeppelin's ERC20 (v5.4.0) external behaviour — same functions,
/// events, IERC20Errors custom errors and arguments, infinite allowance (type(uint256).max is
/// never decreased), `_update` as the single hook of every balance change — whose per-account
/// state lives in ONE storage slot: see {Account}.
///
/// Why: OpenZeppelin keeps balances in a private mapping, so the held balance ({Holdable}) and
/// the freeze flag (EmToken) had to live in mappings of their own, and a transfer read 5 cold
/// storage slots (payer balance, payee balance, payer held balance, payer and payee freeze flags).
/// With the three packed together a transfer reads and writes 2 (one per account), about 6,300
/// gas less per transfer (issue 21 item 4).
///
/// The price: balances are 120-bit. Minting refuses to raise the total supply above
/// {MAX_TOTAL_SUPPLY} ("Total supply can't exceed the maximum supply"); since no balance and no
/// held balance can exceed the total supply, no other path can overflow the packed widths.
abstract contract PackedERC20 is Context, IERC20, IERC20Metadata, IERC20Errors {
    /// @dev Everything a transfer needs to know about an account, in one storage slot
    /// (120 + 120 + 8 bits). `balance` is the gross ERC-20 balance, owned by this contract.
    /// `held` and `frozen` belong to the derived contracts and are kept here only to share the
    /// slot: `held` is {Holdable}'s amount on hold (never above `balance`), `frozen` EmToken's
    /// freeze flag. This contract never reads or writes them.
    struct Account {
        uint120 balance;
        uint120 held;
        bool frozen;
    }

    mapping(address account => Account) internal _accounts;
    mapping(address account => mapping(address spender => uint256)) private _allowances;
    uint256 private _totalSupply;
    string private _name;
    string private _symbol;

    /// @param name_ ERC-20 name
    /// @param symbol_ ERC-20 symbol
    constructor(string memory name_, string memory symbol_) {
        _name = name_;
        _symbol = symbol_;
    }

    /// @notice Name of the token.
    /// @return the name
    function name() public view virtual returns (string memory) {
        return _name;
    }

    /// @notice Symbol of the token.
    /// @return the symbol
    function symbol() public view virtual returns (string memory) {
        return _symbol;
    }

    /// @notice Number of decimals; 18 unless overridden.
    /// @return the decimals
    function decimals() public view virtual returns (uint8) {
        return 18;
    }

    /// @notice Amount of tokens in existence; never above {MAX_TOTAL_SUPPLY}.
    /// @return the total supply
    function totalSupply() public view virtual returns (uint256) {
        return _totalSupply;
    }

    /// @notice Gross balance of `account` (derived contracts may override, see {Holdable}).
    /// @param account the account
    /// @return the balance
    function balanceOf(address account) public view virtual returns (uint256) {
        return _accounts[account].balance;
    }

    /// @notice Moves `value` from the caller to `to`. Emits Transfer.
    /// @param to receiver, not the zero address
    /// @param value amount
    /// @return true
    function transfer(address to, uint256 value) public virtual returns (bool) {
        address owner = _msgSender();
        _transfer(owner, to, value);
        return true;
    }

    /// @notice How much `spender` may still move out of `owner`'s account.
    /// @param owner the account
    /// @param spender the spender
    /// @return the allowance
    function allowance(address owner, address spender) public view virtual returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @notice Lets `spender` move up to `value` of the caller's tokens; type(uint256).max is an
    /// infinite allowance. Emits Approval.
    /// @param spender the spender, not the zero address
    /// @param value the allowance
    /// @return true
    function approve(address spender, uint256 value) public virtual returns (bool) {
        address owner = _msgSender();
        _approve(owner, spender, value);
        return true;
    }

    /// @notice Moves `value` from `from` to `to` out of the caller's allowance. Emits Transfer
    /// (and no Approval).
    /// @param from payer, not the zero address
    /// @param to receiver, not the zero address
    /// @param value amount
    /// @return true
    function transferFrom(address from, address to, uint256 value) public virtual returns (bool) {
        address spender = _msgSender();
        _spendAllowance(from, spender, value);
        _transfer(from, to, value);
        return true;
    }

    /// @dev Moves `value` from `from` to `to` through {_update}; neither may be the zero address.
    function _transfer(address from, address to, uint256 value) internal {
        if (from == address(0)) {
            revert ERC20InvalidSender(address(0));
        }
        if (to == address(0)) {
            revert ERC20InvalidReceiver(address(0));
        }
        _update(from, to, value);
    }

    /// @dev Every balance change: a transfer, a mint (`from` zero) or a burn (`to` zero). Emits
    /// Transfer. Override to add checks, and call super.
    ///
    /// The narrowing casts are safe: a mint keeps the total supply within {MAX_TOTAL_SUPPLY}, and
    /// every balance is at most the total supply, so the payee's new balance fits in 120 bits.
    function _update(address from, address to, uint256 value) internal virtual {
        if (from == address(0)) {
            uint256 supply = _totalSupply;
            require(value <= MAX_TOTAL_SUPPLY - supply, "Total supply can't exceed the maximum supply");
            _totalSupply = supply + value;
        } else {
            Account storage payer = _accounts[from];
            uint256 fromBalance = payer.balance;
            if (fromBalance < value) {
                revert ERC20InsufficientBalance(from, fromBalance, value);
            }
            unchecked {
                // forge-lint: disable-next-line(unsafe-typecast)
                payer.balance = uint120(fromBalance - value);
            }
        }

        if (to == address(0)) {
            unchecked {
                _totalSupply -= value;
            }
        } else {
            Account storage payee = _accounts[to];
            // forge-lint: disable-next-line(unsafe-typecast)
            payee.balance = uint120(payee.balance + value);
        }

        emit Transfer(from, to, value);
    }

    /// @dev Creates `value` tokens for `account` (not the zero address) through {_update}.
    function _mint(address account, uint256 value) internal {
        if (account == address(0)) {
            revert ERC20InvalidReceiver(address(0));
        }
        _update(address(0), account, value);
    }

    /// @dev Destroys `value` tokens of `account` (not the zero address) through {_update}.
    function _burn(address account, uint256 value) internal {
        if (account == address(0)) {
            revert ERC20InvalidSender(address(0));
        }
        _update(account, address(0), value);
    }

    /// @dev Sets `owner`'s allowance for `spender` and emits Approval.
    function _approve(address owner, address spender, uint256 value) internal {
        _approve(owner, spender, value, true);
    }

    /// @dev Sets `owner`'s allowance for `spender`; emits Approval only if `emitEvent` (not when
    /// an allowance is spent, as OpenZeppelin).
    function _approve(address owner, address spender, uint256 value, bool emitEvent) internal virtual {
        if (owner == address(0)) {
            revert ERC20InvalidApprover(address(0));
        }
        if (spender == address(0)) {
            revert ERC20InvalidSpender(address(0));
        }
        _allowances[owner][spender] = value;
        if (emitEvent) {
            emit Approval(owner, spender, value);
        }
    }

    /// @dev Spends `value` of `owner`'s allowance for `spender`; an infinite allowance
    /// (type(uint256).max) is left as it is.
    function _spendAllowance(address owner, address spender, uint256 value) internal virtual {
        uint256 currentAllowance = allowance(owner, spender);
        if (currentAllowance < type(uint256).max) {
            if (currentAllowance < value) {
                revert ERC20InsufficientAllowance(spender, currentAllowance, value);
            }
            unchecked {
                _approve(owner, spender, currentAllowance - value, false);
            }
        }
    }
}
