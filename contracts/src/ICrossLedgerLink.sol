// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Cross-ledger transfers between two networks
/// @notice One link per network moves e-money of that network's token to the same currency's
/// token on another network. Shaped after ioBuilders' em-token `ICrossLedgerLink` (statuses,
/// transfer types, `orderTransfer`, `getTransferData`, `isChainActive`,
/// `isCurrencyActiveForChain`, events carrying message hashes and a hash lock); the operator
/// steps, the message hash formulas and the extra event fields are this project's. See
/// {CrossLedgerLink} for the protocol.
interface ICrossLedgerLink {
    /// @notice Life cycle of a transfer on ONE link. The numbering is part of the ABI.
    /// Origin link (TransferOut): Ordered -> Acknowledged -> TransferOutExecuted, or
    /// Ordered -> Revoked. Destination link (TransferIn): Accepted -> TransferInExecuted, or
    /// Revoked. Every other transition is refused.
    enum CrossLedgerTransferStatus {
        NonEstablished, // 0: unknown on this link
        Ordered, // 1: origin: amount held, waiting for the destination's answer
        Accepted, // 2: destination: accepted, waiting for the secret
        Revoked, // 3: destination: refused; origin: refusal acknowledged, hold released
        Acknowledged, // 4: origin: the destination's acceptance acknowledged, hash lock fixed
        TransferInExecuted, // 5: destination: amount minted to the recipient
        TransferOutExecuted // 6: origin: held amount burned
    }

    /// @notice Which side of the transfer this link is.
    enum CrossLedgerTransferType {
        TransferIn, // 0: this link is the destination
        TransferOut // 1: this link is the origin
    }

    /// @notice Everything a link knows about one transfer ({getTransferData}).
    /// @dev Message hashes chain the steps across both links (see {hashOrder}, {hashMessage}):
    /// `orderMessageHash` is the same on both links; `answerMessageHash` is the destination's
    /// accept or revoke message (on the origin: as acknowledged, zero if the platform revoked
    /// without asking the destination); `acknowledgeMessageHash` is the origin's acknowledge or
    /// revocation message (zero on the destination); `executeMessageHash` is this link's
    /// execution message.
    struct TransferData {
        CrossLedgerTransferType transferType;
        CrossLedgerTransferStatus status;
        /// non-zero reason of a revocation, 0 otherwise
        uint8 reason;
        /// payer on the origin network
        address from;
        /// recipient on the destination network
        address to;
        uint256 amount;
        /// ISO 4217 code
        string currency;
        uint256 originChainId;
        uint256 destinationChainId;
        /// keccak256(abi.encodePacked(secret)); zero until fixed
        bytes32 hashLock;
        /// the preimage, once this link executed (zero before)
        bytes32 secret;
        bytes32 orderMessageHash;
        bytes32 answerMessageHash;
        bytes32 acknowledgeMessageHash;
        bytes32 executeMessageHash;
    }

