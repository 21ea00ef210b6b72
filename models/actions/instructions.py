"""The workers' PDF instructions of a campaign: upload (MANAGER), look-up for a download (workers).

The file is kept under STEPWISE_FILES_DIR with a random name; the row in `campaign_instructions`
says which file is current. Order of an upload: the streamed temporary file is checked, made
durable and renamed, then the row is written in one transaction; a failed transaction removes
the new file, a committed one removes the file it replaced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from stepwise.models import clock, stored_files
from stepwise.models.actions.campaigns import find_campaign, locked
from stepwise.models.db import sql
from stepwise.models.db.campaigns import Campaign
from stepwise.models.db.files import CampaignInstructions
from stepwise.models.errors import AccessError, DomainError, ErrorCode, invalid_input
from stepwise.models.stored_files import IncomingFile
from stepwise.permissions.access import Access

PDF_MAGIC = b"%PDF-"
FIELD = "input.file"
DEFAULT_FILENAME = "instructions.pdf"


def checked_pdf(file: object, max_bytes: int) -> IncomingFile:
    """The uploaded file if it is a PDF within the limit. The type is judged by the first bytes,
    never by the name or the Content-Type the client sent."""
    if not isinstance(file, IncomingFile):
        raise invalid_input(FIELD, "Send the file as a part of a multipart request (GraphQL multipart request spec).")
    if file.too_large:
        limit = f"{max_bytes / (1024 * 1024):g} MB"
        raise DomainError(ErrorCode.FILE_TOO_LARGE, f"The file is over the upload limit ({limit}).", FIELD)
    if file.path is None:
        raise invalid_input(FIELD, "This file part was already used by another field of the request.")
    if not file.head.startswith(PDF_MAGIC):
        raise DomainError(ErrorCode.UNSUPPORTED_FILE_TYPE, "Only PDF files are accepted (they start with %PDF-).", FIELD)
    return file


async def upload_instructions(
    access: Access, campaign_id: int, file: object, directory: Path, max_bytes: int
) -> Campaign:
    """Make `file` the campaign's instructions, replacing earlier ones. MANAGER only."""
    campaign = await find_campaign(access, campaign_id, "campaign.configure")
    incoming = checked_pdf(file, max_bytes)
    stored_name = stored_files.random_name(".pdf")
    filename = stored_files.display_filename(incoming.filename, DEFAULT_FILENAME)
    size = incoming.size
    await asyncio.to_thread(stored_files.keep, incoming, directory, stored_name)
    try:
        replaced = await record_instructions(campaign, stored_name, filename, size, access.require_viewer().id)
    except asyncio.CancelledError:
        # Cancelled during COMMIT, the row may exist: keep the file; if the row does not, the
        # start-up sweep removes it (stored_files.sweep_leftovers).
        raise
    except Exception:
        await asyncio.to_thread(stored_files.remove, directory / stored_name)
        raise
    if replaced is not None:
        await asyncio.to_thread(stored_files.remove, directory / replaced)
    return campaign


async def record_instructions(campaign: Campaign, stored_name: str, filename: str, size: int, user_id: int) -> str | None:
    """Point the campaign at its new file, in one transaction; the stored name of the file it
    replaces, if any (to be removed after commit)."""
    async with sql.transaction():
        await locked(campaign)  # two uploads to one campaign take turns, so neither file is lost
        current = await CampaignInstructions.get_or_none(campaign_id=campaign.id)
        if current is None:
            await CampaignInstructions.create(
                campaign_id=campaign.id, stored_name=stored_name, filename=filename, size=size,
                uploaded_at=clock.now(), uploaded_by_id=user_id,
            )
            return None
        replaced = current.stored_name
        current.stored_name, current.filename, current.size = stored_name, filename, size
        current.uploaded_at, current.uploaded_by_id = clock.now(), user_id
        await current.save()
        return replaced


async def instructions_for_download(access: Access, campaign_id: int) -> CampaignInstructions | None:
    """The instructions the viewer may download: any worker of the campaign's dataset. None for
    everyone else and for a campaign without instructions, so the answers cannot be told apart."""
    try:
        await find_campaign(access, campaign_id, "campaign.read")
    except AccessError:  # anonymous, another organization, not a worker, no such campaign
        return None
    return await CampaignInstructions.get_or_none(campaign_id=campaign_id)


async def kept_names() -> set[str]:
    """The stored names every campaign's instructions point at (for the start-up sweep)."""
    return {name for (name,) in await sql.fetch("SELECT stored_name FROM campaign_instructions")}
