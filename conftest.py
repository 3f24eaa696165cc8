import os

from hypothesis import settings

pytest_plugins = ["crm_common.testing"]

# CI runs the same examples every time (a red CI then means a change broke something);
# local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")
