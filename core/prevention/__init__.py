"""Guard rails from a confirmed root cause, each proven against the incident's own data.

- :mod:`core.prevention.rules`: Prometheus alerting rules per root-cause class, thresholds from the baseline;
- :mod:`core.prevention.proof`: ``promtool check rules`` and ``promtool test rules`` on unit tests built
  from the incident's series, and the time-to-detect the alert would have saved;
- :mod:`core.prevention.fallback`: a circuit-breaker policy with thresholds from the incident, and its replay;
- :mod:`core.prevention.plan`: all of it for one bundle (used by ``python -m core prevent`` and the Triage page).
"""
