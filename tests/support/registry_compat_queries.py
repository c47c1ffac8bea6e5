"""Generated entries of the compatibility battery: every lookup on every field type, and combinations.

Imported by :mod:`registry_compat_battery` (also when it runs as a script in
LaminDB's interpreter), so it imports neither syncd nor lamindb.
"""

from __future__ import annotations

from itertools import product

__all__ = ["EXTRA", "EXTREME", "generated"]

TEXT_LOOKUPS = ("exact", "iexact", "contains", "icontains", "startswith", "istartswith", "endswith",
                "iendswith", "regex", "iregex", "gt", "lte")
TEXT_VALUES = ("'lab'", "'LAB'", "'Lab A'", "'ü'", "'Ü'", "'ärzte'", "'ÄRZTE'", "'é'", "'É'", "'_'", "'%'",
               "''", "'a'", "'v1'", "'#'")
# (registry expression, field, values)
TEXT_FIELDS = (
    ("Space.filter", "name", TEXT_VALUES),
    ("Space.filter", "description", TEXT_VALUES[:10]),
    ("Space.filter", "uid", ("'qq'", "'QQ'", "'Qq0'", "'hh'", "'a'")),
    ("SpaceBlock.filter(branch=None).filter", "content", (*TEXT_VALUES[:10], "'#'")),
    ("SpaceBlock.filter(branch=None).filter", "version_tag", ("'v1'", "'V1'", "'v'")),
    ("SpaceBlock.filter(branch=None).filter", "version", ("'v1'", "'V'")),
    ("User.filter", "handle", ("'ALI'", "'bob'", "'o'")),
    ("User.filter", "name", ("'ärger'", "'ÄRGER'", "'alice'")),
)
INT_FIELDS = (("Space.filter", "id"), ("Space.filter", "created_by_id"), ("SpaceBlock.filter(branch=None).filter",
              "space_id"), ("SpaceBlock.filter", "branch_id"))
INT_LOOKUPS = (("exact", "3"), ("exact", "'3'"), ("exact", "'abc'"), ("exact", "None"), ("exact", "3.0"),
               ("exact", "True"), ("in", "[2, '3', 4]"), ("in", "['x']"), ("gt", "4"), ("gt", "'4'"),
               ("gte", "4"), ("lt", "3"), ("lte", "'3'"), ("range", "(2, 4)"), ("range", "('2', '4')"),
               ("isnull", "True"), ("isnull", "False"), ("isnull", "'yes'"), ("contains", "'1'"),
               ("startswith", "1"), ("endswith", "'2'"), ("icontains", "1"), ("regex", "'^1'"),
               ("gt", "None"), ("in", "3"))
