"""Speed and memory benchmarks behind ``make bench``.

Each ``bench_<area>.py`` module exposes ``run(quick: bool) -> list[str]``: lines
that give a figure beside a reference measured in the same run, and their ratio,
because absolute times drift from machine to machine.
"""
