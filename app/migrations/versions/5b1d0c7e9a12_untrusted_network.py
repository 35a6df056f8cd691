"""untrusted network: device address conflicts, site follow-address option, session generation

Revision ID: 5b1d0c7e9a12
Revises: 83d881447409
Create Date: 2026-12-02 14:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1d0c7e9a12'
down_revision = '83d881447409'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conflict_address', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('conflict_detail', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('conflict_seen_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_address_changes', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')

    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('follow_address_changes')

    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_column('conflict_seen_at')
        batch_op.drop_column('conflict_detail')
        batch_op.drop_column('conflict_address')
