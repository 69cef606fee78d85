"""The target: did a vehicle fail the road test, and in which failure groups.

Only vehicles that reached the road test (an M710 passage or a ROD defect) get
a row; the others are unlabelled. ``failure_groups`` is a comma-separated
string of S_GROUP_IDs because both DuckDB and PostgreSQL store it as plain
text, and it is built from one boolean per known group so that it is the same
on every engine (no order-dependent string aggregation).
"""

from __future__ import annotations

import narwhals as nw

from roadtest.contracts.partner import S_GROUPS
from roadtest.contracts.warehouse import slug
from roadtest.etl.exprs import as_int


def _fails(name: str) -> str:
    return f"fails_{slug(name)}"


def build_vehicle_label(defects: nw.LazyFrame, starts: nw.LazyFrame) -> nw.LazyFrame:
    """vehicle_label from the fact_defect frame and the road-test starts."""
    group = nw.col("s_group_id")
    rod = (
        defects.filter(nw.col("is_road_test_defect"))
        .with_columns(
            *(as_int(group == gid).alias(_fails(name)) for gid, name in S_GROUPS.items()),
            as_int(group.is_null()).alias("fails_unknown"),
        )
        .group_by("knr")
        .agg(
            nw.len().cast(nw.Int64).alias("n_rod_defects"),
            nw.col("data").max().alias("last_rod_at"),
            *(nw.col(_fails(name)).max() for name in S_GROUPS.values()),
            nw.col("fails_unknown").max(),
        )
    )
    flags = [_fails(name) for name in S_GROUPS.values()]
    listed = [
        nw.when(nw.col(_fails(name))).then(nw.lit(f"{gid},")).otherwise(nw.lit(""))
        for gid, name in S_GROUPS.items()
    ]
    return (
        starts.join(rod, on="knr", how="left")
        .with_columns(
            *((nw.col(f).fill_null(0) == 1).alias(f) for f in [*flags, "fails_unknown"]),
            n_rod_defects=nw.col("n_rod_defects").fill_null(0),
        )
        .with_columns(
            road_test_failed=nw.col("n_rod_defects") > 0,
            failure_groups=nw.concat_str(listed, separator="").str.strip_chars_end(","),
            labelled_at=nw.when(nw.col("n_rod_defects") > 0)
            .then(nw.col("last_rod_at"))
            .otherwise(nw.col("road_test_start_at")),
        )
    )
