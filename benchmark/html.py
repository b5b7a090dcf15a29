"""``leaderboard.html``: the leaderboard as one static, self-contained page.

The same numbers as ``leaderboard.md``, by construction: the page is made from the very
markdown lines of :func:`rexbench.benchmark.leaderboard.render` (tables, lists, headings),
converted by the small converter below, except the per-task tables, which are built from
the rows so that each cell carries its per-seed values (on hover) and a numeric sort key.
The page needs no server and no network: the figures are embedded (base64 PNG), the
script and the style are inline. Clicking a column header sorts its table by that column
(numbers by value, "n/a" and "—" last; a second click reverses). Every result file is
linked (relative to the page). ``rexbench leaderboard --check`` compares this page too.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

import rexbench.benchmark
from rexbench.benchmark import leaderboard as lb
from rexbench.benchmark.finetune_board import finetune_section
from rexbench.benchmark.finetune_records import summarise
from rexbench.tasks import SUITE_VERSION

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;
color:#1b1b1b;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f5f7;cursor:pointer;user-select:none;position:relative}
th.sorted-asc::after{content:" \\2191"}th.sorted-desc::after{content:" \\2193"}
td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafbfc}
td[title]{text-decoration:underline dotted #8c959f}
code{background:#f3f5f7;padding:0 3px;border-radius:3px}
img{max-width:100%;border:1px solid #d0d7de}
details{margin:.4em 0 1em}summary{cursor:pointer;color:#0969da}
.meta{color:#57606a}
.scroll{overflow-x:auto}
"""

# Sort on header click: numbers by value (the cell's data-sort, else its leading number),
# cells without a number last; the first click sorts descending for numbers.
SCRIPT = """
(function(){
  function key(cell){
    var s = cell.getAttribute('data-sort');
    var t = s !== null ? s : cell.textContent.trim();
    var m = /^-?\\d+(\\.\\d+)?(e-?\\d+)?/.exec(t.replace(/,/g, ''));
    return m ? {num: parseFloat(m[0]), text: t} : {num: null, text: t};
  }
  function sortBy(table, col, th){
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var desc = !th.classList.contains('sorted-desc');
    rows.sort(function(a, b){
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x.num === null && y.num === null) return desc ? y.text.localeCompare(x.text) : x.text.localeCompare(y.text);
      if (x.num === null) return 1;
      if (y.num === null) return -1;
      return desc ? y.num - x.num : x.num - y.num;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(h){ h.classList.remove('sorted-asc', 'sorted-desc'); });
    th.classList.add(desc ? 'sorted-desc' : 'sorted-asc');
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, col){
      th.addEventListener('click', function(){ sortBy(table, col, th); });
    });
  });
  document.body.setAttribute('data-ready', '1');
})();
"""


# --------------------------------------------------------------------------- markdown subset
def inline(text: str) -> str:
    """Escaped HTML of one markdown cell or line: ``**b**``, ``*i*``, `` `code` `` and the
    backslash escapes of :func:`rexbench.benchmark.leaderboard.md_escape`."""
    out, i = [], 0
    token = re.compile(r"\\(.)|`([^`]*)`|\*\*(.+?)\*\*|\*(.+?)\*")
    for m in token.finditer(text):
        out.append(html.escape(text[i:m.start()]))
        if m.group(1) is not None:
            out.append(html.escape(m.group(1)))
        elif m.group(2) is not None:
            out.append(f"<code>{html.escape(m.group(2))}</code>")
        elif m.group(3) is not None:
            out.append(f"<strong>{inline(m.group(3))}</strong>")
        else:
            out.append(f"<em>{inline(m.group(4))}</em>")
        i = m.end()
    out.append(html.escape(text[i:]))
    return "".join(out)


def split_row(line: str) -> list[str]:
    """The cells of a markdown table line (``|`` escaped as ``\\|`` stays in its cell)."""
    cells, cur, escaped = [], [], False
    for ch in line.strip()[1:-1]:
        if escaped:
            cur.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    cells.append("".join(cur).strip())
    return cells


