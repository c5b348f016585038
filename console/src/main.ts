// The emledger operator console: sign in with an API key, then read what the
// tenant's API shows: an overview, users and wallets, a wallet's balances,
// movements, holds and schedules, an operation with its transaction hash.
// Read-only. Screens that change while one looks at them poll the API.
import './style.css';
import {
  ApiError,
  apiKey,
  get,
  setApiKey,
  type ConsoleUser,
  type Hold,
  type Movement,
  type Operation,
  type OperationSummary,
  type Overview,
  type Page,
  type Scheduled,
  type Wallet,
} from './api';
import { age, append, badge, h, link, short, table, when } from './dom';
import { perMinuteChart } from './chart';

const BASE = '/console';
const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;

// ------------------------------------------------------------------ routing

let stopCurrent: (() => void) | null = null;

function go(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  go(a.getAttribute('href')!);
});
window.addEventListener('popstate', route);

function route(): void {
  stopCurrent?.();
  stopCurrent = null;
  const path = location.pathname.replace(/\/+$/, '').slice(BASE.length) || '/';
  renderNav();
  if (!apiKey()) {
    if (path !== '/signin') history.replaceState(null, '', `${BASE}/signin`);
    signIn();
    return;
  }
  let m: RegExpMatchArray | null;
  if (path === '/' || path === '/signin') overview();
  else if (path === '/users') users();
  else if ((m = path.match(/^\/wallets\/([0-9a-fA-F-]{36})$/))) wallet(m[1]);
  else if ((m = path.match(/^\/operations\/([0-9a-fA-F-]{36})$/))) operation(m[1]);
  else screen('Not found', h('p', {}, 'No such screen. ', link(`${BASE}/`, 'Back to the overview.')));
}

function renderNav(): void {
  nav.replaceChildren();
  if (!apiKey()) return;
  const here = location.pathname;
  const item = (href: string, text: string) => {
    const a = link(href, text);
    if (here === href || (href !== `${BASE}/` && here.startsWith(href))) a.classList.add('active');
    return a;
  };
  const opForm = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = (opForm.querySelector('input') as HTMLInputElement).value.trim();
        if (/^[0-9a-fA-F-]{36}$/.test(v)) go(`${BASE}/operations/${v}`);
      },
    },
    h('input', { name: 'operation', placeholder: 'operation id', 'aria-label': 'Open an operation by id', size: 38 }),
    h('button', { type: 'submit' }, 'Open'),
  );
  append(nav, [
    item(`${BASE}/`, 'Overview'),
    item(`${BASE}/users`, 'Users & wallets'),
    opForm,
    h(
      'button',
      {
        class: 'link',
        onclick: () => {
          setApiKey(null);
          go(`${BASE}/signin`, true);
        },
      },
      'Sign out',
    ),
  ]);
}

/** Replaces the page with a screen: a title and its parts. */
function screen(title: string, ...parts: Node[]): void {
  document.title = `${title} · emledger console`;
  app.replaceChildren(h('h1', {}, title), ...parts);
}

/**
 * Calls `load` now and every `ms` while the screen is shown, rendering each
 * answer into `into`; a failed call shows its error there and keeps polling.
 */
function poll<T>(into: HTMLElement, ms: number, load: () => Promise<T>, render: (t: T) => Node[]): void {
  let stopped = false;
  let timer: number | undefined;
  const tick = async () => {
    try {
      const data = await load();
      if (stopped) return;
      into.replaceChildren(...render(data));
      into.dataset.updated = new Date().toISOString();
    } catch (e) {
      if (stopped) return;
      if (e instanceof ApiError && e.status === 401) {
        setApiKey(null);
        go(`${BASE}/signin`, true);
        return;
      }
      into.replaceChildren(errorBox(e));
    }
    if (!stopped) timer = window.setTimeout(tick, ms);
  };
  const previous = stopCurrent;
  stopCurrent = () => {
    previous?.();
    stopped = true;
    window.clearTimeout(timer);
  };
  void tick();
}

function errorBox(e: unknown): HTMLElement {
  const text = e instanceof ApiError ? `${e.status || ''} ${e.code}: ${e.message}` : String(e);
  return h('p', { class: 'error', role: 'alert' }, text.trim());
}

function card(title: string, ...body: (Node | string)[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...body.filter((b) => b !== ''));
}