    /// @notice Origin: `value` of `from` is held for a transfer to `to` on `destinationChainId`.
    /// `initiator` called the order (the payer, or its hold operator); `hashLock` is zero unless
    /// the initiator fixed it at order time. Accompanied by the token's HoldCreated (same
    /// operation id, payee and notary = the link).
    event CrossLedgerTransferOrdered(
        string operationId,
        address indexed from,
        address indexed to,
        uint256 value,
        uint256 originChainId,
        uint256 destinationChainId,
        string currency,
        address initiator,
        bytes32 indexed messageHash,
        bytes32 hashLock
    );
    /// @notice Destination: the operator accepted the transfer whose order message is
    /// `parentMessageHash`; it will be minted to `to` against the preimage of `hashLock`.
    event CrossLedgerTransferAccepted(
        string operationId,
        address indexed from,
        address indexed to,
        uint256 value,
        uint256 originChainId,
        uint256 destinationChainId,
        string currency,
        address acceptingOperator,
        bytes32 parentMessageHash,
        bytes32 indexed messageHash,
        bytes32 hashLock
    );
    /// @notice Destination: the operator refused the transfer whose order message is
    /// `parentMessageHash`, for `reason` (non-zero). The operation id can never be accepted here.
    event CrossLedgerTransferRevoked(
        string operationId, address revokeOperator, bytes32 parentMessageHash, bytes32 indexed messageHash, uint8 reason
    );
    /// @notice Origin: the operator acknowledged a refusal (`parentMessageHash` = the destination's
    /// revoke message, or the order message when the platform refused without asking the
    /// destination); the hold of `from` was released (the token's HoldReleased, status 4).
    event CrossLedgerRevocationAcknowledged(
        string operationId,
        address indexed from,
        address acknowledgeOperator,
        bytes32 parentMessageHash,
        bytes32 indexed messageHash,
        uint8 reason
    );
    /// @notice Origin: the operator acknowledged the destination's acceptance
    /// (`parentMessageHash`); `hashLock` is now fixed on both links.
    event CrossLedgerTransferAcknowledged(
        string operationId,
        address indexed from,
        address indexed to,
        uint256 originChainId,
        uint256 destinationChainId,
        address acknowledgeOperator,
        bytes32 parentMessageHash,
        bytes32 indexed messageHash,
        bytes32 hashLock
    );
    /// @notice Destination: `value` was minted to `to` (the token's Transfer(0, to) and Minted,
    /// same operation id); `unlockSecret` is the hash lock's preimage.
    event CrossLedgerTransferInExecuted(
        string operationId,
        address indexed to,
        uint256 value,
        bytes32 parentMessageHash,
        bytes32 indexed messageHash,
        address transferInOperator,
        bytes32 unlockSecret
    );
    /// @notice Origin: the held `value` of `from` was burned (the token's HoldExecuted,
    /// Transfer(from, 0) and Burned, same operation id); `unlockSecret` is now public.
    event CrossLedgerTransferOutExecuted(
        string operationId,
        address indexed from,
        uint256 value,
        bytes32 parentMessageHash,
        bytes32 indexed messageHash,
        address transferOutOperator,
        bytes32 unlockSecret
    );
    /// @notice Transfers to and from `chainId` are allowed again.
    event CrossLedgerChainActivated(uint256 indexed chainId, address indexed account);
    /// @notice No new transfer to or from `chainId` (transfers under way finish).
    event CrossLedgerChainDeactivated(uint256 indexed chainId, address indexed account);
    /// @notice `currency` may move to and from `chainId`.
    event CrossLedgerCurrencyActivated(string currency, uint256 indexed chainId, address indexed account);
    /// @notice `currency` may no longer start moving to or from `chainId`.
    event CrossLedgerCurrencyDeactivated(string currency, uint256 indexed chainId, address indexed account);

    /// @notice Origin: the caller orders a transfer of `amount` of its own available balance to
    /// `to` on `destinationChainId`; the amount is held at once. The hash lock is fixed later,
    /// at {acknowledgeTransfer}.
    /// @param operationId unique, non-empty id (also the hold's id on the token)
    /// @param amount amount to move, at most the caller's available balance
    /// @param to recipient on the destination network
    /// @param currency ISO 4217 code: the token's currency, active for `destinationChainId`
    /// @param destinationChainId an active chain other than this link's
    /// @return messageHash the order message hash, unique for each transfer
    function orderTransfer(
        string calldata operationId,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 destinationChainId
    ) external returns (bytes32 messageHash);

    /// @notice Origin: like {orderTransfer} on behalf of `from`; the caller must be a hold
    /// operator for `from` on the token (the platform is one for every account). `hashLock` may
    /// fix the hash lock now (zero: fixed at {acknowledgeTransfer}).
    /// @param operationId unique, non-empty id
    /// @param from payer
    /// @param amount amount to move
    /// @param to recipient on the destination network
    /// @param currency ISO 4217 code
    /// @param destinationChainId destination chain
    /// @param hashLock keccak256(abi.encodePacked(secret)), or zero
    /// @return messageHash the order message hash
    function orderTransferFrom(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 destinationChainId,
        bytes32 hashLock
    ) external returns (bytes32 messageHash);

