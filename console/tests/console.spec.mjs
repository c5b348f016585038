// The console in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core: no browser download). Run by tests/tests/console.rs, which
// starts the real stack, moves money while the page is open and talks to this
// script over stdin/stdout, one line each way:
//
//   script → test: READY wallet-open            the wallet's page is shown
//   test → script: TRANSFER <operationId>       a transfer was accepted (the chain does not mine yet)
//   script → test: SEEN pending                 its movement shows PENDING
//   script → test: SEEN success                 ... and then SUCCESS, without a reload
//   test → script: STUCK <operationId> <txHash> an operation sent but never mined
//   script → test: DONE                         the overview lists it as stuck; its detail shows the hash
//
// Environment: CONSOLE_URL (…/console/), API_KEY, WALLET_ID, WALLET_USER (the
// wallet holder's name), FOREIGN_USER (another tenant's user: must not show),
// ARTIFACTS (screenshots), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('CONSOLE_URL');
const apiKey = env('API_KEY');
const walletId = env('WALLET_ID');
const walletUser = env('WALLET_USER');
const foreignUser = env('FOREIGN_USER');
const artifacts = env('ARTIFACTS');
mkdirSync(artifacts, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expectLine(word) {
  const { value, done } = await lines.next();
  if (done) throw new Error(`stdin closed while waiting for ${word}`);
  const parts = value.trim().split(/\s+/);
  if (parts[0] !== word) throw new Error(`expected ${word}, got: ${value}`);
  return parts.slice(1);
}
const say = (line) => process.stdout.write(line + '\n');
const log = (...a) => console.error('[console.spec]', ...a);

const userDataDir = mkdtempSync(join(tmpdir(), 'emledger-console-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
});
const page = context.pages()[0] ?? (await context.newPage());
const consoleErrors = [];
page.on('console', (m) => {
  // the refused sign-in's 401 is logged by the browser itself; anything else is a bug
  if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(String(e)));
// nothing but the API's own origin is ever asked for
const origin = new URL(url).origin;
const foreign = [];
page.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(origin) && !u.startsWith('data:')) foreign.push(u);
});

let step = 0;
const shot = async (name) => {
  step += 1;
  const file = join(artifacts, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log('screenshot', file);
};
const T = 30_000;

try {
  // --- sign in: a wrong key is refused, the right one opens the overview
  await page.goto(url);
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor({ timeout: T });
  await page.locator('#api-key').fill('eml_wrong_key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This API key is not valid').waitFor({ timeout: T });
  await shot('signin-refused');
  await page.locator('#api-key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', exact: true }).waitFor({ timeout: T });
  await page.getByTestId('platform').waitFor({ timeout: T });
  await page.getByTestId('settled-chart').waitFor({ timeout: T });
  await page.getByTestId('reconcile').getByText('MATCH', { exact: true }).first().waitFor({ timeout: T });
  const stored = await page.evaluate(() => [sessionStorage.length, localStorage.length]);
  if (stored[1] !== 0) throw new Error('the key must not be in localStorage');
  await shot('overview');

  // --- users and wallets: this tenant's users only, searchable
  await page.getByRole('link', { name: 'Users & wallets' }).click();
  await page.getByTestId('users').getByText(walletUser, { exact: true }).waitFor({ timeout: T });
  if (await page.getByText(foreignUser).count()) throw new Error(`another tenant's user ${foreignUser} is shown`);
  await page.getByRole('searchbox').fill(walletUser);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction(
    (name) => {
      const rows = [...document.querySelectorAll('[data-testid=users] tbody tr')];
      return rows.length > 0 && rows.every((r) => r.textContent.includes(name));
    },
    walletUser,
    { timeout: T },
  );
  await shot('users-search');

  // --- a wallet: balances, movements, holds, schedules
  await page.locator(`a[href="/console/wallets/${walletId}"]`).first().click();
  await page.getByRole('heading', { name: 'Wallet', exact: true }).waitFor({ timeout: T });
  await page.getByTestId('balance').waitFor({ timeout: T });
  await page.getByTestId('movements').locator('tbody tr').first().waitFor({ timeout: T });
  await page.getByTestId('holds').locator('tbody tr', { hasText: 'console hold' }).waitFor({ timeout: T });
  await page.getByTestId('scheduled').getByText('console allowance', { exact: true }).waitFor({ timeout: T });
  // a reload would lose this
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  await shot('wallet');
  say('READY wallet-open');

  // --- a transfer turns SUCCESS without a reload
  const [transferId] = await expectLine('TRANSFER');
  log('transfer', transferId);
  const row = page.getByTestId('movements').locator('tbody tr', { hasText: 'console transfer' }).first();
  await row.waitFor({ timeout: T });
  await row.locator('[data-status=PENDING]').waitFor({ timeout: T });
  await shot('transfer-pending');
  say('SEEN pending');
  await row.locator('[data-status=SUCCESS]').waitFor({ timeout: 60_000 });
  if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error('the page was reloaded');
  await shot('transfer-success');
  say('SEEN success');

  // --- a stuck operation: listed as stuck on the overview, its detail has the tx hash
  const [stuckId, txHash] = await expectLine('STUCK');
  log('stuck', stuckId, txHash);
  await page.getByRole('link', { name: 'Overview' }).click();
  const stuckRow = page.getByTestId('unsettled').locator('tbody tr', { has: page.locator(`a[href="/console/operations/${stuckId}"]`) });
  await stuckRow.waitFor({ timeout: T });
  await stuckRow.getByText(/^stuck /).waitFor({ timeout: T });
  await page.getByTestId('oldest-unsettled').locator(`a[href="/console/operations/${stuckId}"]`).waitFor({ timeout: T });
  await shot('overview-stuck');
  await stuckRow.locator(`a[href="/console/operations/${stuckId}"]`).click();
  await page.getByRole('heading', { name: 'Operation', exact: true }).waitFor({ timeout: T });
  await page.getByTestId('tx-hash').getByText(txHash, { exact: true }).waitFor({ timeout: T });
  await page.getByTestId('operation-facts').locator('[data-status=SENT]').waitFor({ timeout: T });
  await page.getByTestId('operation-facts').getByText(stuckId, { exact: true }).first().waitFor({ timeout: T });
  await shot('operation-stuck');
  if (!(await page.evaluate(() => window.__sameDocument === true))) throw new Error('the page was reloaded');

  // a deep link works on its own (the server answers index.html for the screen's path)
  await page.goto(`${url.replace(/\/$/, '')}/operations/${stuckId}`);
  await page.getByTestId('tx-hash').getByText(txHash, { exact: true }).waitFor({ timeout: T });

  if (foreign.length) throw new Error(`requests outside the API's origin: ${foreign.join(', ')}`);
  if (consoleErrors.length) throw new Error(`errors in the page: ${consoleErrors.join(' | ')}`);
  say('DONE');
} catch (e) {
  await shot('failure').catch(() => {});
  log('FAILED:', e?.stack ?? e);
  log('page text:', (await page.locator('body').innerText().catch(() => '')).slice(0, 4000));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);
