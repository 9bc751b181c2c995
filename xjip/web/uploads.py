"""Saving uploaded files: a sanitised name inside a fresh folder under <data_dir>/uploads, size-checked."""
from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from pathlib import Path
from typing import BinaryIO

MAX_NAME = 120
_ALLOWED = re.compile(r"[^\w.\-()（）\[\]+ ]", re.UNICODE)


class UploadTooLarge(Exception):
    pass


def sanitize_filename(name: str | None) -> str:
    """Keep only the last path component, drop control characters (NUL included) and anything outside
    letters, digits and `._-()[]+ `, no leading dots; never empty.

    >>> sanitize_filename("../../etc/passwd")
    'passwd'
    >>> sanitize_filename("C:\\\\temp\\\\专利.csv")
    '专利.csv'
    """
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[/\\]", text)[-1]
    text = _ALLOWED.sub("_", text).strip(" .")
    text = re.sub(r"_{2,}", "_", text)
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = ext[:15] if dot else ""
        text = (stem if dot else text)[: MAX_NAME - len(ext) - 1] + ("." + ext if ext else "")
    if not text or set(text) <= {".", "_"}:
        text = "upload"
    return text


def new_upload_dir(uploads_root: Path) -> Path:
    """A fresh folder per upload: <data_dir>/uploads/<UTC time>-<random>."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = uploads_root / f"{stamp}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def save_upload(stream: BinaryIO, folder: Path, name: str, limit_bytes: int) -> Path:
    """Copy `stream` to `folder/sanitised(name)`; refuse (and delete) beyond `limit_bytes`."""
    target = (folder / sanitize_filename(name)).resolve()
    if target.parent != folder.resolve():  # belt and braces: sanitize_filename already keeps one component
        raise ValueError(name)
    written = 0
    try:
        with open(target, "xb") as out:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                written += len(chunk)
                if written > limit_bytes:
                    raise UploadTooLarge(written)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
