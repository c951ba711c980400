"""Uploaded deployment files: read within the size limit, by their base name, each name once."""
from __future__ import annotations

from starlette.datastructures import UploadFile

from engine.core.errors import FieldError, InvalidInput


def base_name(filename: str | None) -> str:
    """A client's file name without any folder (never a path on the server)."""
    return (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


async def read_files(uploads: list[UploadFile], limit: int) -> dict[str, bytes]:
    """File name -> content; a file over `limit` bytes or a name uploaded twice is refused."""
    contents: dict[str, bytes] = {}
    for upload in uploads:
        name = base_name(upload.filename)
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput("file too large", [FieldError(name, f"larger than {limit} bytes", file=name)])
        if name in contents:
            raise InvalidInput("duplicate file name", [FieldError(name, "uploaded twice", file=name)])
        contents[name] = data
    return contents
