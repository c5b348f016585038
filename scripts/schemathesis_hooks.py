"""Hooks of scripts/schemathesis (loaded through scripts/schemathesis.toml).

The OpenAPI states every bound, pattern, format and enum the server enforces. What
no JSON Schema can state is written in the descriptions and handled here, and only
here; every check stays on, every route is tested, and nothing here touches a
response or a check's verdict.

1. Formats the schema names, with generators for values of them (schemathesis
   knows the standard formats only):
   - `iban`: ISO 13616 IBANs whose country structure and mod-97 check digits hold;
   - `e164`: phone numbers libphonenumber knows as valid (Spanish and French mobiles);
   - `evm-address`: random 20-byte addresses (never the zero address).
2. Rules across fields, over time or over history, kept in *positive* cases only
   (cases schemathesis generates to be accepted; negative cases are sent as
   generated). Each is documented in the OpenAPI and answered 400/422 otherwise:
   - an `Idempotency-Key` (header or body `idempotencyKey`) sent again with another
     body is 422 `idempotency_key_reused`, so each positive case gets a fresh key,
     the same in header and body when both are present;
   - an `externalId` is unique per tenant (400 `duplicate_external_id`): each positive
     case creating a user or a wallet gets a fresh one;
   - `targetWalletId` (and a schedule's `IOCASH_WALLET` receiver) must differ from
     the path's `walletId`: an equal one is replaced by a fresh UUID;
   - a hold's `expiration` and a schedule's `startDate` must be in the future: a past
     one is moved 4000 years ahead (same day of the year, same leap-ness); a
     schedule's END_DATE must be within 100 years from its start's date and not
     before: it is set 30 days after the start;
   - `endDate` must not be before `startDate` in the movements list: they are swapped;
   - a sort field may be given once: repeats are dropped;
   - rejecting a clearable transfer needs a `reason`: one is added.
3. The run authenticates with one admin API key, and `DELETE
   /api/v1/public/api-keys/{keyId}` is tested like every route: schemathesis learns
   key ids from `GET /api/v1/public/api-keys` and would revoke the very key it runs
   with, after which every request is a 401 and the rest of the run tests nothing. So
   that one value is never sent: a `keyId` equal to the run's own key is replaced by a
   fresh random UUID (answered 404, as for any unknown key).
"""

import datetime
import os
import random
import re
import uuid

import schemathesis
from hypothesis import strategies as st

# ---- 1. formats


def _mod97(text):
    r = 0
    for c in text:
        v = int(c, 36)
        r = (r * 100 + v) % 97 if v >= 10 else (r * 10 + v) % 97
    return r


def _iban(country, bban):
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def _ccc_digit(digits):
    weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]
    d = 11 - sum(int(x) * w for x, w in zip(digits, weights)) % 11
    return {11: 0, 10: 1}.get(d, d)


def _spanish(bank, branch, account):
    d1 = _ccc_digit("00" + bank + branch)
    d2 = _ccc_digit(account)
    return _iban("ES", f"{bank}{branch}{d1}{d2}{account}")


_digits = lambda n: st.text("0123456789", min_size=n, max_size=n)  # noqa: E731
_upper = lambda n: st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=n, max_size=n)  # noqa: E731

IBANS = st.one_of(
    st.builds(_spanish, _digits(4), _digits(4), _digits(10)),
    st.builds(lambda b: _iban("DE", b), _digits(18)),
    st.builds(lambda a, n: _iban("GB", a + n), _upper(4), _digits(14)),
    st.builds(lambda a, n: _iban("NL", a + n), _upper(4), _digits(10)),
)
schemathesis.openapi.format("iban", IBANS)

# ES mobiles: 6 and eight digits; FR mobiles: 60 and seven digits
PHONES = st.one_of(
    _digits(8).map(lambda d: "+346" + d),
    _digits(7).map(lambda d: "+3360" + d),
)
schemathesis.openapi.format("e164", PHONES)

ADDRESSES = st.binary(min_size=20, max_size=20).filter(any).map(lambda b: "0x" + b.hex())
schemathesis.openapi.format("evm-address", ADDRESSES)

