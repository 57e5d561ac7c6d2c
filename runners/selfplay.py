"""`mpirun -n N arena selfplay CONFIG`: actor ranks play batched self-play and feed learner ranks over MPI.

```
ranks 0..L-1  learners  drain samples into a replay window, update (averaging gradients when L > 1),
                        publish weights with a version number every `distributed.publish_every` updates
ranks L..N-1  actors    run SelfPlayActor with the newest weights, send finished games as numpy arrays
```

Flow control: a learner updates only when new samples have earned it (`learn.replay_ratio`), else it waits for
samples; an actor that has sent more than its share for `distributed.max_staleness` weight versions waits for
new weights, and the learner drops any sample made by weights older than that. Nothing is shared through files
but checkpoints, so a hostfile (or Slurm's `srun`) moves the same command onto a cluster.

Faults: Ctrl-C or SIGTERM on any rank makes learner 0 write a checkpoint and every rank exit cleanly; an
exception in any rank aborts the whole job at once with that rank's message (no rank is left waiting);
`arena selfplay --resume runs/<name>` continues from the last checkpoint. With one rank (or no mpirun), the
learner and the actor share one process, exactly as `arena train`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import ArenaError
from runners.config import ConfigError

TAG_SAMPLES, TAG_WEIGHTS, TAG_STOP, TAG_BYE, TAG_STOP_REQUEST = 31, 32, 33, 34, 35


class Interrupted:
    """Turns SIGINT/SIGTERM into a flag the loops check, so every rank can stop cleanly."""

    def __init__(self) -> None:
        self.flag = False
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, signum: int, frame: Any) -> None:
        self.flag = True


def mpi_world() -> Any:
    """COMM_WORLD when launched by mpirun/srun, else None (MPI is not even initialised)."""
    launched = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "HYDI_CONTROL_FD")
    if not any(k in os.environ for k in launched):
        return None
    from mpi4py import MPI

    return MPI.COMM_WORLD


def share_cores(comm: Any, configured: int) -> int:
    """torch threads for this rank: the configured number, else the node's cores split among its ranks."""
    import torch

    if configured:
        threads = configured
    else:
        from mpi4py import MPI

        on_node = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        threads = max(1, (os.cpu_count() or 1) // on_node)
    torch.set_num_threads(threads)
    return threads


# ---------------------------------------------------------------------------------------------------------------
# Learner ranks


def learner_loop(config: Any, run: Any, comm: Any, learner_comm: Any, stop: Interrupted) -> dict[str, float]:
    """Drain samples, update, publish weights; on the last step (or a stop) checkpoint and release the actors."""
    import torch

    from agents.alphazero import Samples, Training
    from runners.run import resolve_device

    rank, size = comm.Get_rank(), comm.Get_size()
    learners = config.distributed.learners
    actors = [r for r in range(learners, size) if (r - learners) % learners == rank]
    training = Training(config, run if rank == 0 else None, resolve_device(config.run.device))
    if learners > 1:  # every learner starts from learner 0's weights and optimizer (fresh or restored)
        shared = learner_comm.bcast(
            {
                "net": training.net.state_dict(),
                "opt": training.learner.optimizer.state_dict(),
                "steps": training.learner.steps,
                "counters": training.counters,
            }
            if rank == 0
            else None,
            root=0,
        )
        training.net.load_state_dict(shared["net"])
        training.learner.optimizer.load_state_dict(shared["opt"])
        training.learner.steps = shared["steps"]
        training.counters.update(shared["counters"])

    def average_gradients(grads: list[torch.Tensor]) -> None:
        flat = torch.cat([g.reshape(-1) for g in grads]).cpu().numpy()
        learner_comm.Allreduce(flat.copy(), flat)
        flat /= learners
        offset = 0
        for g in grads:
            g.copy_(torch.from_numpy(flat[offset : offset + g.numel()]).view_as(g))
            offset += g.numel()

    def average_buffers() -> None:
        # BatchNorm statistics come from each learner's own batches; publish their mean
        for buffer in training.net.buffers():
            if buffer.dtype.is_floating_point:
                values = buffer.cpu().numpy()
                learner_comm.Allreduce(values.copy(), values)
                buffer.copy_(torch.from_numpy(values / learners))

    version = training.steps // config.distributed.publish_every
    sends: list[Any] = []
    published = 0

    def publish() -> None:
        nonlocal published
        if learners > 1 and config.eval.gate:  # learner 0 decides which weights the actors play with
            acting = learner_comm.bcast(training.acting_net.state_dict() if rank == 0 else None, root=0)
            training.acting_net.load_state_dict(acting)
        weights = {k: v.detach().cpu().numpy() for k, v in training.acting_net.state_dict().items()}
        message = {"version": version, "weights": weights}
        sends[:] = [r for r in sends if not r.Test()]
        sends.extend(comm.isend(message, dest=a, tag=TAG_WEIGHTS) for a in actors)
        published += 1

    publish()
    dropped = received = 0
    actor_rates: dict[int, dict[str, float]] = {}
    stop_requested = False
    last_log = time.perf_counter()
    while True:
        arrived = 0
        while comm.iprobe(tag=TAG_SAMPLES):
            message = comm.recv(tag=TAG_SAMPLES)
            arrived += 1
            received += 1
            for key in ("games", "moves", "simulations"):
                training.counters[key] += message[key]
            actor_rates[message["rank"]] = message["rates"]
            if version - message["version"] > config.distributed.max_staleness:
                dropped += 1
                continue
            training.add(Samples(message["obs"], message["policy"], message["value"]))
        while comm.iprobe(tag=TAG_STOP_REQUEST):
            comm.recv(tag=TAG_STOP_REQUEST)
            stop_requested = True
        ready = training.update_ready()
        stopping = stop.flag or stop_requested
        if learners > 1:
            from mpi4py import MPI

            ready = learner_comm.allreduce(ready, op=MPI.LAND)
            stopping = learner_comm.allreduce(stopping, op=MPI.LOR)
        if stopping:
            training.save()
            break
        if training.done:
            break
        if ready:
            step = training.update(average_gradients if learners > 1 else None)
            if step % config.distributed.publish_every == 0:
                version += 1
                if learners > 1:
                    average_buffers()
                publish()
            if rank == 0 and time.perf_counter() - last_log > 5:
                last_log = time.perf_counter()
                totals = {f"actors/{k}": sum(r[k] for r in actor_rates.values()) for k in _RATE_KEYS}
                training.log(
                    {
                        **totals,
                        "mpi/weight_version": version,
                        "mpi/samples_dropped_stale": dropped,
                        "mpi/messages_received": received,
                        "mpi/actors": len(actor_rates),
                    },
                    step,
                )
        elif not arrived:
            time.sleep(0.002)
    for a in actors:  # with the count of weight messages, which each actor must receive before it may exit
        comm.send({"weights_sent": published}, dest=a, tag=TAG_STOP)
    waiting = set(actors)
    while waiting:  # keep draining samples so that actors' pending sends complete, until each says bye
        if comm.iprobe(tag=TAG_SAMPLES):
            comm.recv(tag=TAG_SAMPLES)
        elif comm.iprobe(tag=TAG_BYE):
            from mpi4py import MPI

            status = MPI.Status()
            comm.recv(tag=TAG_BYE, status=status)
            waiting.discard(status.Get_source())
        else:
            time.sleep(0.002)
    for request in sends:
        request.wait()
    return training.summary()


# ---------------------------------------------------------------------------------------------------------------
# Actor ranks

_RATE_KEYS = ("games_per_s", "samples_per_s", "simulations_per_s", "moves_per_s")


def actor_loop(config: Any, run: Any, comm: Any, stop: Interrupted) -> None:
    """Self-play with the newest weights; send finished games; stop when the learner says so."""
    import torch

    from agents.alphazero import SelfPlayActor, TorchEvaluator, build_net
    from envs import make_game

    rank, size = comm.Get_rank(), comm.Get_size()
    learners = config.distributed.learners
    learner = (rank - learners) % learners
    my_share = len([r for r in range(learners, size) if (r - learners) % learners == learner])
    game = make_game(config.game)
    device = torch.device(config.distributed.actor_device)
    net = build_net(config, game, device)
    rng = np.random.default_rng([config.run.seed, rank, int(time.time())])  # new games after every restart
    version = -1
    learn = config.learn
    per_version = config.distributed.publish_every * learn.batch_size / learn.replay_ratio / my_share
    # an actor may run ahead of the learner by this many samples before it waits for new weights
    ahead_limit = learn.min_replay / my_share + per_version * max(config.distributed.max_staleness, 1)
    sent_since_weights = 0
    received = 0
    stop_sent = False

    def take_messages(block: bool) -> bool:
        """Load the newest weights; True when the learner says stop."""
        nonlocal version, sent_since_weights, received
        while True:
            if comm.iprobe(source=learner, tag=TAG_STOP):
                farewell = comm.recv(source=learner, tag=TAG_STOP)
                # an unreceived message at MPI_Finalize is an error: take every weight message still in flight
                for _ in range(farewell["weights_sent"] - received):
                    comm.recv(source=learner, tag=TAG_WEIGHTS)
                return True
            newest = None
            while comm.iprobe(source=learner, tag=TAG_WEIGHTS):
                newest = comm.recv(source=learner, tag=TAG_WEIGHTS)
                received += 1
            if newest is not None:
                net.load_state_dict({k: torch.from_numpy(v) for k, v in newest["weights"].items()})
                version, sent_since_weights = newest["version"], 0
                run.log({"actor/weights_version": version}, step=version * config.distributed.publish_every)
                return False
            if not block:
                return False
            time.sleep(0.005)

    if take_messages(block=True):
        return _say_bye(comm, learner, [])
    actor = SelfPlayActor(game, TorchEvaluator(net, device), config.selfplay, rng)
    sends: list[Any] = []
    window_start, window = time.perf_counter(), {"games": 0, "samples": 0, "simulations": 0, "moves": 0}
    rates = dict.fromkeys(_RATE_KEYS, 0.0)
    last = {"games": 0, "moves": 0, "simulations": 0}
    while True:
        if stop.flag and not stop_sent:
            comm.send(None, dest=learner, tag=TAG_STOP_REQUEST)
            stop_sent = True
        if take_messages(block=sent_since_weights > ahead_limit):
            break
        samples = actor.step()
        window["samples"] += len(samples)
        elapsed = time.perf_counter() - window_start
        if elapsed > 5:
            now_counts = {"games": actor.games_played, "moves": actor.moves_played, "simulations": actor.simulations}
            rates = {
                "games_per_s": (now_counts["games"] - window["games"]) / elapsed,
                "samples_per_s": window["samples"] / elapsed,
                "simulations_per_s": (now_counts["simulations"] - window["simulations"]) / elapsed,
                "moves_per_s": (now_counts["moves"] - window["moves"]) / elapsed,
            }
            window = {**now_counts, "samples": 0}
            window_start = time.perf_counter()
            run.log({f"actor/{k}": v for k, v in rates.items()}, step=version * config.distributed.publish_every)
        if len(samples) == 0:
            continue
        counts = {"games": actor.games_played, "moves": actor.moves_played, "simulations": actor.simulations}
        message = {
            "rank": rank,
            "version": version,
            "obs": samples.obs,
            "policy": samples.policy,
            "value": samples.value,
            "rates": rates,
            **{k: counts[k] - last[k] for k in last},
        }
        last = counts
        sends = [r for r in sends if not r.Test()]
        sends.append(comm.isend(message, dest=learner, tag=TAG_SAMPLES))
        sent_since_weights += len(samples)
    _say_bye(comm, learner, sends)


def _say_bye(comm: Any, learner: int, sends: list[Any]) -> None:
    for request in sends:
        request.wait()
    comm.send(None, dest=learner, tag=TAG_BYE)


# ---------------------------------------------------------------------------------------------------------------
# CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena selfplay`."""
    parser.add_argument(
        "items",
        nargs="*",
        metavar="CONFIG | key.sub=value",
        help="an AlphaZero YAML config (default: the embedded few-minute Connect Four run), then overrides "
        "such as learn.total_steps=5000",
    )
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR", help="continue runs/<name>")


def main(args: argparse.Namespace) -> int:
    """One process: the same as `arena train`; under mpirun: learner and actor ranks."""
    from agents.alphazero import AZConfig
    from runners.config import load_config
    from runners.train import algorithm_of, split_positionals

    path, overrides = split_positionals(args.items)
    algo = algorithm_of(args.resume / "config.yaml" if args.resume else path, overrides, "az")
    if algo != "az":
        raise ConfigError(f"arena selfplay runs AlphaZero configs (algo: az), got algo '{algo}'")
    comm = mpi_world()
    if comm is None or comm.Get_size() == 1:
        from runners.train import main as train_main

        return train_main(argparse.Namespace(items=args.items, algo="az", resume=args.resume, list_keys=False))
    try:
        config = None if args.resume else load_config(AZConfig, path, overrides)  # checked before any work
        return _distributed(config, args, overrides, comm)
    except ArenaError as error:
        print(f"arena selfplay (rank {comm.Get_rank()}): error: {error}", file=sys.stderr, flush=True)
        comm.Abort(2)
    except BaseException:  # any failure in one rank must end every rank, not leave the others waiting
        print(f"arena selfplay: rank {comm.Get_rank()} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)
    return 1


def check_ranks(config: Any, size: int) -> None:
    """Every learner needs at least one actor of its own."""
    learners = config.distributed.learners
    if size < 2 * learners:
        raise ConfigError(
            f"{size} ranks cannot give each of {learners} learner(s) an actor; "
            f"run with mpirun -n {2 * learners} or more"
        )


def _distributed(config: Any, args: argparse.Namespace, overrides: list[str], comm: Any) -> int:
    from agents.alphazero import AZConfig
    from runners.run import Run

    stop = Interrupted()
    rank, size = comm.Get_rank(), comm.Get_size()
    if args.resume is not None:
        run = Run.resume(args.resume, AZConfig, overrides, comm=comm)
        config = run.config
        check_ranks(config, size)
    else:
        check_ranks(config, size)  # before a run dir is made for a job that cannot run
        run = Run.create(config, comm=comm)
    learners = config.distributed.learners
    is_learner = rank < learners
    learner_comm = comm.Split(0 if is_learner else 1, rank)
    threads = share_cores(comm, config.run.torch_threads)
    ranks_dir = run.path / "ranks"
    ranks_dir.mkdir(exist_ok=True)
    (ranks_dir / f"{rank}").write_text(f"{socket.gethostname()} {os.getpid()} {'learner' if is_learner else 'actor'}\n")
    if rank == 0:
        print(
            f"run dir: {run.path} ({learners} learner(s), {size - learners} actor(s), {threads} thread(s) each)",
            file=sys.stderr,
        )
    with run:
        if is_learner:
            result = learner_loop(config, run, comm, learner_comm, stop)
        else:
            actor_loop(config, run, comm, stop)
            result = {}
    if rank == 0:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
        if stop.flag:
            print(f"stopped; continue with: arena selfplay --resume {run.path}", file=sys.stderr)
    return 130 if stop.flag else 0


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("selfplay"))
