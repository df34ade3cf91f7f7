"""`drawdown admin …`: console administrators — create, list, reset a password, remove."""

from __future__ import annotations

import json

import typer

from drawdown.cli.options import context, fail
from drawdown.services.access import admins
from drawdown.services.errors import ResourceNotFound

app = typer.Typer(help="Manage console administrators.", no_args_is_help=True)


@app.command("create-user")
def create_user(
    email: str = typer.Argument(..., help="The administrator's email address"),
    password: str = typer.Option(None, help="Use this password instead of a generated one"),
) -> None:
    """Create a console administrator; a generated password is printed alone on the last line."""
    admin = admins.create_admin(context(), email, password)
    _report(f"created administrator {admin.email}", admin.password, given=password is not None)


@app.command("list")
def list_users(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per administrator"),
) -> None:
    """List console administrators (never their password hashes)."""
    for admin in admins.list_admins(context()):
        if as_json:
            typer.echo(json.dumps({"id": admin.id, "email": admin.email,
                                   "created_at": admin.created_at.isoformat()}))  # fmt: skip
        else:
            typer.echo(f"{admin.id}  {admin.email}  created {admin.created_at.isoformat()}")


@app.command("reset-password")
def reset_password(
    email: str = typer.Argument(..., help="The administrator's email address"),
    password: str = typer.Option(None, help="Use this password instead of a generated one"),
) -> None:
    """Set a new password and sign the administrator out everywhere; a generated password is
    printed alone on the last line."""
    try:
        admin = admins.reset_password(context(), email, password)
    except ResourceNotFound:
        raise fail(f"no administrator with email {email}") from None
    _report(f"reset the password of {admin.email}", admin.password, given=password is not None)


def _report(done: str, password: str, *, given: bool) -> None:
    """Say what was done; a generated password goes alone on the last line (scripts read it),
    and a password the operator chose is never echoed back."""
    if given:
        typer.echo(done)
        return
    typer.echo(f"{done}; the password is shown only this once:")
    typer.echo(password)


@app.command("remove")
def remove(email: str = typer.Argument(..., help="The administrator's email address")) -> None:
    """Remove an administrator; their sessions stop working."""
    try:
        admins.remove_admin(context(), email)
    except ResourceNotFound:
        raise fail(f"no administrator with email {email}") from None
    typer.echo(f"removed administrator {admins.normalize_email(email)}")
