"""Responses of the desk's figures that are files, not pages: chart images and the CSV and XLSX
exports (the dashboard and the weekly digests send the same kinds)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.core.digest import XLSX_TYPE


def png(body: bytes, max_age: int) -> web.Response:
    """A chart: kept by the officer's browser only (`private`: they are someone's figures)."""
    return web.Response(body=body, content_type="image/png",
                        headers={"Cache-Control": f"private, max-age={max_age}"})


def attachment(body: bytes, file_name: str, content_type: str = XLSX_TYPE,
               charset: str | None = None) -> web.Response:
    """A file to save as `file_name` (quoted: a unit code cannot break the header)."""
    return web.Response(body=body, content_type=content_type, charset=charset, headers={
        "Content-Disposition": f'attachment; filename="{quote(file_name)}"'})