    /// @notice Destination, operator: accepts the order with these fields (as in the origin's
    /// CrossLedgerTransferOrdered); nothing is minted before {executeTransferIn}.
    /// @param operationId the order's operation id, unknown on this link
    /// @param from payer on the origin network
    /// @param amount amount
    /// @param to recipient here (not frozen)
    /// @param currency the token's currency, active for `originChainId`
    /// @param originChainId an active chain
    /// @param hashLock non-zero; the same value must be acknowledged on the origin
    /// @return messageHash the accept message hash
    function acceptTransfer(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 originChainId,
        bytes32 hashLock
    ) external returns (bytes32 messageHash);

    /// @notice Destination, operator: refuses the order with these fields (any fields: a
    /// malformed order can be refused too); the operation id can never be accepted here.
    /// @param operationId the order's operation id, unknown on this link
    /// @param from payer on the origin network
    /// @param amount amount
    /// @param to recipient
    /// @param currency currency code as ordered
    /// @param originChainId origin chain
    /// @param reason non-zero reason code
    /// @return messageHash the revoke message hash
    function revokeTransfer(
        string calldata operationId,
        address from,
        uint256 amount,
        address to,
        string calldata currency,
        uint256 originChainId,
        uint8 reason
    ) external returns (bytes32 messageHash);

    /// @notice Origin, operator: acknowledges the destination's acceptance and fixes the hash lock.
    /// @param operationId an Ordered transfer
    /// @param acceptMessageHash the destination's accept message hash (checked)
    /// @param hashLock the hash lock accepted on the destination (the order's, if it fixed one)
    /// @return messageHash the acknowledge message hash
    function acknowledgeTransfer(string calldata operationId, bytes32 acceptMessageHash, bytes32 hashLock)
        external
        returns (bytes32 messageHash);

    /// @notice Origin, operator: acknowledges a refusal and releases the hold.
    /// @param operationId an Ordered transfer
    /// @param revokeMessageHash the destination's revoke message hash (checked), or zero when
    /// the platform refuses without asking the destination
    /// @param reason non-zero reason code (the destination's, when it revoked)
    /// @return messageHash the revocation acknowledge message hash
    function acknowledgeRevocation(string calldata operationId, bytes32 revokeMessageHash, uint8 reason)
        external
        returns (bytes32 messageHash);

    /// @notice Origin, operator: burns the held amount against the hash lock's preimage.
    /// @param operationId an Acknowledged transfer
    /// @param secret preimage of the hash lock
    /// @return messageHash the execute-out message hash
    function executeTransferOut(string calldata operationId, bytes32 secret) external returns (bytes32 messageHash);

    /// @notice Destination, operator: mints the amount to the recipient against the hash lock's
    /// preimage (revealed by {executeTransferOut} on the origin).
    /// @param operationId an Accepted transfer
    /// @param secret preimage of the hash lock
    /// @return messageHash the execute-in message hash
    function executeTransferIn(string calldata operationId, bytes32 secret) external returns (bytes32 messageHash);

    /// @notice Whether `operator` may accept, revoke, acknowledge and execute transfers.
    /// @param operator the address
    /// @return true if it holds the cross-ledger operator role
    function isCrossLedgerOperator(address operator) external view returns (bool);

    /// @notice Whether transfers to or from `chainId` may start.
    /// @param chainId the other network's chain id
    /// @return true if active
    function isChainActive(uint256 chainId) external view returns (bool);

    /// @notice Whether `currency` may start moving to or from `chainId` (the chain must be active
    /// too for a transfer to start).
    /// @param currency ISO 4217 code (case-sensitive)
    /// @param chainId the other network's chain id
    /// @return true if active
    function isCurrencyActiveForChain(string calldata currency, uint256 chainId) external view returns (bool);

    /// @notice Everything this link knows about a transfer; an unknown id returns zeroes
    /// (status NonEstablished).
    /// @param operationId the transfer's operation id
    /// @return data the transfer
    function getTransferData(string calldata operationId) external view returns (TransferData memory data);
}
