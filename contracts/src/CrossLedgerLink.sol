// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EmToken} from "./EmToken.sol";
import {ICrossLedgerLink} from "./ICrossLedgerLink.sol";

/// @title CrossLedgerLink
/// @notice Moves e-money of this network's {EmToken} to the token of the same currency on another
/// network. One link is deployed per network, next to its token; the same platform operator (the
/// relayer) drives both links. Money is never minted on the destination before it was burned on
/// the origin, so the supply over both networks only moves.
///
/// Protocol, for a transfer `id` from network A (origin) to network B (destination):
/// 1. A.orderTransfer(id, amount, to, currency, B) by the payer, or A.orderTransferFrom(id, from,
///    ..., hashLock) by a hold operator of the payer (the platform): the amount is HELD on A's
///    token (hold `id`: payer = `from`, payee = notary = this link, no expiration). Ordered.
/// 2. The relayer runs its checks, picks a 32-byte secret (or uses the one behind the hash lock
///    fixed at order time) and answers on B:
///    - B.acceptTransfer(id, from, amount, to, currency, A, hashLock): Accepted, nothing minted; or
///    - B.revokeTransfer(id, from, amount, to, currency, A, reason): Revoked for good.
/// 3. It acknowledges the answer on A:
///    - A.acknowledgeTransfer(id, acceptMessageHash, hashLock): Acknowledged, hash lock fixed; or
///    - A.acknowledgeRevocation(id, revokeMessageHash, reason): the hold is released, Revoked.
///      The platform may also revoke an Ordered transfer on A without asking B
///      (revokeMessageHash = 0), e.g. when B is gone.
/// 4. A.executeTransferOut(id, secret): the held amount is burned (token.burnHeld);
///    TransferOutExecuted, the secret is public in the event.
/// 5. B.executeTransferIn(id, secret): the amount is minted to `to` (token.mint);
///    TransferInExecuted.
/// Each step checks the transfer's status on its link, so each side executes at most once; both
/// executions require the preimage of the same hash lock. A link cannot see the other network:
/// the relayer must acknowledge on A only what B accepted (step 3 checks B's accept message hash
/// and hash lock), and execute in on B only after the burn on A succeeded (step 5 uses the secret
/// that step 4 revealed). An acceptance is final: neither link revokes after it (a burn that fails
/// because the payer was frozen, or a mint that fails because the recipient was, is retried after
/// the account is unfrozen).
///
/// Events: every step emits one event of this link carrying the operation id and the step's
/// message hash; steps that move money are followed, in the same transaction, by the token's own
/// events under the same operation id: order -> HoldCreated; revocation on the origin ->
/// HoldReleased (status 4); execute out -> HoldExecuted, Transfer(from, 0), Burned; execute in ->
/// Transfer(0, to), Minted. An indexer can thus settle both the link's transfer and the token's
/// movement from one receipt.
///
/// Message hashes (all events carry them; {getTransferData} returns them): the order message is
/// {hashOrder}(id, from, amount, to, currency, A, B), the same on both links; every later step is
/// {hashMessage}(step, chain id of the link taking it, parent message, data) with
/// - accept (B):     step 2, parent = order,  data = hashLock
/// - revoke (B):     step 3, parent = order,  data = reason
/// - revocation (A): step 3, parent = B's revoke message (the order's if revoked without B),
///                   data = reason
/// - acknowledge (A): step 4, parent = accept, data = hashLock
/// - execute in (B):  step 5, parent = accept, data = secret
/// - execute out (A): step 6, parent = acknowledge, data = secret
/// where hashLock = keccak256(abi.encodePacked(secret)) and `step` is the resulting status.
///
/// Suspense and roles: the held amount stays in the payer's account until it is burned; the hold's
/// payee and notary are this link (the suspense account), so nobody but the link can settle the
/// hold before the transfer ends. On its token the link needs OPERATOR_ROLE (to create holds with
/// holdFrom; it only does so for the caller itself, or for a payer the caller is a hold operator
/// of), BURNER_ROLE (burnHeld) and MINTER_ROLE (mint). On the link: DEFAULT_ADMIN_ROLE activates
/// chains and currencies; CROSS_LEDGER_OPERATOR_ROLE (the platform) takes steps 2 to 5. The
/// token's own rules still apply: pause stops orders and executions, frozen payers cannot order,
/// frozen accounts neither burn nor receive.
///
/// Operation ids must be unique across the networks (the platform uses UUIDs): an id is used once
/// per link, whichever side, and it is also the hold's id on the origin token and the mint's
/// operation id on the destination token, so the token's events carry it too.
/// Deactivating a chain or a currency stops new orders and acceptances only; transfers under way
/// finish (or are revoked while still Ordered).
contract CrossLedgerLink is ICrossLedgerLink, AccessControl {
    /// @notice Accepts, revokes, acknowledges and executes transfers.
    bytes32 public constant CROSS_LEDGER_OPERATOR_ROLE = keccak256("CROSS_LEDGER_OPERATOR_ROLE");

    /// @notice This network's token.
    EmToken public immutable token;
    /// @notice This network's chain id (block.chainid when deployed on a real network).
    uint256 public immutable chainId;

    bytes32 private immutable _tokenCurrencyKey;
    mapping(bytes32 key => TransferData) private _transfers;
    mapping(uint256 chainId => bool) private _activeChains;
    mapping(bytes32 currencyKey => mapping(uint256 chainId => bool)) private _activeCurrencies;

    /// @param token_ this network's EmToken (grant the link OPERATOR_ROLE, BURNER_ROLE and
    /// MINTER_ROLE on it)
    /// @param chainId_ this network's chain id
    /// @param admin receives DEFAULT_ADMIN_ROLE (chains and currencies)
    /// @param operator receives CROSS_LEDGER_OPERATOR_ROLE (the platform's relayer)
    constructor(EmToken token_, uint256 chainId_, address admin, address operator) {
        require(address(token_) != address(0), "Token address must not be zero address");
        require(chainId_ != 0, "Chain id must not be zero");
        require(admin != address(0), "Admin address must not be zero address");
        require(operator != address(0), "Operator address must not be zero address");
        token = token_;
        chainId = chainId_;
        _tokenCurrencyKey = keccak256(bytes(token_.currency()));
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CROSS_LEDGER_OPERATOR_ROLE, operator);
    }

    // ---------------------------------------------------------------------------------------
    // Origin: order
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ICrossLedgerLink
    function orderTransfer(
        string calldata operationId,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 destinationChainId
    ) external returns (bytes32 messageHash) {
        return _order(operationId, _msgSender(), amount, to, currency, destinationChainId, bytes32(0));
    }

    /// @inheritdoc ICrossLedgerLink
    function orderTransferFrom(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 destinationChainId,
        bytes32 hashLock
    ) external returns (bytes32 messageHash) {
        require(from != address(0), "Payer address must not be zero address");
        require(token.isHoldOperatorFor(_msgSender(), from), "This operator is not authorized");
        return _order(operationId, from, amount, to, currency, destinationChainId, hashLock);
    }

    // ---------------------------------------------------------------------------------------
    // Destination: answer
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ICrossLedgerLink
    function acceptTransfer(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 originChainId,
        bytes32 hashLock
    ) external onlyRole(CROSS_LEDGER_OPERATOR_ROLE) returns (bytes32 messageHash) {
        TransferData storage t = _newTransfer(operationId);
        require(from != address(0), "Payer address must not be zero address");
        require(to != address(0), "Recipient address must not be zero address");
        require(amount != 0, "Value must be greater than zero");
        require(hashLock != bytes32(0), "Hash lock must not be zero");
        require(_activeChains[originChainId], "Origin chain is not active");
        _requireTokenCurrency(currency);
        require(_activeCurrencies[_currencyKey(currency)][originChainId], "Currency is not active for the origin chain");
        require(!token.isFrozen(to), "Recipient account is frozen");

        _record(t, CrossLedgerTransferType.TransferIn, operationId, from, amount, to, currency, originChainId, chainId);
        t.status = CrossLedgerTransferStatus.Accepted;
        t.hashLock = hashLock;
        messageHash = hashMessage(uint8(CrossLedgerTransferStatus.Accepted), chainId, t.orderMessageHash, hashLock);
        t.answerMessageHash = messageHash;
        _emitAccepted(t, operationId);
    }

    /// @inheritdoc ICrossLedgerLink
    function revokeTransfer(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 originChainId,
        uint8 reason
    ) external onlyRole(CROSS_LEDGER_OPERATOR_ROLE) returns (bytes32 messageHash) {
        TransferData storage t = _newTransfer(operationId);
        require(reason != 0, "Reason must not be zero");

        _record(t, CrossLedgerTransferType.TransferIn, operationId, from, amount, to, currency, originChainId, chainId);
        t.status = CrossLedgerTransferStatus.Revoked;
        t.reason = reason;
        bytes32 orderHash = t.orderMessageHash;
        messageHash =
            hashMessage(uint8(CrossLedgerTransferStatus.Revoked), chainId, orderHash, bytes32(uint256(reason)));
        t.answerMessageHash = messageHash;
        emit CrossLedgerTransferRevoked(operationId, _msgSender(), orderHash, messageHash, reason);
    }

    // ---------------------------------------------------------------------------------------
    // Origin: acknowledge
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ICrossLedgerLink
    function acknowledgeTransfer(string calldata operationId, bytes32 acceptMessageHash, bytes32 hashLock)
        external
        onlyRole(CROSS_LEDGER_OPERATOR_ROLE)
        returns (bytes32 messageHash)
    {
        TransferData storage t = _transfers[_key(operationId)];
        require(t.status == CrossLedgerTransferStatus.Ordered, "A transfer can only be acknowledged in status Ordered");
        require(hashLock != bytes32(0), "Hash lock must not be zero");
        require(t.hashLock == bytes32(0) || t.hashLock == hashLock, "Hash lock does not match the order");
        require(
            acceptMessageHash
                == hashMessage(
                    uint8(CrossLedgerTransferStatus.Accepted), t.destinationChainId, t.orderMessageHash, hashLock
                ),
            "Accept message hash does not match the order"
        );

        t.status = CrossLedgerTransferStatus.Acknowledged;
        t.hashLock = hashLock;
        t.answerMessageHash = acceptMessageHash;
        messageHash = hashMessage(uint8(CrossLedgerTransferStatus.Acknowledged), chainId, acceptMessageHash, hashLock);
        t.acknowledgeMessageHash = messageHash;
        emit CrossLedgerTransferAcknowledged(
            operationId,
            t.from,
            t.to,
            chainId,
            t.destinationChainId,
            _msgSender(),
            acceptMessageHash,
            messageHash,
            hashLock
        );
    }

    /// @inheritdoc ICrossLedgerLink
    function acknowledgeRevocation(string calldata operationId, bytes32 revokeMessageHash, uint8 reason)
        external
        onlyRole(CROSS_LEDGER_OPERATOR_ROLE)
        returns (bytes32 messageHash)
    {
        TransferData storage t = _transfers[_key(operationId)];
        require(t.status == CrossLedgerTransferStatus.Ordered, "A transfer can only be revoked in status Ordered");
        require(reason != 0, "Reason must not be zero");
        bytes32 parent = t.orderMessageHash;
        if (revokeMessageHash != bytes32(0)) {
            require(
                revokeMessageHash
                    == hashMessage(
                        uint8(CrossLedgerTransferStatus.Revoked), t.destinationChainId, parent, bytes32(uint256(reason))
                    ),
                "Revoke message hash does not match the order"
            );
            parent = revokeMessageHash;
        }

        t.status = CrossLedgerTransferStatus.Revoked;
        t.reason = reason;
        t.answerMessageHash = revokeMessageHash;
        messageHash = hashMessage(uint8(CrossLedgerTransferStatus.Revoked), chainId, parent, bytes32(uint256(reason)));
        t.acknowledgeMessageHash = messageHash;
        emit CrossLedgerRevocationAcknowledged(operationId, t.from, _msgSender(), parent, messageHash, reason);

        token.releaseHold(operationId);
    }

    // ---------------------------------------------------------------------------------------
    // Executions
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ICrossLedgerLink
    function executeTransferOut(string calldata operationId, bytes32 secret)
        external
        onlyRole(CROSS_LEDGER_OPERATOR_ROLE)
        returns (bytes32 messageHash)
    {
        TransferData storage t = _transfers[_key(operationId)];
        require(
            t.status == CrossLedgerTransferStatus.Acknowledged,
            "Transfer out can only be executed in status Acknowledged"
        );
        _requireSecret(t, secret);

        t.status = CrossLedgerTransferStatus.TransferOutExecuted;
        t.secret = secret;
        bytes32 parent = t.acknowledgeMessageHash;
        messageHash = hashMessage(uint8(CrossLedgerTransferStatus.TransferOutExecuted), chainId, parent, secret);
        t.executeMessageHash = messageHash;
        uint256 amount = t.amount;
        emit CrossLedgerTransferOutExecuted(operationId, t.from, amount, parent, messageHash, _msgSender(), secret);

        token.burnHeld(operationId, amount);
    }

    /// @inheritdoc ICrossLedgerLink
    function executeTransferIn(string calldata operationId, bytes32 secret)
        external
        onlyRole(CROSS_LEDGER_OPERATOR_ROLE)
        returns (bytes32 messageHash)
    {
        TransferData storage t = _transfers[_key(operationId)];
        require(t.status == CrossLedgerTransferStatus.Accepted, "Transfer in can only be executed in status Accepted");
        _requireSecret(t, secret);

        t.status = CrossLedgerTransferStatus.TransferInExecuted;
        t.secret = secret;
        bytes32 parent = t.answerMessageHash;
        messageHash = hashMessage(uint8(CrossLedgerTransferStatus.TransferInExecuted), chainId, parent, secret);
        t.executeMessageHash = messageHash;
        (address to, uint256 amount) = (t.to, t.amount);
        emit CrossLedgerTransferInExecuted(operationId, to, amount, parent, messageHash, _msgSender(), secret);

        token.mint(operationId, to, amount);
    }

    // ---------------------------------------------------------------------------------------
    // Configuration
    // ---------------------------------------------------------------------------------------

    /// @notice Lets transfers to and from `otherChainId` start. Emits {CrossLedgerChainActivated}.
    /// @param otherChainId a non-zero chain id other than this link's, not active yet
    function activateChain(uint256 otherChainId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireOtherChain(otherChainId);
        require(!_activeChains[otherChainId], "Chain is already active");
        _activeChains[otherChainId] = true;
        emit CrossLedgerChainActivated(otherChainId, _msgSender());
    }

    /// @notice Stops new transfers to and from `otherChainId`. Emits {CrossLedgerChainDeactivated}.
    /// @param otherChainId an active chain
    function deactivateChain(uint256 otherChainId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        require(_activeChains[otherChainId], "Chain is not active");
        _activeChains[otherChainId] = false;
        emit CrossLedgerChainDeactivated(otherChainId, _msgSender());
    }

    /// @notice Lets `currency` move to and from `otherChainId`. Emits {CrossLedgerCurrencyActivated}.
    /// @param currency non-empty ISO 4217 code (case-sensitive)
    /// @param otherChainId a non-zero chain id other than this link's
    function activateCurrency(string calldata currency, uint256 otherChainId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        require(bytes(currency).length != 0, "Currency must not be empty");
        _requireOtherChain(otherChainId);
        mapping(uint256 => bool) storage active = _activeCurrencies[_currencyKey(currency)];
        require(!active[otherChainId], "Currency is already active for the chain");
        active[otherChainId] = true;
        emit CrossLedgerCurrencyActivated(currency, otherChainId, _msgSender());
    }

    /// @notice Stops `currency` from starting to move to or from `otherChainId`. Emits
    /// {CrossLedgerCurrencyDeactivated}.
    /// @param currency a currency active for `otherChainId`
    /// @param otherChainId the chain
    function deactivateCurrency(string calldata currency, uint256 otherChainId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        mapping(uint256 => bool) storage active = _activeCurrencies[_currencyKey(currency)];
        require(active[otherChainId], "Currency is not active for the chain");
        active[otherChainId] = false;
        emit CrossLedgerCurrencyDeactivated(currency, otherChainId, _msgSender());
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ICrossLedgerLink
    function isCrossLedgerOperator(address operator) external view returns (bool) {
        return hasRole(CROSS_LEDGER_OPERATOR_ROLE, operator);
    }

    /// @inheritdoc ICrossLedgerLink
    function isChainActive(uint256 otherChainId) external view returns (bool) {
        return _activeChains[otherChainId];
    }

    /// @inheritdoc ICrossLedgerLink
    function isCurrencyActiveForChain(string calldata currency, uint256 otherChainId) external view returns (bool) {
        return _activeCurrencies[_currencyKey(currency)][otherChainId];
    }

    /// @inheritdoc ICrossLedgerLink
    function getTransferData(string calldata operationId) external view returns (TransferData memory data) {
        return _transfers[_key(operationId)];
    }

    /// @notice The order message hash of a transfer, the same on both links.
    /// @param operationId the transfer's operation id
    /// @param from payer on the origin
    /// @param amount amount
    /// @param to recipient on the destination
    /// @param currency ISO 4217 code
    /// @param originChainId origin chain
    /// @param destinationChainId destination chain
    /// @return keccak256(abi.encode(uint8(1), operationId, from, amount, to, currency, originChainId,
    /// destinationChainId))
    function hashOrder(
        string memory operationId,
        address from,
        uint256 amount,
        address to,
        string memory currency,
        uint256 originChainId,
        uint256 destinationChainId
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                uint8(CrossLedgerTransferStatus.Ordered),
                operationId,
                from,
                amount,
                to,
                currency,
                originChainId,
                destinationChainId
            )
        );
    }

    /// @notice The message hash of a step after the order.
    /// @param step the status the step leads to on the link taking it (2 accept, 3 revoke or
    /// revocation, 4 acknowledge, 5 execute in, 6 execute out)
    /// @param stepChainId chain id of the link taking the step
    /// @param parentMessageHash the message the step answers
    /// @param data hash lock, reason (as bytes32) or secret, per step
    /// @return keccak256(abi.encode(step, stepChainId, parentMessageHash, data))
    function hashMessage(uint8 step, uint256 stepChainId, bytes32 parentMessageHash, bytes32 data)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(step, stepChainId, parentMessageHash, data));
    }

    // ---------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------

    /// @dev Checks and records an order, then holds `amount` of `from` on the token.
    function _order(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 destinationChainId,
        bytes32 hashLock
    ) private returns (bytes32 messageHash) {
        TransferData storage t = _newTransfer(operationId);
        require(to != address(0), "Recipient address must not be zero address");
        require(amount != 0, "Value must be greater than zero");
        require(_activeChains[destinationChainId], "Destination chain is not active");
        _requireTokenCurrency(currency);
        require(
            _activeCurrencies[_currencyKey(currency)][destinationChainId],
            "Currency is not active for the destination chain"
        );

        _record(
            t, CrossLedgerTransferType.TransferOut, operationId, from, amount, to, currency, chainId, destinationChainId
        );
        t.status = CrossLedgerTransferStatus.Ordered;
        t.hashLock = hashLock;
        messageHash = t.orderMessageHash;
        _emitOrdered(t, operationId);

        token.holdFrom(operationId, from, address(this), address(this), amount, 0);
    }

    /// @dev The record of a new operation id; reverts if the id is empty or known.
    function _newTransfer(string calldata operationId) private view returns (TransferData storage t) {
        require(bytes(operationId).length != 0, "Operation ID must not be empty");
        t = _transfers[_key(operationId)];
        require(t.status == CrossLedgerTransferStatus.NonEstablished, "This operationId already exists");
    }

    /// @dev Writes the order's fields and its message hash.
    function _record(
        TransferData storage t,
        CrossLedgerTransferType transferType,
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 originChainId,
        uint256 destinationChainId
    ) private {
        t.transferType = transferType;
        t.from = from;
        t.to = to;
        t.amount = amount;
        t.currency = currency;
        t.originChainId = originChainId;
        t.destinationChainId = destinationChainId;
        t.orderMessageHash = hashOrder(operationId, from, amount, to, currency, originChainId, destinationChainId);
    }

    function _emitOrdered(TransferData storage t, string calldata operationId) private {
        emit CrossLedgerTransferOrdered(
            operationId,
            t.from,
            t.to,
            t.amount,
            t.originChainId,
            t.destinationChainId,
            t.currency,
            _msgSender(),
            t.orderMessageHash,
            t.hashLock
        );
    }

    function _emitAccepted(TransferData storage t, string calldata operationId) private {
        emit CrossLedgerTransferAccepted(
            operationId,
            t.from,
            t.to,
            t.amount,
            t.originChainId,
            t.destinationChainId,
            t.currency,
            _msgSender(),
            t.orderMessageHash,
            t.answerMessageHash,
            t.hashLock
        );
    }

    function _requireSecret(TransferData storage t, bytes32 secret) private view {
        require(keccak256(abi.encodePacked(secret)) == t.hashLock, "Secret does not match the hash lock");
    }

    function _requireTokenCurrency(string calldata currency) private view {
        require(_currencyKey(currency) == _tokenCurrencyKey, "Currency is not the token's currency");
    }

    function _requireOtherChain(uint256 otherChainId) private view {
        require(otherChainId != 0, "Chain id must not be zero");
        require(otherChainId != chainId, "Chain id must not be this link's chain");
    }

    function _key(string calldata operationId) private pure returns (bytes32) {
        return keccak256(abi.encode(operationId));
    }

    function _currencyKey(string calldata currency) private pure returns (bytes32) {
        return keccak256(bytes(currency));
    }
}
