"""One self-contained ``report.html`` for a folder of runs (issue 21).

    python -m nasframe.report DIR --html          # or nasframe.report.html_report(DIR)

Everything is inline (base64 PNG figures, CSS, a few lines of JS to sort the
table), so the file opens from disk without a network or a server. Sections:
anytime curves per group (mean ± std over runs, against queries and, where the
runs spent them, simulated and wall seconds) with the table's optimum and the
validation-driven ceiling; the final table (sortable); the recommended
architecture of each group's best run, drawn (``nasframe.analysis.draw``) with
its FLOPs and parameters; Pareto fronts of multi-objective runs; scatter plots
and rank correlations of ``nasframe.analysis.correlate`` outputs; learning curves
of ledger lines whose report carries a per-epoch ``curve``.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from nasframe.analysis.aggregate import (RunRecord, anytime, anytime_seconds, find_runs, group, grouping_keys,
                                         mean_std, metric, metric_names)
from nasframe.core.evaluator import Objective
from nasframe.errors import NasframeError

CURVE_KEY = "curve"  # a ledger line's report[CURVE_KEY]: per-epoch numbers, or dicts of numbers per epoch
WALL_SECONDS_WORTH_DRAWING = 1.0  # a wall-clock axis only when runs spent real time evaluating

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;
border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}.meta{color:#666;font-size:13px}
img{max-width:100%;height:auto}table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f3f5f8;cursor:pointer;user-select:none}
td.k,th.k{text-align:left}tr:nth-child(even) td{background:#fafbfc}th[data-dir=asc]::after{content:" ▲"}
th[data-dir=desc]::after{content:" ▼"}.archs{display:flex;flex-wrap:wrap;gap:16px}
.arch{border:1px solid #e3e3e3;border-radius:6px;padding:8px;width:360px;font-size:12px}
.arch code{word-break:break-all;font-size:11px}.scroll{overflow-x:auto}.note{color:#8a5a00;font-size:13px}
"""
# errors of the page itself land in the DOM (a headless browser's --dump-dom can read them)
_TRAP = """window.addEventListener('error',function(e){var d=document.documentElement;
d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+' | '+e.message)});
(function(){var c=console.error;console.error=function(){var d=document.documentElement;
d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+' | '+Array.prototype.join.call(arguments,' '));
c.apply(console,arguments)}})();"""
_SORT = """document.querySelectorAll('table.sortable').forEach(function(t){
t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
var dir=th.getAttribute('data-dir')==='asc'?'desc':'asc';t.querySelectorAll('th').forEach(function(h){
h.removeAttribute('data-dir')});th.setAttribute('data-dir',dir);var b=t.tBodies[0],rows=Array.from(b.rows);
function v(r){var c=r.cells[i],x=c.getAttribute('data-v');if(x===null)x=c.textContent;var n=parseFloat(x);
return isNaN(n)?x:n}rows.sort(function(a,z){var x=v(a),y=v(z),c=(typeof x==='number'&&typeof y==='number')?
x-y:String(x).localeCompare(String(y));return dir==='asc'?c:-c});rows.forEach(function(r){b.appendChild(r)})})})});
document.documentElement.setAttribute('data-ready','1');"""


# ---------------------------------------------------------------- helpers

def esc(x) -> str:
    return html.escape(str(x))


def fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def figure_png(fig) -> str:
    """An ``<img>`` holding the figure as base64 PNG; the figure is closed."""
    from nasframe.analysis.plots import _pyplot

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    _pyplot().close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def group_label(keys, gkey) -> str:
    return ", ".join(str(v) for v in gkey if v is not None) or "all runs"


def relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root)) or "."
    except ValueError:
        return Path(path).name


def best_member(members: list[RunRecord]) -> RunRecord:
    obj = Objective(**members[0].summary["objectives"][0])
    return max(members, key=lambda r: obj.utility((r.summary.get("values") or {}).get(obj.name)))


def build_space(config: dict):
    """The run's space from its recorded (already resolved) config."""
    from hydra.utils import instantiate

    node = config.get("space")
    if not isinstance(node, dict) or "_target_" not in node:
        raise NasframeError("the run's config has no space _target_")
    return instantiate(node, _convert_="all")


