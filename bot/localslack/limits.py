"""Slack's limits for messages and views, checked as Slack checks them.

One checker for the local Slack (which refuses what Slack refuses) and for the tests that
run every builder over worst-case input. It combines slack_sdk's Block Kit models (their
``to_dict()`` runs the validators of every nested element) with the limits of Slack's Block
Kit reference that those models do not check (a plain-text input's ``max_length``, a
section field's 2000 characters, …). Each problem is one line ending in a JSON pointer, the
way Slack words it: ``must be at most 3000 characters [json-pointer:/blocks/3/text/text]``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
# Not in the reference, but Slack answers msg_blocks_too_long from about 13,200 characters of
# block text in one message (slackapi/bolt-js#2509); 12,000 is the documented markdown cap.
MESSAGE_BLOCKS_TEXT = 12_000
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ID_LENGTH = 255
INPUT_MAX_LENGTH = 3000
OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
CHOICE_OPTIONS = 10  # checkboxes and radio buttons
OVERFLOW_OPTIONS = 5
LABEL_TEXT = 2000
PLACEHOLDER_TEXT = 150
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
VIEW_TITLE = 24
PRIVATE_METADATA = 3000
FILE_INPUT_FILES = 10

Problems = list[str]


def _problem(text: str, pointer: str) -> str:
    return f"{text} [json-pointer:{pointer}]"


def _text_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or "")
    return str(value or "")


def _at_most(problems: Problems, value: Any, limit: int, pointer: str) -> None:
    if len(_text_of(value)) > limit:
        problems.append(_problem(f"must be at most {limit} characters", pointer))


def _count(problems: Problems, items: Any, limit: int, pointer: str, minimum: int = 0) -> None:
    if not isinstance(items, list):
        return
    if len(items) > limit:
        problems.append(_problem(f"must contain at most {limit} items", pointer))
    elif len(items) < minimum:
        problems.append(_problem(f"must contain at least {minimum} items", pointer))


def _options(problems: Problems, element: dict[str, Any], limit: int, pointer: str) -> None:
    options = element.get("options")
    _count(problems, options, limit, f"{pointer}/options")
    for index, option in enumerate(options if isinstance(options, list) else []):
        at = f"{pointer}/options/{index}"
        _at_most(problems, option.get("text"), OPTION_TEXT, f"{at}/text/text")
        _at_most(problems, option.get("value"), OPTION_VALUE, f"{at}/value")
        _at_most(problems, option.get("description"), OPTION_TEXT, f"{at}/description/text")
    for index, group in enumerate(element.get("option_groups") or []):
        _options(problems, group, limit, f"{pointer}/option_groups/{index}")


def _plain_text_input(problems: Problems, element: dict[str, Any], pointer: str) -> None:
    maximum = element.get("max_length")
    if maximum is not None and not (isinstance(maximum, int) and 1 <= maximum <= INPUT_MAX_LENGTH):
        problems.append(
            _problem(f"must be between 1 and {INPUT_MAX_LENGTH}", f"{pointer}/max_length")
        )
    minimum = element.get("min_length")
    if minimum is not None and not (isinstance(minimum, int) and 0 <= minimum <= INPUT_MAX_LENGTH):
        problems.append(
            _problem(f"must be between 0 and {INPUT_MAX_LENGTH}", f"{pointer}/min_length")
        )
    initial = element.get("initial_value")
    longest = maximum if isinstance(maximum, int) else INPUT_MAX_LENGTH
    if isinstance(initial, str) and len(initial) > longest:
        problems.append(_problem("must not exceed max_length", f"{pointer}/initial_value"))


def _confirm(problems: Problems, confirm: Any, pointer: str) -> None:
    if not isinstance(confirm, dict):
        return
    _at_most(problems, confirm.get("title"), CONFIRM_TITLE, f"{pointer}/title/text")
    _at_most(problems, confirm.get("text"), CONFIRM_TEXT, f"{pointer}/text/text")
    _at_most(problems, confirm.get("confirm"), CONFIRM_BUTTON, f"{pointer}/confirm/text")
    _at_most(problems, confirm.get("deny"), CONFIRM_BUTTON, f"{pointer}/deny/text")


def _element(problems: Problems, element: Any, pointer: str) -> None:
    """An interactive element: buttons, selects, inputs, wherever they sit."""
    if not isinstance(element, dict):
        return
    kind = element.get("type")
    _at_most(problems, element.get("action_id"), ID_LENGTH, f"{pointer}/action_id")
    _at_most(problems, element.get("placeholder"), PLACEHOLDER_TEXT, f"{pointer}/placeholder/text")
    _confirm(problems, element.get("confirm"), f"{pointer}/confirm")
    if kind == "button":
        _at_most(problems, element.get("text"), BUTTON_TEXT, f"{pointer}/text/text")
        _at_most(problems, element.get("value"), BUTTON_VALUE, f"{pointer}/value")
    elif kind == "plain_text_input":
        _plain_text_input(problems, element, pointer)
    elif kind in ("checkboxes", "radio_buttons"):
        _options(problems, element, CHOICE_OPTIONS, pointer)
    elif kind == "overflow":
        _options(problems, element, OVERFLOW_OPTIONS, pointer)
    elif kind in ("static_select", "multi_static_select"):
        _options(problems, element, OPTIONS, pointer)
    elif kind == "file_input":
        files = element.get("max_files")
        if files is not None and not (isinstance(files, int) and 1 <= files <= FILE_INPUT_FILES):
            problems.append(
                _problem(f"must be between 1 and {FILE_INPUT_FILES}", f"{pointer}/max_files")
            )


def _block(problems: Problems, block: Any, pointer: str) -> None:
    if not isinstance(block, dict):
        problems.append(_problem("must be an object", pointer))
        return
    kind = block.get("type")
    _at_most(problems, block.get("block_id"), ID_LENGTH, f"{pointer}/block_id")
    if kind == "section":
        _at_most(problems, block.get("text"), SECTION_TEXT, f"{pointer}/text/text")
        fields = block.get("fields")
        _count(problems, fields, SECTION_FIELDS, f"{pointer}/fields")
        for index, field in enumerate(fields if isinstance(fields, list) else []):
            _at_most(problems, field, FIELD_TEXT, f"{pointer}/fields/{index}/text")
        if "text" not in block and not fields:
            problems.append(_problem("must provide text or fields", pointer))
        _element(problems, block.get("accessory"), f"{pointer}/accessory")
    elif kind == "header":
        _at_most(problems, block.get("text"), HEADER_TEXT, f"{pointer}/text/text")
    elif kind == "context":
        _count(problems, block.get("elements"), CONTEXT_ELEMENTS, f"{pointer}/elements", 1)
    elif kind == "actions":
        elements = block.get("elements")
        _count(problems, elements, ACTIONS_ELEMENTS, f"{pointer}/elements", 1)
        for index, element in enumerate(elements if isinstance(elements, list) else []):
            _element(problems, element, f"{pointer}/elements/{index}")
    elif kind == "input":
        _at_most(problems, block.get("label"), LABEL_TEXT, f"{pointer}/label/text")
        _at_most(problems, block.get("hint"), LABEL_TEXT, f"{pointer}/hint/text")
        _element(problems, block.get("element"), f"{pointer}/element")
    _sdk_block(problems, block, pointer)


def _sdk_block(problems: Problems, block: dict[str, Any], pointer: str) -> None:
    """slack_sdk's own model of the block: its validators run inside ``to_dict()``."""
    try:
        model = Block.parse(block)
        if model is None:
            problems.append(_problem(f"unknown block type {block.get('type')!r}", pointer))
            return
        model.to_dict()
    except (SlackObjectFormationError, KeyError, TypeError, ValueError) as error:
        # Block.parse returns None (and logs) for an unknown type, raises for a broken one.
        problems.append(_problem(str(error) or type(error).__name__, pointer))


