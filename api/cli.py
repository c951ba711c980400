"""The `samverka` command: migrate, deploy, lint, token, serve, and the tools around them."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.access.identity import Principal, mint_token
from engine.core.clock import SystemClock
from engine.core.errors import EngineError
from engine.core.settings import get_settings

FormsOption = Annotated[Optional[Path], typer.Option(
    exists=True, file_okay=False, help="Forms folder (NAME.schema.json, NAME.ui.json, delar/, templates/); "
                                       "default: SAMVERKA_FORMS_DIR, the repository's forms/")]
app = typer.Typer(help="samverka: cross-agency case processes on BPMN", no_args_is_help=True)


@app.command()
def migrate(quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing when it succeeds")] = False):
    """Create or upgrade the database (alembic upgrade head) and say which it did."""
    from engine.core.migrate import upgrade

    done = upgrade(get_settings().resolved_database_url())
    if not quiet:
        typer.echo(done.describe())


@app.command()
def deploy(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of .bpmn/.dmn files")],
           forms: FormsOption = None,
           quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing when it succeeds")] = False):
    """Deploy every .bpmn and .dmn file in DIRECTORY with the forms and templates they use, as one bundle."""
    from engine.casework import deployments
    from engine.core.db import make_engine, make_session_factory

    files = deployments.bundle_files(directory, forms or get_settings().forms_dir)
    if not any(name.endswith((".bpmn", ".dmn")) for name in files):  # forms alone are no deployment
        typer.echo(f"nothing to deploy: no .bpmn or .dmn files in {directory}")
        return
    engine = make_engine(get_settings().resolved_database_url())
    deployer = Principal(user="cli", roles=frozenset({deployments.DEPLOYER_ROLE}))
    with make_session_factory(engine)() as session:
        try:
            deployed = deployments.deploy(session, SystemClock(), deployer, files,
                                          defaults=get_settings().forms_dir)
            session.commit()
        except EngineError as exc:
            raise _refused(exc) from None
    for d in deployed if not quiet else ():
        typer.echo(f"{d.version.key} version {d.version.version} ({'new' if d.created else 'unchanged'})")
        for w in d.warnings:
            typer.echo(f"  warning: {w.file}:{w.line} {w.element} {w.message}", err=True)


@app.command()
def lint(directory: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of .bpmn/.dmn")],
         forms: FormsOption = None,
         as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False):
    """Check a bundle without deploying: every problem (file, line, element, rule) and what it would change.

    Compares with the versions in the configured database when there is one (read only); exit 1 on problems."""
    import json

    from engine.casework import deployments

    settings = get_settings()
    files = deployments.bundle_files(directory, forms or settings.forms_dir)
    with _deployed_versions(settings.resolved_database_url()) as session:
        report = deployments.dry_run(session, None, files, defaults=settings.forms_dir)
        report["compared_with_database"] = session is not None
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(_lint_text(report))
    if not report["valid"]:
        raise typer.Exit(1)


def _deployed_versions(url: str):
    """A read-only look at a database's deployed versions, or None when there is none to look at."""
    from contextlib import contextmanager

    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from engine.core.db import make_engine, make_session_factory

    @contextmanager
    def opened():
        if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
            yield None  # never create a database just to compare with it
            return
        engine = make_engine(url)
        try:
            try:
                migrated = "process_version" in inspect(engine).get_table_names()
            except SQLAlchemyError:  # unreachable: lint still checks, it just compares with nothing
                migrated = False
            if not migrated:
                yield None
                return
            with make_session_factory(engine)() as session:
                yield session
                session.rollback()
        finally:
            engine.dispose()
    return opened()


def _lint_text(report: dict) -> str:
    lines = []
    for kind, key in (("error", "problems"), ("warning", "warnings")):
        for p in report[key]:
            where = ":".join(str(x) for x in (p.get("file"), p.get("line")) if x) or p["location"]
            lines.append(f"{where}: {kind}: {p.get('element') or '-'}: {p['message']}")
    for change in report["processes"]:
        was = f"version {change['deployed_version']}" if change["deployed_version"] else "not deployed"
        if change["unchanged"]:
            lines.append(f"{change['key']}: unchanged ({was})")
            continue
        lines.append(f"{change['key']}: new version ({was} now)")
        if not change["deployed_version"]:
            lines.append(f"  {len(change['elements']['added'])} elements, {len(change['forms']['added'])} forms")
            continue
        for what in ("added", "removed", "changed"):
            for e in change["elements"][what]:
                lines.append(f"  {what} {e['type']} {e['id']}" + (f" ({e['name']})" if e["name"] else ""))
        for group in ("forms", "templates"):
            for what in ("added", "removed", "changed"):
                for name in change[group][what]:
                    lines.append(f"  {group[:-1]} {what}: {name}")
    if not report.get("compared_with_database"):
        lines.append("(no deployed versions to compare with: no database)")
    counted = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    lines.append(f"{counted(len(report['problems']), 'problem')}, {counted(len(report['warnings']), 'warning')}")
    return "\n".join(lines)


