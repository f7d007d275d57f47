# syntax=docker/dockerfile:1.7
# Triton Inference Server 2.51 (NGC 24.10, the release tritonclient 2.51.0 targets) with the
# Qwen3-TTS engine: qwen-tts and its real needs (requirements/engine.txt, torch from the PyTorch
# CUDA index matching the image's CUDA 12.6), the tts_engine package and model_repository/.
# Build from the repository root:  docker build -f docker/triton.Dockerfile -t qwen-tts-triton:0.1.0 .
# Weights are never baked in: Hugging Face cache in /cache (HF_HOME, mount a volume) or
# pre-downloaded weights mounted at /models (QWEN_TTS_WEIGHTS_DIR).
#
# Python: the image's own python3 is 3.10, but the pins of requirements/engine.txt need 3.11
# (onnxruntime 1.32 has no cp310 wheels). The engine runs in a Python 3.11 venv, and the Python
# backend gets the 3.11 build of its stub (triton_python_backend_stub) from the nvidia-pytriton
# wheel of Triton 2.51 (the same file scripts/install.sh uses), symlinked over the 3.10 one.

ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
FROM ${TRITON_IMAGE}

# torch: engine.txt's version from the PyTorch CUDA 12.6 index (PyPI's default torch wheels are
# built for CUDA 13, which needs a newer driver than the CUDA 12.6 stack of this image).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
# torchaudio: qwen-tts imports only torchaudio.compliance.kaldi (pure Python). Its last release is
# 2.11.0; it comes from the same CUDA 12.6 index so its CUDA build matches the image's. A compiled
# torchaudio extension only loads next to the torch version it was built for, so when
# TORCHAUDIO_VERSION != TORCH_VERSION its .so files are removed (exactly what scripts/install.sh
# does on CPU); build with TORCH_VERSION=2.11.0 to get a fully matched torch/torchaudio pair.
ARG TORCHAUDIO_VERSION=2.11.0
ARG QWEN_TTS_VERSION=0.1.1
ARG PYTRITON_VERSION=0.7.0

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# python3.11 (+ its shared libpython for the stub) and sox from Ubuntu 22.04 (the base image's OS).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv libpython3.11 sox unzip \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tts \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/tts --shell /usr/sbin/nologin tts

RUN python3.11 -m venv /opt/venv
COPY requirements/engine.txt /tmp/requirements/engine.txt
RUN /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
 && /opt/venv/bin/pip install -r /tmp/requirements/engine.txt \
 && /opt/venv/bin/pip install --no-deps "qwen-tts==${QWEN_TTS_VERSION}" \
 && /opt/venv/bin/pip install --no-deps --index-url "${TORCH_INDEX_URL}" "torchaudio==${TORCHAUDIO_VERSION}" \
 && if [ "${TORCHAUDIO_VERSION}" != "${TORCH_VERSION}" ]; then \
      rm -f /opt/venv/lib/python3.11/site-packages/torchaudio/lib/*.so; \
    fi

# The Python 3.11 stub of Triton 2.51, with the libcudart it links to (its RPATH is relative).
RUN /opt/venv/bin/pip download --no-deps --dest /tmp/pytriton "nvidia-pytriton==${PYTRITON_VERSION}" \
 && mkdir -p /opt/pytriton-stub \
 && unzip -q /tmp/pytriton/nvidia_pytriton-*.whl -d /opt/pytriton-stub \
      'pytriton/tritonserver/python_backend_stubs/3.11/triton_python_backend_stub' \
      'nvidia_pytriton.libs/libcudart-*' \
 && ln -sf /opt/pytriton-stub/pytriton/tritonserver/python_backend_stubs/3.11/triton_python_backend_stub \
      /opt/tritonserver/backends/python/triton_python_backend_stub \
 && rm -rf /tmp/pytriton

COPY tts_contract/ /opt/app/tts_contract/
COPY tts_engine/ /opt/app/tts_engine/
COPY model_repository/ /opt/app/model_repository/
COPY --chmod=0755 docker/triton-entrypoint.sh /usr/local/bin/triton-entrypoint.sh

# The stub's embedded Python finds its prefix through the first python3 on PATH: the venv.
# MALLOC_ARENA_MAX: two malloc arenas, not one per thread (the stub runs the generation loop, codec
# and noise threads): with glibc's default the model processes' memory kept creeping up under the
# soak (benchmarks/soak.py), with two it levels off after warm-up (README, "Soak").
ENV PATH=/opt/venv/bin:/opt/tritonserver/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/cache/huggingface \
    QWEN_TTS_WEIGHTS_DIR=/models \
    QWEN_TTS_DEVICE=auto \
    QWEN_TTS_DTYPE=auto

# Fail the build, not the first request, when the engine cannot import or the stub cannot link.
RUN python -c "import torch, torchaudio.compliance.kaldi, qwen_tts, tts_engine.serving.triton_model; \
print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
 && ! ldd /opt/tritonserver/backends/python/triton_python_backend_stub | grep 'not found'

RUN mkdir -p /cache /models && chown tts:tts /cache /models
USER 10001:10001
WORKDIR /opt/app
VOLUME ["/cache"]
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=15s --timeout=5s --start-period=30m --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/triton-entrypoint.sh"]
