import pytest

# Short windows: a fraction of a second per figure.
FAST = {"warmup_seconds": 0.01, "min_seconds": 0.05, "max_seconds": 0.2, "min_samples": 3}


@pytest.fixture(autouse=True)
def no_opencl(monkeypatch, tmp_path):
    """The default device set is the host's cpu on every machine: the OpenCL ICD loader looks
    in an empty vendor folder (the opencl driver's tests name their device)."""
    vendors = tmp_path / "no-opencl-vendors"
    vendors.mkdir()
    monkeypatch.setenv("OCL_ICD_VENDORS", str(vendors))
