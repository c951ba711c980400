"""Settings from SAMVERKA_* environment variables."""
from __future__ import annotations

import os
import site
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]


def _data_root() -> Path:
    """Where migrations/, forms/ and processes/ are: the source tree (a checkout, `pip install -e`), else the
    share/samverka/ that `pip install .` puts them in (pyproject's data-files), in the environment or the user's."""
    if (ROOT / "migrations").is_dir():
        return ROOT
    for base in (sys.prefix, site.getuserbase()):
        installed = Path(base) / "share" / "samverka"
        if (installed / "migrations").is_dir():
            return installed
    return ROOT


DATA = _data_root()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKA_")

    var_dir: Path = ROOT / "var" if DATA == ROOT else Path("var")  # installed: var/ of the working directory
    database_url: str = ""
    token_secret: str = ""
    token_ttl_hours: int = 12
    data_key: str = ""  # encrypts and keys the hash of children's personnummer; generated under var/ if unset
    # An OIDC identity provider: tokens whose `iss` is this are verified with its JWKS (RS256/ES256).
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    oidc_audience: str = ""
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    # Claims may be nested paths: Keycloak's "realm_access.roles", Entra's "roles".
    oidc_roles_claim: str = "roles"
    oidc_units_claim: str = "units"
    oidc_user_name_claim: str = "preferred_username"  # shown in the directory; people are matched by iss + subject
    # The claim that is the person's subject (with the issuer, who they are): "sub" (the OIDC default), or a
    # stable id such as Entra ID's "oid" (its `sub` differs per application; SCIM's externalId is the oid).
    oidc_subject_claim: str = "sub"
    oidc_agency_claim: str = "agency"
    # Seconds an OIDC token's nbf or iat may lie in the future (the provider's clock running ahead); exp is strict.
    oidc_leeway_seconds: int = 30
    # samverka's own signed tokens (`samverka token`). None = accepted unless an OIDC provider is configured:
    # in production the provider is the one way in for people.
    local_tokens: bool | None = None
    # API keys: the longest lifetime a key may be given, in days (a key never lives forever).
    api_key_max_days: int = 365
    # Requests per principal (person or client), in the `limits` notation, e.g. "600/minute;10000/hour".
    # Counted per server process (see docs/operations.md). Empty = no limit.
    rate_limit: str = "600/minute"
    rate_limit_storage: str = "memory://"  # a `limits` storage URI; memory:// counts per process, redis://... across
    # Units: the unit a case of a process declaring case_unit = setting belongs to, and which area each unit is
    # in (an `area` seat or grant reaches people whose units include the case's unit or its area), e.g.
    # SAMVERKA_UNIT_AREAS='{"Skolan i Höör": "Höör", "Vårdcentralen Höör": "Höör"}'.
    default_unit: str = ""
    unit_areas: dict[str, str] = {}
    max_upload_bytes: int = 2_000_000  # per deployed file
    max_request_bytes: int = 5_000_000  # any request body (a 10,000-row absence import is about 1 MB)
    forms_dir: Path = DATA / "forms"
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes of `samverka serve`; None = one per core on PostgreSQL, one on SQLite (one writer anyway).
    workers: int | None = None
    # Requests of one API process that work on the database at once (api/admission.py); the rest queue in the
    # event loop. Few slots and a process per core keep the interpreter lock uncontended (issue 19's figures).
    request_slots: int = Field(default=2, ge=1, le=256)
    # PostgreSQL: the hot routes (a task's completion, task lists, a case) run on the event loop, not in a worker
    # thread, over connections whose statements wait at most step_lock_wait_ms on a lock; one that would wait
    # longer is rolled back and run again in a thread, where it waits as long as it must (api/deps.py).
    steps_on_loop: bool = True
    step_lock_wait_ms: int = Field(default=10, ge=1, le=1000)
    # Connections per process: the pool and what it may open beyond it under a burst. Every API and worker
    # process holds up to pool_size + max_overflow, so keep processes x that under PostgreSQL's max_connections.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # psycopg prepares a statement server-side after its fifth run; off for a PgBouncer in transaction mode that
    # does not track prepared statements (before 1.21, or max_prepared_statements = 0).
    db_prepared_statements: bool = True
    # A pooler in transaction mode (PgBouncer's pool_mode = transaction) between the processes and PostgreSQL: it
    # keeps no session state, so settings a connection needs (the event loop's lock limit) are made per transaction.
    db_transaction_pooler: bool = False
    log_format: Literal["json", "console"] = "json"  # json lines (production) or console (readable; `make run` uses it)
    # The timer worker. None = run one inside the server when the database is the embedded SQLite.
    embedded_worker: bool | None = None
    # Gallring: closed cases' personal data are culled this many days after closing (set it from the
    # municipality's dokumenthanteringsplan); the access log is kept.
    retention_days: int = 1095
    # Webhook receivers on loopback or private addresses (development only: in production a subscriber
    # must not make the server call into its own network).
    webhook_allow_private: bool = False
    # One delivery attempt's total deadline (connect, send, the whole answer); a claimed delivery is leased for
    # this plus a margin, after which another worker retries it (a worker that died mid-delivery).
    webhook_timeout_seconds: float = 10.0
    # Budgets of uploaded models (engine.bpmn.budget): what one evaluation (a condition, timer expression,
    # script task or decision cell) may cost in steps and CPU seconds, enforced while it runs, and what one
    # request's or timer firing's run of the engine may do before the case waits. A case that goes beyond one
    # fails that step alone.
    expression_max_seconds: float = 1.0
    expression_max_steps: int = 100_000
    expression_max_int_bits: int = 4096
    expression_max_value_bytes: int = 1_000_000
    expression_max_output_bytes: int = 256_000
    engine_max_steps: int = 500
    engine_max_seconds: float = 10.0
    # Timer definitions, checked at deploy (and at run time when an expression computes them).
    timer_min_cycle_seconds: float = 60.0
    timer_max_horizon_days: int = 36525
    timer_max_repetitions: int = 1000
    worker_batch_size: int = 20
    worker_poll_seconds: float = 1.0
    # A worker renews its lease on a migration with every case it commits; one that died is taken over after this.
    migration_lease_seconds: float = 30.0
    worker_metrics_port: int = 0  # serve Prometheus metrics on 127.0.0.1:PORT; 0 = off
    # SDQ total-difficulties cut-offs per informant: (gränsvärde from, avvikande from). UK bands by default;
    # set Swedish norms with e.g. SAMVERKA_SDQ_CUTOFFS='{"foralder": [11, 14], "larare": [9, 12], "sjalv": [14, 17]}'
    # The school year (läsår, terms, lov) as a JSON file: {"terminer": [{"start", "slut"}], "lov": [...]};
    # empty = a typical Swedish year (terms 9 Jan-12 Jun and 19 Aug-20 Dec, sport-, påsk- and höstlov).
    # Swedish public holidays are always closed days.
    school_calendar: str = ""
    # development | training | production. A training deployment may have a clock that process owners move
    # forward (POST /training/clock/advance); in production that clock is refused at start.
    environment: Literal["development", "training", "production"] = "development"
    training_clock: bool = False
    sdq_cutoffs: dict[str, tuple[int, int]] = {"foralder": (14, 17), "larare": (12, 16), "sjalv": (16, 20)}
    # Reports: a cell counting fewer than this many shows as "<N" (and enough others that sums cannot give it back).
    report_min_cell: int = Field(5, ge=2, le=100)

    @model_validator(mode="after")
    def _oidc_complete(self) -> "Settings":
        """An OIDC provider needs its keys and the audience its tokens must name: refuse to start without them."""
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("SAMVERKA_OIDC_AUDIENCE is required with SAMVERKA_OIDC_ISSUER: set it to the client id "
                             "the identity provider puts in `aud` of tokens meant for samverka")
        if self.oidc_issuer and not self.oidc_jwks_url:
            raise ValueError("SAMVERKA_OIDC_JWKS_URL is required with SAMVERKA_OIDC_ISSUER")
        return self

    def accepts_local_tokens(self) -> bool:
        """Whether samverka's own tokens are accepted (default: only while no OIDC provider is configured)."""
        return self.local_tokens if self.local_tokens is not None else not self.oidc_issuer

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under var/."""
        return self.database_url or f"sqlite:///{self.var_dir / 'samverka.db'}"

    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")

    def serve_workers(self) -> int:
        """How many API processes `samverka serve` runs: the setting, else the cores available on PostgreSQL and
        one on SQLite."""
        if self.workers is not None:
            return self.workers
        return 1 if self.is_sqlite() else max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                 else os.cpu_count() or 1)

    def runs_embedded_worker(self) -> bool:
        """Whether the server fires timers itself (default: only on SQLite, which has one writer anyway)."""
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.resolved_database_url().startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
