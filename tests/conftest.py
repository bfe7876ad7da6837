"""The suite's plugins: the ones below, and the fixtures of each folder's conftest.py."""

# Under CI=true a skipped test fails (tests/ci_skips.py); every AWS call app/ and deploy/
# make is recorded for `make iam-check` (tests/call_recorder.py).
pytest_plugins = ["tests.ci_skips", "tests.call_recorder"]
