"""The text toolkit's structural metadata: group aliases, families and naming schemas (DATA.md §16)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelref.domain.textgroups import TextModelGroupNameSchema
from modelref.storage.tables import text_group_aliases as _t
from modelref.storage.tables import text_group_families as _f
from modelref.storage.tables import text_group_schemas as _s


class AliasTable:
    """Aliases on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def entries(self) -> dict[str, list[str]]:
        """Every canonical group with its aliases, both sorted."""
        found: dict[str, list[str]] = {}
        for alias, canonical in self.conn.execute(
            sa.select(_t.c.alias, _t.c.canonical).order_by(_t.c.canonical, _t.c.alias)
        ):
            found.setdefault(canonical, []).append(alias)
        return found

    def of(self, canonical: str) -> list[str]:
        rows = self.conn.execute(sa.select(_t.c.alias).where(_t.c.canonical == canonical).order_by(_t.c.alias))
        return [alias for (alias,) in rows]

    def owners(self, aliases: Sequence[str]) -> dict[str, str]:
        """The canonical group owning each of *aliases* that has one."""
        if not aliases:
            return {}
        rows = self.conn.execute(sa.select(_t.c.alias, _t.c.canonical).where(_t.c.alias.in_(list(aliases))))
        return {str(row[0]): str(row[1]) for row in rows}

    def canonicals_among(self, names: Sequence[str]) -> set[str]:
        """Those of *names* that are canonical groups with aliases."""
        if not names:
            return set()
        rows = self.conn.execute(sa.select(_t.c.canonical).where(_t.c.canonical.in_(list(names))).distinct())
        return {str(row[0]) for row in rows}

    def owner(self, alias: str) -> str | None:
        return self.owners([alias]).get(alias)

    def replace(self, canonical: str, aliases: Sequence[str]) -> None:
        """The canonical group's aliases become exactly *aliases* (none: the entry is gone)."""
        self.conn.execute(_t.delete().where(_t.c.canonical == canonical))
        if aliases:
            self.conn.execute(_t.insert(), [{"alias": a, "canonical": canonical} for a in dict.fromkeys(aliases)])


class FamilyTable:
    """Families on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def families(self) -> dict[str, list[str]]:
        """Every family with its member groups, both sorted."""
        found: dict[str, list[str]] = {}
        query = sa.select(_f.c.group_name, _f.c.family_name).order_by(_f.c.family_name, _f.c.group_name)
        for row in self.conn.execute(query):
            found.setdefault(str(row[1]), []).append(str(row[0]))
        return found

    def members(self, family: str) -> list[str]:
        query = sa.select(_f.c.group_name).where(_f.c.family_name == family).order_by(_f.c.group_name)
        return [str(row[0]) for row in self.conn.execute(query)]

    def families_of(self, groups: Sequence[str]) -> dict[str, str]:
        """The family of each of *groups* that has one."""
        if not groups:
            return {}
        query = sa.select(_f.c.group_name, _f.c.family_name).where(_f.c.group_name.in_(list(groups)))
        return {str(row[0]): str(row[1]) for row in self.conn.execute(query)}

    def replace(self, family: str, members: Sequence[str]) -> None:
        """The family's members become exactly *members* (none: the family is gone)."""
        self.conn.execute(_f.delete().where(_f.c.family_name == family))
        if members:
            self.conn.execute(_f.insert(), [{"group_name": g, "family_name": family} for g in dict.fromkeys(members)])


class SchemaTable:
    """Custom naming schemas on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def all(self) -> dict[str, TextModelGroupNameSchema]:
        """Every group's custom schema, by group name."""
        rows = self.conn.execute(sa.select(_s.c.group_name, _s.c.name_schema).order_by(_s.c.group_name))
        return {str(row[0]): TextModelGroupNameSchema.model_validate_json(row[1]) for row in rows}

    def get(self, group: str) -> TextModelGroupNameSchema | None:
        text = self.conn.execute(sa.select(_s.c.name_schema).where(_s.c.group_name == group)).scalar()
        return None if text is None else TextModelGroupNameSchema.model_validate_json(text)

    def put(self, group: str, schema: TextModelGroupNameSchema) -> None:
        """Save *schema* as the group's (replacing one held)."""
        self.conn.execute(_s.delete().where(_s.c.group_name == group))
        self.conn.execute(_s.insert().values(group_name=group, name_schema=orjson.dumps(schema.model_dump()).decode()))

    def delete(self, group: str) -> bool:
        """Forget the group's schema; whether it had one."""
        return self.conn.execute(_s.delete().where(_s.c.group_name == group)).rowcount > 0