def _blocks(problems: Problems, blocks: Any, limit: int, pointer: str) -> None:
    if not isinstance(blocks, list):
        problems.append(_problem("must be a list of blocks", pointer))
        return
    _count(problems, blocks, limit, pointer)
    for index, block in enumerate(blocks):
        _block(problems, block, f"{pointer}/{index}")


def block_text_length(value: Any) -> int:
    """All the text a message's blocks carry, as Slack adds it up for msg_blocks_too_long."""
    if isinstance(value, list):
        return sum(block_text_length(item) for item in value)
    if isinstance(value, dict):
        own = value.get("text")
        length = len(own) if isinstance(own, str) else 0
        return length + sum(block_text_length(item) for item in value.values())
    return 0


def message_problems(payload: dict[str, Any]) -> Problems:
    """What Slack would refuse in a message payload (chat.*, response_url, an ack body)."""
    problems: Problems = []
    blocks = payload.get("blocks")
    text = payload.get("text")
    if blocks:
        # Slack posts blocks without ``text`` but then has nothing for notifications and
        # screen readers; tenderbot always sends both, so the double insists on it.
        if not isinstance(text, str) or not text.strip():
            problems.append(_problem("fallback text is required next to blocks", "/text"))
        _blocks(problems, blocks, MESSAGE_BLOCKS, "/blocks")
        if block_text_length(blocks) > MESSAGE_BLOCKS_TEXT:
            problems.append(
                _problem(f"blocks must hold at most {MESSAGE_BLOCKS_TEXT} characters", "/blocks")
            )
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        problems.append(_problem(f"must be at most {MESSAGE_TEXT} characters", "/text"))
    return problems


def view_problems(view: dict[str, Any]) -> Problems:
    """What Slack would refuse in a view (views.open/update/push/publish, response_action)."""
    problems: Problems = []
    for key in ("title", "submit", "close"):
        _at_most(problems, view.get(key), VIEW_TITLE, f"/view/{key}/text")
    _at_most(problems, view.get("private_metadata"), PRIVATE_METADATA, "/view/private_metadata")
    _at_most(problems, view.get("callback_id"), ID_LENGTH, "/view/callback_id")
    _at_most(problems, view.get("external_id"), ID_LENGTH, "/view/external_id")
    _blocks(problems, view.get("blocks"), VIEW_BLOCKS, "/view/blocks")
    try:
        View(**{key: value for key, value in view.items() if key in _VIEW_FIELDS}).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError) as error:
        problems.append(_problem(str(error) or type(error).__name__, "/view"))
    return problems


# What a view is built from; the rest (id, hash, state …) is what Slack adds.
_VIEW_FIELDS = frozenset(
    {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "external_id",
        "clear_on_close",
        "notify_on_close",
        "submit_disabled",
    }
)
