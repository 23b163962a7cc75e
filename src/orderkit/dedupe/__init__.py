"""Dedupe: idempotency keys for events, normalisation and fingerprints for orders.

Every event orderkit applies carries an `IdempotencyKey`. Two deliveries of
the same event (a channel's retry of a webhook, a re-polled page) carry the
same key, and the second one changes nothing.

The same buyer may also order twice, on two channels. To see it, an order's
parts are normalised, so that one thing written two ways compares equal:
phone numbers to E.164 (`normalize_phone`; masked numbers such as
`138****8000` count as absent), addresses to keys (`normalize_address`;
北京市 and 北京 are the same), names and SKUs by case and whitespace, and the
lines to a SKU multiset. A `Fingerprinter` hashes those parts, keyed with a
secret the host provides, into versioned `Fingerprint`s: one per kind of part
(phone, address, buyer account), each with the SKU multiset, so that a match
says which parts matched and a stored fingerprint reveals no phone number.
Name the channels that send privacy relay numbers in its `relay_channels`:
the default keeps every phone's extension, so a made-up one
(`13800138000转1`) makes a new phone on a channel that sends none. Channel
names in its settings are compared stripped and case-folded.

An operation that must run once per key (a payment callback, a refund)
goes through `orderkit.services.Idempotency`: `request_hash` fingerprints the
canonical request, and a `orderkit.ports.KeyStore` answers a claim with
`Claimed`, `Replay` (the first `Outcome`, byte for byte) or `InProgress`.

`orderkit.services.DuplicateDetector` records each order's `Sighting` and
fingerprints; an order matching another within the window gets a
`Screening` with its `Match`es and a `Suspicion` in the review queue
(疑似重复), until a person releases or rejects it (`ReviewState`).

.. versionadded:: 0.1.0
"""

from orderkit.dedupe._addresses import normalize_address as normalize_address
from orderkit.dedupe._claims import Claim as Claim
from orderkit.dedupe._claims import Claimed as Claimed
from orderkit.dedupe._claims import InProgress as InProgress
from orderkit.dedupe._claims import Outcome as Outcome
from orderkit.dedupe._claims import Replay as Replay
from orderkit.dedupe._fingerprints import FINGERPRINT_VERSION as FINGERPRINT_VERSION
from orderkit.dedupe._fingerprints import Fingerprint as Fingerprint
from orderkit.dedupe._fingerprints import Fingerprinter as Fingerprinter
from orderkit.dedupe._fingerprints import FingerprintKind as FingerprintKind
from orderkit.dedupe._fingerprints import sku_multiset as sku_multiset
from orderkit.dedupe._keys import IdempotencyKey as IdempotencyKey
from orderkit.dedupe._matches import Match as Match
from orderkit.dedupe._matches import ReviewState as ReviewState
from orderkit.dedupe._matches import Screening as Screening
from orderkit.dedupe._matches import Sighting as Sighting
from orderkit.dedupe._matches import Suspicion as Suspicion
from orderkit.dedupe._phones import NOT_A_PHONE as NOT_A_PHONE
from orderkit.dedupe._phones import NotAPhone as NotAPhone
from orderkit.dedupe._phones import normalize_phone as normalize_phone
from orderkit.dedupe._requests import request_hash as request_hash
from orderkit.dedupe._text import normalize_name as normalize_name
from orderkit.dedupe._text import normalize_sku as normalize_sku


__all__ = [
    "Claim",
    "Claimed",
    "FINGERPRINT_VERSION",
    "Fingerprint",
    "FingerprintKind",
    "Fingerprinter",
    "IdempotencyKey",
    "InProgress",
    "Match",
    "NOT_A_PHONE",
    "NotAPhone",
    "Outcome",
    "Replay",
    "ReviewState",
    "Screening",
    "Sighting",
    "Suspicion",
    "normalize_address",
    "normalize_name",
    "normalize_phone",
    "normalize_sku",
    "request_hash",
    "sku_multiset",
]