@app.command()
def token(user: Annotated[str, typer.Option(help="User id")],
          agency: Annotated[Optional[str], typer.Option(help="skola, socialtjanst, halso_sjukvard, ...")] = None,
          role: Annotated[Optional[list[str]], typer.Option(help="A role; repeat for several")] = None,
          scope: Annotated[Optional[list[str]], typer.Option(help="An integrator scope; repeat for several")] = None,
          hours: Annotated[Optional[int], typer.Option(help="Lifetime in hours")] = None):
    """Print a signed bearer token (and nothing else)."""
    from datetime import timedelta

    principal = Principal(user=user, agency=agency, roles=frozenset(role or []), scopes=frozenset(scope or []))
    ttl = timedelta(hours=hours) if hours else None
    typer.echo(mint_token(get_settings(), SystemClock(), principal, ttl))


@app.command("api-key")
def api_key(name: Annotated[str, typer.Option(help="What the client is, e.g. the attendance system")],
            scope: Annotated[list[str], typer.Option(help="events, webhooks, messages:PROCESS, absence:SCHOOL, scim")],
            agency: Annotated[Optional[str], typer.Option(help="The agency the client acts for")] = None,
            days: Annotated[Optional[int], typer.Option(help="Days until it expires (default 365, or "
                                                          "SAMVERKA_API_KEY_MAX_DAYS if shorter)")] = None):
    """Issue an API key for an integration client and print it (shown once; only its hash is kept)."""
    from engine.access.apikeys import ADMIN_ROLE, ApiKeyService
    from engine.core.db import make_engine, make_session_factory

    settings = get_settings()
    admin = Principal(user="cli", roles=frozenset({ADMIN_ROLE}), client="cli")
    with make_session_factory(make_engine(settings.resolved_database_url()))() as session:
        try:
            service = ApiKeyService(session, SystemClock(), settings.api_key_max_days)
            _, key = service.create(admin, name, agency, scope, days)
            session.commit()
        except EngineError as exc:
            raise _refused(exc) from None
    typer.echo(key)


def _refused(exc: EngineError) -> typer.Exit:
    typer.echo(f"refused: {exc.detail}", err=True)
    for error in exc.errors:
        where = ":".join(str(x) for x in (error.file, error.line) if x)
        typer.echo(f"  {where or error.location} {error.element or ''} {error.message}", err=True)
    return typer.Exit(1)


@app.command()
def worker(batch_size: Annotated[Optional[int], typer.Option(help="Cases claimed per transaction")] = None,
           poll: Annotated[Optional[float], typer.Option(help="Longest sleep between looks, in seconds")] = None,
           metrics_port: Annotated[Optional[int], typer.Option(help="Serve Prometheus metrics on this port")] = None,
           once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then exit")] = False):
    """Fire due timers; run as many as you like against one PostgreSQL. SIGTERM finishes the batch and exits."""
    import signal
    import threading
    from datetime import timedelta

    from prometheus_client import start_http_server

    from engine.access.sealing import sealer_for
    from engine.casework.retention import Culler
    from engine.casework.worker import Worker
    from engine.core.db import make_engine, make_session_factory
    from engine.core.logs import configure
    from engine.integration.webhooks import Deliverer

    configure(json=True)
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url(), application_name="samverka-worker",
                         pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                         prepared_statements=settings.db_prepared_statements)
    sessions = make_session_factory(engine)
    timer_worker = Worker(sessions, SystemClock(), batch_size=batch_size or settings.worker_batch_size,
                          poll_seconds=poll if poll is not None else settings.worker_poll_seconds,
                          deliverer=Deliverer(sessions, SystemClock(), sealer_for(settings),
                                              settings.webhook_allow_private,
                                              timeout=settings.webhook_timeout_seconds),
                          culler=Culler(sessions, SystemClock(), settings.retention_days),
                          migration_lease=timedelta(seconds=settings.migration_lease_seconds))
    port = metrics_port if metrics_port is not None else settings.worker_metrics_port
    if port:
        start_http_server(port, addr="127.0.0.1")
    if once:
        fired = timer_worker.run_until_idle()
        sent = timer_worker.deliverer.run_until_idle()
        typer.echo(f"fired {len(fired)} timers, attempted {sent} webhook deliveries", err=True)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    timer_worker.run(stop)
    engine.dispose()