function dl(pairs: [string, Node | string | number | null | undefined][], testid?: string): HTMLElement {
  const el = h('dl', { 'data-testid': testid });
  for (const [k, v] of pairs) append(el, [h('dt', {}, k), h('dd', {}, v === null || v === undefined ? '—' : v)]);
  return el;
}

function opLink(id: string, text?: string): HTMLAnchorElement {
  return link(`${BASE}/operations/${id}`, text ?? short(id));
}

function walletLink(id: string | null, text?: string): Node | string {
  return id ? link(`${BASE}/wallets/${id}`, text ?? short(id)) : '—';
}

function code(text: string | null | undefined): Node | string {
  return text ? h('code', {}, text) : '—';
}

// ------------------------------------------------------------------ sign in

function signIn(): void {
  const input = h('input', {
    id: 'api-key',
    name: 'apiKey',
    type: 'password',
    autocomplete: 'off',
    required: true,
    placeholder: 'eml_…',
    size: 60,
  });
  const msg = h('p', { class: 'muted' }, 'The key is kept in this tab only (sessionStorage) and sent as X-API-Key.');
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        msg.replaceChildren('Checking…');
        msg.className = 'muted';
        try {
          await get<Overview>('/api/v1/public/console/overview', key);
          setApiKey(key);
          go(`${BASE}/`, true);
        } catch (err) {
          msg.className = 'error';
          msg.replaceChildren(
            err instanceof ApiError && err.status === 401 ? 'This API key is not valid (unknown, revoked or mistyped).'
            : err instanceof ApiError && err.status === 403 ? 'This API key lacks the read scope.'
            : errorBox(err).textContent ?? '',
          );
        }
      },
    },
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    msg,
  );
  screen('Sign in', form);
  input.focus();
}

// ------------------------------------------------------------------ overview

function overview(): void {
  const body = h('div', { class: 'grid', 'data-testid': 'overview' });
  screen('Overview', body);
  poll(body, 2000, () => get<Overview>('/api/v1/public/console/overview'), renderOverview);
}

function summaryRows(ops: OperationSummary[], stuckAfter: number): (Node | string)[][] {
  return ops.map((o) => [
    opLink(o.id),
    o.kind,
    badge(o.status),
    o.status !== 'SUCCESS' && o.status !== 'FAILED' && o.ageSeconds > stuckAfter ? h('span', { class: 'badge bad' }, `stuck ${age(o.ageSeconds)}`) : age(o.ageSeconds),
    walletLink(o.walletId),
    code(o.txHash ? short(o.txHash, 10) : null),
  ]);
}

function renderOverview(o: Overview): Node[] {
  const lag = o.chain.indexerLagBlocks;
  const settledHour = o.settledPerMinute.reduce((s, p) => s + p.count, 0);
  const r = o.reconcile;
  return [
    card(
      'Platform',
      dl(
        [
          ['Health', badge(o.health.status)],
          ['Submitter', badge(o.health.submitter)],
          ['Chain node', badge(o.chain.status)],
          ['Chain head', o.chain.chainHead],
          ['Head age', age(o.chain.chainHeadAgeSeconds)],
          ['Indexer block', o.chain.indexerBlock],
          ['Indexer lag', lag === null ? null : `${lag} block${lag === 1 ? '' : 's'}`],
        ],
        'platform',
      ),
      o.health.reasons.length ? h('ul', { class: 'reasons' }, ...o.health.reasons.map((x) => h('li', {}, x))) : h('p', { class: 'muted' }, 'No problem reported.'),
    ),
    card(
      'Operations by status',
      table(
        ['Status', 'Count'],
        o.operationsByStatus.map((s) => [badge(s.status), String(s.count)]),
        'No operations.',
        'by-status',
      ),
      h(
        'p',
        { 'data-testid': 'oldest-unsettled' },
        'Oldest unsettled: ',
        o.oldestUnsettled ? opLink(o.oldestUnsettled.id) : 'none',
        o.oldestUnsettled ? ` · ${o.oldestUnsettled.status} · ${age(o.oldestUnsettled.ageSeconds)}` : '',
      ),
    ),
    card(
      'Reconcile',
      dl(
        [
          ['Result', badge(r.status)],
          ['At block', r.block],
          ['Wallets checked', `${r.walletsChecked} of ${r.walletsTotal}`],
          ['Token totals', badge(r.tokenTotals)],
        ],
        'reconcile',
      ),
      r.error ? h('p', { class: 'error' }, r.error) : '',
      r.mismatches.length
        ? table(
            ['Wallet', 'Field', 'Read model', 'Chain'],
            r.mismatches.map((m) => [walletLink(m.walletId, short(m.dltAddress)), m.field, m.indexed, m.chain]),
          )
        : '',
      h('p', { class: 'muted small' }, `Checked: ${r.checked}.`),
    ),
    card(
      `Settled operations per minute (last hour: ${settledHour})`,
      perMinuteChart(o.settledPerMinute),
    ),
    card(
      `Unsettled operations (stuck after ${o.stuckAfterSeconds} s)`,
      table(['Operation', 'Kind', 'Status', 'Age', 'Wallet', 'Tx'], summaryRows(o.unsettled, o.stuckAfterSeconds), 'None: every operation has settled.', 'unsettled'),
    ),
    card(
      'Latest operations',
      table(['Operation', 'Kind', 'Status', 'Age', 'Wallet', 'Tx'], summaryRows(o.recent, o.stuckAfterSeconds), 'No operations yet.', 'recent'),
    ),
  ].map((c, i) => {
    if (i >= 3) c.classList.add('wide');
    return c;
  });
}

