"""Return on investment of the assistant: measured value and spend, cash flows, payback, NPV and
IRR, sensitivity, Monte Carlo uncertainty and scenarios.

The chain (each step's output is the next step's input)::

    inputs = roi_inputs(events, months=48)                       # measured drivers + usage forecast
    result = roi_result(inputs, Assumptions(hourly_rate=110))    # cash flows, ROI, payback, NPV, IRR
    tornado_table(inputs, assumptions); break_even_table(inputs, assumptions)
    roi_simulation(inputs, assumptions, n=10_000, seed=0)        # P10/P50/P90, P(ROI > 0)
    scenario_table(inputs, DEFAULT_SCENARIOS, base=assumptions)

Definitions (``docs/roi.md`` has them with every assumption's rationale):

- **time saved** = manual minutes the accepted work replaced (``manual_minutes``, summed over
  all events) minus the time actually spent in sessions (each session's last minus first
  event time, every session counted, also those that were abandoned). Valued:
  ``hourly_rate * (realisation_rate * manual_minutes - session_minutes) / 60``; the
  realisation rate applies to the estimated manual effort only.
- **cache savings** = cache hits (``cache_hit`` true) times the price of the generation a hit
  avoided: by default the mean ``cost_usd`` of ``generation`` events in the same calendar month.
- **spend** = ``cost_usd`` of LLM requests (``generation``, ``error``: the LLM spend) plus that of
  all other events (metered infrastructure such as search and cache lookups).
- **benefits** = value of time saved + cache savings; **costs** = LLM spend + metered spend +
  licences (seats x price) + fixed infrastructure + the one-off cost at month 0.
- **ROI %** = 100 * (benefits - costs) / costs over the horizon, undiscounted. **NPV**
  discounts month *m* by ``(1 + discount_rate) ** (m / 12)``; flows fall at the end of each
  month, the one-off cost at month 0. **IRR** is the annualised monthly IRR. **Payback** is
  the first time the cumulative net cash flow reaches zero, interpolated within the month.

Months are appraisal months: month 1 starts on the first day with data (go-live) and each
month is a calendar month long from there (``start + k months``). Months after the data are
projected from a forecast of daily sessions (:class:`~analytics_lib.forecast.Forecaster`, ETS)
times the recent value and spend per session.

Modules: ``assumptions``, ``finance``, ``inputs``, ``measured``, ``result``, ``simulation``.
"""
from analytics_lib.core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    'assumptions': [
        'LLM_TYPES',
        'MAX_MONTHS',
        'AssumptionSpec',
        'ASSUMPTIONS',
        'USAGE',
        'Assumptions',
    ],
    'finance': [
        'Payback',
        'payback_period',
        'net_present_value',
        'internal_rate_of_return',
    ],
    'inputs': [
        'roi_measures',
        'DRIVERS',
        'RoiInputs',
        'roi_inputs',
    ],
    'measured': [
        'MeasuredRealisation',
        'lead_time_effect',
        'realisation_from_effect',
    ],
    'result': [
        'RoiResult',
        'roi_result',
        'tornado_table',
        'break_even_table',
    ],
    'simulation': [
        'RoiSimulation',
        'roi_simulation',
        'DEFAULT_SCENARIOS',
        'check_scenarios',
        'scenario_table',
    ],
})