DT_LOOKUPS = (
    "created_at=datetime(2025, 1, 1, 11, 0, 0, 123456, tzinfo=UTC)", "created_at='2025-01-01 11:00:00.123456+00:00'",
    "created_at__gt=datetime(2025, 1, 1, 15, tzinfo=UTC)", "created_at__gte='2025-01-01T15:00:00Z'",
    "created_at__lt=date(2025, 1, 1)", "created_at__lte='2025-01-01'",
    "created_at__range=(datetime(2025, 1, 1, 12, tzinfo=UTC), datetime(2025, 1, 1, 18, tzinfo=UTC))",
    "created_at__year=2025", "created_at__year='2025'", "created_at__year__gte=2026", "created_at__month=1",
    "created_at__day__in=[1, 2]", "created_at__hour=12", "created_at__hour__range=(10, 13)",
    "created_at__minute=0", "created_at__second=0", "created_at__week_day=4", "created_at__quarter=1",
    "created_at__date=date(2025, 1, 1)", "created_at__date__gt=date(2025, 1, 1)", "created_at__date='2025-01-02'",
    "created_at__isnull=True", "created_at='yesterday'", "created_at__gt=3", "created_at__in=[]",
    "created_at__year__in=['2025']", "created_at__hour__gt='x'",
)
BOOL_VALUES = ("True", "False", "'t'", "'f'", "'True'", "'0'", "1", "0", "'maybe'", "None", "2")
FK_EXPRESSIONS = (
    "Space.filter(created_by=2)", "Space.filter(created_by='2')", "Space.filter(created_by='abc')",
    "Space.filter(created_by='Lab A')", "Space.filter(created_by=User.get(2))", "Space.filter(created_by__in=[2, 3])",
    "Space.filter(created_by__in=[User.get(3)])", "Space.filter(created_by__gt=2)", "Space.filter(created_by__id=3)",
    "Space.filter(created_by__uid='usr00002')", "Space.filter(created_by__handle__startswith='A')",
    "Space.filter(created_by__name__isnull=True)", "Space.filter(created_by__name__icontains='ä')",
    "Space.filter(ablocks=3)", "Space.filter(ablocks__in=[3, 9])", "Space.filter(ablocks__isnull=True)",
    "Space.filter(ablocks__isnull=False)", "Space.filter(ablocks='x')", "Space.filter(ablocks__uid__startswith='blk')",
    "Space.filter(ablocks__is_latest=False)", "Space.filter(ablocks__branch_id=-1)",
    "Space.filter(ablocks__created_by__handle='bob')", "Space.filter(ablocks__space__name='Lab A')",
    "Space.filter(ablocks__kind='comment').filter(ablocks__content__icontains='lab')",
    "Space.filter(ablocks__kind='comment', ablocks__content__icontains='lab')",
    "Space.filter(ablocks__version_tag='v1')", "Space.filter(ablocks__content__regex='^#')",
    "SpaceBlock.filter(space=2)", "SpaceBlock.filter(space='2')", "SpaceBlock.filter(space='x')",
    "SpaceBlock.filter(space='Lab A')", "SpaceBlock.filter(space__name__startswith='lab')",
    "SpaceBlock.filter(space__created_by__handle='alice')", "SpaceBlock.filter(space__description__isnull=True)",
    "SpaceBlock.filter(space__uid__in=['QQ00aaaaaaaa', 'UU11dddddddd'])", "SpaceBlock.filter(branch__name='main')",
    "SpaceBlock.filter(branch__name='trash')", "SpaceBlock.filter(branch_id__in=[0, -1])",
    "SpaceBlock.filter(created_by__handle__in=['alice', 'bob'])", "SpaceBlock.filter(space__ablocks__kind='readme')",
    "SpaceBlock.filter(created_on=1)", "SpaceBlock.filter(created_on__name='main')",
    "FeatureValue.filter(space__name__contains='lab')", "FeatureValue.filter(branch_id=-1)",
    "FeatureValue.filter(hash__startswith='hlab')", "FeatureValue.filter(value=42)",
    "FeatureValue.filter(value__in=[42, 'lab value'])", "FeatureValue.filter(value={'a': 1})",
    "FeatureValue.filter(value=['x', 'y'])", "FeatureValue.filter(value__isnull=False)",
    "FeatureValue.filter(created_by=1)", "FeatureValue.filter(is_locked=False)",
)
Q_ATOMS = ("Q(name__contains='lab')", "Q(name__icontains='ü')", "Q(description__isnull=True)", "Q(id__gt=6)",
           "Q(created_by__handle='bob')", "Q(ablocks__kind='comment')")


def _text() -> list[tuple[str, str]]:
    out = []
    for base, field, values in TEXT_FIELDS:
        for lookup, value in product(TEXT_LOOKUPS, values):
            if lookup in ("gt", "lte") and value not in values[:3]:
                continue
            key = f"gen_{base.split('.')[0].lower()}_{field}_{lookup}_{values.index(value)}"
            out.append((key, f"{base}({field}__{lookup}={value}).order_by('id')"))
        out.append((f"gen_{base.split('.')[0].lower()}_{field}_in",
                    f"{base}({field}__in=[{values[0]}, {values[-1]}, 'nope']).order_by('id')"))
        out.append((f"gen_{base.split('.')[0].lower()}_{field}_isnull", f"{base}({field}__isnull=True).order_by('id')"))
        out.append((f"gen_{base.split('.')[0].lower()}_{field}_int", f"{base}({field}=3).order_by('id')"))
    return out


