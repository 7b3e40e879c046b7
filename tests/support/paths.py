"""Where the repository and the shared test data are."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO.parent / "shared" / "testdata"
