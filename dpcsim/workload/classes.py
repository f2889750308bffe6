"""Live lab classes: the instructor's prompts make a cohort run a notebook at once.

The platform holds a live lab on weekday evenings (20:00-21:30 JST). A few
times per class the instructor says "run the next exercise now"; each attending
learner who follows opens the lab notebook and runs its cells (a "run all":
several queries a fraction of a second apart) within seconds of the prompt.
These are the largest learner bursts: a cohort's queries land in the same
minute, which is what lifts the per-minute index of dispersion of a small
platform towards the fleet's (see ``workload-calibration.md``: about 150 in the
real 24 h trace). Because the classes follow a timetable and attendance is
binomial, they add much more per-minute variance than weekly volume variance.
This module only makes session start times; the queries come from
:func:`dpcsim.workload.arrivals.session_queries`.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = ["CLASS_PROMPTS", "PROMPT_RESPONSE_SHARE", "class_days", "prompt_sessions"]

#: Weekdays with a live lab (0 Monday .. 6 Sunday), its start [h JST] and length [s].
CLASS_WEEKDAYS: Final = (0, 1, 2, 3, 4)
CLASS_START_H: Final = 20.0
CLASS_LENGTH_S: Final = 5400.0
#: Prompts per class (the lab exercise everyone runs together).
CLASS_PROMPTS: Final = 1
#: Share of the registered learners who follow one prompt (attend and run it).
PROMPT_RESPONSE_SHARE: Final = 0.17
#: Mean delay between the prompt and a learner's first query [s].
RESPONSE_DELAY_S: Final = 12.0


def class_days(days: int, first_weekday: int) -> np.ndarray:
    """Day indices (0-based) of the horizon that hold a live lab."""
    day = np.arange(days)
    return day[np.isin((first_weekday + day) % 7, CLASS_WEEKDAYS)]


def prompt_sessions(
    days: int, first_weekday: int, n_learners: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Session start times [s] of learners answering the class prompts.

    Parameters
    ----------
    days
        Horizon [days] from 00:00 JST of the first day.
    first_weekday
        Weekday of the first day (0 Monday .. 6 Sunday).
    n_learners
        Learners (after growth).
    rng
        Random generator.

    Returns
    -------
    t_s : numpy.ndarray
        Session start times [s] from the horizon start, sorted.
    prompt : numpy.ndarray
        Index of the prompt each session answers (0, 1, ...).
    """
    lab = class_days(days, first_weekday)
    offsets = np.sort(rng.uniform(0.0, CLASS_LENGTH_S, (lab.size, CLASS_PROMPTS)))
    at = (lab[:, None] * 86_400.0 + CLASS_START_H * 3600.0 + offsets).ravel()
    k = rng.binomial(n_learners, PROMPT_RESPONSE_SHARE, at.size)
    prompt = np.repeat(np.arange(at.size), k)
    t_s = at[prompt] + rng.exponential(RESPONSE_DELAY_S, prompt.size)
    order = np.argsort(t_s, kind="stable")
    return t_s[order], prompt[order]
