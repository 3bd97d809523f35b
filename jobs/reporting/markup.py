"""The run report's HTML kit: escaped-by-default building blocks (tables, badges, sections)
and the self-contained page with its inline CSS. Knows nothing of playlists or tables.
(Not `html.py`: that would shadow the standard library's `html`, which this module uses.)"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Collection, Iterable, Sequence


class Html(str):
    """Markup that is already escaped; every other string is escaped where it is placed."""


def number(value: int | float, decimals: int = 2) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.{decimals}f}"


def text(value: Any) -> str:
    """Escaped text of a cell or field; numbers with thousands separators."""
    if isinstance(value, Html):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value)
    return html.escape(str(value))


def table(
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    numeric: Collection[int] = (),
    css: str = "",
) -> Html:
    """A table; the columns whose indexes are in `numeric` are right-aligned."""

    def cells(values: Sequence[Any], tag: str) -> str:
        opening = {True: f'<{tag} class="num">', False: f"<{tag}>"}
        return "".join(
            f"{opening[i in numeric]}{text(value)}</{tag}>" for i, value in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return Html(
        f'<table class="{css}"><thead><tr>{cells(header, "th")}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def badge(label: str, kind: str) -> Html:
    return Html(f'<span class="badge {kind}">{text(label)}</span>')


def unavailable(why: str) -> Html:
    return Html(f'<p class="na">not available: {text(why)}</p>')


def section(title: str, *parts: str) -> Html:
    return Html(f"<section><h2>{text(title)}</h2>{''.join(parts)}</section>")


def code(value: Any) -> Html:
    return Html(f"<code>{text(value)}</code>")


def utc(moment: datetime | float) -> Html:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    when = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Html(f'<span class="nowrap">{when}</span>')


STYLE = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --head:#f6f8fa;
        --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff;
       font:15px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Arial, sans-serif; }
main { max-width:1200px; margin:0 auto; padding:24px 32px 40px; }
h1 { font-size:26px; margin:0 0 8px; }
h2 { font-size:19px; margin:30px 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:15px; margin:18px 0 8px; }
p { margin:6px 0; }
.meta { color:var(--muted); font-size:14px; }
code { font:13px "DejaVu Sans Mono", monospace; background:var(--head); padding:1px 5px;
       border-radius:4px; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
         vertical-align:top; }
th { background:var(--head); font-weight:600; }
.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
table.stages td:last-child { width:22%; }
.bar { height:10px; min-width:2px; margin-top:5px; border-radius:3px; background:#1db954; }
tr:last-child td { border-bottom:none; }
.badge { display:inline-block; padding:2px 10px; border-radius:12px; color:#fff;
         font-size:13px; font-weight:600; }
.ok { background:var(--ok); } .bad { background:var(--bad); } .warn { background:var(--warn); }
.na { color:var(--muted); font-style:italic; }
.plots { display:grid; grid-template-columns:1fr 1fr; gap:14px; margin:14px 0; }
.plot { display:flex; align-items:center; justify-content:center; padding:4px;
        border:1px solid var(--line); border-radius:6px; }
.plot img { max-width:100%; }
.plot.wide { grid-column:1 / -1; }
.nowrap { white-space:nowrap; }
"""


def page(title: str, body: Sequence[str]) -> str:
    """The whole document: `body` in a <main>, STYLE inline, nothing fetched."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{text(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