@app.command()
def simulate(process_key: Annotated[Optional[str], typer.Argument(help="Process id (or `process:` in the script)")] = None,
             script: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="YAML steps")] = ...,
             processes: Annotated[Optional[Path], typer.Option(
                 exists=True, file_okay=False, help="Models to run instead of the deployed ones")] = None,
             forms: Annotated[Optional[Path], typer.Option(exists=True, file_okay=False)] = None):
    """Walk a case through its deadlines on a virtual clock in a sandbox database and print the timeline.

    By default the models deployed in the configured database are run (copied, never touched)."""
    import logging

    from engine.casework.simulation import load_script
    from engine.casework.simulation import simulate as run_simulation
    from engine.core.logs import configure

    configure(json=False, level=logging.WARNING)  # the timeline is the output; the worker's chatter is not

    try:
        settings = get_settings()
        timeline = run_simulation(load_script(script.read_text()), processes, forms or settings.forms_dir,
                                  process_key, database_url=settings.resolved_database_url())
    except EngineError as exc:
        raise _refused(exc) from None
    typer.echo(timeline.render())


@app.command()
def diagram(files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help=".bpmn files")],
            relayout: Annotated[bool, typer.Option("--layout", help="Replace each file's diagram with a fresh layout")] = False,
            svg_out: Annotated[bool, typer.Option("--svg", help="Write FILE.svg next to each file (the default)")] = False):
    """Draw BPMN files as SVG pictures (FILE.svg beside each); --layout first lays out files that lack a diagram."""
    from engine.bpmn.diagram import layout, svg

    svg_out = svg_out or not relayout  # with no flag, drawing is what was asked for
    for path in files:
        if relayout:
            path.write_bytes(layout(path.read_bytes()))
        if svg_out:
            path.with_suffix(".svg").write_text(svg(path.read_bytes()))
        done = [*(["laid out"] if relayout else []), *([f"drawn as {path.with_suffix('.svg')}"] if svg_out else [])]
        typer.echo(f"{path}: {', '.join(done)}")


@app.command()
def serve(host: Annotated[Optional[str], typer.Option()] = None, port: Annotated[Optional[int], typer.Option()] = None,
          log_format: Annotated[Optional[str], typer.Option(help="json (production) or console (readable)")] = None,
          workers: Annotated[Optional[int], typer.Option(
              help="API processes (default: one per core on PostgreSQL; SQLite has one writer, so one)")] = None):
    """Serve the API; Ctrl-C or SIGTERM stops it cleanly."""
    import os
    import signal
    import socket

    import uvicorn

    from engine.core.logs import configure, route_standard_logging

    from .supervisor import Supervisor
    from .supervisor import supported as supervisor_supported
    from .terminal import own_foreground_group

    settings = get_settings()
    host, port = host or settings.host, settings.port if port is None else port
    if log_format not in (None, "json", "console"):
        raise typer.BadParameter("use json or console", param_hint="--log-format")
    workers = settings.serve_workers() if workers is None else workers
    if workers < 1:
        raise typer.BadParameter("at least 1", param_hint="--workers")
    if workers > 1 and not supervisor_supported():
        raise typer.BadParameter("this system cannot share a port between processes (SO_REUSEPORT)",
                                 param_hint="--workers")
    if workers > 1 and settings.is_sqlite():
        raise typer.BadParameter("SQLite has one writer at a time: serve it with one worker (PostgreSQL scales out)",
                                 param_hint="--workers")
    as_json = (log_format or settings.log_format) == "json"
    configure(json=as_json)
    route_standard_logging(json=as_json)
    # Bound here, not by uvicorn, so that the banner names the real port (port 0: a free one the system picks).
    if workers == 1:
        from .app import create_app  # only here: a supervisor of several workers has no use for the app itself

        app, sock = create_app(settings), socket.create_server((host, port))
        port = sock.getsockname()[1]
    else:  # each worker builds its own app (and pool) from the environment, so what this command was told goes there
        os.environ["SAMVERKA_LOG_FORMAT"] = "json" if as_json else "console"
        supervisor = Supervisor(host, port, workers)
        port = supervisor.port
    typer.echo(f"samverka on http://{host}:{port}  (API docs: http://{host}:{port}/docs)"
               + (f"  {workers} workers" if workers > 1 else ""))
    typer.echo("get a token: .venv/bin/samverka token --user anna --agency skola --role hlt_motet")
    # uvicorn shuts down on SIGINT/SIGTERM, then raises the signal again for the handler it found: a
    # shutdown that was asked for ends with exit code 0, not as a death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    with own_foreground_group():
        if workers == 1:
            # uvicorn's own access log is off: api.request_log writes one line per request, with its id
            config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
            uvicorn.Server(config).run(sockets=[sock])
            return
        # A listening socket per process (api.supervisor): the kernel spreads the connections over them.
        raise typer.Exit(supervisor.run())


if __name__ == "__main__":
    app()
