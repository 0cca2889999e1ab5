"""The text toolkit's structural metadata: group aliases, families and naming schemas (DATA.md §16)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelref.domain.textstructure import TextModelGroupNameSchema
from modelref.storage.tables import text_group_aliases as _t
from modelref.storage.tables import text_group_families as _f
from modelref.storage.tables import text_group_schemas as _s


class AliasTable:
    """Aliases on one transaction's connection. Lists come sorted by Python (by code point), never by the
    database: ``ORDER BY`` follows the collation, which differs between engines and PostgreSQL's locales."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def entries(self) -> dict[str, list[str]]:
        """Every canonical group with its aliases, both sorted."""
        found: dict[str, list[str]] = {}
        for alias, canonical in self.conn.execute(sa.select(_t.c.alias, _t.c.canonical)):
            found.setdefault(str(canonical), []).append(str(alias))
        return {canonical: sorted(found[canonical]) for canonical in sorted(found)}

    def of(self, canonical: str) -> list[str]:
        """The canonical group's aliases, sorted."""
        rows = self.conn.execute(sa.select(_t.c.alias).where(_t.c.canonical == canonical))
        return sorted(str(alias) for (alias,) in rows)

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
    """Families on one transaction's connection (sorted by Python, as the aliases)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def families(self) -> dict[str, list[str]]:
        """Every family with its member groups, both sorted."""
        found: dict[str, list[str]] = {}
        for group, family in self.conn.execute(sa.select(_f.c.group_name, _f.c.family_name)):
            found.setdefault(str(family), []).append(str(group))
        return {family: sorted(found[family]) for family in sorted(found)}

    def members(self, family: str) -> list[str]:
        """The family's member groups, sorted."""
        rows = self.conn.execute(sa.select(_f.c.group_name).where(_f.c.family_name == family))
        return sorted(str(group) for (group,) in rows)

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
        """Every group's custom schema, by group name (sorted by Python)."""
        rows = self.conn.execute(sa.select(_s.c.group_name, _s.c.name_schema))
        found = {str(row[0]): TextModelGroupNameSchema.model_validate_json(row[1]) for row in rows}
        return {group: found[group] for group in sorted(found)}

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
