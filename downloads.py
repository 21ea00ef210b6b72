"""GET /files/instructions/{campaignId}: a campaign's PDF instructions, for the workers of its dataset.

Same credentials as the API (`Authorization: Bearer`). Everyone else (anonymous, another
organization, not a worker, no such campaign, no instructions yet) gets the same 404. The file
is streamed from STEPWISE_FILES_DIR, which every server process shares.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from stepwise.models.actions.accounts import authenticate
from stepwise.models.actions.instructions import instructions_for_download
from stepwise.models.db.files import CampaignInstructions
from stepwise.models.errors import AccessError
from stepwise.permissions.access import Access
from stepwise.permissions.auth import bearer_token
from stepwise.permissions.session_rules import SessionRules
from stepwise.schema.ids import decode_id

logger = logging.getLogger("stepwise.files")
INSTRUCTIONS_PATH = "/files/instructions/"
NOT_FOUND_BODY = {"errors": [{"message": "No instructions here.", "extensions": {"code": "NOT_FOUND"}}]}


def instructions_url(campaign_global_id: str, root_path: str = "") -> str:
    """Where a campaign's instructions download: a path on the server that serves /graphql
    (prefixed by the ASGI root_path when mounted under one)."""
    return f"{root_path}{INSTRUCTIONS_PATH}{quote(campaign_global_id, safe='')}"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name, quoted, and the exact name in RFC 5987 form."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def not_found() -> Response:
    return JSONResponse(NOT_FOUND_BODY, status_code=404)


def instructions_endpoint(files_dir: Path, session_rules: SessionRules):
    """The endpoint serving instructions kept in `files_dir`."""

    async def download_instructions(request: Request) -> Response:
        """The campaign's PDF as an attachment, or 404 for anyone who may not have it."""
        try:
            campaign_id = decode_id(request.path_params["campaign_id"], "Campaign")
        except AccessError:
            return not_found()
        viewer = await authenticate(bearer_token(request.headers.get("authorization")), session_rules)
        if viewer is None:
            return not_found()
        instructions, stat = await _current_file(Access(viewer), campaign_id, files_dir)
        if instructions is None:
            return not_found()
        return FileResponse(
            files_dir / instructions.stored_name,
            stat_result=stat,
            media_type="application/pdf",
            headers={
                "Content-Disposition": content_disposition(instructions.filename),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-cache",
            },
        )

    return download_instructions


async def _current_file(
    access: Access, campaign_id: int, files_dir: Path
) -> tuple[CampaignInstructions | None, os.stat_result | None]:
    """The viewer's instructions row and its file's stat. A file gone since the row was read was
    replaced: the new row is committed before the old file is removed, so read the row again."""
    for _ in range(2):
        instructions = await instructions_for_download(access, campaign_id)
        if instructions is None:
            return None, None
        try:
            return instructions, await asyncio.to_thread(os.stat, files_dir / instructions.stored_name)
        except FileNotFoundError:
            continue
    # The row names a file that is not there: STEPWISE_FILES_DIR is not the one it was stored in.
    logger.warning("instructions of campaign %s: %s is missing from %s", campaign_id, instructions.stored_name, files_dir)
    return None, None
