"""Forecasting: long-format series, models with prediction intervals, backtests, selection, capacity.

Series are long frames ``unique_id, ds, y`` (many series at once). Models follow
scikit-learn: ``Forecaster(models=[...], granularity="D").fit(series).predict(horizon=28, level=[80, 95])``
returns ``unique_id, ds, <model>, <model>-lo-80, <model>-hi-80, ...``. Evaluation chains like
Prophet's diagnostics: ``forecast_metrics(backtest(fc, series, horizon=28, n_windows=3))``.
:func:`auto_forecast` backtests every candidate per series, adds a median ensemble of the
best ``k``, picks the best by a backtest score and returns the forecast together with the
scores that justify it; :func:`capacity_table` turns a forecast into crossing dates and
probabilities.

Models (``MODELS``), each fitted per series on a gap-free float array (gaps are filled by
linear interpolation for fitting; metrics ignore them):

``seasonal_naive``
    The last season repeated; the baseline every forecast is compared with.
``ets``
    Holt-Winters exponential smoothing (statsmodels) with a damped additive trend and
    additive or multiplicative seasonality chosen by AICc; analytic ETS(A,Ad,A) variance.
``arima``
    SARIMA (statsmodels state space): seasonal differencing when STL seasonal strength is
    above 0.64, a KPSS test for the first difference, (p, q) from a small grid by AICc.
``theta``
    The Theta method (statsmodels ``ThetaModel``, deseasonalized when a seasonality test
    says so) with its analytic intervals.
``prophet``
    Prophet with default settings plus optional country holidays and event dates (e.g.
    planted holidays or incidents) as holidays; intervals from its simulated paths.
``lag_regressor``
    scikit-learn ridge regression on lags, a seasonal mean, calendar dummies and a trend,
    forecast recursively; intervals from residual-bootstrapped simulated paths.

Modules: ``estimator``, ``metrics``, ``models``, ``planning``, ``selection``, ``series``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'estimator': [
        'Forecaster',
    ],
    'metrics': [
        'forecast_metrics',
    ],
    'models': [
        'DEFAULT_AUTO_MODELS',
        'ModelFit',
        'ModelContext',
        'MODELS',
        'COMPLEXITY',
        'auto_candidates',
        'complexity',
    ],
    'planning': [
        'country_holidays',
        'trend_summary',
        'capacity_table',
        'cost_forecast',
    ],
    'selection': [
        'WORKER_PRELOAD',
        'backtest',
        'AutoForecast',
        'SELECTION_RTOL',
        'auto_forecast',
    ],
    'series': [
        'SERIES_COLUMNS',
        'AGG_RULES',
        'series_from_metric',
        'series_from_events',
        'check_series',
    ],
})
