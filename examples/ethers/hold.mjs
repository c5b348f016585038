// A dApp places an EIP-1996 hold on EmToken with ethers.js, signing with its own key,
// then reads the resulting LOCK movement (and the hold) over the emledger REST API.
//
//   export EMLEDGER_API=... EMLEDGER_API_KEY=... EMLEDGER_RPC=... EMLEDGER_TOKEN=...   (the banner's line)
//   export DAPP_PRIVATE_KEY=0x...   (an anvil account other than (0), the platform)
//   npm ci && node hold.mjs
//
// Optional: NOTARY_ADDRESS (who may execute or release the hold; default anvil account (5)),
// PAYEE_ADDRESS (default anvil account (6)), HOLD_AMOUNT (default "2.50").
// If the dApp's address is not a wallet yet, the script registers it (a new user with an extra
// wallet at that address) and funds it with a card cash-in, all through the REST API.

import { ethers } from "ethers";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") throw new Error(`set ${name} (see the README's walkthroughs)`);
  return v;
};
const API = env("EMLEDGER_API").replace(/\/$/, "");
const API_KEY = env("EMLEDGER_API_KEY");
const RPC = env("EMLEDGER_RPC");
const TOKEN = env("EMLEDGER_TOKEN");
const KEY = env("DAPP_PRIVATE_KEY");
const NOTARY = env("NOTARY_ADDRESS", "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc");
const PAYEE = env("PAYEE_ADDRESS", "0x976EA74026E726554dB657fA54763abd0C3a0aa9");
const AMOUNT = env("HOLD_AMOUNT", "2.50");

// The REST API: JSON in and out, the error envelope thrown as an Error.
async function api(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: { "X-API-Key": API_KEY, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Polls `probe` every 200 ms until it returns something truthy (at most 30 s).
async function until(what, probe) {
  for (let i = 0; i < 150; i++) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The REST wallet at the dApp's address, registered and funded when needed.
async function walletFor(address, needed) {
  const all = await api("GET", "/api/v1/public/wallets?size=2000");
  let wallet = all._embedded.wallets.find((w) => w.dltAddress === address.toLowerCase());
  if (!wallet) {
    const user = await api("POST", "/api/v1/public/users", { name: "Grace ethers", phoneNumber: "+34600000007", country: "ES" });
    wallet = await api("POST", "/api/v1/public/wallets", { userId: user.id, dltAddress: address });
  }
  if (Number(wallet.availableBalance) < Number(needed)) {
    const card = await api("POST", `/api/v1/public/wallets/${wallet.id}/cards/cashIns`, {
      amount: "20.00", successUrl: "https://dapp.example/ok", rejectUrl: "https://dapp.example/ko",
    });
    // the Pay button of the PSP simulator's page (`emledger up`), as a script presses it
    const paid = await fetch(`${card.paymentUrl}&action=pay`, { method: "POST", redirect: "manual" });
    if (paid.status !== 303) throw new Error(`card payment answered ${paid.status}`);
    await until("the card cash-in", async () =>
      (await api("GET", `/api/v1/public/wallets/${wallet.id}/movements/${card.movementId}`)).status === "SUCCESS");
  }
  return api("GET", `/api/v1/public/wallets/${wallet.id}`);
}

const provider = new ethers.JsonRpcProvider(RPC);
const signer = new ethers.Wallet(KEY, provider);
const token = new ethers.Contract(TOKEN, [
  "function decimals() view returns (uint8)",
  "function balanceOf(address) view returns (uint256)",
  "function balanceOnHold(address) view returns (uint256)",
  "function hold(string operationId, address to, address notary, uint256 value, uint256 timeToExpiration) returns (bool)",
  "event HoldCreated(address indexed holdIssuer, string operationId, address from, address to, address indexed notary, uint256 value, uint256 expiration)",
], signer);

const decimals = await token.decimals();
const wallet = await walletFor(signer.address, AMOUNT);
console.log(`dapp wallet: id=${wallet.id} address=${wallet.dltAddress} available=${wallet.availableBalance}`);

// The hold: AMOUNT for PAYEE, NOTARY decides, expires in an hour.
const operationId = `ethers-hold-${Date.now()}`;
const tx = await token.hold(operationId, PAYEE, NOTARY, ethers.parseUnits(AMOUNT, decimals), 3600);
const receipt = await tx.wait();
console.log(`hold tx: status=${receipt.status} block=${receipt.blockNumber} hash=${receipt.hash}`);
console.log(`on chain: onHold=${ethers.formatUnits(await token.balanceOnHold(signer.address), decimals)}`);

// The indexer turns the HoldCreated event into a LOCK movement of the payer's wallet.
const movementsPath = `/api/v1/public/wallets/${wallet.id}/movements?type=LOCK&sort=createdAt,desc&size=50`;
const lock = await until("the LOCK movement", async () =>
  (await api("GET", movementsPath))._embedded.movements.find((m) => m.txHash === receipt.hash));
console.log(`lock movement: type=${lock.type} status=${lock.status} amount=${lock.amount} txHash=${lock.txHash}`);

const holds = await api("GET", `/api/v1/public/wallets/${wallet.id}/holds?size=100&sort=createdAt,desc`);
const hold = holds._embedded.holds.find((h) => h.operationId === operationId);
console.log(`hold via REST: status=${hold.status} held=${hold.heldValue} notary=${hold.notaryDltAddress} payee=${hold.payeeDltAddress}`);
const after = await api("GET", `/api/v1/public/wallets/${wallet.id}`);
console.log(`dapp wallet after: balance=${after.balance} available=${after.availableBalance} held=${after.heldBalance}`);
