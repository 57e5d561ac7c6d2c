#!/usr/bin/env bash
# The CUDA checks and GPU figures in one command, on a machine with an NVIDIA GPU (about 9 minutes on an H200):
#
#     bash benchmarks/gpu_figures.sh [OUT_DIR]
#     PYTHON=.venv/bin/python PATH=$PWD/.venv/bin:$PATH bash benchmarks/gpu_figures.sh   # with `make setup TORCH=torch`
#
# 1. tests/test_cuda.py: the learner under bf16 autocast, GPU inference against the CPU's, GPU-trained checkpoints
#    on the CPU, `mpirun` with a GPU learner and CPU or GPU actors, PPO and DQN on the GPU;
# 2. benchmarks/learner_step.py and benchmarks/mcts_speed.py with `--device cuda`;
# 3. a short `mpirun -n 9` Connect Four self-play with the learner on the GPU and eight CPU actors, then 85 s
#    of `mpirun -n 5` with four actors sharing the GPU.
# Logs go to OUT_DIR (default runs/gpu-figures); the last line sums them up. Where the machine's mpi4py loads
# another MPI than the `mpirun` on PATH (an image with Open MPI beside the mpich wheel), point it at mpirun's
# library first, e.g. `export MPI4PY_MPIABI=mpich LD_LIBRARY_PATH=<the mpich wheel's lib>:$LD_LIBRARY_PATH`.
set -u
out=${1:-runs/gpu-figures}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

timeout 400 "$py" -m pytest tests/test_cuda.py -v -p no:cacheprovider --timeout 280 >"$out/test_cuda.log" 2>&1
tests=$(tail -n 1 "$out/test_cuda.log")
echo "tests/test_cuda.py: $tests"

timeout 200 "$py" benchmarks/learner_step.py --device cuda --nets resnet-3x32 resnet-4x48 resnet-10x128 \
    --batch 256 1024 --steps 30 2>&1 | tee "$out/learner_step.log"
timeout 200 "$py" benchmarks/mcts_speed.py --device cuda --nets resnet-4x48 resnet-10x128 --games 128 1024 \
    --seconds 1.5 2>&1 | grep -v "Expected bias" | tee "$out/mcts_speed.log"

rm -rf "$out/selfplay-run" "$out/selfplay-gpu-actors"
timeout 300 mpirun -n 9 "$py" -m runners.selfplay configs/az_connect4.yaml run.runs_dir="$out" \
    run.name=selfplay-run run.device=auto learn.total_steps=1200 eval.every=1200 eval.games=20 \
    eval.pons_positions=50 tracking.mode=disabled >"$out/selfplay.log" 2>&1
# four actors sharing the one GPU with the learner (158,418 simulations/s on the H200 in 85 s, 2026-12-04)
timeout 90 mpirun -n 5 "$py" -m runners.selfplay configs/az_connect4.yaml run.runs_dir="$out" \
    run.name=selfplay-gpu-actors run.device=cuda distributed.actor_device=cuda selfplay.parallel_games=512 \
    selfplay.simulations=16 learn.total_steps=100000 eval.every=100000 tracking.mode=disabled \
    >"$out/selfplay-gpu-actors.log" 2>&1
"$py" - "$out/selfplay-gpu-actors/metrics.jsonl" <<'PY' | tee "$out/selfplay-gpu-actors.txt"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
actors = [r["actors/simulations_per_s"] for r in records if "actors/simulations_per_s" in r]
print(f"four GPU actors: {actors[-1] if actors else 0:,.0f} simulations/s at the last report")
PY
"$py" - "$out/selfplay-run/metrics.jsonl" <<'PY' | tee "$out/selfplay.txt"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
steps = [r["time/steps_per_s"] for r in records if "time/steps_per_s" in r]
actors = [r for r in records if "actors/simulations_per_s" in r]
last = records[-1]
print(
    f"selfplay: step {last.get('step')} with {max(r.get('selfplay/games', 0) for r in records)} games; learner "
    f"{sum(steps) / max(len(steps), 1):.1f} steps/s on average; actors "
    f"{sum(r['actors/simulations_per_s'] for r in actors) / max(len(actors), 1):,.0f} simulations/s"
)
PY

echo "gpu figures: $(head -n 1 "$out/gpu.txt"); tests $tests; $(tail -n 1 "$out/learner_step.log");" \
    "$(tail -n 1 "$out/mcts_speed.log"); $(tail -n 1 "$out/selfplay.txt"); $(tail -n 1 "$out/selfplay-gpu-actors.txt")"