def _others() -> list[tuple[str, str]]:
    out = []
    for (base, field), (lookup, value) in product(INT_FIELDS, INT_LOOKUPS):
        key = f"gen_int_{base.split('.')[0].lower()}_{field}_{lookup}_{INT_LOOKUPS.index((lookup, value))}"
        out.append((key, f"{base}({field}__{lookup}={value}).order_by('id')"))
    for n, expression in enumerate(DT_LOOKUPS):
        out.append((f"gen_dt_space_{n}", f"Space.filter({expression}).order_by('id')"))
        out.append((f"gen_dt_block_{n}", f"SpaceBlock.filter(branch=None).filter({expression}).order_by('id')"))
    for n, value in enumerate(BOOL_VALUES):
        out.append((f"gen_bool_{n}", f"SpaceBlock.filter(branch=None).filter(is_latest={value}).order_by('id')"))
        out.append((f"gen_bool_in_{n}", f"SpaceBlock.filter(is_latest__in=[{value}]).order_by('id')"))
    out.append(("gen_bool_isnull", "SpaceBlock.filter(is_latest__isnull=False).order_by('id')"))
    for n, expression in enumerate(FK_EXPRESSIONS):
        out.append((f"gen_fk_{n}", f"{expression}.order_by('id')"))
        out.append((f"gen_fk_count_{n}", f"{expression}.count()"))
    for n, (a, b) in enumerate(product(Q_ATOMS, repeat=2)):
        if a >= b:
            continue
        out.append((f"gen_q_or_{n}", f"Space.filter({a} | {b}).order_by('id')"))
        out.append((f"gen_q_and_not_{n}", f"Space.filter({a} & ~{b}).order_by('id')"))
    for n, atom in enumerate(Q_ATOMS):
        out.append((f"gen_q_exclude_{n}", f"Space.filter().exclude({atom.removeprefix('Q(')[:-1]}).order_by('id')"))
        out.append((f"gen_q_not_{n}", f"Space.filter(~{atom}).order_by('id')"))
    return out


