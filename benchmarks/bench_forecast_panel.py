"""Forecast panel benchmark: real series of mixed lengths and frequencies, hourly to yearly.

    python benchmarks/bench_forecast_panel.py [--jobs 2] [--prophet] [--unseen] [--max-per-group N] [--json]

Issue 21: does ``auto_forecast`` hold up on the series a user really has, short ones included?

* **Data** (all real, shipped with packages or in ``../shared/data/real``): statsmodels'
  data sets (macrodata: 12 quarterly US series; World Bank fertility: 12 countries, yearly;
  Nile and sunspots, yearly; El Nino sea temperatures and CO2, monthly and weekly), Prophet's
  examples (air passengers and retail sales, monthly; Peyton Manning, R and pedestrians, daily;
  two pedestrian counters and Yosemite temperatures, hourly) and NAB's Twitter volumes and AWS
  CloudWatch metrics (summed or averaged to hourly). Every series also enters **truncated**:
  its first 40 % and its first ``2 h + season // 2 + 3`` steps (a new team's history), so
  about a third of the panel is short.
* **Protocol**: the last ``h`` steps of each series are held out (h: yearly 6, quarterly 8,
  monthly 18, weekly 13, daily 14, hourly 48, as in M4); ``auto_forecast`` (default candidates,
  3 windows, levels 80 and 95) sees the rest, one panel per frequency.
* **Scores**: MASE per series (MAE over the in-sample MAE of the seasonal naive forecast, lag 1
  when the history is shorter than a season), its mean over series; coverage of the 80 % and
  95 % intervals over all held-out values. References on the same holdout: seasonal naive (the
  last season repeated) and, with ``--prophet``, default Prophet.

The JSON line holds ``series``, ``failed_series`` (series without a forecast), ``coverage_80``,
``coverage_95`` (and ``*_late``: the second half of each horizon), ``mase``, ``mase_ratio_to_snaive``, ``share_better_than_snaive``,
``mase_ratio_to_prophet`` (null without ``--prophet``), ``gmean_ratio_to_snaive`` (the geometric
mean of each series' MASE over seasonal naive's: no single series dominates it), ``seconds`` and
``seconds_per_series``. ``--unseen`` also scores 65 hourly NAB series the panel does not use (ad
exchange, traffic, known-cause and artificial files, the same protocol; ``unseen_*`` keys): they
check that a change which helps the panel is not tuned to it.
"""
from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, Report, parser

from analytics_lib.core.errors import WorkbenchError
from analytics_lib.forecast.selection import auto_forecast

REAL = ROOT.parent / "shared" / "data" / "real"
#: frequency group -> (pandas frequency, season, horizon)
GROUPS = {"yearly": ("YS", 1, 6), "quarterly": ("QS", 4, 8), "monthly": ("MS", 12, 18),
          "weekly": ("W-SAT", 52, 13), "daily": ("D", 7, 14), "hourly": ("h", 24, 48)}


def _frame(uid: str, ds, y) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": uid, "ds": pd.DatetimeIndex(ds), "y": np.asarray(y, dtype="float64")})
    return out.dropna(subset=["ds"]).sort_values("ds").reset_index(drop=True)


