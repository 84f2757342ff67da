"""Who is a broker: Slack user ↔ broker number ↔ e-mail."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput, NotFound
from store.models import Broker, BudgetAccount


class BrokerData(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    slack_user_id: str = Field(pattern=r"^[UW][A-Z0-9]{2,31}$")
    number: str = Field(pattern=r"^[0-9A-Za-z-]{1,32}$")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    cc_emails: tuple[EmailStr, ...] = ()

    @field_validator("name")
    @classmethod
    def _single_line(cls, value: str) -> str:
        # Names end up in e-mail headers; a line break there would inject headers.
        if "\r" in value or "\n" in value:
            raise ValueError("name must be a single line")
        return value


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return f"{field}: {first['msg']}"


def parse_broker(**fields: object) -> BrokerData:
    try:
        return BrokerData.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput(f"Ungültige Vermittlerangaben ({_first_problem(error)}).") from None


async def add_broker(session: AsyncSession, data: BrokerData) -> Broker:
    broker = Broker(
        slack_user_id=data.slack_user_id,
        number=data.number,
        name=data.name,
        email=str(data.email),
        cc_emails=[str(cc) for cc in data.cc_emails],
    )
    session.add(broker)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise InvalidInput(
            f"Vermittlernummer {data.number} oder Slack-Nutzer {data.slack_user_id} "
            "ist bereits eingetragen."
        ) from None
    session.add(BudgetAccount(broker_id=broker.id))
    await session.flush()
    return broker


async def upsert_broker(session: AsyncSession, data: BrokerData) -> Broker:
    """Import semantics: the broker number is the key; other fields are updated."""
    broker = await session.scalar(select(Broker).where(Broker.number == data.number))
    if broker is None:
        return await add_broker(session, data)
    broker.slack_user_id = data.slack_user_id
    broker.name = data.name
    broker.email = str(data.email)
    broker.cc_emails = [str(cc) for cc in data.cc_emails]
    await session.flush()
    return broker


async def list_brokers(session: AsyncSession) -> Sequence[Broker]:
    return (await session.scalars(select(Broker).order_by(Broker.number))).all()


async def broker_by_number(session: AsyncSession, number: str) -> Broker:
    broker = await session.scalar(select(Broker).where(Broker.number == number))
    if broker is None:
        raise NotFound(f"Kein Vermittler mit der Nummer {number}.")
    return broker


def parse_broker_csv(text: str) -> list[BrokerData]:
    """CSV with header ``slack_user;nummer;name;email;cc`` (``,`` also accepted).

    Every bad row is reported with its line number; nothing is imported from a bad file.
    """
    dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ";", delimiters=";,")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    required = {"slack_user", "nummer", "name", "email"}
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput(f"Kopfzeile unvollständig, es fehlt: {', '.join(sorted(missing))}.")
    parsed: list[BrokerData] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        cc = tuple(part.strip() for part in (row.get("cc") or "").split("|") if part.strip())
        try:
            parsed.append(
                BrokerData.model_validate(
                    {
                        "slack_user_id": row["slack_user"],
                        "number": row["nummer"],
                        "name": row["name"],
                        "email": row["email"],
                        "cc_emails": cc,
                    }
                )
            )
        except ValidationError as error:
            problems.append(f"Zeile {line}: {_first_problem(error)}")
    if problems:
        raise InvalidInput("Import abgebrochen, nichts übernommen:\n" + "\n".join(problems))
    return parsed
