"""`promogate key generate|public`: the Ed25519 key that signs the API's answers.

Mounted on the main CLI by `api.cli`. The private key stays with the server
(``PROMOGATE_SIGNING_KEY_FILE``); the public key goes to every deploy pipeline that calls the gate
(``PROMOGATE_PUBLIC_KEY`` or ``--public-key``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from api.cli_options import AsJson

__all__ = ["key_app"]

key_app = typer.Typer(help="The Ed25519 key that signs the API's answers.", no_args_is_help=True)

KeyFile = Annotated[
    Path | None,
    typer.Option("--signing-key-file", help="Private key file (env PROMOGATE_SIGNING_KEY[_FILE])."),
]


@key_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", help="Where to write the private key (PEM).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a new private key (mode 0600) and print its public key for the clients."""
    from api.signing import AnswerSigner, generate_private_pem

    if out.exists() and not force:
        typer.echo(f"error: {str(out)!r} exists; pass --force to replace it", err=True)
        raise typer.Exit(2)
    pem = generate_private_pem()
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(pem)
    signer = AnswerSigner.from_text(pem)
    typer.echo(f"wrote the private key to {str(out)!r} (key id {signer.key_id})", err=True)
    typer.echo(signer.public_base64())


@key_app.command("public")
def public(signing_key_file: KeyFile = None, as_json: AsJson = False) -> None:
    """Print the public key of the configured signing key (give it to the gate clients)."""
    from api.settings import load_settings
    from api.signing import SigningKeyError, signer_from_settings

    try:
        signer = signer_from_settings(load_settings(signing_key_file=signing_key_file))
    except SigningKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    if signer is None:
        typer.echo(
            "error: no signing key configured: set PROMOGATE_SIGNING_KEY_FILE or pass "
            "--signing-key-file (`promogate key generate --out FILE` makes one)",
            err=True,
        )
        raise typer.Exit(3)
    if as_json:
        document = {
            "algorithm": "Ed25519",
            "key_id": signer.key_id,
            "public_key": signer.public_base64(),
            "public_key_pem": signer.public_pem(),
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        typer.echo(signer.public_base64())