# webhook receivers: https to a DNS name (nothing answers there: deliveries just retry)
WEBHOOK_URLS = st.from_regex(r"\Ahttps://hooks\.example\.com/[a-z0-9]{1,16}\Z")
schemathesis.openapi.format("webhook-url", WEBHOOK_URLS)
WEBHOOK_URL_SHAPE = re.compile(r"^https://hooks\.example\.com/[a-z0-9]{1,16}$")

# The coverage phase draws boundary values from the patterns alone (`+000…`,
# `AA00AAAAAAAAAAA`), which the formats' rules refuse: in positive cases, a value of
# these formats that does not keep its rules is replaced by a fresh valid one.
IBAN_SHAPES = {
    "ES": re.compile(r"^ES\d{22}$"),
    "DE": re.compile(r"^DE\d{20}$"),
    "GB": re.compile(r"^GB\d{2}[A-Z]{4}\d{14}$"),
    "NL": re.compile(r"^NL\d{2}[A-Z]{4}\d{10}$"),
}
PHONE_SHAPE = re.compile(r"^\+(346\d{8}|3360\d{7})$")


def _random_digits(n):
    return "".join(random.choice("0123456789") for _ in range(n))


def _valid_iban(text):
    shape = IBAN_SHAPES.get(text[:2]) if isinstance(text, str) else None
    if not shape or not shape.match(text) or _mod97(text[4:] + text[:4]) != 1:
        return False
    if text.startswith("ES"):
        bban = text[4:]
        return int(bban[8]) == _ccc_digit("00" + bban[:8]) and int(bban[9]) == _ccc_digit(bban[10:])
    return True


def _fresh_iban():
    return _spanish(_random_digits(4), _random_digits(4), _random_digits(10))


def _fresh_phone():
    return "+346" + _random_digits(8)


# ---- 2. rules the schema cannot state, kept in positive cases

IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")


def _positive(case):
    meta = getattr(case, "meta", None)
    if meta is None:
        return False
    mode = meta.generation.mode
    return getattr(mode, "is_positive", False)


