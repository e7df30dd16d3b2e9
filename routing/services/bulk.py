"""One statement that sets different values on many rows (the sweeps' set-based writes)."""

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# PostgreSQL array types of the columns the sweeps write.
_ARRAY_TYPES = {
    "AutoField": "bigint[]",
    "BigAutoField": "bigint[]",
    "ForeignKey": "bigint[]",
    "IntegerField": "integer[]",
    "PositiveSmallIntegerField": "integer[]",
    "CharField": "text[]",
    "DateTimeField": "timestamptz[]",
    "JSONField": "jsonb[]",
}


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> int:
    """Writes `fields` of every obj in one UPDATE.

    PostgreSQL: UPDATE ... FROM unnest(arrays), one array parameter a column, so the statement's
    cost is linear in the rows. Elsewhere (the embedded SQLite): bulk_update, one CASE statement.
    """
    if not objs:
        return 0
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, fields, batch_size=500)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(f) for f in fields)]
    params: list[list[Any]] = []
    for field in columns:
        values = [getattr(obj, field.attname) for obj in objs]
        if field.get_internal_type() == "JSONField":
            values = [json.dumps(v) for v in values]
        params.append(values)
    table = connection.ops.quote_name(meta.db_table)
    names = [connection.ops.quote_name(f.column) for f in columns]
    sources = ", ".join(f"%s::{_ARRAY_TYPES[f.get_internal_type()]}" for f in columns)
    assignments = ", ".join(f"{n} = v.{n}" for n in names[1:])
    sql = (
        f"UPDATE {table} AS t SET {assignments} "
        f"FROM unnest({sources}) AS v({', '.join(names)}) WHERE t.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
