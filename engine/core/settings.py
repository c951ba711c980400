"""Settings from SAMVERKA_* environment variables."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKA_")

    var_dir: Path = ROOT / "var"
    database_url: str = ""
    token_secret: str = ""
    token_ttl_hours: int = 12
    data_key: str = ""  # encrypts and keys the hash of children's personnummer; generated under var/ if unset
    # An OIDC identity provider: tokens whose `iss` is this are verified with its JWKS (RS256/ES256).
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    oidc_audience: str = ""
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_roles_claim: str = "roles"
    oidc_agency_claim: str = "agency"
    max_upload_bytes: int = 2_000_000  # per deployed file
    max_request_bytes: int = 5_000_000  # any request body (a 10,000-row absence import is about 1 MB)
    forms_dir: Path = ROOT / "forms"
    host: str = "127.0.0.1"
    port: int = 8000
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
    # script task or decision cell) may cost, enforced while it runs, and what one request's or timer firing's
    # run of the engine may do before the case waits. A case that goes beyond one fails that step alone.
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
    worker_metrics_port: int = 0  # serve Prometheus metrics on 127.0.0.1:PORT; 0 = off
    # SDQ total-difficulties cut-offs per informant: (gränsvärde from, avvikande from). UK bands by default;
    # set Swedish norms with e.g. SAMVERKA_SDQ_CUTOFFS='{"foralder": [11, 14], "larare": [9, 12], "sjalv": [14, 17]}'
    sdq_cutoffs: dict[str, tuple[int, int]] = {"foralder": (14, 17), "larare": (12, 16), "sjalv": (16, 20)}

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under var/."""
        return self.database_url or f"sqlite:///{self.var_dir / 'samverka.db'}"

    def runs_embedded_worker(self) -> bool:
        """Whether the server fires timers itself (default: only on SQLite, which has one writer anyway)."""
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.resolved_database_url().startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
