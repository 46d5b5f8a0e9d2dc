"""The evaluation interval of the dashboards' recording rules, which the dashboards integrate over.

Its own module: the dashboards read it and the rule generator writes it, and neither may import
the other (the generator reads the dashboards).
"""

from __future__ import annotations

from typing import Final

# Dashboards need no finer resolution, and it keeps the recorded series 15x cheaper to read
# than at the 15s global interval.
INTERVAL_S: Final[int] = 60
INTERVAL: Final[str] = f"{INTERVAL_S // 60}m"
