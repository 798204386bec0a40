"""Forecast benchmark: automatic model selection on many series against a plain Prophet loop.

    python benchmarks/bench_forecast.py [--series 100] [--days 1095] [--h 28] [--windows 3] [--jobs 2] [--json]

Target (issue 4): 100 daily series of 3 years each, 3 backtest windows of 28 days, automatic
selection in under 60 s on this 2-core machine and at least 5x faster than the reference.

* **ours**: ``auto_forecast(series, h=28, n_windows=3)`` with the default candidates (ets,
  theta, arima, lag_regressor; seasonal naive scored as the baseline) and the median
  ensemble of the best 3, in ``--jobs`` worker processes, with its progress bar;
* **reference** (same process, same series): the same work done with default Prophet in a
  plain loop: for each series, fit and predict at each of the 3 backtest cutoffs and once
  on the whole series (4 fits per series, as the selection does per candidate). When
  ``--prophet-series`` is smaller than ``--series`` the loop runs on that many series and its
  time is scaled to all of them (stated in the output).

Both sides' backtest accuracy (mean MASE) is printed, so speed is never bought with accuracy.
Data: ``datasets.synthetic_series`` (seeded; level, growth, weekly and yearly seasonality,
noise, outages and missing days differ per series).
"""
from __future__ import annotations

import logging
import warnings

import pandas as pd
from _common import Report, measured, parser

from analytics_lib.data.synthetic.series import synthetic_series
from analytics_lib.forecast.selection import auto_forecast
from analytics_lib.forecast.series import check_series
from analytics_lib.forecast.metrics import forecast_metrics


def prophet_loop(series: pd.DataFrame, h: int, n_windows: int) -> pd.DataFrame:
    """Default Prophet, fitted per series and cutoff in a plain loop (the reference)."""
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):  # after the import, which installs its own handlers
        logging.getLogger(name).setLevel(logging.WARNING)

    parts = []
    for uid, g in series.groupby("unique_id", sort=True):
        g = g.reset_index(drop=True)
        n = len(g)
        for w in range(n_windows, -1, -1):  # n_windows backtest cutoffs, then the final fit (w = 0)
            end = n - w * h
            train = g.iloc[:end].dropna()
            future = pd.DataFrame({"ds": pd.date_range(g["ds"].iloc[end - 1], periods=h + 1, freq="D")[1:]})
            fc = Prophet().fit(train[["ds", "y"]]).predict(future)
            if w:
                test = g.iloc[end:end + h]
                parts.append(pd.DataFrame({"unique_id": uid, "ds": test["ds"].to_numpy(), "cutoff": g["ds"].iloc[end - 1],
                                           "y": test["y"].to_numpy(), "prophet": fc["yhat"].to_numpy()[:len(test)],
                                           "prophet-lo-80": fc["yhat_lower"].to_numpy()[:len(test)],
                                           "prophet-hi-80": fc["yhat_upper"].to_numpy()[:len(test)]}))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=100)
    p.add_argument("--days", type=int, default=1095)
    p.add_argument("--h", type=int, default=28)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--jobs", type=int, default=-1, help="worker processes (-1: all cores)")
    p.add_argument("--prophet-series", type=int, default=None, help="series in the Prophet loop (default: all)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    series = check_series(synthetic_series(args.series, days=args.days, seed=0), granularity="D")

    with measured() as ours:
        res = auto_forecast(series, horizon=args.h, granularity="D", n_windows=args.windows, level=[80], n_jobs=args.jobs,
                            progress=True)
    n_ref = min(args.prophet_series or args.series, args.series)
    ref_ids = sorted(series["unique_id"].unique())[:n_ref]
    with measured() as ref:
        cv_p = prophet_loop(series[series["unique_id"].isin(ref_ids)], args.h, args.windows)
    ref_seconds = ref.seconds * args.series / n_ref

    sel = res.selection[res.selection["unique_id"].isin(ref_ids)]
    prophet_scores = forecast_metrics(cv_p, train=series, season=7)
    auto_mase = float(sel["mase"].mean())
    prophet_mase = float(prophet_scores["mase"].mean())
    naive_mase = float(sel["baseline_mase"].mean())
    speedup = ref_seconds / ours.seconds
    scaled = "" if n_ref == args.series else f" (loop on {n_ref} series, scaled x{args.series / n_ref:.1f})"

    r = Report(f"auto_forecast: {args.series} daily series x {args.days} days, {args.windows} windows of {args.h} "
               f"days, {res.selection['model'].nunique()} distinct winners")
    r.add("wall time, s", ours.seconds, ref_seconds, speedup, "< 60 s and >= 5x vs Prophet loop" + scaled)
    r.add("series per second", args.series / ours.seconds, args.series / ref_seconds, speedup)
    r.add("peak RSS (process tree), MB", ours.peak_rss_mb, ref.peak_rss_mb)
    r.add("backtest MASE (mean)", auto_mase, prophet_mase, auto_mase / prophet_mase, "lower is better")
    r.add("seasonal naive MASE (mean)", naive_mase)
    r.add("backtest 80% coverage (mean)", float(sel["coverage"].mean()),
          float(prophet_scores["coverage"].mean()), None, "near 0.80")
    winners = res.selection["model"].value_counts().to_dict()
    r.figures = {"seconds": round(ours.seconds, 3), "prophet_seconds": round(ref_seconds, 3),
                 "speedup_vs_prophet": round(speedup, 2), "series": args.series, "days": args.days, "h": args.h,
                 "windows": args.windows, "prophet_series_measured": n_ref, "auto_mase": round(auto_mase, 4),
                 "prophet_mase": round(prophet_mase, 4), "seasonal_naive_mase": round(naive_mase, 4),
                 "winners": winners, "peak_rss_mb": round(ours.peak_rss_mb, 1)}
    r.emit(args.json)
    print("winners:", winners) if not args.json else None


if __name__ == "__main__":
    main()
