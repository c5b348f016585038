//! A randomized, model-based workload of direct contract calls (as dApps and
//! the platform make them) with an independent model of the movements seed 003
//! says each must produce. Every operation the model deems valid must succeed
//! on chain; the expected movements are compared with the read model.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use anyhow::{bail, Context};
use emledger_contracts::EmToken;
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::stack::Chain;

/// (type, owner address, amount) — what a movement must be, id-free.
pub type ExpectedMovement = (String, String, String);

#[derive(Clone, Debug)]
struct ModelHold {
    payer: usize,
    payee: usize,
    notary: usize,
    remaining: u64,
    expiration: u64,
    clearable: bool,
    clearable_in_process: bool,
    issuer: usize,
}

/// The model: actor 0 is the platform (minter, burner, clearing agent), the
/// others are dApp users; the last one is a stranger that only releases
/// expired holds.
pub struct Workload {
    rng: StdRng,
    pub actors: Vec<PrivateKeySigner>,
    providers: Vec<DynProvider>,
    token: Address,
    gross: Vec<u64>,
    held: Vec<u64>,
    holds: BTreeMap<String, ModelHold>,
    authorized: BTreeMap<(usize, usize), bool>,
    next_id: u64,
    namespace: u64,
    pub expected: Vec<ExpectedMovement>,
    pub ops: usize,
    pub counts: BTreeMap<&'static str, usize>,
}

const STRANGER: usize = 6;

impl Workload {
    pub fn new(chain: &Chain, seed: u64) -> Self {
        let actors: Vec<PrivateKeySigner> = (0..=STRANGER).map(|i| chain.account(i)).collect();
        let providers = actors.iter().map(|s| Chain::signer_provider(&chain.anvil, s)).collect();
        Self {
            rng: StdRng::seed_from_u64(seed),
            actors,
            providers,
            token: chain.deployment.address,
            gross: vec![0; STRANGER + 1],
            held: vec![0; STRANGER + 1],
            holds: BTreeMap::new(),
            authorized: BTreeMap::new(),
            next_id: 0,
            namespace: seed,
            expected: Vec::new(),
            ops: 0,
            counts: BTreeMap::new(),
        }
    }

    fn addr(&self, i: usize) -> Address {
        self.actors[i].address()
    }

    fn expect(&mut self, kind: &str, owner: usize, amount: u64) {
        self.expected.push((kind.to_owned(), format!("{:#x}", self.addr(owner)), amount.to_string()));
    }

    fn available(&self, i: usize) -> u64 {
        self.gross[i] - self.held[i]
    }

