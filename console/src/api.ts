// The JSON API, called with the API key the operator signed in with. The key
// lives in sessionStorage only: it goes when the tab closes.

const KEY = 'emledger.console.apiKey';

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** An answer that was not 2xx: the API's error envelope, or what came instead. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function get<T>(path: string, key: string | null = apiKey()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (key) headers['X-API-Key'] = key;
  let res: Response;
  try {
    res = await fetch(path, { headers, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', `the API did not answer: ${String(e)}`);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? `${res.status} ${res.statusText}`);
  }
  return body as T;
}

export interface Page<K extends string, T> {
  _embedded: Record<K, T[]>;
  page: { size: number; totalElements: number; totalPages: number; number: number };
}

export interface OperationSummary {
  id: string;
  kind: string;
  status: string;
  walletId: string | null;
  txHash: string | null;
  ageSeconds: number;
  createdAt: string;
  updatedAt: string;
}

export interface Overview {
  generatedAt: string;
  health: { status: string; submitter: string; reasons: string[] };
  chain: {
    status: string;
    chainHead: number | null;
    chainHeadAgeSeconds: number | null;
    indexerBlock: number | null;
    indexerLagBlocks: number | null;
  };
  operationsByStatus: { status: string; count: number }[];
  stuckAfterSeconds: number;
  oldestUnsettled: OperationSummary | null;
  unsettled: OperationSummary[];
  recent: OperationSummary[];
  settledPerMinute: { minute: string; count: number }[];
  reconcile: {
    status: string;
    checked: string;
    block: number | null;
    walletsChecked: number;
    walletsTotal: number;
    mismatches: { walletId: string; dltAddress: string; field: string; indexed: string; chain: string }[];
    tokenTotals: string;
    error: string | null;
  };
}

export interface ConsoleWallet {
  id: string;
  dltAddress: string;
  iban: string | null;
  status: string;
  name: string | null;
  balance: string;
  availableBalance: string;
  heldBalance: string;
  currency: string;
}

export interface ConsoleUser {
  id: string;
  name: string;
  phoneNumber: string;
  email: string | null;
  externalId: string | null;
  kycLevel: number;
  status: string;
  createdAt: string;
  wallets: ConsoleWallet[];
}

export interface Wallet {
  id: string;
  userId: string;
  dltAddress: string;
  dltNetwork: string;
  iban: string | null;
  status: string;
  balance: string;
  availableBalance: string;
  heldBalance: string;
  currency: string;
  type: string;
  name: string | null;
  complianceStatus: string;
  createdAt: string;
}

export interface Movement {
  id: string;
  type: string;
  status: string;
  amount: string;
  concept: string | null;
  originWalletId: string | null;
  targetWalletId: string | null;
  originDltAddress: string | null;
  targetDltAddress: string | null;
  scheduledOperationId: string | null;
  txHash: string | null;
  blockNumber: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface Hold {
  id: string;
  status: string;
  heldValue: string;
  executedValue: string;
  remainingValue: string;
  payerWalletId: string | null;
  payeeWalletId: string | null;
  payeeDltAddress: string | null;
  concept: string | null;
  expiration: string | null;
  createdAt: string;
}

export interface Scheduled {
  id: string;
  alias: string;
  concept: string;
  amount: string;
  status: string;
  schedule: { startDate: string; nextDate: string | null; frequency: string; timeZone: string };
  receiver: { type: string; account: string };
}

export interface Operation {
  id: string;
  kind: string;
  status: string;
  chainOperationId: string;
  walletId: string | null;
  holdId: string | null;
  txHash: string | null;
  nonce: number | null;
  blockNumber: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}
