"""A WLM configuration as a fixed-width text table (what ``dpcsim wlm`` prints)."""

from __future__ import annotations

from dpcsim.wlm.config import WLMConfig

__all__ = ["describe"]


def describe(config: WLMConfig) -> list[str]:
    """Return a fixed-width table of the queues, in routing (array) order.

    One line per queue: name, service class, slots, memory [%], timeout [s],
    Concurrency Scaling, routes (``ug:`` user groups, ``qg:`` query groups)
    and QMR rules; then a line on SQA.
    """
    rows = [("queue", "sc", "slots", "mem%", "timeout_s", "cs", "routes", "rules")]
    for i, q in enumerate(config.queues):
        routes = ",".join(
            [f"ug:{g}" for g in q.user_group] + [f"qg:{g}" for g in q.query_group]
        )
        is_default = i == config.default_index
        rows.append(
            (
                q.name + (" (default)" if is_default else ""),
                str(config.service_class(i)),
                "auto" if config.is_auto else str(q.query_concurrency),
                "auto" if config.is_auto else f"{config.memory_percent(i):g}",
                f"{q.max_execution_time / 1000:g}" if q.max_execution_time else "-",
                q.concurrency_scaling,
                routes or "-",
                ",".join(f"{r.rule_name}:{r.action}" for r in q.rules) or "-",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows
    ]
    sqa = config.sqa
    if sqa is not None and sqa.enabled:
        limit = sqa.max_execution_time
        lines.append(
            f"SQA on, max runtime {'dynamic' if limit == 0 else f'{limit} ms'}"
        )
    else:
        lines.append("SQA off")
    return [line.rstrip() for line in lines]
