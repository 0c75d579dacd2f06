"""``creditmesh keys``: the service's API keys (stored hashed), created, listed and revoked in its database."""

from __future__ import annotations

from typing import Annotated

import typer

from creditmesh.cli.ledger import DbOption

app = typer.Typer(help="The service's API keys (stored hashed): create, list, revoke.", no_args_is_help=True)


@app.command("create")
def create(
    role: Annotated[str, typer.Option(help="app, partner, operator or admin.")],
    owner: Annotated[str, typer.Option(help="The tenant (or person) the key belongs to.")],
    institution: Annotated[str | None, typer.Option(help="A partner key's institution id.")] = None,
    db: DbOption = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    with ledger.engine.begin() as connection:
        principal, key = create_key(connection, role=role, owner=owner, institution_id=institution)
    ledger.close()
    typer.echo(f"{principal.key_id} {principal.role} {principal.owner}: {key}")


@app.command("list")
def list_(
    all_keys: Annotated[bool, typer.Option("--all", help="Revoked keys too.")] = False, db: DbOption = None
) -> None:
    """The keys (never their secrets): id, role, owner, institution, revoked."""
    from creditmesh.api.keys import list_keys
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    with ledger.engine.connect() as connection:
        rows = list_keys(connection, include_revoked=all_keys)
    ledger.close()
    for row in rows:
        revoked = " revoked" if row["revoked_at_ns"] else ""
        typer.echo(f"{row['key_id']} {row['role']} {row['owner']} {row['institution_id'] or '-'}{revoked}")


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")], db: DbOption = None) -> None:
    """Revoke a key (every worker stops accepting it within seconds)."""
    from creditmesh.api.keys import revoke_key
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    with ledger.engine.begin() as connection:
        revoke_key(connection, key_id)
    ledger.close()
    typer.echo(f"revoked {key_id}")
