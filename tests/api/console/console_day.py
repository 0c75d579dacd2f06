"""What the console's tests put on the shared server: a ring of four, and applications the policy sends to people."""

from __future__ import annotations

from _service import applicant

#: Members of the test ring share this device and this bank card (four members: under the policy's knock-out of 5).
RING_DEVICE = "ring-device-0001"
RING_CARD = "6222 9999 0000 0001"


def night_burst(rows: list[dict], n: int) -> dict:
    """An application the shipped policy sends to people (a new device, at night, almost no contacts)."""
    return {**applicant(rows[n % len(rows)], n), "device_age_days": 0, "apply_hour": 2, "contacts_count": 1}