def table_html(lines: list[str]) -> str:
    head = split_row(lines[0])
    body = [split_row(line) for line in lines[2:]]
    out = ['<div class="scroll"><table class="sortable"><thead><tr>' + "".join(f"<th>{inline(c)}</th>" for c in head)
           + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join(out) + "\n</tbody></table></div>"


def markdown_html(lines: list[str]) -> str:
    """HTML of the markdown subset the leaderboard writes: headings, tables, lists, paragraphs."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append(table_html(lines[i:j]))
            i = j
            continue
        if line.startswith("- "):
            j = i
            while j < len(lines) and lines[j].startswith("- "):
                j += 1
            out.append("<ul>" + "".join(f"<li>{inline(x[2:])}</li>" for x in lines[i:j]) + "</ul>")
            i = j
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    return "\n".join(out)


# --------------------------------------------------------------------------- the page
def _seeds_title(row: lb.Row, key: str, digits: int) -> str:
    return "\n".join(f"seed {r['seed']}: {lb._fmt_seed(v, digits)}" for r, v in zip(row.results, row.values(key), strict=True))


def task_table_html(rows: list[lb.Row]) -> str:
    """The per-task table of ``leaderboard.md`` with per-seed tooltips and sort keys."""
    md = lb.task_table(rows)
    head = split_row(md[0])
    keys = [*lb.LOSS_KEYS, *lb.TABLE_KEYS]
    out = ['<div class="scroll"><table class="sortable task"><thead><tr>'
           + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead><tbody>"]
    out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in split_row(md[2])) + "</tr>")  # chance
    for row, line in zip(rows, md[3:], strict=True):
        cells = split_row(line)
        tds = [f"<td>{inline(c)}</td>" for c in cells[:4]]
        for key, cell in zip(keys, cells[4:], strict=True):
            s = row.summary(key)
            digits = 4 if key in lb.LOSS_KEYS else 3
            if s is None:
                tds.append(f"<td>{inline(cell)}</td>")
                continue
            title = html.escape(_seeds_title(row, key, digits), quote=True)
            tds.append(f'<td data-sort="{s.mean!r}" title="{title}">{inline(cell)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    return "\n".join(out) + "\n</tbody></table></div>"


def _figure(path: Path | None, task: str, alt: str | None = None) -> str:
    if path is None or not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = alt or f"per-seed excess loss vs headline on {task}"
    return f'<p><img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}"></p>'


def _files_list(rows: list[lb.Row], links: dict[tuple, str]) -> str:
    items = []
    for row in rows:
        files = " ".join(
            f'<a href="{html.escape(links[(r["task"], r["model"], r["seed"])], quote=True)}">seed {r["seed"]}</a>'
            for r in row.results if (r["task"], r["model"], r["seed"]) in links)
        items.append(f"<li>{inline(row.label)}: {files}</li>")
    return "<details><summary>result files</summary><ul>" + "".join(items) + "</ul></details>"


def render_html(results: list[dict], links: dict[tuple, str], figures: dict[str, Path] | None = None,
                stores: list[str] | None = None, finetune: Sequence[dict] = (),
                ablation: dict[str, list[dict]] | None = None) -> str:
    """The whole page. ``links``: (task, model, seed) -> the result file's path relative to
    the page; ``figures``: task (or ``"finetune"``) -> PNG file to embed; ``finetune``: the
    fine-tuning records."""
    grouped = lb.group_rows(results)
    md = lb.render(results, stores=stores).splitlines()
    intro_end = md.index("## Headline across tasks")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>rexbench leaderboard (suite v{SUITE_VERSION})</title>",
        f"<style>{STYLE}</style></head><body>",
        markdown_html(md[:intro_end]),
        f'<p class="meta">Suite version {html.escape(SUITE_VERSION)} · harness version '
        f"{html.escape(rexbench.benchmark.__version__)} · {len(results)} result files · click a column header to sort; "
        "hover a cell for its per-seed values.</p>",
        "<h2>Headline across tasks</h2>",
        markdown_html(lb.overall_table(grouped)),
    ]
    for task, rows in grouped.items():
        parts += [f'<h2 id="{html.escape(task)}">{html.escape(task)}</h2>', task_table_html(rows),
                  markdown_html(lb.bar_summary(rows)),
                  "<details><summary>per seed</summary>" + markdown_html(lb.per_seed_table(rows)) + "</details>"]
        held = lb.heldout_table(rows)
        if held:
            parts += ["<p>Regimes, on all headline prompts and on the held-out half (never trained on):</p>",
                      markdown_html(held)]
        parts += [markdown_html(lb.identifiability_summary(rows)), _files_list(rows, links),
                  _figure((figures or {}).get(task), task)]
        from rexbench.benchmark.capability_board import capability_section

        curves = capability_section(rows)
        if curves:
            parts += [markdown_html(curves), _figure((figures or {}).get(f"{task}{lb.CAPABILITY_SUFFIX}"), task,
                                                    f"capability over training on {task}")]
    from rexbench.benchmark.icl_board import icl_section

    icl = icl_section(grouped)
    if icl:
        parts += [markdown_html(icl), _figure((figures or {}).get("icl"), "ICL", "ICL accuracy against k")]
    if finetune:
        parts += [markdown_html(finetune_section(summarise(finetune))),
                  _figure((figures or {}).get("finetune"), "fine-tuning", "target excess loss over fine-tuning steps")]
    from rexbench.benchmark.capability_board import anchors_section

    anchors = anchors_section(grouped)
    if anchors:
        parts += [markdown_html(anchors)]
    if ablation:
        from rexbench.benchmark.ablation_board import ablation_section

        parts += [markdown_html(ablation_section(ablation))]
    parts += [f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(p for p in parts if p) + "\n"
