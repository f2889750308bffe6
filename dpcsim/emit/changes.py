"""What a deployment changes, and whether each change applies without a reboot.

:func:`diff_wlm` compares the current and the proposed WLM configuration
property by property and classifies each change with AWS's table of dynamic and
static WLM properties (facts sheet 2.8 and 7.14, *cm-c-wlm-dynamic-properties*):

* manual WLM, dynamic: slots (``query_concurrency``), ``memory_percent_to_use``,
  the WLM timeout, Concurrency Scaling mode, SQA on/off and its maximum
  runtime; QMR rules "are applied automatically" (no reboot);
* manual WLM, static (reboot): user groups, user roles, query groups and their
  wildcards, adding or removing a queue, switching between manual and auto;
* auto WLM: groups, priorities, adding or removing queues are dynamic.

A rename is reported as a rename (and classified static: renaming a manual
queue is not in AWS's table, and dpcsim treats it as removing one queue and
adding another, which is static). Changes mixing static and dynamic properties
need a reboot for all of them. Every renamed queue gets a warning: ``QueueName``
is the CloudWatch dimension of the per-queue metrics, so a rename silently
breaks every alarm and widget on the old name.

:func:`changes_markdown` renders ``CHANGES.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from dpcsim.wlm import QueueConfig, WLMConfig

__all__ = [
    "Change",
    "ChangeSet",
    "ParameterChange",
    "changes_markdown",
    "diff_parameters",
    "diff_wlm",
]

#: Queue properties -> dynamic in manual WLM, dynamic in auto WLM.
_QUEUE_PROPERTIES: Final[dict[str, tuple[bool, bool]]] = {
    "query_concurrency": (True, True),
    "memory_percent_to_use": (True, True),
    "max_execution_time": (True, True),
    "concurrency_scaling": (True, True),
    "priority": (True, True),
    "rules": (True, True),
    "user_group": (False, True),
    "user_group_wild_card": (False, True),
    "user_role": (False, True),
    "user_role_wild_card": (False, True),
    "query_group": (False, True),
    "query_group_wild_card": (False, True),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One changed WLM property.

    Attributes
    ----------
    where
        ``queue <name>``, ``SQA`` or ``configuration``.
    what
        The property (a JSON key of ``wlm_json_configuration``).
    old, new
        Values before and after (JSON-like; None when absent).
    dynamic
        True when AWS applies the change without a reboot.
    """

    where: str
    what: str
    old: Any
    new: Any
    dynamic: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterChange:
    """One changed cluster parameter other than the WLM JSON."""

    name: str
    old: str | None
    new: str
    apply_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeSet:
    """Every change of a deployment and the warnings that come with it."""

    changes: tuple[Change, ...] = ()
    parameters: tuple[ParameterChange, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    known_current: bool = True
    warnings: tuple[str, ...] = field(default=())

    @property
    def wlm_dynamic(self) -> bool:
        """True when every WLM change applies without a reboot."""
        return self.known_current and all(c.dynamic for c in self.changes)

    @property
    def needs_reboot(self) -> bool:
        """A static change anywhere means a reboot applies all of them."""
        wlm_static = bool(self.changes) and not self.wlm_dynamic
        wlm_unknown = not self.known_current
        return (
            wlm_static
            or wlm_unknown
            or any(p.apply_type == "static" for p in self.parameters)
        )


def diff_wlm(current: WLMConfig | None, proposed: WLMConfig) -> ChangeSet:
    """Classify every difference between two WLM configurations.

    Parameters
    ----------
    current
        The configuration deployed now; None when unknown (then every change
        is treated as static: nothing proves otherwise).
    proposed
        The configuration to deploy.
    """
    if current is None:
        return ChangeSet(
            known_current=False,
            warnings=(
                "no current configuration was given (--current): dpcsim cannot "
                "tell dynamic from static changes and assumes a reboot",
            ),
        )
    auto = proposed.is_auto and current.is_auto
    changes: list[Change] = []
    if current.is_auto != proposed.is_auto:
        changes.append(
            Change(
                where="configuration",
                what="queue_type",
                old="auto" if current.is_auto else "manual",
                new="auto" if proposed.is_auto else "manual",
                dynamic=False,
            )
        )
    old_names, new_names = current.queue_names, proposed.queue_names
    renamed = _renames(current, proposed)
    rename_map = dict(renamed)
    for old, new in renamed:
        changes.append(
            Change(where=f"queue {old}", what="name", old=old, new=new, dynamic=False)
        )
    for name in old_names:
        if name not in new_names and name not in rename_map:
            changes.append(
                Change(
                    where=f"queue {name}",
                    what="queue",
                    old="present",
                    new="removed",
                    dynamic=auto,
                )
            )
    targets = set(rename_map.values())
    for name in new_names:
        if name not in old_names and name not in targets:
            changes.append(
                Change(
                    where=f"queue {name}",
                    what="queue",
                    old="absent",
                    new="added",
                    dynamic=auto,
                )
            )
    for i, q in enumerate(current.queues):
        new_name = rename_map.get(q.name, q.name)
        if new_name not in new_names:
            continue
        j = proposed.queue_index(new_name)
        changes.extend(_queue_changes(q, proposed.queues[j], auto))
        if i != j and q.name in new_names:
            changes.append(
                Change(
                    where=f"queue {new_name}",
                    what="position",
                    old=i,
                    new=j,
                    dynamic=auto,
                )
            )
    changes.extend(_sqa_changes(current, proposed))
    warnings = tuple(
        f"queue {old!r} is renamed {new!r}: QueueName is the CloudWatch dimension "
        f"of the per-queue metrics, so every alarm and dashboard widget on "
        f"QueueName={old} stops receiving data; update them in the same change"
        for old, new in renamed
    )
    return ChangeSet(changes=tuple(changes), renamed=tuple(renamed), warnings=warnings)


def diff_parameters(
    current: Mapping[str, str] | None,
    proposed: Sequence[Mapping[str, Any]],
    base: ChangeSet,
) -> ChangeSet:
    """Add the non-WLM parameters of the request (``Parameters`` items)."""
    params = []
    for item in proposed:
        name = str(item["ParameterName"])
        if name == "wlm_json_configuration":
            continue
        old = None if current is None else current.get(name)
        new = str(item["ParameterValue"])
        if old is not None and old == new:
            continue
        params.append(
            ParameterChange(
                name=name, old=old, new=new, apply_type=str(item["ApplyType"])
            )
        )
    return ChangeSet(
        changes=base.changes,
        parameters=tuple(params),
        renamed=base.renamed,
        known_current=base.known_current,
        warnings=base.warnings,
    )


def changes_markdown(
    changes: ChangeSet,
    *,
    parameter_group: str,
    files: Sequence[str],
    notes: Sequence[str] = (),
    broken_references: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Render ``CHANGES.md``.

    Parameters
    ----------
    changes
        The classified changes.
    parameter_group
        The cluster parameter group the change is for.
    files
        The emitted files (relative paths), listed at the end.
    notes
        Extra paragraphs (warnings of the checks, the publisher contract).
    broken_references
        Old queue name -> the emitted alarms/widgets that still name it.
    """
    lines = [f"# Changes to parameter group `{parameter_group}`", ""]
    if changes.needs_reboot:
        lines += [
            "**A reboot is needed.** "
            + (
                "The current configuration is unknown, so nothing shows that the "
                "change is dynamic."
                if not changes.known_current
                else "At least one change is static; when static and dynamic "
                "changes are made together, every one of them waits for the "
                "reboot (cm-c-wlm-dynamic-properties)."
            ),
            "",
        ]
    elif changes.changes or changes.parameters:
        lines += ["**No reboot is needed:** every change is dynamic.", ""]
    else:
        lines += [
            "Nothing changes: the proposed configuration equals the current one.",
            "",
        ]
    if changes.warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {w}" for w in changes.warnings]
        for old, refs in sorted((broken_references or {}).items()):
            if refs:
                lines.append(
                    f"- emitted files still naming QueueName={old}: "
                    + ", ".join(f"`{r}`" for r in refs)
                )
        lines.append("")
    if changes.changes:
        lines += [
            "## WLM (`wlm_json_configuration`)",
            "",
            "| where | property | current | proposed | applies |",
            "|---|---|---|---|---|",
        ]
        for c in changes.changes:
            applies = "reboot (static)"
            if c.dynamic:
                applies = (
                    "dynamic, waits for the reboot"
                    if changes.needs_reboot
                    else "dynamic"
                )
            lines.append(
                f"| {c.where} | `{c.what}` | {_cell(c.old)} | {_cell(c.new)} | "
                f"{applies} |"
            )
        lines.append("")
    if changes.parameters:
        lines += [
            "## Other parameters",
            "",
            "| parameter | current | proposed | ApplyType |",
            "|---|---|---|---|",
        ]
        for p in changes.parameters:
            lines.append(
                f"| `{p.name}` | {_cell(p.old)} | {_cell(p.new)} | {p.apply_type} |"
            )
        lines.append("")
    if not changes.known_current:
        lines += [
            "## WLM (`wlm_json_configuration`)",
            "",
            "The whole configuration in `wlm.json` is sent (AWS requires every "
            "property in each change); without `--current` its differences from "
            "the deployed one are not listed.",
            "",
        ]
    for note in notes:
        lines += [note.rstrip(), ""]
    lines += ["## Files", ""] + [f"- `{f}`" for f in files] + [""]
    return "\n".join(lines)


def _renames(current: WLMConfig, proposed: WLMConfig) -> list[tuple[str, str]]:
    """Pairs (old, new) of queues that changed only their name.

    A queue of the current configuration whose name is gone is paired with a
    new name at the same array position, when there is one; a pure rename keeps
    the queue's routing, which is what makes it a rename and not a new queue.
    """
    out = []
    for i, q in enumerate(current.queues):
        if q.name in proposed.queue_names or i >= len(proposed.queues):
            continue
        new = proposed.queues[i]
        if new.name not in current.queue_names:
            out.append((q.name, new.name))
    return out


def _queue_changes(old: QueueConfig, new: QueueConfig, auto: bool) -> list[Change]:
    """Changed properties of one queue."""
    a, b = _plain(old), _plain(new)
    out = []
    for key, (manual_dynamic, auto_dynamic) in _QUEUE_PROPERTIES.items():
        if a[key] != b[key]:
            out.append(
                Change(
                    where=f"queue {new.name}",
                    what=key,
                    old=a[key],
                    new=b[key],
                    dynamic=auto_dynamic if auto else manual_dynamic,
                )
            )
    return out


def _plain(obj: Any) -> Any:
    """A dataclass as plain dicts and lists (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_plain(x) for x in obj]
    return obj


def _sqa_changes(current: WLMConfig, proposed: WLMConfig) -> list[Change]:
    """SQA on/off and its maximum runtime (both dynamic)."""
    out = []
    if current.sqa_enabled != proposed.sqa_enabled:
        out.append(
            Change(
                where="SQA",
                what="short_query_queue",
                old=current.sqa_enabled,
                new=proposed.sqa_enabled,
                dynamic=True,
            )
        )
    old_max = current.sqa.max_execution_time if current.sqa else None
    new_max = proposed.sqa.max_execution_time if proposed.sqa else None
    if old_max != new_max and current.sqa_enabled and proposed.sqa_enabled:
        out.append(
            Change(
                where="SQA",
                what="max_execution_time",
                old=old_max,
                new=new_max,
                dynamic=True,
            )
        )
    return out


def _cell(value: Any) -> str:
    """A table cell: short JSON-ish text, pipes escaped."""
    if value is None:
        return "-"
    if isinstance(value, list):
        text = ", ".join(
            _rule_text(v) if isinstance(v, dict) else str(v) for v in value
        )
        text = text or "(none)"
    else:
        text = str(value)
    return text.replace("|", "\\|")


def _rule_text(rule: dict[str, Any]) -> str:
    """A QMR rule as ``name: metric > value -> action``."""
    preds = rule.get("predicate", [])
    cond = " and ".join(
        f"{p.get('metric_name')} {p.get('operator')} {p.get('value')}" for p in preds
    )
    return f"{rule.get('rule_name')}: {cond} -> {rule.get('action')}"