EXTRA: list[tuple[str, str]] = [
    # field objects
    ("field_repr", "repr(Space.name)"),
    ("field_lookup", "Space.lookup(field=Space.description, return_field=Space.name)"),
    ("field_search", "Space.search('lab', field=Space.name)"),
    ("field_search_list", "Space.search('lab', field=[Space.name, Space.description])"),
    ("field_search_block", "SpaceBlock.search('lab', field=SpaceBlock.content)"),
    ("field_order_by", "Space.filter().order_by(Space.name)"),
    ("field_to_list", "Space.filter(name__icontains='lab').to_list(Space.name)"),
    ("field_values_list", "Space.filter().order_by('id').values_list(Space.name, flat=True)"),
    ("field_include", "Space.to_dataframe(include=[Space.description])"),
    ("field_record_value", "[s.name for s in Space.filter(id__lt=4).order_by('id')]"),
    # distinct, values
    ("distinct_reverse", "Space.filter(ablocks__kind='comment').distinct().order_by('id')"),
    ("distinct_order_first", "Space.filter(ablocks__kind='readme').order_by('id').distinct()"),
    ("distinct_count", "Space.filter(ablocks__kind='comment').distinct().count()"),
    ("distinct_plain", "Space.filter(id__lt=4).distinct().order_by('-id')"),
    ("distinct_exists", "Space.filter(ablocks__kind='nope').distinct().exists()"),
    ("distinct_df", "Space.filter(ablocks__kind='comment').distinct().to_dataframe()"),
    ("values_list_all", "Space.filter().order_by('id').values_list('id', 'name')"),
    ("values_list_flat", "Space.filter().order_by('-id').values_list('uid', flat=True)"),
    ("values_list_related", "SpaceBlock.filter().order_by('id').values_list('space__name', flat=True)"),
    ("values_named", "Space.filter(id__lt=4).order_by('id').values('name', 'created_by_id')"),
    ("values_flat_two", "Space.filter().values_list('id', 'name', flat=True)"),
    # ordering of unordered querysets: the database's own
    ("to_list_unordered", "Space.filter(name__icontains='lab').to_list('name')"),
    ("to_list_unordered_uid", "Space.filter(uid__startswith='q').to_list('uid')"),
    ("to_list_unordered_all", "Space.filter().to_list('description')"),
    ("to_list_block_kind", "SpaceBlock.filter().to_list('kind')"),
    ("to_list_records_unordered", "Space.filter(name__startswith='l').to_list()"),
    ("to_list_version", "SpaceBlock.filter(branch=None).order_by('id').to_list('version_tag')"),
    ("iter_unordered", "list(SpaceBlock.filter(kind='comment'))"),
    # version alias
    ("version_filter", "SpaceBlock.filter(version='v1').order_by('id')"),
    ("version_startswith", "SpaceBlock.filter(version__startswith='v').order_by('id')"),
    ("version_get", "SpaceBlock.get(version='v2')"),
    ("version_attr", "[b.version for b in SpaceBlock.filter(branch=None).order_by('id')]"),
    ("version_q", "SpaceBlock.filter(Q(version='v1'))"),
    ("version_exclude", "SpaceBlock.filter().exclude(version='v1')"),
    # get semantics
    ("get_int_and_expr", "Space.get(2, name='x')"),
    ("get_uid_and_expr", "Space.get('QQ00aaaaaaaa', name='x')"),
    ("get_true", "Space.get(True)"),
    ("get_false", "Space.get(False)"),
    ("get_id_str", "Space.get(id='abc')"),
    ("get_id_numeric_str", "Space.get(id='3')"),
    ("get_created_by_str", "Space.get(created_by='abc')"),
    ("get_space_on_space", "Space.get(space='Lab A')"),
    ("get_space_name_on_block", "SpaceBlock.get(space='Lab A')"),
    ("get_block_space_word", "SpaceBlock.get(space='x')"),
    ("get_is_latest_bad", "SpaceBlock.get(is_latest='maybe')"),
    ("get_none", "Space.get(None)"),
    ("get_nothing", "Space.get()"),
    ("get_float", "Space.get(2.0)"),
    ("get_block_get_stub_lower", "SpaceBlock.get('blkstema')"),
    ("get_uid_full_lower", "Space.get('qq00aaaaaaaa')"),
    ("get_block_expr_version", "SpaceBlock.get(version='v1', space_id=10)"),
    ("filter_space_on_space", "Space.filter(space='x')"),
    ("filter_id_abc", "Space.filter(id='abc')"),
    # search ranking ties
    ("search_ties_a", "Space.search('a')"),
    ("search_ties_e", "Space.search('e', limit=None)"),
    ("search_ties_comment", "SpaceBlock.search('comment')"),
    ("search_ties_readme", "SpaceBlock.search('readme', limit=None)"),
    ("search_space_sep", "Space.search('lab a')"),
    ("search_pipe", "Space.search('|')"),
    ("search_dot", "Space.search('.')"),
    ("search_case_upper", "Space.search('LAB', case_sensitive=True)"),
    ("search_case_unicode", "Space.search('ÜBERSICHT', case_sensitive=True)"),
    ("search_unicode_upper", "Space.search('ÜBERSICHT')"),
    ("search_strip", "Space.search('  lab  ')"),
    ("search_empty", "Space.search('')"),
    ("search_none_value", "Space.search(None)"),
    ("search_users_name", "User.search('ärger')"),
    ("search_ordered_qs", "Space.filter().order_by('-name').search('lab')"),
    ("search_first", "Space.search('lab').first()"),
    ("search_count", "Space.search('lab').count()"),
    ("search_limit_1", "SpaceBlock.search('lab', limit=1)"),
    ("search_df_blocks", "SpaceBlock.search('comment').to_dataframe()"),
    # lookup
    ("lookup_collision_lab", "Space.lookup().lab_a"),
    ("lookup_collision_dict", "Space.lookup().dict()['Lab A']"),
    ("lookup_collision_keys", "sorted(Space.lookup()._fields)"),
    ("lookup_uid_keys", "Space.lookup(field='uid').qq00aaaaaaaa"),
    ("lookup_desc", "Space.lookup(field='description')"),
    ("lookup_users_name", "User.lookup(field='name')"),
    ("lookup_blocks_content", "SpaceBlock.lookup(field='content')"),
    ("lookup_filtered", "Space.filter(name__icontains='lab').lookup()"),
    ("lookup_return_uid_attr", "Space.lookup(return_field='uid').lab_a"),
    ("lookup_unknown_field", "Space.lookup(field='nope')"),
    # DataFrames
    ("df_include_features", "Space.to_dataframe(include='features')"),
    ("df_features_true", "Space.to_dataframe(features=True)"),
    ("df_include_reverse_two", "Space.to_dataframe(include=['ablocks__kind', 'ablocks__uid'], limit=None)"),
    ("df_include_deep", "SpaceBlock.to_dataframe(include=['space__created_by__handle'], limit=None)"),
    ("df_include_unknown", "Space.to_dataframe(include='nope')"),
    ("df_include_uid", "Space.to_dataframe(include=['uid'], limit=None)"),
    ("df_include_version", "SpaceBlock.to_dataframe(include='version', limit=None)"),
    ("df_order_none", "Space.filter(id__lt=5).to_dataframe(order_by=None)"),
    ("df_limit_0", "Space.to_dataframe(limit=0)"),
    ("df_slice", "Space.filter().order_by('id')[2:6].to_dataframe()"),
    ("df_users_limit_none", "User.to_dataframe(limit=None)"),
    ("df_blocks_order", "SpaceBlock.filter(branch=None).order_by('-created_at').to_dataframe(limit=5)"),
    ("df_fv_limit_none", "FeatureValue.to_dataframe(limit=None)"),
    ("df_blocks_filtered_empty", "SpaceBlock.filter(kind='nope').to_dataframe()"),
    # slicing, first, last, exists, count
    ("slice_open", "Space.filter().order_by('id')[10:]"),
    ("slice_head", "Space.filter().order_by('-id')[:3]"),
    ("slice_empty", "Space.filter().order_by('id')[5:5]"),
    ("slice_past", "Space.filter().order_by('id')[50:60]"),
    ("slice_twice", "Space.filter().order_by('id')[2:10][1:3]"),
    ("slice_step", "Space.filter().order_by('id')[::2]"),
    ("index_past", "Space.filter().order_by('id')[99]"),
    ("slice_exists", "Space.filter().order_by('id')[20:].exists()"),
    ("slice_first", "Space.filter().order_by('id')[3:].first()"),
    ("slice_last", "Space.filter().order_by('id')[3:].last()"),
    ("slice_order", "Space.filter()[:3].order_by('id')"),
    ("first_unordered_block", "SpaceBlock.filter().first()"),
    ("last_unordered_block", "SpaceBlock.filter().last()"),
    ("last_two_orders", "Space.filter().order_by('created_by_id', 'name').last()"),
    ("first_related_order", "SpaceBlock.filter().order_by('-space__name').first()"),
    ("count_all_blocks", "SpaceBlock.filter(branch=None).count()"),
    ("count_users", "User.filter().count()"),
    ("count_q", "Space.filter(Q(name__contains='lab') | Q(id=1)).count()"),
    ("exists_reverse", "Space.filter(ablocks__branch_id=0).exists()"),
    ("exists_all", "User.filter().exists()"),
    ("bool_qs", "bool(Space.filter(name='nope'))"),
    ("len_qs", "len(Space.filter(name__icontains='a'))"),
    # errors
    ("err_unknown_related", "SpaceBlock.filter(space__nme='x')"),
    ("err_lookup_on_fk", "Space.filter(created_by__nope='x')"),
    ("err_order_unknown", "Space.filter().order_by('nope')"),
    ("err_in_not_list", "Space.filter(id__in=3).count()"),
    ("err_range_one", "Space.filter(id__range=(1,)).count()"),
    ("err_regex_invalid_pg_ok", "Space.filter(name__regex='a{1,2}').order_by('id')"),
    ("err_contains_none", "Space.filter(name__contains=None).count()"),
    ("err_gt_none", "Space.filter(name__gt=None).count()"),
    ("err_json_contains", "FeatureValue.filter(value__contains='lab').count()"),
    ("err_filter_after_slice_exclude", "Space.filter()[:2].exclude(id=1)"),
    ("err_negative_slice", "Space.filter()[-2:]"),
    ("err_date_transform_on_text", "Space.filter(name__year=2025)"),
    ("err_delete_trash_space", "Space.get(2).delete(permanent=False)"),
]