// ------------------------------------------------------------------ users & wallets

function users(): void {
  const params = new URLSearchParams(location.search);
  const input = h('input', {
    name: 'q',
    type: 'search',
    placeholder: 'name, phone, e-mail, external id, user/wallet id, address or IBAN',
    value: params.get('q') ?? '',
    size: 60,
    'aria-label': 'Search users and wallets',
  });
  const results = h('div', { 'data-testid': 'users' });
  const run = async () => {
    const q = input.value.trim();
    history.replaceState(null, '', q ? `${BASE}/users?q=${encodeURIComponent(q)}` : `${BASE}/users`);
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    try {
      const r = await get<{ users: ConsoleUser[]; truncated: boolean }>(`/api/v1/public/console/users?limit=100&q=${encodeURIComponent(q)}`);
      results.replaceChildren(renderUsers(r.users));
      if (r.truncated) results.append(h('p', { class: 'muted' }, 'More users match: refine the search.'));
    } catch (e) {
      results.replaceChildren(errorBox(e));
    }
  };
  let debounce: number | undefined;
  input.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(run, 250);
  });
  const form = h(
    'form',
    {
      class: 'search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void run();
      },
    },
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
  screen('Users & wallets', form, results);
  void run();
}

function renderUsers(list: ConsoleUser[]): HTMLElement {
  return table(
    ['User', 'Phone', 'E-mail', 'External id', 'KYC', 'Status', 'Wallets'],
    list.map((u) => [
      h('span', { title: u.id }, u.name),
      u.phoneNumber,
      u.email ?? '—',
      u.externalId ?? '—',
      String(u.kycLevel),
      badge(u.status),
      u.wallets.length
        ? h(
            'ul',
            { class: 'plain' },
            ...u.wallets.map((w) =>
              h('li', {}, walletLink(w.id, w.name ?? short(w.dltAddress, 10)), ' ', h('span', { class: 'amount' }, `${w.balance} ${w.currency}`), ' ', badge(w.status)),
            ),
          )
        : '—',
    ]),
    'No user matches.',
  );
}

