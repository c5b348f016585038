// Hardhat's node for the walkthrough matrix: chain id 31337, automine, the
// development mnemonic ("test test ... junk", the same accounts as anvil's).
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      mining: { auto: true },
      accounts: { mnemonic: "test test test test test test test test test test test junk", count: 10 },
    },
  },
};
