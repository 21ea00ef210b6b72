"""Who may download a version's accepted annotations (DatasetVersion.exportUrl): its dataset's
MANAGERs and CONTRIBUTORs, never a LABELER, however they reach the version."""

from __future__ import annotations

from stepwise.models.actions.datasets import find_version
from stepwise.models.db.datasets import Dataset, DatasetVersion
from stepwise.models.queries.interchange import labels_by_name
from stepwise.permissions.access import Access
from stepwise.permissions.operations import operation

EXPORT = operation("DatasetVersion.exportUrl")


async def version_to_export(access: Access, version_id: int) -> tuple[DatasetVersion, Dataset, dict[str, int]]:
    """The version, its dataset and its labels; AccessError (NOT_FOUND, FORBIDDEN) otherwise."""
    version, dataset = await find_version(access, version_id, EXPORT)
    return version, dataset, await labels_by_name(version.id)
