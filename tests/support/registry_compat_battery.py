"""The query battery run through LaminDB and through ``syncd.registry``, and how results are compared.

This file imports neither syncd nor lamindb: the compatibility suite imports it
for the syncd side, and runs it as a script in LaminDB's interpreter
(``python registry_compat_battery.py``, connected through ``LAMIN_CURRENT_INSTANCE``)
for the LaminDB side, which prints the normalised results as JSON.
"""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import UTC, date, datetime
from typing import Any

from tests.support.registry_compat_queries import EXTREME, generated

# (id, expression); names: Space, SpaceBlock, User, FeatureValue, Q
BATTERY: list[tuple[str, str]] = [
    # filter, lookups, Q, ordering
    ("filter_all", "Space.filter().order_by('id')"),
    ("filter_exact", "Space.filter(name='Lab A')"),
    ("filter_iexact", "Space.filter(name__iexact='lab a')"),
    ("filter_iexact_unicode", "Space.filter(name__iexact='école')"),
    ("filter_contains", "Space.filter(name__contains='Lab').order_by('id')"),
    ("filter_contains_case", "Space.filter(name__contains='lab').order_by('id')"),
    ("filter_icontains", "Space.filter(name__icontains='lab').order_by('id')"),
    ("filter_icontains_unicode", "Space.filter(name__icontains='übersicht').order_by('id')"),
    ("filter_startswith", "Space.filter(name__startswith='Lab').order_by('id')"),
    ("filter_startswith_case", "Space.filter(name__startswith='lab').order_by('id')"),
    ("filter_istartswith", "Space.filter(name__istartswith='lab').order_by('id')"),
    ("filter_endswith", "Space.filter(name__endswith='Lab').order_by('id')"),
    ("filter_iendswith", "Space.filter(name__iendswith='lab').order_by('id')"),
    ("filter_in", "Space.filter(name__in=['Lab A', 'Ops', 'nope']).order_by('id')"),
    ("filter_in_empty", "Space.filter(name__in=[])"),
    ("filter_gt", "Space.filter(id__gt=10).order_by('id')"),
    ("filter_gte_lte", "Space.filter(id__gte=3, id__lte=5).order_by('id')"),
    ("filter_lt", "Space.filter(id__lt=3).order_by('id')"),
    ("filter_range", "Space.filter(id__range=(4, 6)).order_by('id')"),
    ("filter_isnull", "Space.filter(description__isnull=True).order_by('id')"),
    ("filter_isnotnull", "Space.filter(created_by__isnull=False).order_by('id')"),
    ("filter_none", "Space.filter(created_by=None).order_by('id')"),
    ("filter_regex", "Space.filter(name__regex=r'^Lab.A$').order_by('id')"),
    ("filter_iregex", "Space.filter(name__iregex=r'^lab').order_by('id')"),
    ("filter_year", "Space.filter(created_at__year=2025).order_by('id')"),
    ("filter_month_gte", "Space.filter(created_at__month__gte=1, created_at__hour__gte=18).order_by('id')"),
    ("filter_day", "Space.filter(created_at__day=2).order_by('id')"),
    ("filter_dt_gte", "Space.filter(created_at__gte=datetime(2025, 1, 1, 15, tzinfo=UTC)).order_by('id')"),
    ("filter_related_forward", "Space.filter(created_by__handle='alice').order_by('id')"),
    ("filter_related_forward_icontains", "SpaceBlock.filter(space__name__icontains='lab').order_by('id')"),
    ("filter_related_reverse", "Space.filter(ablocks__kind='comment').order_by('id')"),
    ("filter_related_reverse_two", "Space.filter(ablocks__kind='comment', ablocks__content__contains='lab')"
                                   ".order_by('id')"),
    ("filter_fk_record", "SpaceBlock.filter(space=Space.get(name='Lab A')).order_by('id')"),
    ("filter_fk_id", "SpaceBlock.filter(space_id=4).order_by('id')"),
    ("q_or", "Space.filter(Q(name='Lab A') | Q(description__icontains='unicode')).order_by('id')"),
    ("q_and_not", "Space.filter(Q(name__icontains='lab') & ~Q(name='Lab A')).order_by('id')"),
    ("q_not_nullable", "Space.filter(~Q(description__contains='lab')).order_by('id')"),
    ("exclude", "Space.filter().exclude(name__startswith='Lab').order_by('id')"),
    ("exclude_reverse", "Space.filter().exclude(ablocks__kind='readme').order_by('id')"),
    ("chained", "Space.filter(name__icontains='a').filter(id__gt=4).order_by('id')"),
    ("order_desc", "Space.filter().order_by('-name')"),
    ("order_related", "Space.filter(created_by__isnull=False).order_by('created_by__handle', '-id')"),
    ("order_two", "SpaceBlock.filter().order_by('space_id', '-created_at')"),
    ("slice", "Space.filter().order_by('id')[2:5]"),
    ("index", "Space.filter().order_by('id')[3]"),
    ("index_negative", "Space.filter()[-1]"),
    ("first", "Space.filter(name__icontains='lab').first()"),
    ("last", "Space.filter(name__icontains='lab').last()"),
    ("first_ordered", "Space.filter().order_by('-created_at').first()"),
    ("first_empty", "Space.filter(name='nope').first()"),
    ("count", "Space.filter(name__icontains='lab').count()"),
    ("count_reverse_join", "Space.filter(ablocks__kind='readme').count()"),
    ("exists_true", "Space.filter(name='Ops').exists()"),
    ("exists_false", "Space.filter(name='nope').exists()"),
    ("one", "Space.filter(name='Ops').one()"),
    ("one_many", "Space.filter(name__icontains='lab').one()"),
    ("one_none", "Space.filter(name='nope').one()"),
    ("one_or_none_none", "Space.filter(name='nope').one_or_none()"),
    ("one_or_none_many", "Space.filter(name__icontains='lab').one_or_none()"),
    ("to_list", "Space.filter(name__startswith='Lab').order_by('id').to_list()"),
    ("to_list_field", "Space.filter(name__startswith='Lab').order_by('id').to_list('uid')"),
    ("unknown_field", "Space.filter(nme='x')"),
    ("unknown_lookup", "Space.filter(name__nope='x')"),
    ("filter_after_slice", "Space.filter()[:2].filter(id=1)"),
    # get
    ("get_int", "Space.get(3)"),
    ("get_int_missing", "Space.get(999)"),
    ("get_uid", "Space.get('QQ00aaaaaaaa')"),
    ("get_stub", "Space.get('QQ00')"),
    ("get_stub_ambiguous", "Space.get('QQ0')"),
    ("get_stub_lower", "Space.get('qq00')"),
    ("get_missing_uid", "Space.get('ZZZZ')"),
    ("get_expr", "Space.get(name='Lab A')"),
    ("get_expr_many", "Space.get(name__icontains='lab')"),
    ("get_expr_missing", "Space.get(name='nope')"),
    ("get_does_not_exist_class", "Space.get(name='nope')"),
    ("block_get_stem", "SpaceBlock.get('BlkStemA00000001')"),
    ("block_get_full_old", "SpaceBlock.get('BlkStemA000000010000')"),
    ("block_get_stem_trashed_latest", "SpaceBlock.get('BlkStemD00000004')"),
    ("block_get_trashed_uid", "SpaceBlock.get('BlkStemB000000020000')"),
    ("block_get_archived_stem", "SpaceBlock.get('BlkStemC00000003')"),
    ("block_get_case_stem", "SpaceBlock.get('blkstemA00000001')"),
    ("block_get_short_stub", "SpaceBlock.get('BlkUni')"),
    ("block_get_expr_latest", "SpaceBlock.get(space__name='Lab A', kind='readme')"),
    ("block_get_expr_no_latest", "SpaceBlock.get(version_tag='v1', space_id=2)"),
    ("block_get_expr_trashed", "SpaceBlock.get(content='trashed comment about the lab')"),
    ("block_get_expr_trashed_branch", "SpaceBlock.get(content='trashed comment about the lab', branch_id=-1)"),
    ("block_get_int_trashed", "SpaceBlock.get(4)"),
    # branch filter
    ("block_filter_default", "SpaceBlock.filter().order_by('id')"),
    ("block_filter_branch_trash", "SpaceBlock.filter(branch_id=-1).order_by('id')"),
    ("block_filter_branch_none", "SpaceBlock.filter(branch=None).order_by('id')"),
    ("block_filter_branch_name", "SpaceBlock.filter(branch__name='archive').order_by('id')"),
    ("block_filter_branch_in_q", "SpaceBlock.filter(Q(branch_id=0) | Q(kind='readme')).order_by('id')"),
    ("block_filter_uid_exact", "SpaceBlock.filter(uid='BlkStemB000000020000')"),
    ("block_filter_uid_startswith", "SpaceBlock.filter(uid__startswith='BlkStemB')"),
    ("block_filter_hash", "SpaceBlock.filter(hash=SpaceBlock.get(4).hash)"),
    ("block_filter_id_in", "SpaceBlock.filter(id__in=[4, 5, 6]).order_by('id')"),
    ("block_exclude_only", "SpaceBlock.filter(kind='comment').exclude(content='Lab').order_by('id')"),
    ("block_count", "SpaceBlock.filter().count()"),
    # relations
    ("rel_ablocks", "Space.get(name='Lab A').ablocks.order_by('id')"),
    ("rel_ablocks_filter", "Space.get(name='Lab A').ablocks.filter(kind='comment').order_by('id')"),
    ("rel_ablocks_count", "Space.get(name='lab_a!').ablocks.count()"),
    ("rel_block_space", "SpaceBlock.get(9).space"),
    ("rel_created_by", "Space.get(name='Lab A').created_by"),
    ("rel_created_by_none", "Space.get(name='Lab-A').created_by"),
    ("rel_block_created_by_handle", "SpaceBlock.get(9).created_by.handle"),
    # records
    ("attr_values", "[(s.id, s.uid, s.name, s.description, s.created_by_id) for s in Space.filter().order_by('id')]"),
    ("attr_created_at", "Space.get(2).created_at"),
    ("attr_block", "[(b.uid, b.version_tag, b.is_latest, b.kind, b.hash, b.branch_id) for b in "
                   "SpaceBlock.filter(branch=None).order_by('id')]"),
    ("repr_space", "repr(Space.get(2))"),
    ("repr_block", "repr(SpaceBlock.get(3))"),
    ("repr_user", "repr(User.get(2))"),
    # DataFrames
    ("df_default", "Space.to_dataframe()"),
    ("df_limit_none", "Space.to_dataframe(limit=None)"),
    ("df_limit_3", "Space.to_dataframe(limit=3)"),
    ("df_order_name", "Space.to_dataframe(order_by='name')"),
    ("df_filter", "Space.filter(name__icontains='lab').to_dataframe()"),
    ("df_ordered_qs", "Space.filter(name__icontains='lab').order_by('name').to_dataframe()"),
    ("df_include_forward", "Space.to_dataframe(include='created_by__handle', limit=None)"),
    ("df_include_list", "Space.to_dataframe(include=['created_by__handle', 'created_by__name'], limit=None)"),
    ("df_include_reverse", "Space.to_dataframe(include='ablocks__kind', limit=None)"),
    ("df_include_field", "Space.to_dataframe(include=['description'], limit=None)"),
    ("df_empty", "Space.filter(name='nope').to_dataframe()"),
    ("df_blocks", "SpaceBlock.to_dataframe(limit=None)"),
    ("df_blocks_branch_none", "SpaceBlock.filter(branch=None).to_dataframe(limit=None)"),
    ("df_blocks_include_space", "SpaceBlock.to_dataframe(include='space__name')"),
    ("df_users", "User.to_dataframe()"),
    ("df_privates", "SpaceBlock.to_dataframe(include='privates', limit=None)"),
    ("df_privates_and_path", "SpaceBlock.to_dataframe(include=['privates', 'space__name'])"),
    ("df_deprecated_df", "Space.df()"),
    ("df_reverse_join_qs", "Space.filter(ablocks__kind='readme').to_dataframe()"),
    # search
    ("search_lab", "Space.search('lab')"),
    ("search_lab_upper", "Space.search('LAB')"),
    ("search_lab_case", "Space.search('Lab', case_sensitive=True)"),
    ("search_exact", "Space.search('Ops')"),
    ("search_field", "Space.search('lab', field='description')"),
    ("search_limit", "Space.search('lab', limit=3)"),
    ("search_unicode", "Space.search('ärzte')"),
    ("search_uid", "Space.search('QQ00')"),
    ("search_blocks", "SpaceBlock.search('lab')"),
    ("search_blocks_df", "SpaceBlock.search('lab').to_dataframe()"),
    ("search_df", "Space.search('lab').to_dataframe()"),
    ("search_none", "Space.search('zzzz')"),
    ("search_qs", "Space.filter(id__gt=5).search('lab')"),
    ("search_users", "User.search('ali')"),
    # lookup
    ("lookup_keys", "Space.lookup()"),
    ("lookup_attr", "Space.lookup().lab_a"),
    ("lookup_keyword", "Space.lookup().class_"),
    ("lookup_digit", "Space.lookup().ln_1st_floor"),
    ("lookup_dict", "Space.lookup().dict()"),
    ("lookup_return_field", "Space.lookup(return_field='uid')"),
    ("lookup_field", "Space.lookup(field='uid')"),
    ("lookup_blocks", "SpaceBlock.lookup()"),
    ("lookup_users", "User.lookup()"),
    ("lookup_qs", "Space.filter(id__gt=5).lookup()"),
    # FeatureValue
    ("fv_filter", "FeatureValue.filter().order_by('id')"),
    ("fv_filter_space", "FeatureValue.filter(space__name='Lab A').order_by('id')"),
    ("fv_get", "FeatureValue.get(3)"),
    ("fv_value", "[v.value for v in FeatureValue.filter(branch=None).order_by('id')]"),
    ("fv_df", "FeatureValue.to_dataframe()"),
    ("fv_df_old", "FeatureValue.df()"),
    ("fv_search", "FeatureValue.search('hlab')"),
    ("fv_lookup", "FeatureValue.lookup()"),
    ("fv_count", "FeatureValue.filter().count()"),
    # more combinations
    ("q_nested", "Space.filter(Q(Q(name__startswith='Lab') | Q(name='Ops')) & ~Q(id=3)).order_by('id')"),
    ("q_and_kwargs", "Space.filter(Q(name__icontains='lab'), created_by__isnull=False).order_by('id')"),
    ("exclude_q", "Space.filter().exclude(Q(name='Ops') | Q(id__lt=3)).order_by('id')"),
    ("filter_uid_in", "Space.filter(uid__in=['QQ00aaaaaaaa', 'OP88kkkkkkkk']).order_by('id')"),
    ("filter_week_day", "Space.filter(created_at__week_day=4).order_by('id')"),
    ("filter_quarter", "Space.filter(created_at__quarter=1).order_by('id')"),
    ("filter_date", "Space.filter(created_at__date=date(2025, 1, 1)).order_by('id')"),
    ("filter_minute", "SpaceBlock.filter(created_at__minute=0, created_at__second=0).order_by('id')"),
    ("block_is_latest_false", "SpaceBlock.filter(is_latest=False).order_by('id')"),
    ("block_version_tag_set", "SpaceBlock.filter(version_tag__isnull=False).order_by('id')"),
    ("block_order_multi", "SpaceBlock.filter(branch=None).order_by('-kind', 'uid')"),
    ("block_to_list_related", "SpaceBlock.filter().order_by('id').to_list('space__name')"),
    ("block_get_int_archived", "SpaceBlock.get(5)"),
    ("block_count_exclude", "SpaceBlock.filter().exclude(kind='readme').count()"),
    ("rel_ablocks_get", "Space.get(2).ablocks.get(kind='comment')"),
    ("rel_ablocks_get_readme", "Space.get(2).ablocks.get(kind='readme')"),
    ("last_ordered", "Space.filter().order_by('name').last()"),
    ("slice_count", "Space.filter().order_by('id')[2:5].count()"),
    ("search_case_exact", "Space.search('Ops', case_sensitive=True)"),
    ("lookup_users_return", "User.lookup(return_field='name')"),
    ("fv_filter_value", "FeatureValue.filter(value='lab value')"),
    ("fv_get_hash", "FeatureValue.get(hash='hlabaaaaaaaaaaaaaaaaaa')"),
    ("fv_filter_space_record", "FeatureValue.filter(space=Space.get(2)).order_by('id')"),
    # writes (read-only checks that need no state change)
    ("delete_soft_space", "Space(name='tmp-x', uid='tmpxtmpxtmpx').delete(permanent=False)"),
    *generated(),
]