def _parse_instant(text):
    """A date-time (RFC 3339) or a date, as an aware datetime; None when neither."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    try:
        if len(t) == 10:
            return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc)
        return datetime.datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _in_the_future(text):
    """`text` moved 4000 years ahead when it is not in the future (same leap-ness)."""
    when = _parse_instant(text)
    if when is None or when.tzinfo is None:
        return text
    if when > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5):
        return text
    m = re.match(r"^\s*(\d{4})", text)
    if not m or int(m.group(1)) + 4000 > 9999:
        return text
    return text.replace(m.group(1), f"{int(m.group(1)) + 4000:04d}", 1)


def _fresh_key():
    return uuid.uuid4().hex


def keep_rules(case):
    """Rewrites a positive case in place so that it keeps the rules of part 2."""
    if not _positive(case):
        return
    path = case.operation.path
    params = case.path_parameters or {}
    body = case.body if isinstance(case.body, dict) else None
    headers = case.headers if hasattr(case.headers, "keys") else None  # a case-insensitive mapping

    # a fresh Idempotency-Key per positive case, equal in header and body
    key = None
    if headers is not None:
        for name in list(headers):
            if name.lower() == "idempotency-key" and isinstance(headers[name], str) and IDEMPOTENCY_KEY.match(headers[name].strip()):
                key = key or _fresh_key()
                headers[name] = key
    if body is not None and isinstance(body.get("idempotencyKey"), str) and IDEMPOTENCY_KEY.match(body["idempotencyKey"].strip()):
        body["idempotencyKey"] = key or _fresh_key()
    elif body is not None and key is not None and body.get("idempotencyKey") is not None:
        body["idempotencyKey"] = key

    # an externalId is unique per tenant (400 `duplicate_external_id` when used before)
    if body is not None and case.method.upper() == "POST" and path in ("/api/v1/public/users", "/api/v1/public/wallets"):
        if isinstance(body.get("externalId"), str) and body["externalId"].strip():
            body["externalId"] = "ext-" + uuid.uuid4().hex

    wallet = str(params.get("walletId", "")).lower()
    if body is not None:
        # values of the formats iban, e164 and evm-address keep their rules
        if isinstance(body.get("phoneNumber"), str) and not PHONE_SHAPE.match(body["phoneNumber"]):
            body["phoneNumber"] = _fresh_phone()
        for holder in (body.get("externalIban"), body.get("iban")):
            if isinstance(holder, dict) and isinstance(holder.get("accountNumber"), str) and not _valid_iban(holder["accountNumber"]):
                holder["accountNumber"] = _fresh_iban()
        receiver = body.get("receiver")
        if isinstance(receiver, dict) and receiver.get("type") == "EXTERNAL_BANK_ACCOUNT" and not _valid_iban(receiver.get("account")):
            receiver["account"] = _fresh_iban()
        # a webhook endpoint's url keeps its rules (the coverage phase draws it from the pattern)
        if path.startswith("/api/v1/public/webhook-endpoints") and isinstance(body.get("url"), str) and not WEBHOOK_URL_SHAPE.match(body["url"]):
            body["url"] = "https://hooks.example.com/" + uuid.uuid4().hex[:12]
        if isinstance(body.get("dltAddress"), str) and not body["dltAddress"][2:].strip("0"):
            body["dltAddress"] = "0x" + os.urandom(20).hex()
        # the target (or a schedule's wallet receiver) differs from the path's wallet
        if wallet and str(body.get("targetWalletId", "")).lower() == wallet:
            body["targetWalletId"] = str(uuid.uuid4())
        receiver = body.get("receiver")
        if isinstance(receiver, dict) and receiver.get("type") == "IOCASH_WALLET" and str(receiver.get("account", "")).lower() == wallet:
            receiver["account"] = str(uuid.uuid4())
        # instants that must be in the future
        if isinstance(body.get("expiration"), str) and body["expiration"].strip():
            body["expiration"] = _in_the_future(body["expiration"])
        schedule = body.get("schedule")
        if isinstance(schedule, dict) and isinstance(schedule.get("startDate"), str):
            schedule["startDate"] = _in_the_future(schedule["startDate"])
            start = _parse_instant(schedule["startDate"])
            duration = schedule.get("duration")
            if start is not None and isinstance(duration, dict) and duration.get("type") == "END_DATE" and schedule.get("frequency") != "ONCE":
                end = _parse_instant(duration.get("value"))
                first, last = start.date() + datetime.timedelta(days=2), start.date() + datetime.timedelta(days=36000)
                if end is None or not first <= end.date() <= last:
                    shifted = start.date() + datetime.timedelta(days=30)
                    if shifted.year <= 9999:
                        duration["value"] = shifted.isoformat()
        # rejecting a clearable transfer needs a reason
        if path.endswith("/{action}") and params.get("action") == "reject" and not body.get("reason"):
            body["reason"] = "rejected by schemathesis"

    query = case.query if isinstance(case.query, dict) else None
    if query is not None:
        # each sort field once
        sort = query.get("sort")
        if isinstance(sort, list):
            seen, kept = set(), []
            for item in sort:
                field = str(item).split(",")[0].strip()
                if field not in seen:
                    seen.add(field)
                    kept.append(item)
            query["sort"] = kept
        # endDate not before startDate
        start, end = _parse_instant(query.get("startDate")), _parse_instant(query.get("endDate"))
        if start is not None and end is not None and start.tzinfo and end.tzinfo and end < start:
            query["startDate"], query["endDate"] = query["endDate"], query["startDate"]


# ---- 3. never revoke the run's own key

PROTECTED_KEY_ID = os.environ.get("SCHEMATHESIS_PROTECTED_KEY_ID", "").lower()


@schemathesis.hook
def before_call(context, case, kwargs):
    # every phase sends through here (examples, coverage, fuzzing, stateful)
    keep_rules(case)
    if not PROTECTED_KEY_ID or case.operation.path != "/api/v1/public/api-keys/{keyId}":
        return
    params = case.path_parameters or {}
    if str(params.get("keyId", "")).strip().lower() == PROTECTED_KEY_ID:
        params["keyId"] = str(uuid.uuid4())
