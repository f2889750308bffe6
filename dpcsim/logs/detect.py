"""Which AWS export a file holds, decided from its header (the set of column names).

Each known table is a :class:`TableSpec`: the columns AWS writes (verbatim, in
order, from the facts file section 3.8), the *signature* columns that identify it,
the *required* columns a reader needs, and each column's kind (``int``, ``float``,
``ts``, ``str``, ``bool``) so CSV parsing can use explicit types. Opening files
and parsing values is left to :mod:`dpcsim.logs.source`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from dpcsim.errors import InputError

__all__ = ["SPECS", "TableSpec", "detect_table"]

Kind = Literal["int", "float", "ts", "str", "bool"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSpec:
    """One known export layout.

    Attributes
    ----------
    name
        Table name as dpcsim reports it (``svl_qlog``, ``stl_wlm_query``, ...).
    columns
        Column name -> kind, in AWS's order.
    signature
        Columns whose presence identifies the table.
    required
        Columns the reader cannot do without.
    """

    name: str
    columns: dict[str, Kind]
    signature: frozenset[str]
    required: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = (set(self.signature) | set(self.required)) - set(self.columns)
        if unknown:
            raise ValueError(f"{self.name}: {sorted(unknown)} not among its columns")


def _spec(
    name: str, cols: str, kinds: dict[str, Kind], sig: str, req: str
) -> TableSpec:
    """Build a spec; columns not in ``kinds`` are strings."""
    names = [c.strip() for c in cols.split(",")]
    return TableSpec(
        name=name,
        columns={c: kinds.get(c, "str") for c in names},
        signature=frozenset(sig.split(",")),
        required=tuple(req.split(",")),
    )


_I: Final = "int"
_T: Final = "ts"

#: Every table dpcsim reads, in detection-preference order.
SPECS: Final[tuple[TableSpec, ...]] = (
    _spec(
        "stl_wlm_query",
        "userid,xid,task,query,service_class,slot_count,service_class_start_time,"
        "queue_start_time,queue_end_time,total_queue_time,exec_start_time,"
        "exec_end_time,total_exec_time,service_class_end_time,final_state,"
        "est_peak_mem,query_priority,service_class_name",
        {
            **dict.fromkeys(
                ("userid", "xid", "task", "query", "service_class", "slot_count"), _I
            ),
            **dict.fromkeys(
                ("total_queue_time", "total_exec_time", "est_peak_mem"), _I
            ),
            **dict.fromkeys(
                (
                    "service_class_start_time",
                    "queue_start_time",
                    "queue_end_time",
                    "exec_start_time",
                    "exec_end_time",
                    "service_class_end_time",
                ),
                _T,
            ),
        },
        "task,query,total_queue_time,total_exec_time",
        "task,query,service_class,service_class_start_time,total_queue_time,"
        "total_exec_time",
    ),
    _spec(
        "svl_qlog",
        "userid,query,xid,pid,starttime,endtime,elapsed,aborted,label,substring,"
        "source_query,concurrency_scaling_status_txt,from_sp_call",
        {
            **dict.fromkeys(
                (
                    "userid",
                    "query",
                    "xid",
                    "pid",
                    "elapsed",
                    "aborted",
                    "source_query",
                    "from_sp_call",
                ),
                _I,
            ),
            "starttime": _T,
            "endtime": _T,
        },
        "query,starttime,elapsed",
        "userid,query,starttime,elapsed",
    ),
    _spec(
        "stl_query",
        "userid,query,label,xid,pid,database,querytxt,starttime,endtime,aborted,"
        "insert_pristine,concurrency_scaling_status",
        {
            **dict.fromkeys(
                (
                    "userid",
                    "query",
                    "xid",
                    "pid",
                    "aborted",
                    "insert_pristine",
                    "concurrency_scaling_status",
                ),
                _I,
            ),
            "starttime": _T,
            "endtime": _T,
        },
        "query,querytxt,starttime",
        "userid,query,starttime,endtime",
    ),
    _spec(
        "sys_query_history",
        "user_id,user_name,query_id,transaction_id,session_id,database_name,"
        "start_time,end_time,elapsed_time,status,result_cache_hit,queue_time,"
        "execution_time,query_text,query_label,query_type,error_message,"
        "returned_rows,returned_bytes,redshift_version,service_class_id,"
        "service_class_name,compute_type",
        {
            **dict.fromkeys(
                (
                    "user_id",
                    "query_id",
                    "transaction_id",
                    "session_id",
                    "elapsed_time",
                    "queue_time",
                    "execution_time",
                    "returned_rows",
                    "returned_bytes",
                    "service_class_id",
                ),
                _I,
            ),
            "start_time": _T,
            "end_time": _T,
            "result_cache_hit": "bool",
        },
        "query_id,queue_time,execution_time",
        "user_id,query_id,start_time,queue_time,execution_time,query_type,status",
    ),
    _spec(
        "redset",
        "instance_id,cluster_size,user_id,database_id,query_id,arrival_timestamp,"
        "compile_duration_ms,queue_duration_ms,execution_duration_ms,"
        "feature_fingerprint,was_aborted,was_cached,cache_source_query_id,"
        "query_type,num_permanent_tables_accessed,num_external_tables_accessed,"
        "num_system_tables_accessed,read_table_ids,write_table_ids,mbytes_scanned,"
        "mbytes_spilled,num_joins,num_scans,num_aggregations",
        {
            **dict.fromkeys(("instance_id", "user_id", "database_id", "query_id"), _I),
            **dict.fromkeys(
                (
                    "cluster_size",
                    "compile_duration_ms",
                    "queue_duration_ms",
                    "execution_duration_ms",
                    "mbytes_scanned",
                    "mbytes_spilled",
                ),
                "float",
            ),
            "arrival_timestamp": _T,
            "was_aborted": "bool",
            "was_cached": "bool",
        },
        "query_id,arrival_timestamp,execution_duration_ms",
        "user_id,query_id,arrival_timestamp,queue_duration_ms,"
        "execution_duration_ms,query_type",
    ),
    # DDL the query logs leave out (dpcsim.logs.ddl_text; STL_UTILITYTEXT has
    # the same columns and reads the same way).
    _spec(
        "stl_ddltext",
        "userid,xid,pid,label,starttime,endtime,sequence,text",
        {
            **dict.fromkeys(("userid", "xid", "pid", "sequence"), _I),
            "starttime": _T,
            "endtime": _T,
        },
        "xid,sequence,text,starttime",
        "xid,starttime,sequence,text",
    ),
    # Per-query memory, spill and QMR metrics (dpcsim.logs.query_metrics).
    _spec(
        "svl_query_metrics_summary",
        "userid,query,service_class,query_cpu_time,query_blocks_read,"
        "query_execution_time,query_cpu_usage_percent,query_temp_blocks_to_disk,"
        "segment_execution_time,cpu_skew,io_skew,scan_row_count,join_row_count,"
        "nested_loop_join_row_count,return_row_count,spectrum_scan_row_count,"
        "spectrum_scan_size_mb,query_queue_time",
        {
            **dict.fromkeys(("userid", "query", "service_class"), _I),
            **dict.fromkeys(
                (
                    "query_cpu_time",
                    "query_blocks_read",
                    "query_execution_time",
                    "query_cpu_usage_percent",
                    "query_temp_blocks_to_disk",
                    "segment_execution_time",
                    "cpu_skew",
                    "io_skew",
                    "scan_row_count",
                    "join_row_count",
                    "nested_loop_join_row_count",
                    "return_row_count",
                    "spectrum_scan_row_count",
                    "spectrum_scan_size_mb",
                    "query_queue_time",
                ),
                "float",
            ),
        },
        "query,query_temp_blocks_to_disk,query_blocks_read",
        "query",
    ),
    _spec(
        "svl_query_summary",
        "userid,query,stm,seg,step,maxtime,avgtime,rows,bytes,rate_row,rate_byte,"
        "label,is_diskbased,workmem,is_rrscan,is_delayed_scan,rows_pre_filter",
        {
            **dict.fromkeys(
                ("userid", "query", "stm", "seg", "step", "maxtime", "avgtime"), _I
            ),
            **dict.fromkeys(
                (
                    "rows",
                    "bytes",
                    "rate_row",
                    "rate_byte",
                    "workmem",
                    "rows_pre_filter",
                ),
                "float",
            ),
            "is_diskbased": "bool",
        },
        "query,workmem,is_diskbased",
        "query,stm,bytes,label,is_diskbased,workmem",
    ),
    _spec(
        "sys_query_detail",
        "user_id,query_id,child_query_sequence,stream_id,segment_id,step_id,"
        "step_name,table_id,table_name,is_rrscan,start_time,end_time,duration,"
        "alert,input_bytes,input_rows,output_bytes,output_rows,blocks_read,"
        "blocks_write,local_read_io,remote_read_io,spilled_block_local_disk,"
        "spilled_block_remote_disk",
        {
            **dict.fromkeys(
                (
                    "user_id",
                    "query_id",
                    "child_query_sequence",
                    "stream_id",
                    "segment_id",
                    "step_id",
                    "table_id",
                ),
                _I,
            ),
            **dict.fromkeys(
                (
                    "duration",
                    "input_bytes",
                    "input_rows",
                    "output_bytes",
                    "output_rows",
                    "blocks_read",
                    "blocks_write",
                    "local_read_io",
                    "remote_read_io",
                    "spilled_block_local_disk",
                    "spilled_block_remote_disk",
                ),
                "float",
            ),
            "start_time": _T,
            "end_time": _T,
        },
        "query_id,spilled_block_local_disk",
        "query_id,spilled_block_local_disk,spilled_block_remote_disk",
    ),
    _spec(
        "stl_load_errors",
        "userid,slice,tbl,starttime,session,query,filename,line_number,colname,"
        "type,col_length,position,raw_line,raw_field_value,err_code,err_reason",
        {
            **dict.fromkeys(
                (
                    "userid",
                    "slice",
                    "tbl",
                    "session",
                    "query",
                    "line_number",
                    "position",
                    "err_code",
                ),
                _I,
            ),
            "starttime": _T,
        },
        "err_code,err_reason,line_number",
        "query,starttime,filename,line_number,err_code,err_reason",
    ),
    # QMR actions (dpcsim.logs.stl_wlm_rule_action): why a query was stopped.
    _spec(
        "stl_wlm_rule_action",
        "userid,query,service_class,rule,action,recordtime,action_value,"
        "service_class_name",
        {**dict.fromkeys(("userid", "query", "service_class"), _I), "recordtime": _T},
        "rule,action,recordtime",
        "query,rule,action,recordtime",
    ),
    _spec(
        "pg_group",
        "groname,grosysid,grolist",
        {"grosysid": _I},
        "groname,grolist",
        "groname,grolist",
    ),
    _spec(
        "users",
        "usesysid,usename,usesuper,groname",
        {"usesysid": _I, "usesuper": "bool"},
        "usename",
        "usename",
    ),
    _spec("user_groups", "user,group", {}, "user,group", "user,group"),
    _spec("role_groups", "role,group", {}, "role,group", "role,group"),
    _spec(
        "svv_user_grants",
        "user_id,user_name,role_id,role_name,admin_option",
        {"user_id": _I, "role_id": _I, "admin_option": "bool"},
        "user_name,role_name",
        "user_name,role_name",
    ),
    _spec(
        "svv_role_grants",
        "role_id,role_name,granted_role_id,granted_role_name",
        {"role_id": _I, "granted_role_id": _I},
        "role_name,granted_role_name",
        "role_name,granted_role_name",
    ),
    _spec("user_roles", "user,role", {}, "user,role", "user,role"),
)

_BY_NAME: Final = {s.name: s for s in SPECS}


def detect_table(header: Sequence[str], *, source: str) -> TableSpec:
    """Return the spec whose signature the header carries.

    Parameters
    ----------
    header
        Column names as read (any case, surrounding blanks ignored).
    source
        File name for error messages.

    Raises
    ------
    InputError
        When no known table matches (the message lists the columns seen and the
        closest known table), or the table matches but lacks a required column.
    """
    seen = {h.strip().lower() for h in header}
    candidates = [s for s in SPECS if s.signature <= seen]
    if not candidates:
        best = max(SPECS, key=lambda s: _similarity(seen, s))
        missing = sorted(best.signature - seen)
        raise InputError(
            f"unknown table: header columns {sorted(seen)} match no known export; "
            f"closest is {best.name} (lacks {missing}); expected one of "
            f"{[s.name for s in SPECS]} with AWS's lowercase column names",
            source=source,
            location="header",
        )
    spec = max(candidates, key=lambda s: len(seen & set(s.columns)))
    missing = [c for c in spec.required if c not in seen]
    if missing:
        raise InputError(
            f"{spec.name} export lacks required column(s) {missing}; expected the "
            f"columns {list(spec.columns)}",
            source=source,
            location=f"column {missing[0]!r}",
        )
    return spec


def spec_named(name: str) -> TableSpec:
    """Return the spec called ``name`` (KeyError lists the known names)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {sorted(_BY_NAME)}") from None


def _similarity(seen: set[str], spec: TableSpec) -> float:
    """Jaccard similarity of a header and a spec's columns."""
    cols = set(spec.columns)
    return len(seen & cols) / max(len(seen | cols), 1)
