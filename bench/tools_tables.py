"""The tables bench_tools prints: attn_widget beside bertviz and CircuitsVis, in bytes and s."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from attn_widget import html as aw_html
from attn_widget.widget import DEFAULT_BYTE_BUDGET


def line_through(points: list[tuple[float, float]], x: float) -> float:
    """Value at ``x`` of the straight line through the first and last point."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


# ------------------------------------------------------------------ printing
def mb(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1e9:
        return f"{value / 1e9:.2f} GB"
    if value >= 1e6:
        return f"{value / 1e6:.1f} MB"
    return f"{value / 1e3:.1f} kB"


def seconds(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1e3:.1f} s"


def print_tables(rows: dict[int, dict[str, Any]], args: argparse.Namespace, notes: list[str]):
    print()
    print("Bytes (1 MB = 1e6 B)")
    head = (
        f"{'N':>5} | {'bertviz head_view':>19} | {'bertviz, data once':>19} | "
        f"{'CircuitsVis str':>15} | {'CV offline':>10} | {'ours first paint':>24} | "
        f"{'ours lines':>10} | {'ours save_html':>20} | {'bertviz/ours':>15}"
    )
    print(head)
    print("-" * len(head))
    for n, row in rows.items():
        bert = row.get("bertviz", {})
        cv = row.get("cv", {})
        live = row["live"]
        saved = row.get("saved", {})
        once = None
        if "bytes" in bert:
            mark = " (extrap.)" if bert.get("extrapolated") else ""
            bert_s = mb(bert["bytes"]) + mark
            if "comment_bytes" in bert:
                once = bert["bytes"] - bert["comment_bytes"]
            once_s = mb(once) + mark
            ratio = f"{bert['bytes'] / live['first_paint']:,.0f}x"
            if once is not None:
                ratio += f" ({once / live['first_paint']:,.0f}x)"
        else:
            missing = "skipped" if n in args.sizes else "-"
            bert_s = once_s = bert.get("error", missing)[:19]
            ratio = "-"

        def cv_s(cv: dict[str, Any], key: str, n: int = n) -> str:
            if key in cv:
                return mb(cv[key])
            return cv.get("error", "skipped" if n in args.sizes else "-")[:10]

        first = f"{mb(live['first_paint'])} {live['tier']}/{live['encoding']}"
        if "refused" in saved:
            saved_s = f"refused; {mb(saved['bytes'])}*"
        elif "bytes" in saved:
            saved_s = mb(saved["bytes"])
        else:
            saved_s = "-"
        print(
            f"{n:>5} | {bert_s:>19} | {once_s:>19} | {cv_s(cv, 'bytes'):>15} | "
            f"{cv_s(cv, 'local_bytes'):>10} | {first:>24} | "
            f"{mb(live['lines']) if live['lines'] else 'in cube':>10} | {saved_s:>20} | "
            f"{ratio:>15}"
        )
    legend = (
        "bertviz: all 12 x 12 heads; 'data once' leaves out the copy of the data that "
        "bertviz 1.4.1 also pastes into a comment of its script. CircuitsVis: one layer; "
        "'str' imports its bundle from a CDN, 'offline' has it inline. ours first paint: "
        "_meta JSON + the cube (tier cube) or + the first overview tile reply (tier slices); "
        "ours lines: the token lines' first reply (in the cube when the cube tier holds). "
        "bertviz/ours: bertviz bytes / ours first paint (data once in brackets)."
    )
    print(textwrap.fill(legend, width=100, initial_indent="  ", subsequent_indent="  "))

    print()
    print("Time to first paint in headless chromium, page opened from disk")
    head = f"{'N':>5} | {'ours save_html page':>38} | {'CircuitsVis offline page (1 layer)':>36}"
    print(head)
    print("-" * len(head))
    for n, row in rows.items():
        saved = row.get("saved")
        if saved is None:
            continue
        if "paint_ms" in saved:
            ours = f"{seconds(saved['paint_ms'])} (wall {saved['paint_wall_s']:.2f} s)"
            if "refused" in saved:
                ours = f"limit raised: {ours}"
        else:
            ours = saved.get("paint", "-")[:38]
        render = row.get("cv_render")
        if render is None:
            cv_s = "-"
        elif "failed" in render:
            if "Timeout" in render["failed"]:
                cv_s = f"did not render in {args.cv_timeout:.0f} s"
            else:
                cv_s = render["failed"][:36]
        else:
            cv_s = seconds(render["page_ms"])
            if render["outside"] or render["errors"]:
                cv_s += " (with errors)"
        print(f"{n:>5} | {ours:>38} | {cv_s:>36}")

    print()
    print("Details")
    for n, row in rows.items():
        live = row["live"]
        parts = [f"N={n}: ours tier {live['tier']} ({live['encoding']})"]
        if "tile_ms" in live:
            parts.append(
                f"overview tile answered in {live['tile_ms']:.0f} ms; token lines' first "
                f"request: top {live['lines_top']} of {live['lines_rows']} rows"
            )
        parts.append(f"bundle + CSS sent once: {mb(live['bundle'])}")
        bert = row.get("bertviz", {})
        if "seconds" in bert:
            parts.append(
                f"bertviz built in {bert['seconds']:.1f} s, peak RSS {mb(bert['peak_rss'])}"
            )
        if "guess" in bert:
            parts.append(
                f"(a straight line through the smaller sizes guessed {mb(bert['guess'])}, "
                f"peak RSS {mb(bert['rss_guess'])})"
            )
        cv = row.get("cv", {})
        if "seconds" in cv:
            parts.append(f"CircuitsVis built in {cv['seconds']:.2f} s")
        render = row.get("cv_render") or {}
        if render.get("errors") or render.get("outside"):
            parts.append(f"CircuitsVis page errors {render['errors']} outside {render['outside']}")
        saved = row.get("saved", {})
        if "refused" in saved:
            parts.append(
                f"save_html refused: {saved['refused']!r}; with "
                f"max_bytes={saved['raised_max_bytes']:,} the page is {mb(saved['bytes'])}"
            )
        print("  " + "; ".join(parts))
    print(
        f"  save_html's default limit: {aw_html.DEFAULT_MAX_BYTES:,} B of attention data; "
        f"the live widget's default byte budget {DEFAULT_BYTE_BUDGET:,} B"
    )
    for note in notes:
        print("  note: " + note)

    print()
    print("Goals")
    row = rows.get(512, {})
    bert = row.get("bertviz", {})
    if "bytes" in bert:
        first = row["live"]["first_paint"]
        extra = " (bertviz figures extrapolated)" if bert.get("extrapolated") else ""
        for label, theirs in (
            ("bertviz's HTML", bert["bytes"]),
            ("bertviz's HTML less its duplicate", bert["bytes"] - bert.get("comment_bytes", 0)),
        ):
            print(
                f"  N=512: bytes to first paint {mb(first)} = 1/{theirs / first:,.0f} of "
                f"{label} ({mb(theirs)}): goal <= 1/100 "
                f"{'met' if first * 100 <= theirs else 'NOT met'}{extra}"
            )
        with_lines = first + row["live"]["lines"] + row["live"]["bundle"]
        print(
            f"  N=512, counting the token lines' first reply and the bundle + CSS too: "
            f"{mb(with_lines)} = 1/{bert['bytes'] / with_lines:,.0f} of bertviz's HTML"
        )
    else:
        print("  N=512 vs bertviz: not measured (bertviz skipped or N=512 not in --sizes)")