function wallet(id: string): void {
  const head = h('div', { 'data-testid': 'wallet' });
  const movements = h('div', { 'data-testid': 'movements' });
  const holds = h('div', { 'data-testid': 'holds' });
  const schedules = h('div', { 'data-testid': 'scheduled' });
  screen(
    'Wallet',
    head,
    card('Movements (newest first, refreshed every second)', movements),
    card('Holds', holds),
    card('Scheduled operations', schedules),
  );
  const w = `/api/v1/public/wallets/${id}`;
  poll(head, 1000, () => get<Wallet>(w), (x) => [
    card(
      x.name ?? x.dltAddress,
      dl(
        [
          ['Balance', h('span', { class: 'amount', 'data-testid': 'balance' }, `${x.balance} ${x.currency}`)],
          ['Available', h('span', { class: 'amount' }, `${x.availableBalance} ${x.currency}`)],
          ['Held', h('span', { class: 'amount' }, `${x.heldBalance} ${x.currency}`)],
          ['Status', badge(x.status)],
          ['Compliance', x.complianceStatus],
          ['DLT address', code(x.dltAddress)],
          ['Network', x.dltNetwork],
          ['IBAN', x.iban],
          ['Type', x.type],
          ['Wallet id', code(x.id)],
          ['User id', code(x.userId)],
          ['Created', when(x.createdAt)],
        ],
        'wallet-facts',
      ),
    ),
  ]);
  poll(movements, 1000, () => get<Page<'movements', Movement>>(`${w}/movements?size=50&sort=createdAt,desc`), (p) => [
    table(
      ['Created', 'Type', 'Status', 'Amount', 'Concept', 'Counterparty', 'Tx'],
      p._embedded.movements.map((m) => {
        const out = m.type === 'TRANSFER_OUT';
        const other = out ? m.targetWalletId : m.originWalletId;
        const otherAddr = out ? m.targetDltAddress : m.originDltAddress;
        return [
          when(m.createdAt),
          m.type,
          badge(m.status),
          h('span', { class: 'amount' }, m.amount),
          m.concept ?? '—',
          m.type.startsWith('TRANSFER') ? walletLink(other, short(other ?? otherAddr)) : '—',
          code(m.txHash ? short(m.txHash, 10) : null),
        ];
      }),
      'No movements yet.',
    ),
    h('p', { class: 'muted small' }, `${p.page.totalElements} movement(s) in all.`),
  ]);
  poll(holds, 3000, () => get<Page<'holds', Hold>>(`${w}/holds?size=50&sort=createdAt,desc`), (p) => [
    table(
      ['Created', 'Status', 'Held', 'Executed', 'Remaining', 'Payee', 'Expires', 'Concept'],
      p._embedded.holds.map((x) => [
        when(x.createdAt),
        badge(x.status),
        x.heldValue,
        x.executedValue,
        x.remainingValue,
        walletLink(x.payeeWalletId, short(x.payeeWalletId ?? x.payeeDltAddress)),
        when(x.expiration),
        x.concept ?? '—',
      ]),
      'No holds.',
    ),
  ]);
  poll(schedules, 5000, () => get<Page<'scheduledOperations', Scheduled>>(`${w}/scheduled-operations?size=50`), (p) => [
    table(
      ['Alias', 'Status', 'Amount', 'Frequency', 'Next', 'Receiver', 'Concept'],
      p._embedded.scheduledOperations.map((s) => [
        s.alias,
        badge(s.status),
        s.amount,
        s.schedule.frequency,
        when(s.schedule.nextDate),
        `${s.receiver.type} ${short(s.receiver.account, 10)}`,
        s.concept || '—',
      ]),
      'No scheduled operations.',
    ),
  ]);
}

// ------------------------------------------------------------------ operation

const PIPELINE = ['PENDING', 'SIGNED', 'SENT', 'MINED', 'SUCCESS'];

function operation(id: string): void {
  const body = h('div', { 'data-testid': 'operation' });
  screen('Operation', body);
  poll(body, 1000, () => get<Operation>(`/api/v1/public/operations/${id}`), (o) => {
    const reached = o.status === 'FAILED' ? -1 : PIPELINE.indexOf(o.status);
    const steps = h(
      'ol',
      { class: 'pipeline' },
      ...PIPELINE.map((s, i) => h('li', { class: i < reached ? 'done' : i === reached ? 'current' : '' }, s)),
      o.status === 'FAILED' ? h('li', { class: 'failed current' }, 'FAILED') : '',
    );
    const unsettled = o.status !== 'SUCCESS' && o.status !== 'FAILED';
    const ageSecs = (Date.now() - new Date(o.createdAt).getTime()) / 1000;
    return [
      card(
        `${o.kind} ${short(o.id)}`,
        steps,
        dl(
          [
            ['Status', badge(o.status)],
            ['Transaction hash', h('code', { 'data-testid': 'tx-hash' }, o.txHash ?? 'not sent yet')],
            ['Nonce', o.nonce],
            ['Block', o.blockNumber],
            ['Error', o.error],
            ['Kind', o.kind],
            ['Operation id', code(o.id)],
            ['Chain operation id', code(o.chainOperationId)],
            ['Wallet', walletLink(o.walletId, o.walletId ?? undefined)],
            ['Hold id', code(o.holdId)],
            ['Accepted', when(o.createdAt)],
            ['Last change', when(o.updatedAt)],
            ['Unsettled for', unsettled ? age(ageSecs) : null],
          ],
          'operation-facts',
        ),
      ),
    ];
  });
}

route();
