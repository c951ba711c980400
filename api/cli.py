"""The `samverka` command: migrate, deploy, token, serve."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.clock import SystemClock
from engine.errors import EngineError
from engine.identity import Principal, mint_token
from engine.settings import get_settings

app = typer.Typer(help="samverka: cross-agency case processes on BPMN", no_args_is_help=True)


@app.command()
def migrate():
    """Apply database migrations (alembic upgrade head)."""
    from engine.migrate import upgrade

    upgrade(get_settings().resolved_database_url())
    typer.echo("database is up to date")


@app.command()
def deploy(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of .bpmn/.dmn files")]):
    """Deploy every .bpmn and .dmn file in DIRECTORY as one bundle."""
    from engine import deployments
    from engine.db import make_engine, make_session_factory

    files = {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".bpmn", ".dmn")}
    if not files:
        typer.echo(f"nothing to deploy: no .bpmn or .dmn files in {directory}")
        return
    engine = make_engine(get_settings().resolved_database_url())
    deployer = Principal(user="cli", roles=frozenset({deployments.DEPLOYER_ROLE}))
    with make_session_factory(engine)() as session:
        try:
            deployed = deployments.deploy(session, SystemClock(), deployer, files)
            session.commit()
        except EngineError as exc:
            typer.echo(f"refused: {exc.detail}", err=True)
            for error in exc.errors:
                where = ":".join(str(x) for x in (error.file, error.line) if x)
                typer.echo(f"  {where} {error.element or ''} {error.message}", err=True)
            raise typer.Exit(1)
    for d in deployed:
        typer.echo(f"{d.version.key} version {d.version.version} ({'new' if d.created else 'unchanged'})")


@app.command()
def token(user: Annotated[str, typer.Option(help="User id")],
          agency: Annotated[Optional[str], typer.Option(help="skola, socialtjanst, halso_sjukvard, ...")] = None,
          role: Annotated[Optional[list[str]], typer.Option(help="A role; repeat for several")] = None,
          hours: Annotated[Optional[int], typer.Option(help="Lifetime in hours")] = None):
    """Print a signed bearer token (and nothing else)."""
    from datetime import timedelta

    principal = Principal(user=user, agency=agency, roles=frozenset(role or []))
    ttl = timedelta(hours=hours) if hours else None
    typer.echo(mint_token(get_settings(), SystemClock(), principal, ttl))


@app.command()
def serve(host: Annotated[Optional[str], typer.Option()] = None, port: Annotated[Optional[int], typer.Option()] = None):
    """Serve the API."""
    import uvicorn

    from .app import create_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    typer.echo(f"samverka on http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)")
    typer.echo("get a token: .venv/bin/samverka token --user anna --agency skola --role koordinator")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


if __name__ == "__main__":
    app()