    fn token(&self, actor: usize) -> EmToken::EmTokenInstance<DynProvider> {
        EmToken::new(self.token, self.providers[actor].clone())
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:x}-{}", self.namespace, self.next_id)
    }

    async fn now(&self) -> anyhow::Result<u64> {
        let b = self.providers[0]
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .context("latest block")?;
        Ok(b.header.inner.timestamp)
    }

    /// A user (not the platform, not the stranger).
    fn user(&mut self) -> usize {
        self.rng.gen_range(1..STRANGER)
    }

    /// Runs `n` random valid operations.
    pub async fn run(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            self.step().await?;
        }
        Ok(())
    }

    async fn step(&mut self) -> anyhow::Result<()> {
        let choice = self.rng.gen_range(0..100);
        let name = match choice {
            0..=9 => self.mint().await?,
            10..=24 => self.transfer().await?,
            25..=36 => self.hold(false).await?,
            37..=41 => self.hold(true).await?,
            42..=51 => self.execute(false).await?,
            52..=58 => self.execute(true).await?,
            59..=64 => self.release().await?,
            65..=68 => self.renew().await?,
            69..=76 => self.order_transfer().await?,
            77..=86 => self.settle_clearable().await?,
            87..=90 => self.burn().await?,
            91..=93 => self.warp().await?,
            _ => self.release_expired().await?,
        };
        self.ops += 1;
        *self.counts.entry(name).or_default() += 1;
        Ok(())
    }

    async fn send<C: alloy::sol_types::SolCall>(
        &self,
        _actor: usize,
        call: alloy::contract::SolCallBuilder<&DynProvider, C>,
    ) -> anyhow::Result<()> {
        let pending = call.send().await.context("sending")?;
        let hash = *pending.tx_hash();
        let receipt = loop {
            if let Some(r) = self.providers[0].get_transaction_receipt(hash).await? {
                break r;
            }
        };
        if !receipt.status() {
            bail!("a transaction the model deemed valid reverted: {hash}");
        }
        Ok(())
    }

    /// One mint to a random user (one block, one movement).
    pub async fn mint_once(&mut self) -> anyhow::Result<()> {
        self.mint().await.map(|_| ())
    }

    async fn mint(&mut self) -> anyhow::Result<&'static str> {
        let to = self.user();
        let amount = self.rng.gen_range(1..50_000u64);
        let id = self.fresh_id("mint");
        let token = self.token(0);
        self.send(0, token.mint(id, self.addr(to), U256::from(amount))).await?;
        self.gross[to] += amount;
        self.expect("BANK_ACCOUNT_CASHIN", to, amount);
        Ok("mint")
    }

    async fn burn(&mut self) -> anyhow::Result<&'static str> {
        let from = self.user();
        if self.available(from) == 0 {
            return self.mint().await;
        }
        let amount = self.rng.gen_range(1..=self.available(from));
        let id = self.fresh_id("burn");
        let token = self.token(0);
        self.send(0, token.burn(id, self.addr(from), U256::from(amount))).await?;
        self.gross[from] -= amount;
        self.expect("BANK_ACCOUNT_CASHOUT", from, amount);
        Ok("burn")
    }

    async fn transfer(&mut self) -> anyhow::Result<&'static str> {
        let from = self.user();
        let to = self.user();
        if self.available(from) == 0 || from == to {
            return self.mint().await;
        }
        let amount = self.rng.gen_range(1..=self.available(from));
        let token = self.token(from);
        self.send(from, token.transfer(self.addr(to), U256::from(amount))).await?;
        self.gross[from] -= amount;
        self.gross[to] += amount;
        self.expect("TRANSFER_OUT", from, amount);
        self.expect("TRANSFER_IN", to, amount);
        Ok("transfer")
    }

    async fn hold(&mut self, by_operator: bool) -> anyhow::Result<&'static str> {
        let payer = self.user();
        let payee = self.user();
        if self.available(payer) == 0 || payer == payee {
            return self.mint().await;
        }
        let value = self.rng.gen_range(1..=self.available(payer));
        // the notary: the platform or another user (a dApp notary)
        let notary = if self.rng.gen_bool(0.5) { 0 } else { self.user() };
        let ttl: u64 = if self.rng.gen_bool(0.5) { 0 } else { self.rng.gen_range(5..120) };
        let id = self.fresh_id("hold");
        let now = self.now().await?;
        let issuer;
        if by_operator {
            let operator = self.user();
            if operator == payer {
                return self.mint().await;
            }
            if !self.authorized.get(&(operator, payer)).copied().unwrap_or(false) {
                let token = self.token(payer);
                self.send(payer, token.authorizeHoldOperator(self.addr(operator))).await?;
                self.authorized.insert((operator, payer), true);
            }
            let token = self.token(operator);
            self.send(
                operator,
                token.holdFrom(id.clone(), self.addr(payer), self.addr(payee), self.addr(notary), U256::from(value), U256::from(ttl)),
            )
            .await?;
            issuer = operator;
        } else {
            let token = self.token(payer);
            self.send(payer, token.hold(id.clone(), self.addr(payee), self.addr(notary), U256::from(value), U256::from(ttl)))
                .await?;
            issuer = payer;
        }
        // the expiration is computed from the mined block's time: read it back
        let data = self.token(0).retrieveHoldData(id.clone()).call().await?;
        let expiration = u64::try_from(data.expiration).unwrap_or(u64::MAX);
        let _ = now;
        self.held[payer] += value;
        self.holds.insert(
            id,
            ModelHold {
                payer,
                payee,
                notary,
                remaining: value,
                expiration,
                clearable: false,
                clearable_in_process: false,
                issuer,
            },
        );
        self.expect("LOCK", payer, value);
        Ok(if by_operator { "holdFrom" } else { "hold" })
    }

    /// An open, plain (not clearable) hold, expired or not as asked.
    async fn pick_hold(&mut self, expired: bool) -> anyhow::Result<Option<(String, ModelHold)>> {
        let now = self.now().await?;
        // the next block is at least one second later
        let candidates: Vec<(String, ModelHold)> = self
            .holds
            .iter()
            .filter(|(_, h)| !h.clearable)
            .filter(|(_, h)| {
                let is_expired = h.expiration != 0 && h.expiration <= now + 1;
                let safely_open = h.expiration == 0 || h.expiration > now + 3;
                if expired { is_expired && h.expiration <= now } else { safely_open }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let i = self.rng.gen_range(0..candidates.len());
        Ok(Some(candidates[i].clone()))
    }

    async fn execute(&mut self, keep_open: bool) -> anyhow::Result<&'static str> {
        let Some((id, h)) = self.pick_hold(false).await? else { return self.hold(false).await };
        if keep_open && h.remaining < 2 {
            return self.hold(false).await;
        }
        let value = if keep_open { self.rng.gen_range(1..h.remaining) } else { self.rng.gen_range(1..=h.remaining) };
        let token = self.token(h.notary);
        if keep_open {
            self.send(h.notary, token.executeHoldAndKeepOpen(id.clone(), U256::from(value))).await?;
        } else {
            self.send(h.notary, token.executeHold(id.clone(), U256::from(value))).await?;
        }
        self.gross[h.payer] -= value;
        self.gross[h.payee] += value;
        self.expect("TRANSFER_OUT", h.payer, value);
        self.expect("TRANSFER_IN", h.payee, value);
        if keep_open {
            self.held[h.payer] -= value;
            self.holds.get_mut(&id).unwrap().remaining -= value;
            Ok("executeHoldAndKeepOpen")
        } else {
            self.held[h.payer] -= h.remaining;
            if h.remaining > value {
                self.expect("RELEASE", h.payer, h.remaining - value);
            }
            self.holds.remove(&id);
            Ok("executeHold")
        }
    }

    async fn release(&mut self) -> anyhow::Result<&'static str> {
        let Some((id, h)) = self.pick_hold(false).await? else { return self.hold(false).await };
        // the notary or the payee releases before expiry
        let by = if self.rng.gen_bool(0.5) { h.notary } else { h.payee };
        let token = self.token(by);
        self.send(by, token.releaseHold(id.clone())).await?;
        self.held[h.payer] -= h.remaining;
        self.expect("RELEASE", h.payer, h.remaining);
        self.holds.remove(&id);
        Ok("releaseHold")
    }

    async fn release_expired(&mut self) -> anyhow::Result<&'static str> {
        let Some((id, h)) = self.pick_hold(true).await? else { return self.warp().await };
        let token = self.token(STRANGER);
        self.send(STRANGER, token.releaseHold(id.clone())).await?;
        self.held[h.payer] -= h.remaining;
        self.expect("RELEASE", h.payer, h.remaining);
        self.holds.remove(&id);
        Ok("releaseExpiredByStranger")
    }

    async fn renew(&mut self) -> anyhow::Result<&'static str> {
        let Some((id, h)) = self.pick_hold(false).await? else { return self.hold(false).await };
        let now = self.now().await?;
        // never shorter: a later expiration, or perpetual stays perpetual
        let ttl: u64 = if h.expiration == 0 { 0 } else { h.expiration.saturating_sub(now) + self.rng.gen_range(10..300) };
        let by = h.issuer;
        let token = self.token(by);
        self.send(by, token.renewHold(id.clone(), U256::from(ttl))).await?;
        let data = self.token(0).retrieveHoldData(id.clone()).call().await?;
        self.holds.get_mut(&id).unwrap().expiration = u64::try_from(data.expiration).unwrap_or(u64::MAX);
        Ok("renewHold")
    }

    async fn order_transfer(&mut self) -> anyhow::Result<&'static str> {
        let from = self.user();
        let to = self.user();
        if self.available(from) == 0 || from == to {
            return self.mint().await;
        }
        let value = self.rng.gen_range(1..=self.available(from));
        let id = self.fresh_id("clearing");
        let token = self.token(from);
        self.send(from, token.orderTransfer(id.clone(), self.addr(to), U256::from(value))).await?;
        self.held[from] += value;
        self.holds.insert(
            id,
            ModelHold {
                payer: from,
                payee: to,
                notary: 0,
                remaining: value,
                expiration: 0,
                clearable: true,
                clearable_in_process: false,
                issuer: from,
            },
        );
        self.expect("LOCK", from, value);
        Ok("orderTransfer")
    }

    async fn settle_clearable(&mut self) -> anyhow::Result<&'static str> {
        let open: Vec<(String, ModelHold)> =
            self.holds.iter().filter(|(_, h)| h.clearable).map(|(k, v)| (k.clone(), v.clone())).collect();
        if open.is_empty() {
            return self.order_transfer().await;
        }
        let (id, h) = open[self.rng.gen_range(0..open.len())].clone();
        let agent = self.token(0);
        match self.rng.gen_range(0..4) {
            0 if !h.clearable_in_process => {
                self.send(0, agent.processClearableTransfer(id.clone())).await?;
                self.holds.get_mut(&id).unwrap().clearable_in_process = true;
                Ok("processClearableTransfer")
            }
            1 => {
                self.send(0, agent.executeClearableTransfer(id.clone())).await?;
                self.gross[h.payer] -= h.remaining;
                self.gross[h.payee] += h.remaining;
                self.held[h.payer] -= h.remaining;
                self.expect("TRANSFER_OUT", h.payer, h.remaining);
                self.expect("TRANSFER_IN", h.payee, h.remaining);
                self.holds.remove(&id);
                Ok("executeClearableTransfer")
            }
            2 => {
                self.send(0, agent.rejectClearableTransfer(id.clone(), "rejected by the clearing agent".into())).await?;
                self.held[h.payer] -= h.remaining;
                self.expect("RELEASE", h.payer, h.remaining);
                self.holds.remove(&id);
                Ok("rejectClearableTransfer")
            }
            _ if !h.clearable_in_process => {
                let token = self.token(h.payer);
                self.send(h.payer, token.cancelTransfer(id.clone())).await?;
                self.held[h.payer] -= h.remaining;
                self.expect("RELEASE", h.payer, h.remaining);
                self.holds.remove(&id);
                Ok("cancelTransfer")
            }
            _ => {
                self.send(0, agent.executeClearableTransfer(id.clone())).await?;
                self.gross[h.payer] -= h.remaining;
                self.gross[h.payee] += h.remaining;
                self.held[h.payer] -= h.remaining;
                self.expect("TRANSFER_OUT", h.payer, h.remaining);
                self.expect("TRANSFER_IN", h.payee, h.remaining);
                self.holds.remove(&id);
                Ok("executeClearableTransfer")
            }
        }
    }

    async fn warp(&mut self) -> anyhow::Result<&'static str> {
        let secs = self.rng.gen_range(10..90u64);
        let _: serde_json::Value = self.providers[0].raw_request("evm_increaseTime".into(), (secs,)).await?;
        let _: serde_json::Value = self.providers[0].raw_request("evm_mine".into(), ()).await?;
        Ok("warp")
    }

    /// The model's gross/held per actor address.
    pub fn model_balances(&self) -> Vec<(String, u64, u64)> {
        (0..=STRANGER).map(|i| (format!("{:#x}", self.addr(i)), self.gross[i], self.held[i])).collect()
    }
}
