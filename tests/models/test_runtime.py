"""Device settings map onto ONNX Runtime, and settings that cannot apply are said out loud."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pagefix import ConfigError, DeviceError
from pagefix.models import ModelStore, RuntimeOptions, Unwarper
from pagefix.models.runtime import available_providers


def test_cpu_threads_become_intra_op_threads():
    assert RuntimeOptions(device="cpu", cpu_threads=3).session_options().intra_op_num_threads == 3


@pytest.mark.parametrize("device", ["npu:0", "xpu", "mlu:1", "dcu:0"])
def test_devices_onnx_runtime_cannot_use_are_refused(device):
    with pytest.raises(DeviceError, match=device.split(":")[0]):
        RuntimeOptions(device=device).device_kind()


@pytest.mark.parametrize("device", ["tpu", "gpu:x", "gpu:0,1"])
def test_malformed_devices_are_config_errors(device):
    with pytest.raises(ConfigError):
        RuntimeOptions(device=device).device_kind()


@pytest.mark.skipif("CUDAExecutionProvider" in available_providers(), reason="CUDA is installed here")
def test_gpu_without_cuda_says_which_extra_to_install():
    with pytest.raises(DeviceError, match=r"pagefix\[gpu\]"):
        RuntimeOptions(device="gpu:0").providers()


def test_default_device_falls_back_to_cpu_without_cuda():
    kind, _ = RuntimeOptions().device_kind()
    assert kind == ("gpu" if "CUDAExecutionProvider" in available_providers() else "cpu")


def test_settings_that_cannot_apply_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        RuntimeOptions(device="cpu", use_tensorrt=True, enable_mkldnn=True).providers()
    text = caplog.text
    assert "use_tensorrt" in text
    if "DnnlExecutionProvider" not in available_providers():
        assert "enable_mkldnn" in text


def test_bad_precision_is_refused():
    with pytest.raises(ConfigError):
        RuntimeOptions(precision="int4")


def test_fp16_unwarper_agrees_with_fp32(pages):
    from pagefix.inputs import iter_pages

    store = ModelStore()
    options = RuntimeOptions(device="cpu", cpu_threads=2)
    fp32 = Unwarper.from_files(store.resolve("unwarping"), options)
    fp16 = Unwarper.from_files(store.resolve("unwarping", precision="fp16"), options)
    assert fp16.runner.input_dtype == np.float16 and fp32.runner.input_dtype == np.float32
    (page,) = iter_pages(str(pages.curled_jpeg))
    (a,), (b,) = fp32.predict_grids([page.image]), fp16.predict_grids([page.image])
    assert np.abs(a - b).max() < 0.01  # grid units: 0.01 = 0.5% of the page