def _statsmodels() -> dict[str, list[pd.DataFrame]]:
    import statsmodels.api as sm

    out: dict[str, list[pd.DataFrame]] = {g: [] for g in GROUPS}
    macro = sm.datasets.macrodata.load_pandas().data
    q = pd.PeriodIndex.from_fields(year=macro["year"].astype(int), quarter=macro["quarter"].astype(int), freq="Q")
    for col in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop",
                "infl", "realint"):
        out["quarterly"].append(_frame(f"macro_{col}", q.to_timestamp(), macro[col]))
    fert = sm.datasets.fertility.load_pandas().data.set_index("Country Name")
    years = [c for c in fert.columns if c.isdigit()]
    complete = fert[years].dropna(axis=1, how="all").dropna()
    years = list(complete.columns)
    for country in complete.index[::max(1, len(complete) // 12)][:12]:
        out["yearly"].append(_frame(f"fertility_{country}", pd.to_datetime(years, format="%Y"), complete.loc[country]))
    nile = sm.datasets.nile.load_pandas().data
    out["yearly"].append(_frame("nile", pd.to_datetime(nile["year"].astype(int).astype(str), format="%Y"), nile["volume"]))
    sun = sm.datasets.sunspots.load_pandas().data
    out["yearly"].append(_frame("sunspots", pd.to_datetime(sun["YEAR"].astype(int).astype(str), format="%Y"),
                                sun["SUNACTIVITY"]))
    nino = sm.datasets.elnino.load_pandas().data.set_index("YEAR").stack()
    ds = pd.to_datetime([f"{int(y)}-{m}-01" for y, m in nino.index], format="%Y-%b-%d")
    out["monthly"].append(_frame("elnino", ds, nino.to_numpy()))
    co2 = sm.datasets.co2.load_pandas().data["co2"]
    out["weekly"].append(_frame("co2", co2.index, co2.to_numpy()))
    return out


def _shared() -> dict[str, list[pd.DataFrame]]:
    out: dict[str, list[pd.DataFrame]] = {g: [] for g in GROUPS}
    prophet = REAL / "prophet"
    for name, group in (("example_air_passengers", "monthly"), ("example_retail_sales", "monthly"),
                        ("example_wp_log_peyton_manning", "daily"), ("example_wp_log_R", "daily"),
                        ("example_pedestrians_covid", "daily")):
        df = pd.read_csv(prophet / f"{name}.csv")
        out[group].append(_frame(name.removeprefix("example_"), pd.to_datetime(df["ds"]), df["y"]))
    multi = pd.read_csv(prophet / "example_pedestrians_multivariate.csv", parse_dates=["ds"])
    for col in ("location_4", "location_41"):
        out["hourly"].append(_frame(f"pedestrians_{col}", multi["ds"], multi[col]))
    yos = pd.read_csv(prophet / "example_yosemite_temps.csv", parse_dates=["ds"]).set_index("ds")["y"]
    hourly = yos.resample("h").mean()
    out["hourly"].append(_frame("yosemite_temps", hourly.index, hourly.to_numpy()))
    for folder, how in (("realTweets", "sum"), ("realAWSCloudwatch", "mean")):
        out["hourly"] += [_frame(f"nab_{stem}", s.index, s.to_numpy()) for stem, s in _nab_hourly(folder, how)]
    return out


def _nab_hourly(folder: str, how: str) -> list[tuple[str, pd.Series]]:
    """``(file stem, hourly series)`` for each NAB file of ``folder``: 5-minute values summed (counts)
    or averaged (``how``) to hours; an hour without any row is missing, not zero."""
    out = []
    for path in sorted((REAL / "nab" / "data" / folder).glob("*.csv")):
        s = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")["value"].resample("h")
        out.append((path.stem, s.sum(min_count=1) if how == "sum" else s.mean()))
    return out


#: NAB folders the panel does not use: the ``--unseen`` check of generality (never used to tune).
UNSEEN_NAB = ("realAdExchange", "realTraffic", "realKnownCause", "artificialWithAnomaly", "artificialNoAnomaly")


def _with_truncations(frames: list[pd.DataFrame], group: str) -> pd.DataFrame:
    """Every series, its first 40 % and a new team's ``2 h + season // 2 + 3`` steps."""
    _, season, h = GROUPS[group]
    parts = []
    for f in frames:
        parts.append(f)
        n = len(f)
        for tag, keep in (("first40", int(n * 0.4)), ("new", 2 * h + season // 2 + 3)):
            if h + 2 <= keep < n - h:
                parts.append(f.iloc[:keep].assign(unique_id=f"{f['unique_id'].iloc[0]}~{tag}"))
    return pd.concat(parts, ignore_index=True)


def real_panel(max_per_group: int | None = None) -> dict[str, pd.DataFrame]:
    """Per frequency group, the long frame of every series and its truncated copies."""
    sm_, sh = _statsmodels(), _shared()
    return {g: _with_truncations((sm_[g] + sh[g])[:max_per_group], g) for g in GROUPS}


def unseen_panel() -> pd.DataFrame:
    """The NAB files of :data:`UNSEEN_NAB` averaged to hourly, with their truncated copies."""
    frames = [_frame(f"{folder}/{stem}", s.index, s.to_numpy())
              for folder in UNSEEN_NAB for stem, s in _nab_hourly(folder, "mean")]
    return _with_truncations(frames, "hourly")


def _split(panel: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rank = panel.groupby("unique_id").cumcount(ascending=False)
    return panel[rank >= h].reset_index(drop=True), panel[rank < h].reset_index(drop=True)


def _scale(train: pd.DataFrame, season: int) -> pd.Series:
    """In-sample MAE of the seasonal naive forecast per series (lag 1 when no longer than a season, as
    ``forecast_metrics``)."""
    def one(y: pd.Series) -> float:
        m = season if len(y) > season else 1
        d = y.diff(m).abs().mean()
        return d if d > 0 else np.nan
    return train.groupby("unique_id")["y"].apply(one)


def _snaive(train: pd.DataFrame, test: pd.DataFrame, season: int) -> pd.Series:
    out = []
    for uid, g in test.groupby("unique_id", sort=True):
        y = train.loc[train["unique_id"] == uid, "y"].interpolate(limit_direction="both").to_numpy()
        m = season if len(y) > season else 1
        out.append(pd.Series(y[-m:][np.arange(len(g)) % m], index=g.index))
    return pd.concat(out)


def _prophet(train: pd.DataFrame, test: pd.DataFrame, freq: str) -> pd.Series:
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.WARNING)
    out = []
    for uid, g in test.groupby("unique_id", sort=True):
        tr = train.loc[train["unique_id"] == uid, ["ds", "y"]].dropna()
        try:
            fc = Prophet().fit(tr).predict(g[["ds"]])["yhat"].to_numpy()
        except Exception:  # noqa: BLE001 - Prophet cannot fit some short series: the naive forecast stands in
            fc = np.full(len(g), tr["y"].iloc[-1])
        out.append(pd.Series(fc, index=g.index))
    return pd.concat(out)


def evaluate(group: str, panel: pd.DataFrame, *, jobs: int, prophet: bool) -> pd.DataFrame:
    """One row per series of the group: MASE of ours / seasonal naive / Prophet and interval hits."""
    freq, season, h = GROUPS[group]
    train, test = _split(panel, h)
    t0 = time.perf_counter()
    failed: list[str] = []
    try:
        res = auto_forecast(train, horizon=h, granularity=freq, season=season, n_jobs=jobs, level=[80, 95])
        fc = res.forecast
        sel = res.selection.set_index("unique_id")
    except WorkbenchError as exc:  # the whole panel failed: count every series as failed
        print(f"{group}: {exc}", file=sys.stderr)
        fc, sel, failed = pd.DataFrame(columns=["unique_id", "ds"]), pd.DataFrame(), sorted(panel["unique_id"].unique())
    seconds = time.perf_counter() - t0
    test = test.merge(fc, on=["unique_id", "ds"], how="left")
    test["snaive"] = _snaive(train, test, season)
    if prophet:
        test["prophet"] = _prophet(train, test, freq)
    scale = _scale(train, season)
    rows = []
    for uid, g in test.groupby("unique_id", sort=True):
        ok = g["y"].notna()
        y = g.loc[ok, "y"]
        row = {"group": group, "unique_id": uid, "n_train": int((train["unique_id"] == uid).sum()),
               "failed": uid in failed or g["forecast"].isna().all(), "seconds": seconds / test["unique_id"].nunique()}
        for name, col in (("ours", "forecast"), ("snaive", "snaive"), ("prophet", "prophet")):
            if col in g:
                row[f"mase_{name}"] = float((y - g.loc[ok, col]).abs().mean() / scale.get(uid, np.nan))
        late = (np.arange(len(g)) >= len(g) // 2)[ok.to_numpy()]  # the second half of the horizon
        for lv in (80, 95):
            if f"lo-{lv}" in g:
                hit = ((y >= g.loc[ok, f"lo-{lv}"]) & (y <= g.loc[ok, f"hi-{lv}"])).to_numpy()
                row[f"hits_{lv}"], row[f"hits_{lv}_late"] = int(hit.sum()), int(hit[late].sum())
        row["points"], row["points_late"] = int(ok.sum()), int(late.sum())
        row["model"] = sel["model"].get(uid) if len(sel) else None
        row["fallback"] = sel["fallback"].get(uid) if len(sel) else None
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--prophet", action="store_true", help="also score default Prophet (about 1 s per series)")
    p.add_argument("--max-per-group", type=int, default=None, help="series per frequency before truncation (a quick run)")
    p.add_argument("--details", type=Path, default=None,
                   help="write the per-series scores to this CSV (with --unseen, also NAME-unseen.csv)")
    p.add_argument("--unseen", action="store_true",
                   help="also score 65 hourly NAB series the panel does not use (a check of generality)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    panels = real_panel(args.max_per_group)
    t0 = time.perf_counter()
    scores = pd.concat([evaluate(g, panel, jobs=args.jobs, prophet=args.prophet) for g, panel in panels.items()],
                       ignore_index=True)
    seconds = time.perf_counter() - t0
    if args.details:
        scores.to_csv(args.details, index=False)
    ok = scores[~scores["failed"]]
    r = Report(f"bench_forecast_panel: {len(scores)} real series ({int(scores['fallback'].fillna('').ne('').sum())} "
               "with a short-history fallback), hourly to yearly")
    for group, g in ok.groupby("group", sort=False):
        r.add(f"MASE, {group} ({len(g)} series)", g["mase_ours"].mean(), g["mase_snaive"].mean(),
              g["mase_ours"].mean() / g["mase_snaive"].mean(), "")
    mase, snaive = ok["mase_ours"].mean(), ok["mase_snaive"].mean()
    better = float((ok["mase_ours"] < ok["mase_snaive"]).mean())
    r.add("MASE, all series (ref: seasonal naive)", mase, snaive, mase / snaive, "ratio <= 0.9")
    r.add("share of series better than seasonal naive", better, None, None, ">= 0.75")
    ratio_prophet = None
    if "mase_prophet" in ok:
        ratio_prophet = mase / ok["mase_prophet"].mean()
        r.add("MASE, all series (ref: Prophet)", mase, ok["mase_prophet"].mean(), ratio_prophet, "")
    cov80 = ok["hits_80"].sum() / ok["points"].sum()
    cov95 = ok["hits_95"].sum() / ok["points"].sum()
    r.add("coverage of the 80% interval", cov80, 0.80, None, "0.75-0.85")
    r.add("coverage of the 95% interval", cov95, 0.95, None, "0.91-0.98")
    cov80_late = ok["hits_80_late"].sum() / ok["points_late"].sum()
    cov95_late = ok["hits_95_late"].sum() / ok["points_late"].sum()
    r.add("coverage 80%, second half of the horizon", cov80_late, 0.80, None, "")
    r.add("coverage 95%, second half of the horizon", cov95_late, 0.95, None, "")
    gmean = float(np.exp(np.log(ok["mase_ours"] / ok["mase_snaive"]).mean()))
    r.add("geometric mean of MASE / seasonal naive", gmean, None, None, "")
    unseen = {}
    if args.unseen:  # scored apart: these series never decide anything
        u = evaluate("hourly", unseen_panel(), jobs=args.jobs, prophet=False)
        u = u[~u["failed"] & u["mase_ours"].notna() & u["mase_snaive"].notna()]  # a perfect repeat has no scale
        if args.details:  # next to the panel's rows, as group "unseen"
            u.assign(group="unseen").to_csv(args.details.with_name(f"{args.details.stem}-unseen.csv"), index=False)
        unseen = {"unseen_series": int(len(u)),
                  "unseen_share_better_than_snaive": round(float((u["mase_ours"] < u["mase_snaive"]).mean()), 4),
                  "unseen_mase_ratio_to_snaive": round(float(u["mase_ours"].mean() / u["mase_snaive"].mean()), 4),
                  "unseen_gmean_ratio_to_snaive": round(float(np.exp(np.log(u["mase_ours"] / u["mase_snaive"]).mean())), 4),
                  "unseen_coverage_80": round(float(u["hits_80"].sum() / u["points"].sum()), 4)}
        r.add(f"unseen hourly NAB ({len(u)} series): MASE", u["mase_ours"].mean(), u["mase_snaive"].mean(),
              unseen["unseen_mase_ratio_to_snaive"], "")
        r.add("unseen: share better than seasonal naive", unseen["unseen_share_better_than_snaive"], None, None, "")
        r.add("unseen: coverage of the 80% interval", unseen["unseen_coverage_80"], 0.80, None, "")
    r.add("failed series", float(scores["failed"].sum()), None, None, "0")
    r.add("seconds (all panels)", seconds, None, None, "")
    r.figures = {"series": int(len(scores)), "failed_series": int(scores["failed"].sum()),
                 "coverage_80": round(float(cov80), 4), "coverage_95": round(float(cov95), 4),
                 "coverage_80_late": round(float(cov80_late), 4), "coverage_95_late": round(float(cov95_late), 4),
                 "mase": round(float(mase), 4), "mase_ratio_to_snaive": round(float(mase / snaive), 4),
                 "share_better_than_snaive": round(better, 4),
                 "mase_ratio_to_prophet": None if ratio_prophet is None else round(float(ratio_prophet), 4),
                 "seconds": round(seconds, 2), "seconds_per_series": round(seconds / len(scores), 3),
                 "fallback_series": int(scores["fallback"].fillna("").ne("").sum()),
                 "gmean_ratio_to_snaive": round(gmean, 4), **unseen}
    r.emit(args.json)


if __name__ == "__main__":
    main()
