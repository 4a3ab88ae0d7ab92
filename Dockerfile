# StyleCam for an x86-64 Linux machine: a camera (or a video file or stream), PyTorch on the CPU by default.
#
#   CPU:   docker build -t stylecam .
#   CUDA:  docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t stylecam:cuda .
#          (PyTorch's CUDA wheels bring their CUDA libraries: the host needs only the NVIDIA driver and the
#          NVIDIA container toolkit; run with --gpus all)
#
#   docker run -it --rm -p 5000:5000 --device /dev/video0 \
#       -v stylecam-weights:/data/weights -v stylecam-projections:/data/projections stylecam serve --source 0
#
# Open the printed link (its host part is the container's; use this machine's address). Models are fetched
# once into the weights volume; `python -m app doctor` in place of `serve` checks the container.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.5.1
WORKDIR /src
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"
COPY pyproject.toml README.md ./
COPY app ./app
COPY stylegan2 ./stylegan2
COPY detectors ./detectors
COPY weights/*.py ./weights/
COPY templates ./templates
COPY static ./static
# StyleCam and its dependencies (the torch above satisfies its torch line), with onnxruntime for --backend onnx.
RUN /opt/venv/bin/pip install --no-cache-dir ".[onnx]"

FROM ${PYTHON_IMAGE}
# The virtual environment alone: no build tools, no sources, no pip cache.
COPY --from=build /opt/venv /opt/venv
# A user of its own (uid 1000), in the video group (cameras); the volumes are its.
RUN useradd --create-home --uid 1000 --groups video stylecam \
    && mkdir -p /data/weights /data/projections \
    && chown stylecam:stylecam /data/weights /data/projections
ENV PATH=/opt/venv/bin:$PATH \
    STYLECAM_WEIGHTS=/data/weights \
    STYLECAM_PROJECTIONS=/data/projections \
    PYTHONUNBUFFERED=1
VOLUME ["/data/weights", "/data/projections"]
USER 1000
WORKDIR /home/stylecam
EXPOSE 5000
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve", "--source", "0"]
