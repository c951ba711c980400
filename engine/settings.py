"""Settings from SAMVERKA_* environment variables."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKA_")

    var_dir: Path = ROOT / "var"
    database_url: str = ""
    token_secret: str = ""
    token_ttl_hours: int = 12
    max_upload_bytes: int = 2_000_000
    forms_dir: Path = ROOT / "forms"
    host: str = "127.0.0.1"
    port: int = 8000

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under var/."""
        return self.database_url or f"sqlite:///{self.var_dir / 'samverka.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
