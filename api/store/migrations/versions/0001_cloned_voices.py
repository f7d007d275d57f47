"""Cloned voices: voices, their reference audio and their clone prompts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_cloned_voices"
down_revision: str | None = None


def _voice_fk(*, primary_key: bool = False) -> sa.Column:
    fk = sa.ForeignKey("voices.id", ondelete="CASCADE")
    return sa.Column("voice_id", sa.String(160), fk, nullable=False, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "voices",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("ref_text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("x_vector_only", sa.Boolean(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("top_p", sa.Float(), nullable=True),
        sa.Column("top_k", sa.Integer(), nullable=True),
        sa.Column("repetition_penalty", sa.Float(), nullable=True),
        sa.Column("max_new_tokens", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
        sa.Column("use_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_voices_language", "voices", ["language"])
    op.create_table(
        "voice_audio",
        _voice_fk(primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "voice_prompts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _voice_fk(),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("weights", sa.String(1024), nullable=False),
        sa.Column("ref_code", sa.LargeBinary(), nullable=True),
        sa.Column("spk_embedding", sa.LargeBinary(), nullable=False),
        sa.Column("x_vector_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("voice_id", "model_name", "weights", name="uq_voice_prompts_identity"),
    )


def downgrade() -> None:
    op.drop_table("voice_prompts")
    op.drop_table("voice_audio")
    op.drop_index("ix_voices_language", table_name="voices")
    op.drop_table("voices")
