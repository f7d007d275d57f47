"""/models' gpu_info: the contract's allocated and reserved memory are the model processes' own,
read from their gauges on Triton's metrics port (torch.cuda replaced: no GPU here)."""

from __future__ import annotations

from unittest import mock

import torch

from tts_engine.serving.server_info import gpu_info, models_gpu_memory, models_pools

GIB = 2**30
METRICS = f"""# HELP qwen_tts_engine_gpu_allocated_bytes GPU memory held by tensors of this model's process
# TYPE qwen_tts_engine_gpu_allocated_bytes gauge
qwen_tts_engine_gpu_allocated_bytes{{model="custom_voice_1_7b"}} {3 * GIB}
qwen_tts_engine_gpu_allocated_bytes{{model="voice_clone_1_7b"}} 1.610612736e+09
qwen_tts_engine_gpu_reserved_bytes{{model="custom_voice_1_7b"}} {4 * GIB}
qwen_tts_engine_gpu_reserved_bytes{{model="voice_clone_1_7b"}} {2 * GIB}
nv_gpu_memory_used_bytes{{gpu_uuid="GPU-1"}} {9 * GIB}
qwen_tts_engine_max_rows{{model="custom_voice_1_7b"}} 24
qwen_tts_engine_kv_cache_bytes{{model="custom_voice_1_7b"}} 1.2884901888e+10
qwen_tts_engine_max_rows{{model="voice_clone_1_7b"}} 64
qwen_tts_engine_kv_cache_bytes{{model="voice_clone_1_7b"}} 0
"""


def test_memory_is_summed_over_the_model_processes():
    assert models_gpu_memory(METRICS) == {"allocated": 4.5 * GIB, "reserved": 6 * GIB}
    assert models_gpu_memory("") == {"allocated": 0.0, "reserved": 0.0}


def fake_cuda() -> mock._patch[mock.MagicMock]:
    cuda = mock.MagicMock()
    cuda.is_available.return_value = True
    cuda.mem_get_info.return_value = (3 * GIB, 12 * GIB)
    cuda.get_device_name.return_value = "NVIDIA GeForce RTX 3060"
    cuda.device_count.return_value = 1
    return mock.patch.object(torch, "cuda", cuda)


def test_gpu_info_has_the_contract_fields():
    with fake_cuda():
        gpu = gpu_info(METRICS)["gpu"]
    assert gpu == {
        "name": "NVIDIA GeForce RTX 3060",
        "device_count": 1,
        "total_memory_gb": 12.0,
        "allocated_memory_gb": 4.5,
        "reserved_memory_gb": 6.0,
        "used_memory_gb": 9.0,
    }


def test_unreadable_metrics_leave_the_fields_null_not_wrong():
    with fake_cuda(), mock.patch("tts_engine.serving.server_info._triton_metrics", return_value=None):
        gpu = gpu_info()["gpu"]
    assert gpu["allocated_memory_gb"] is None and gpu["reserved_memory_gb"] is None


def test_no_gpu():
    with mock.patch.object(torch.cuda, "is_available", return_value=False):
        assert gpu_info() == {"cuda_available": False, "gpu": None}


def test_each_models_rows_and_kv_cache_are_read_from_its_gauges():
    assert models_pools(METRICS) == {
        "custom_voice_1_7b": {"max_rows": 24, "kv_cache_gb": 12.0},
        "voice_clone_1_7b": {"max_rows": 64, "kv_cache_gb": 0.0},
    }
    assert models_pools("") == {}