def task_of(config: dict):
    bench = config.get("benchmark") or {}
    return bench.get("task") or bench.get("dataset")


class Tables:
    """Benchmark tables the runs were measured on, loaded once per (space, benchmark, data) config."""

    def __init__(self):
        self._loaded: dict[str, object] = {}

    def get(self, config: dict):
        """The run's ``Benchmark``; raises NasframeError (e.g. DataNotFound) when it cannot be loaded."""
        from nasframe.benchmarks import find_benchmark

        bench = config.get("benchmark") or {}
        key = json.dumps([config.get("space"), bench, config.get("data")], sort_keys=True, default=str)
        if key not in self._loaded:
            try:
                self._loaded[key] = find_benchmark(build_space(config), task_of(config),
                                                   root=(config.get("data") or {}).get("root"),
                                                   path=bench.get("path"),
                                                   epoch_mode=bench.get("epoch_mode", "final"))
            except NasframeError as e:
                self._loaded[key] = e
        found = self._loaded[key]
        if isinstance(found, Exception):
            raise found
        return found

    def reference(self, run: RunRecord) -> dict | None:
        """The table's best value of the run's primary objective, and the report values of that
        architecture (the ceiling a search on validation can reach); None when the run's values
        do not come from a table it can load."""
        if not run.key("measured_by").startswith("lookup"):
            return None
        try:
            b = self.get(run.config)
        except NasframeError:
            return None
        if b.objective.name != run.summary["objectives"][0]["name"]:
            return None
        col = np.asarray(b.table.column(b.value_column), dtype=float)
        if not np.isfinite(col).any():
            return None
        i = int(np.nanargmax(col) if b.objective.direction == "max" else np.nanargmin(col))
        ceiling = {name: float(b.table.column(c)[i]) for name, c in b.report_columns.items()}
        best_report = {name: float(np.nanmax(b.table.column(c))) for name, c in b.report_columns.items()}
        return {"optimum": float(col[i]), "ceiling": ceiling, "report_best": best_report}

    def percentile(self, run: RunRecord) -> float:
        """Percentile of the run's recommended value among the whole table (TransNAS "Perc.")."""
        from nasframe.analysis.percentile import benchmark_percentile

        b = self.get(run.config)
        value = (run.summary.get("values") or {}).get(b.objective.name)
        return math.nan if value is None else benchmark_percentile(b, value)


# ---------------------------------------------------------------- sections

