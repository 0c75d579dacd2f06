"""The identifiers borrowers leave behind, as salted hashes: the raw material of the relationship graph.

Honest sharing is everywhere: families share an address, a home IP and now and
then a device; colleagues share an employer; public and carrier IPs are shared
by thousands. Rings share more, and more tightly: a handful of devices, drop
addresses, a shell employer, and each other's phone numbers as contacts.
A contact's value is the hash of the contact's phone, so contacts and phones
link in the graph.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from creditmesh.ids import hex_strings, salted_hash
from creditmesh.schema import IDENTITY_KINDS
from creditmesh.simulate.population import Population

#: Entity number spaces, so that different sources of one kind never collide.
_NON_BORROWER_PHONES = 1 << 40
_RING_SPACE = 1 << 36
_SHARED_SPACE = 1 << 34
PUBLIC_IPS = 2_000


def identity_rows(rng: np.random.Generator, pop: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(borrower, kind index, entity number) for every identifier, deduplicated per borrower and kind."""
    n = pop.size
    everyone = np.arange(n, dtype=np.int64)
    ring = pop.ring.astype(np.int64)
    in_ring = ring >= 0
    parts: list[tuple[np.ndarray, int, np.ndarray]] = []

    def add(borrowers: np.ndarray, kind: str, entities: np.ndarray) -> None:
        parts.append((borrowers, IDENTITY_KINDS.index(kind), np.asarray(entities, dtype=np.int64)))

    add(everyone, "phone", everyone)
    # devices: own; 10 % share the household's tablet; 25 % have a second phone; rings share 1-4 devices
    device = np.where(rng.random(n) < 0.10, _SHARED_SPACE + pop.household, everyone)
    device = np.where(in_ring, _RING_SPACE + ring * 4 + rng.integers(0, 4, n), device)
    add(everyone, "device", device)
    second = ~in_ring & (rng.random(n) < 0.25)
    add(everyone[second], "device", n + everyone[second])
    # IPs: the home line; 40 % also seen on a public or carrier IP (a heavy-tailed pool of hubs)
    home_ip = np.where(in_ring, _RING_SPACE + ring * 2 + rng.integers(0, 2, n), _SHARED_SPACE + pop.household)
    add(everyone, "ip", home_ip)
    public = rng.random(n) < 0.4
    add(everyone[public], "ip", 2 * _SHARED_SPACE + np.minimum(rng.zipf(1.3, public.sum()), PUBLIC_IPS))
    add(everyone, "address", pop.household)
    # bank cards: own, 30 % a second one
    add(everyone, "bank_card", everyone)
    second_card = rng.random(n) < 0.3
    add(everyone[second_card], "bank_card", n + everyone[second_card])
    has_employer = pop.employer >= 0
    add(everyone[has_employer], "employer", pop.employer[has_employer])
    # contacts: mostly people who are not on the platform, some who are; ring members list each other
    count = np.minimum(rng.poisson(3.0, n), 12)
    owner = np.repeat(everyone, count)
    outside = rng.random(owner.shape[0]) < 0.7
    contact = np.where(
        outside,
        _NON_BORROWER_PHONES + rng.integers(0, 50 * max(n, 1), owner.shape[0]),
        rng.integers(0, n, owner.shape[0]),
    )
    add(owner, "contact", contact)
    add(*_ring_contacts(rng, pop))
    borrower = np.concatenate([b for b, _, _ in parts])
    kind = np.concatenate([np.full(b.shape[0], k, dtype=np.int8) for b, k, _ in parts])
    entity = np.concatenate([e for _, _, e in parts])
    # one row per (borrower, kind, entity): sort and drop repeats
    order = np.lexsort((entity, kind, borrower))
    borrower, kind, entity = borrower[order], kind[order], entity[order]
    keep = np.ones(borrower.shape[0], dtype=bool)
    keep[1:] = (borrower[1:] != borrower[:-1]) | (kind[1:] != kind[:-1]) | (entity[1:] != entity[:-1])
    return borrower[keep], kind[keep], entity[keep]


def _ring_contacts(rng: np.random.Generator, pop: Population) -> tuple[np.ndarray, str, np.ndarray]:
    """Each ring member lists 3-6 fellow members' phones and one of the ring's two organisers."""
    members = np.flatnonzero(pop.ring >= 0)
    if members.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, "contact", empty
    order = members[np.argsort(pop.ring[members], kind="stable")]
    rings = pop.ring[order].astype(np.int64)
    starts = np.searchsorted(rings, rings, side="left")
    sizes = np.searchsorted(rings, rings, side="right") - starts
    picks = rng.integers(3, 7, order.shape[0])
    owner = np.repeat(order, picks)
    fellow = order[
        np.repeat(starts, picks) + (rng.random(owner.shape[0]) * np.repeat(sizes, picks)).astype(np.int64)
    ]
    organiser = _NON_BORROWER_PHONES - 1 - (rings * 2 + rng.integers(0, 2, rings.shape[0]))
    return np.concatenate([owner, order]), "contact", np.concatenate([fellow, organiser])


def identity_values(kind: np.ndarray, entity: np.ndarray, salt: int) -> pa.StringArray:
    """Salted hashes as hex strings. Contacts hash like phones, so a contact matches the phone it names."""
    phone = IDENTITY_KINDS.index("phone")
    hash_kind = np.where(kind == IDENTITY_KINDS.index("contact"), phone, kind).astype(np.uint64)
    key = entity.astype(np.uint64) ^ (hash_kind << np.uint64(56))
    return hex_strings(salted_hash(0, key, salt))