def _category(exc: BaseException) -> str:
    names = [c.__name__ for c in type(exc).__mro__]
    for wanted, label in (("DoesNotExist", "DoesNotExist"), ("ObjectDoesNotExist", "DoesNotExist"),
                          ("MultipleObjectsReturned", "MultipleObjectsReturned"),
                          ("MultipleResultsFound", "MultipleObjectsReturned"),
                          ("FieldError", "FieldError"), ("IndexError", "IndexError"),
                          ("ValidationError", "ValidationError"),
                          ("TypeError", "TypeError"), ("ValueError", "ValueError")):
        if wanted in names:
            return label
    return names[0]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        type(value).__name__ in ("NaTType", "NAType"))


def _cell(value: Any) -> Any:
    if _is_missing(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        return _cell(value.item())
    if isinstance(value, set | frozenset):
        return sorted((_cell(v) for v in value), key=lambda v: (v is None, str(v)))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    if hasattr(value, "_meta") and hasattr(value, "pk"):  # a Django record
        return {"record": type(value).__name__, "id": value.pk}
    if hasattr(value, "_meta") and hasattr(value, "id"):  # a syncd.registry record
        return {"record": type(value).__name__, "id": value.id}
    return value


def _dtype(dtype: Any) -> str:
    return str(dtype)


def normalize(value: Any) -> Any:
    """A JSON-able form of a result that both libraries should produce identically."""
    kind = type(value).__name__
    if kind == "DataFrame":
        return {"dataframe": True, "columns": [str(c) for c in value.columns], "index_name": value.index.name,
                "index_dtype": str(value.index.dtype),
                "index": [_cell(i) for i in value.index], "dtypes": [_dtype(d) for d in value.dtypes],
                "rows": [[_cell(c) for c in row] for row in value.itertuples(index=False)]}
    if hasattr(value, "_fields") and hasattr(value, "dict") and callable(value.dict):  # a lookup
        keys = [k for k in value._fields if k != "dict"]
        return {"lookup": keys, "values": [_cell(getattr(value, k)) for k in keys]}
    if isinstance(value, str | int | float | bool | datetime | date | dict | set) or value is None:
        return _cell(value)
    if hasattr(value, "_meta"):
        return _cell(value)
    if hasattr(value, "__iter__"):
        return [_cell(v) for v in value]
    return repr(value)


def run(namespace: dict[str, Any], entries: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Evaluate battery entries (default: :data:`BATTERY`); exceptions become ``{"error": category}``."""
    results: dict[str, Any] = {}
    scope = {**namespace, "datetime": datetime, "date": date, "UTC": UTC}
    only = os.environ.get("BATTERY_ONLY")
    for key, expression in BATTERY if entries is None else entries:
        if only and not key.startswith(only):
            continue
        try:
            results[key] = normalize(eval(expression, scope))
        except Exception as exc:  # noqa: BLE001 - every failure is a result to compare
            results[key] = {"error": _category(exc)}
    return results


def _lamindb_namespace() -> dict[str, Any]:
    import lamindb as ln

    return {"Space": ln.Space, "SpaceBlock": ln.models.SpaceBlock, "User": ln.User,
            "FeatureValue": ln.models.FeatureValue, "Q": ln.Q}


if __name__ == "__main__":
    outcome = run(_lamindb_namespace(), EXTREME if os.environ.get("BATTERY_SET") == "extreme" else None)
    sys.stdout.write("\n@@RESULTS@@" + json.dumps(outcome) + "\n")
