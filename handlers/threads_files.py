"""Fetching files shared in a tender thread with the bot token (rule M3)."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.threads_events import SlackFile
from store.conversation import MAX_ATTACHMENT_BYTES, NewAttachment, check_attachment
from store.errors import InvalidInput

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)
DOWNLOAD_FAILED = (
    "Die Datei „{name}“ konnte nicht von Slack geladen werden. Ihre Nachricht wurde nicht "
    "weitergeleitet; bitte senden Sie sie noch einmal."
)


class DownloadFailed(Exception):
    def __init__(self, file: SlackFile, reason: str) -> None:
        super().__init__(f"file {file.id} ({file.name}): {reason}")
        self.message_de = DOWNLOAD_FAILED.format(name=file.name)


async def _complete(client: AsyncWebClient, file: SlackFile) -> SlackFile:
    """Events may carry only the file id; files.info has name, size and the private URL."""
    if file.url and file.size:
        return file
    try:
        info = (await client.files_info(file=file.id))["file"]
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
        raise DownloadFailed(file, f"files.info failed: {error}") from error
    return SlackFile(
        id=file.id,
        name=str(info.get("name") or file.name),
        mimetype=str(info.get("mimetype") or file.mimetype),
        size=int(info.get("size") or 0),
        url=info.get("url_private_download") or info.get("url_private"),
    )


async def _download(http: aiohttp.ClientSession, token: str, file: SlackFile) -> bytes:
    assert file.url is not None
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(file.url, headers=headers) as response:
        if response.status != 200:
            raise DownloadFailed(file, f"HTTP {response.status}")
        # Without files:read Slack answers a login page, not the file.
        if response.content_type == "text/html" and not file.mimetype.startswith("text/html"):
            raise DownloadFailed(file, "got an HTML page; is the files:read scope missing?")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                # The announced size was wrong; refuse like any oversized file.
                check_attachment(file.name, file.mimetype, size)
            chunks.append(chunk)
    return b"".join(chunks)


async def fetch_attachments(
    client: AsyncWebClient, files: tuple[SlackFile, ...]
) -> list[NewAttachment]:
    """Check every file before loading any (InvalidInput), then load them all."""
    complete = [await _complete(client, file) for file in files]
    for file in complete:
        check_attachment(file.name, file.mimetype, file.size)
        if not file.url:
            raise DownloadFailed(file, "no download URL")
    token = client.token or ""
    attachments: list[NewAttachment] = []
    try:
        async with aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as http:
            for file in complete:
                content = await _download(http, token, file)
                attachments.append(NewAttachment(file.name, file.mimetype, content, file.id))
    except (aiohttp.ClientError, TimeoutError) as error:
        raise DownloadFailed(complete[len(attachments)], str(error)) from error
    return attachments


DOCUMENT_NOT_LOADED = "Die Datei „{name}“ konnte nicht von Slack geladen werden."
DOCUMENT_LEFT_OUT = " Die Ausschreibung wurde ohne diese Datei gestartet."


async def fetch_documents(
    client: AsyncWebClient, files: tuple[SlackFile, ...]
) -> tuple[list[NewAttachment], list[str]]:
    """Documents for a tender start (rule T1): unlike a thread message, one refused file
    does not stop the others. Returns the loaded files and a German reason per refused one."""
    loaded: list[NewAttachment] = []
    refused: list[str] = []
    token = client.token or ""
    async with aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as http:
        for file in files:
            try:
                complete = await _complete(client, file)
                check_attachment(complete.name, complete.mimetype, complete.size)
                if not complete.url:
                    raise DownloadFailed(complete, "no download URL")
                content = await _download(http, token, complete)
                # Checked again on what arrived: an announced size can be wrong.
                check_attachment(complete.name, complete.mimetype, len(content))
            except InvalidInput as error:
                refused.append(error.message_de + DOCUMENT_LEFT_OUT)
                continue
            except (DownloadFailed, aiohttp.ClientError, TimeoutError) as error:
                logger.warning("start document %s not loaded: %s", file.id, error)
                refused.append(DOCUMENT_NOT_LOADED.format(name=file.name) + DOCUMENT_LEFT_OUT)
                continue
            loaded.append(NewAttachment(complete.name, complete.mimetype, content, complete.id))
    return loaded, refused