# run on the fixture plus two spaces created in years 9999 and 1 (registry_fixture.EXTREME_SPACES)
EXTREME: list[tuple[str, str]] = [
    ("extreme_df", "Space.to_dataframe(limit=None)"),
    ("extreme_df_ordered", "Space.filter(id__gte=50).order_by('id').to_dataframe()"),
    ("extreme_df_in_range", "Space.filter(id__lt=50).to_dataframe(limit=None)"),
    ("extreme_df_include", "Space.to_dataframe(include='created_by__handle', limit=None)"),
    ("extreme_values", "[s.created_at for s in Space.filter(id__gte=50).order_by('id')]"),
    ("extreme_year", "Space.filter(created_at__year=9999)"),
    ("extreme_gt", "Space.filter(created_at__gt=datetime(9000, 1, 1, tzinfo=UTC))"),
    ("extreme_lt", "Space.filter(created_at__lt=date(2, 1, 1))"),
    ("extreme_order", "Space.filter().order_by('-created_at')[:3]"),
    ("extreme_search", "Space.search('far').to_dataframe()"),
]


def generated() -> list[tuple[str, str]]:
    """The generated entries and :data:`EXTRA`, in a stable order with unique keys."""
    entries = EXTRA + _text() + _others()
    keys = [k for k, _ in entries]
    assert len(keys) == len(set(keys)), "generated battery keys must be unique"
    return entries
