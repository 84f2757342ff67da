"""The message module's tables: conversations, messages, files, thread links (M1–M5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, CreatedAt
from store.models.status import DeliveryState


class Conversation(CreatedAt, Base):
    """The message module of one tender (rule M1); opened only by the backoffice (M2)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"), unique=True)
    opened_at: Mapped[datetime | None]
    opened_by: Mapped[str | None] = mapped_column(String(32))

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(CreatedAt, Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    author_slack_id: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # "broker" | "backoffice"
    body: Mapped[str] = mapped_column(Text)
    # Backoffice notes that must never reach the broker.
    internal: Mapped[bool] = mapped_column(default=False)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # Where the message was written and where its mirror went (Slack channel + ts).
    source_channel: Mapped[str | None] = mapped_column(String(32))
    source_ts: Mapped[str | None] = mapped_column(String(32))
    mirror_channel: Mapped[str | None] = mapped_column(String(32))
    mirror_ts: Mapped[str | None] = mapped_column(String(32))
    # None: written in Slack; "email": a broker's reply to a notice, taken in by mail-in.
    via: Mapped[str | None] = mapped_column(String(20))
    # PENDING until the other side has it, DELIVERED, or NOT_NEEDED (internal notes).
    delivery_state: Mapped[str] = mapped_column(
        String(20), default=DeliveryState.PENDING, index=True
    )
    last_delivery_error: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id"
    )
    revisions: Mapped[list[MessageRevision]] = relationship(order_by="MessageRevision.id")

    __table_args__ = (UniqueConstraint("source_channel", "source_ts"),)


class MessageRevision(CreatedAt, Base):
    """Earlier text of an edited or deleted message, so the history stays complete (M4)."""

    __tablename__ = "message_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(20))  # "edited" | "deleted"


class Attachment(CreatedAt, Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tenders.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    slack_file_id: Mapped[str | None] = mapped_column(String(32))
    mirror_file_id: Mapped[str | None] = mapped_column(String(32))

    message: Mapped[Message | None] = relationship(back_populates="attachments")


class ThreadLink(CreatedAt, Base):
    """A Slack thread that shows a tender: the backoffice card or the broker's card."""

    __tablename__ = "thread_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tenders.id"), index=True)
    side: Mapped[str] = mapped_column(String(20))  # "backoffice" | "broker"
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("channel", "ts"), UniqueConstraint("tender_id", "side"))


class ProcessedEvent(Base):
    """Inbound Slack events already handled; inserted in the same transaction as the effect."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime]