def anytime_section(runs, keys, tables: Tables) -> str:
    from nasframe.analysis.plots import _pyplot

    plt = _pyplot()
    groups = group(runs, keys)
    by_objective: dict[str, list] = {}
    for gkey, members in groups.items():
        by_objective.setdefault(members[0].key("objective"), []).append((gkey, members))
    out = ["<h2>Anytime performance</h2>",
           ('<p class="meta">Best value so far of the recommended-by-then architecture: mean over the runs of '
            "each group, band ± one std. Report-only values (test) are those of the incumbent chosen on the "
            "searched value.</p>")]
    for label, entries in by_objective.items():
        members0 = entries[0][1][0]
        obj = Objective(**members0.summary["objectives"][0])
        report_keys = [k for k in metric_names([m for _, ms in entries for m in ms]) if k.startswith("report.")]
        ref = next((r for _, ms in entries if (r := tables.reference(ms[0])) is not None), None)
        panels = [("queries", None, None)] + [("queries", k.split(".", 1)[1], None) for k in report_keys[:2]]
        for which in ("sim", "wall"):
            seconds = [anytime_seconds(ms, which) for _, ms in entries]
            if any(s is not None for s in seconds):
                longest = max(s[0][-1] for s in seconds if s is not None)
                if which == "sim" or longest >= WALL_SECONDS_WORTH_DRAWING:
                    panels.append((which, None, seconds))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.6), squeeze=False)
        for ax, (x_kind, rkey, seconds) in zip(axes[0], panels):
            lows = []  # the band a tenth of the way in: the first few random queries would flatten the rest
            for gi, (gkey, members) in enumerate(entries):
                color = f"C{gi % 10}"
                if x_kind == "queries":
                    xs, mean, std = anytime(members, rkey)
                else:
                    if seconds[gi] is None:
                        continue
                    xs, mean, std = seconds[gi]
                if len(xs) == 0:
                    continue
                ax.plot(xs, mean, color=color, lw=1.5, label=f"{group_label(keys, gkey)} (n={len(members)})")
                ax.fill_between(xs, mean - std, mean + std, color=color, alpha=0.15, lw=0)
                band = (mean - std)[len(xs) // 10:]
                if np.isfinite(band).any():
                    lows.append(float(np.nanmin(band)))
            if ref is not None:
                if rkey is None:
                    ax.axhline(ref["optimum"], color="k", ls="--", lw=1, label=f"table optimum {ref['optimum']:.4g}")
                elif rkey in ref["ceiling"]:
                    ax.axhline(ref["ceiling"][rkey], color="k", ls="--", lw=1,
                               label=f"ceiling (best {obj.name}) {ref['ceiling'][rkey]:.4g}")
                    ax.axhline(ref["report_best"][rkey], color="0.5", ls=":", lw=1,
                               label=f"table best {rkey} {ref['report_best'][rkey]:.4g}")
            if lows and obj.direction == "max":  # (a minimised objective keeps matplotlib's limits)
                bottom, top = ax.get_ylim()
                low = min(lows)
                ax.set_ylim(max(bottom, low - 0.1 * (top - low)), top)
            ax.set_xlabel({"queries": "queries", "sim": "simulated seconds (evaluation cost)",
                           "wall": "wall seconds (evaluations)"}[x_kind])
            if x_kind != "queries":
                ax.set_xscale("log")
            ax.set_ylabel(f"best {obj.name}" if rkey is None else f"{rkey} of incumbent")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
        fig.suptitle(f"objective: {label}", fontsize=10)
        fig.tight_layout()
        out.append(figure_png(fig))
    return "\n".join(out)


def table_section(runs, keys, root: Path, tables: Tables) -> str:
    keys = grouping_keys(runs, keys)
    metrics = metric_names(runs)
    with_percentile = []
    for r in runs:
        try:
            tables.get(r.config)
            with_percentile.append(r.key("space") in ("transnas_micro", "transnas_macro"))
        except NasframeError:
            with_percentile.append(False)
    show_percentile = any(with_percentile)
    head = [*(f'<th class="k">{esc(k)}</th>' for k in keys), "<th>runs</th>",
            *(f"<th>{esc(m)}<br><small>mean ± std</small></th>" for m in metrics)]
    if show_percentile:
        head.append("<th>percentile<br><small>mean ± std</small></th>")
    head += ['<th class="k">best run</th>', "<th>its value</th>"]
    body = []
    for gkey, members in group(runs, keys).items():
        cells = [f'<td class="k">{esc(fmt(v))}</td>' for v in gkey] + [f"<td>{len(members)}</td>"]
        for m in metrics:
            mu, sd = mean_std(metric(r, m) for r in members)
            cells.append(f'<td data-v="{mu}">{fmt(mu)} ± {fmt(sd)}</td>' if not math.isnan(mu) else
                         '<td data-v="">–</td>')
        if show_percentile:
            values = []
            for r in members:
                try:
                    values.append(tables.percentile(r))
                except NasframeError:
                    values.append(math.nan)
            mu, sd = mean_std(values)
            cells.append(f'<td data-v="{mu}">{fmt(mu)} ± {fmt(sd)}</td>')
        best = best_member(members)
        obj = best.summary["objectives"][0]["name"]
        value = (best.summary.get("values") or {}).get(obj)
        cells += [f'<td class="k">{esc(relative(best.path, root))}</td>',
                  f'<td data-v="{value}">{obj}={fmt(value)}</td>']
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ("<h2>Final table</h2>"
            '<p class="meta">Recommended architecture of each run: searched values and report-only values '
            "(test), mean ± sample std over the runs of a group. Click a column to sort.</p>"
            f'<div class="scroll"><table class="sortable"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def architectures_section(runs, keys, root: Path) -> str:
    from nasframe.analysis.draw import complexity, draw_architecture
    from nasframe.analysis.plots import _pyplot

    plt = _pyplot()
    cards, spaces = [], {}
    for gkey, members in group(runs, keys).items():
        best = best_member(members)
        text = best.summary.get("recommended")
        if text is None:
            continue
        space_name = best.key("space")
        key = json.dumps(best.config.get("space"), sort_keys=True, default=str)
        info = [f"<b>{esc(group_label(keys, gkey))}</b> — best of {len(members)} run(s): "
                + esc(relative(best.path, root)), f"<code>{esc(text)}</code>"]
        values = {**(best.summary.get("values") or {}), **{k: v for k, v in (best.summary.get("report") or {}).items()
                                                            if isinstance(v, (int, float))}}
        info.append(" · ".join(f"{esc(k)} {fmt(v)}" for k, v in values.items()))
        img = ""
        try:
            if key not in spaces:
                spaces[key] = build_space(best.config)
            space = spaces[key]
            arch = space.parse(text)
            try:
                cx = complexity(space, arch, task_of(best.config))
                if cx:
                    info.append(" · ".join(f"{k} {v:.4g}" for k, v in cx.items()))
            except NasframeError as e:  # e.g. a task the space builds no network for
                info.append(f'<span class="note">no FLOPs/params: {esc(e)}</span>')
            fig, ax = plt.subplots(figsize=(3.6, 2.2))
            if draw_architecture(space_name, space, arch, ax):
                fig.tight_layout()
                img = figure_png(fig)
            else:
                plt.close(fig)
        except Exception as e:  # a drawing is a courtesy; the string above stays the record
            info.append(f'<span class="note">not drawn: {esc(type(e).__name__)}: {esc(e)}</span>')
        cards.append(f'<div class="arch">{img}<div>{"<br>".join(info)}</div></div>')
    if not cards:
        return ""
    return "<h2>Recommended architectures</h2><div class=\"archs\">" + "".join(cards) + "</div>"


def pareto_section(runs, keys) -> str:
    from nasframe.analysis.pareto import hypervolume, pareto_mask
    from nasframe.analysis.pareto_report import TrueFront, run_points
    from nasframe.analysis.plots import _pyplot

    multi = [r for r in runs if len(r.summary.get("objectives", [])) > 1]
    if not multi:
        return ""
    plt = _pyplot()
    out = ["<h2>Pareto fronts</h2>"]
    by_objective: dict[str, list] = {}
    for r in multi:
        by_objective.setdefault(r.key("objective"), []).append(r)
    for label, members_all in by_objective.items():
        objectives = [Objective(**o) for o in members_all[0].summary["objectives"]]
        try:
            truth = TrueFront(members_all[0].config)
            note = ""
        except Exception as e:  # e.g. a space that cannot be enumerated
            truth, note = None, f"no true front ({type(e).__name__}: {e}); hypervolumes over the runs' own range"
        points = {id(r): run_points(r, objectives) for r in members_all}
        signs = np.array([1.0 if o.direction == "max" else -1.0 for o in objectives])
        if truth is None:
            allu = np.vstack([points[id(r)] for r in members_all]) * signs
            lo, hi = allu.min(axis=0), allu.max(axis=0)

            def hv(p, lo=lo, hi=hi, signs=signs):
                u = (np.asarray(p) * signs - lo) / np.where(hi > lo, hi - lo, 1.0)
                return hypervolume(u, np.zeros(len(signs)) - 1e-12) if len(u) else 0.0
            best_hv = math.nan
        else:
            hv, best_hv = truth.hypervolume, truth.best_hypervolume
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        x, y = (1, 0) if len(objectives) > 1 else (0, 0)
        if truth is not None:
            ax.scatter(truth.values[:, x], truth.values[:, y], s=2, c="0.85", label="all architectures",
                       rasterized=True)
            f = truth.values[truth.front]
            f = f[np.argsort(f[:, x])]
            ax.step(f[:, x], f[:, y], where="post", c="k", lw=1.2, label=f"true front ({len(f)})")
        rows = []
        for gi, (gkey, members) in enumerate(group(members_all, keys).items()):
            pts = np.vstack([points[id(r)] for r in members])
            front = pts[pareto_mask(pts * signs)] if len(pts) else pts
            front = front[np.argsort(front[:, x])]
            ax.step(front[:, x], front[:, y], where="post", lw=1, color=f"C{gi % 10}",
                    label=f"{group_label(keys, gkey)} (front of {len(members)} runs)")
            ax.scatter(pts[:, x], pts[:, y], s=6, alpha=0.35, color=f"C{gi % 10}")
            m, s = mean_std([hv(points[id(r)]) for r in members])
            rows.append((group_label(keys, gkey), len(members), m, s, m / best_hv if best_hv else math.nan))
        ax.set_xlabel(f"{objectives[x].name} ({objectives[x].direction})")
        ax.set_ylabel(f"{objectives[y].name} ({objectives[y].direction})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        out.append(f"<h3>{esc(label)}</h3>")
        if note:
            out.append(f'<p class="note">{esc(note)}</p>')
        out.append(figure_png(fig))
        out.append('<table class="sortable"><thead><tr><th class="k">group</th><th>runs</th>'
                   "<th>hypervolume (mean ± std)</th><th>of true front</th></tr></thead><tbody>")
        for g, n, m, s, ratio in rows:
            out.append(f'<tr><td class="k">{esc(g)}</td><td>{n}</td><td data-v="{m}">{fmt(m)} ± {fmt(s)}</td>'
                       f'<td data-v="{ratio}">{fmt(100 * ratio)}%</td></tr>')
        out.append("</tbody></table>")
        if truth is not None:
            out.append(f'<p class="meta">true front: {int(truth.front.sum())} architectures, hypervolume '
                       f"{best_hv:.4f} (objectives scaled to [0, 1] over the whole space)</p>")
    return "\n".join(out)


def correlation_section(root: Path) -> str:
    """Scatter and rank correlations of every ``nasframe.analysis.correlate`` output under ``root``."""
    from nasframe.analysis.plots import _pyplot

    found = sorted(p for p in root.rglob("correlation.json") if (p.parent / "scores.csv").exists())
    if not found:
        return ""
    plt = _pyplot()
    out = ["<h2>Proxy and predictor correlations</h2>",
           ('<table class="sortable"><thead><tr><th class="k">study</th><th class="k">evaluator</th><th>n</th>'
            "<th>failures</th><th>val ρ</th><th>val τ</th><th>test ρ</th><th>test τ</th><th>s / arch</th></tr>"
            "</thead><tbody>")]
    figures = []
    for path in found:
        result = json.loads(path.read_text())
        val, test = result.get("val") or {}, result.get("test") or {}
        name = relative(path.parent, root)
        out.append(f'<tr><td class="k">{esc(name)}</td><td class="k">{esc(result.get("label", ""))}</td>'
                   f"<td>{result.get('n')}</td><td>{result.get('failures')}</td>"
                   + "".join(f'<td data-v="{c.get(k, "")}">{fmt(c.get(k))}</td>'
                             for c in (val, test) for k in ("spearman", "kendall"))
                   + f"<td>{fmt(result.get('cost_per_arch_s'))}</td></tr>")
        with open(path.parent / "scores.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        test_key = next((k for k in (rows[0] if rows else {}) if k.startswith("report.")), None)
        targets = [("val", "validation", val)] + ([(test_key, "test", test)] if test_key else [])
        fig, axes = plt.subplots(1, len(targets), figsize=(4.3 * len(targets), 3.4), squeeze=False)
        score = np.array([_num(r.get("score")) for r in rows])
        for ax, (key, title, corr) in zip(axes[0], targets):
            ax.scatter(score, [_num(r.get(key)) for r in rows], s=4, alpha=0.5, rasterized=True)
            ax.set_title(f"{name}: {title} ρ={fmt(corr.get('spearman'))} τ={fmt(corr.get('kendall'))}", fontsize=9)
            ax.set_xlabel(f"{result.get('label', '')} ({result.get('objective', 'score')}, higher = better)")
            ax.set_ylabel(f"{title} value")
            finite = score[np.isfinite(score)]
            if finite.size and finite.min() > 0 and finite.max() / finite.min() > 1e3:
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
        fig.tight_layout()
        figures.append(figure_png(fig))
    out.append("</tbody></table>")
    return "\n".join(out + figures)


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def epoch_series(curve) -> dict[str, list[float]]:
    """A ledger ``curve`` as ``{metric: per-epoch values}``: a list of numbers is one metric ("value");
    a list of dicts gives one series per numeric key (``epoch`` is the x axis, not a series)."""
    if not isinstance(curve, list) or not curve:
        return {}
    if all(isinstance(v, (int, float)) or v is None for v in curve):
        return {"value": [_num(v) for v in curve]}
    series: dict[str, list[float]] = {}
    for i, point in enumerate(curve):
        if not isinstance(point, dict):
            raise NasframeError(f"a learning curve mixes numbers and {type(point).__name__}s at epoch {i}")
        for k, v in point.items():
            if k != "epoch" and (isinstance(v, (int, float)) or v is None):
                series.setdefault(k, [math.nan] * i).append(_num(v))
        for values in series.values():
            values.extend([math.nan] * (i + 1 - len(values)))
    return series


def learning_curves_section(runs, keys, most: int = 8) -> str:
    """Per group: the per-epoch curves of the best run's ``most`` best-scored architectures."""
    from nasframe.analysis.plots import _pyplot

    plt = _pyplot()
    out = []
    for gkey, members in group(runs, keys).items():
        best = best_member(members)
        obj = Objective(**best.summary["objectives"][0])
        trained = [r for r in best.history() if r.get("phase", "search") == "search"
                   and isinstance((r.get("report") or {}).get(CURVE_KEY), list)]
        if not trained:
            continue
        trained.sort(key=lambda r: -obj.utility(None if r.get("failure") else r["values"].get(obj.name)))
        chosen = trained[:most]
        series = [epoch_series(r["report"][CURVE_KEY]) for r in chosen]
        names = list(dict.fromkeys(k for s in series for k in s))
        fig, axes = plt.subplots(1, len(names), figsize=(4.3 * len(names), 3.4), squeeze=False)
        for ax, name in zip(axes[0], names):
            for i, (r, s) in enumerate(zip(chosen, series)):
                if name in s:
                    ax.plot(range(1, len(s[name]) + 1), s[name], lw=1.2, color=f"C{i % 10}",
                            label=f"{r['arch'][:38]} ({obj.name}={fmt(r['values'].get(obj.name))})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.tight_layout()
        out += [f"<h3>{esc(group_label(keys, gkey))}</h3>",
                (f'<p class="meta">{len(chosen)} of the {len(trained)} trained architectures of the best run, '
                 f"best {obj.name} first.</p>"), figure_png(fig)]
    if not out:
        return ""
    return "<h2>Learning curves</h2>\n" + "\n".join(out)


# ---------------------------------------------------------------- the page

def render(root: Path, runs: list[RunRecord], keys: list[str], unfinished=()) -> str:
    parts = [f"<h1>nasframe report</h1><p class=\"meta\">{esc(root.name or root)} · {len(runs)} run(s)"]
    if runs:
        keys = grouping_keys(runs, keys)
        tables = Tables()
        studies = sum(1 for r in runs if r.workers)
        if studies:
            parts.append(f" (of which {studies} shared stud{'y' if studies == 1 else 'ies'}, each counted once)")
        parts.append(f" · {len(group(runs, keys))} group(s) by {esc(', '.join(keys))}")
    if unfinished:
        parts.append(f" · {len(unfinished)} unfinished run(s) left out")
    parts.append("</p>")
    if runs:
        parts += [anytime_section(runs, keys, tables), table_section(runs, keys, root, tables),
                  architectures_section(runs, keys, root), pareto_section(runs, keys),
                  learning_curves_section(runs, keys)]
    parts.append(correlation_section(root))
    body = "\n".join(p for p in parts if p)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>nasframe report: "
            f"{esc(root.name)}</title><script>{_TRAP}</script><style>{_CSS}</style></head><body>\n{body}\n"
            f"<script>{_SORT}</script></body></html>\n")


def html_report(root, keys: list[str] | None = None, out=None) -> Path:
    """Write the report of the runs under ``root`` to ``out`` (default ``root/report.html``); return its path."""
    from nasframe.analysis.aggregate import default_keys
    from nasframe.core.ledger import atomic_write_bytes
    from nasframe.errors import ConfigError

    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder; give the run or sweep folder to report on")
    runs, unfinished = find_runs(root)
    if not runs and not any(root.rglob("correlation.json")):
        raise ConfigError(f"no finished runs (summary.json) under {root}; give a folder that holds runs")
    keys = list(keys) if keys else (default_keys(runs) if runs else ["strategy"])
    path = Path(out) if out else root / "report.html"
    atomic_write_bytes(path, render(root, runs, keys, unfinished).encode())
    return path
