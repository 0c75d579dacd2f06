"""API keys: ``POST /v1/keys``, ``GET /v1/keys``, ``DELETE /v1/keys/{key_id}`` (admin keys)."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from creditmesh.api import keys
from creditmesh.api.deps import AdminKey, PlatformDep
from creditmesh.api.platform_models import KeyIn, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", response_model=KeyOut, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyIn, who: AdminKey, platform: PlatformDep) -> KeyOut:
    """A new key; the answer is the only time the key itself is shown."""
    with platform.engine.begin() as connection:
        principal, key = keys.create_key(
            connection, role=body.role, owner=body.owner, institution_id=body.institution_id
        )
    return KeyOut(
        **{f: getattr(principal, f) for f in ("key_id", "role", "owner", "institution_id")}, key=key
    )


@router.get("", response_model=list[KeyOut])
def list_keys(who: AdminKey, platform: PlatformDep) -> list[KeyOut]:
    with platform.engine.connect() as connection:
        return [
            KeyOut(**{f: k[f] for f in ("key_id", "role", "owner", "institution_id")})
            for k in keys.list_keys(connection)
        ]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: Annotated[str, Path(max_length=24)], who: AdminKey, platform: PlatformDep) -> None:
    with platform.engine.begin() as connection:
        keys.revoke_key(connection, key_id)
