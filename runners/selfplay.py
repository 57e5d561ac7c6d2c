"""`mpirun -n N arena selfplay CONFIG`: actor ranks act and feed learner ranks over MPI, for any algorithm.

```
ranks 0..L-1  learners  drain what actors send, update (averaging gradients when L > 1), publish weights
                        with a version number every `publish_every` updates
ranks L..N-1  actors    act with the newest weights and send what they make as numpy arrays
```

An algorithm takes part through two roles, the `LearnerRole` and `ActorRole` of its row in
`algorithms.registry.ALGORITHMS` (the same classes `arena train` runs in one process):
AlphaZero (`Training`, `AZActor`: batched self-play games into a replay window at a replay ratio), PPO
(`PPOLearner`, `PPOActor`: synchronous, one rollout per actor per update) and DQN (`DQNLearner`, `DQNActor`:
Ape-X, actors with their own epsilon feeding one replay).

Flow control: a learner updates only when what arrived has earned it, else it waits; an actor may send a lead
plus what its learner consumes per weight version, and past that budget waits for new weights; the learner
treats messages from weights more than `max_staleness` versions old as stale (AlphaZero drops their samples,
PPO any rollout of older weights). Nothing is shared through files but checkpoints, so a hostfile (or Slurm's
`srun`) moves the same command onto a cluster.

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

import torch

from algorithms.registry import ALGORITHMS, ActorRole, LearnerRole
from core.config import ConfigError, apply_overrides, load_config
from core.device import describe_device, mpi_world, resolve_device, share_cores
from core.errors import ArenaError
from core.progress import ProgressBar
from core.run import Run, read_run_config
from runners import train
from runners.train import algorithm_of, check_config, resumed_algorithm, split_positionals

TAG_SAMPLES, TAG_WEIGHTS, TAG_STOP, TAG_BYE, TAG_STOP_REQUEST = 31, 32, 33, 34, 35


class Interrupted:
    """Turns SIGINT/SIGTERM into a flag the loops check, so every rank can stop cleanly."""

    def __init__(self) -> None:
        self.flag = False
        signal.signal(signal.SIGINT, self._set)
        signal.signal(signal.SIGTERM, self._set)

    def _set(self, signum: int, frame: Any) -> None:
        self.flag = True


# ---------------------------------------------------------------------------------------------------------------
# Learner ranks


def learner_loop(config: Any, run: Any, comm: Any, learner_comm: Any, stop: Interrupted) -> dict[str, float]:
    """Drain samples, update, publish weights; on the last step (or a stop) checkpoint and release the actors."""
    rank, size = comm.Get_rank(), comm.Get_size()
    learners = config.distributed.learners
    actors = [r for r in range(learners, size) if (r - learners) % learners == rank]
    role: LearnerRole = ALGORITHMS[config.algo].learner_role(
        config, run if rank == 0 else None, resolve_device(config.run.device), len(actors)
    )
    if learners > 1:  # every learner starts from learner 0's weights and optimizer (fresh or restored)
        role.load_shared_state(learner_comm.bcast(role.shared_state() if rank == 0 else None, root=0))

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
        for buffer in role.net.buffers():
            if buffer.dtype.is_floating_point:
                values = buffer.cpu().numpy()
                learner_comm.Allreduce(values.copy(), values)
                buffer.copy_(torch.from_numpy(values / learners))

    version = role.steps // role.publish_every
    sends: list[Any] = []
    published = 0

    def publish() -> None:
        nonlocal published
        acting = role.acting_state()
        if learners > 1 and role.gated:  # learner 0 decides which weights the actors play with
            acting = learner_comm.bcast(acting if rank == 0 else None, root=0)
        weights = {k: v.detach().cpu().numpy() for k, v in acting.items()}
        message = {"version": version, "step": role.log_step, "weights": weights}
        sends[:] = [r for r in sends if not r.Test()]
        sends.extend(comm.isend(message, dest=a, tag=TAG_WEIGHTS) for a in actors)
        published += 1

    publish()
    # under mpirun stderr is a pipe or a file: plain progress lines from learner 0, never a bar
    bar = ProgressBar(
        ALGORITHMS[config.algo].total_steps(config), f"{config.algo} learner", enabled=False, completed=role.log_step
    )
    if rank == 0:
        bar.__enter__()
    dropped = received = 0
    lag_sum = lag_count = lag_max = 0  # weight versions between the one that made a message and the newest
    most_queued = 0  # the most messages waiting at one drain
    actor_rates: dict[int, dict[str, float]] = {}
    stop_requested = False
    last_log = time.perf_counter()
    while True:
        arrived = 0
        while comm.iprobe(tag=TAG_SAMPLES):
            message = comm.recv(tag=TAG_SAMPLES)
            arrived += 1
            received += 1
            actor_rates[message["rank"]] = message["rates"]
            lag = version - message["version"]
            lag_sum, lag_count, lag_max = lag_sum + lag, lag_count + 1, max(lag_max, lag)
            stale = role.max_staleness is not None and lag > role.max_staleness
            dropped += stale
            role.receive(message["payload"], stale)
        most_queued = max(most_queued, arrived)
        while comm.iprobe(tag=TAG_STOP_REQUEST):
            comm.recv(tag=TAG_STOP_REQUEST)
            stop_requested = True
        ready = role.update_ready()
        stopping = stop.flag or stop_requested
        if learners > 1:
            from mpi4py import MPI  # why: an optional extra, only under mpirun

            ready = learner_comm.allreduce(ready, op=MPI.LAND)
            stopping = learner_comm.allreduce(stopping, op=MPI.LOR)
        if stopping:
            role.save()
            break
        if role.done:
            break
        if ready:
            step = role.update(average_gradients if learners > 1 else None)
            if rank == 0:
                bar.update(completed=role.log_step, actors=len(actor_rates), version=version)
            if step % role.publish_every == 0:
                version += 1
                if learners > 1:
                    average_buffers()
                publish()
            if rank == 0 and time.perf_counter() - last_log > 5:
                last_log = time.perf_counter()
                keys = {k for r in actor_rates.values() for k in r}
                totals = {f"actors/{k}": sum(r.get(k, 0.0) for r in actor_rates.values()) for k in keys}
                role.log(
                    {
                        **totals,
                        "mpi/weight_version": version,
                        "mpi/samples_dropped_stale": dropped,
                        "mpi/messages_received": received,
                        "mpi/actors": len(actor_rates),
                        "mpi/weight_lag_mean": lag_sum / max(lag_count, 1),
                        "mpi/weight_lag_max": lag_max,
                        "mpi/queue_max": most_queued,
                    },
                    role.log_step,
                )
                lag_sum = lag_count = lag_max = most_queued = 0
        elif not arrived:
            time.sleep(0.002)
    if rank == 0:
        bar.__exit__(None, None, None)
    for a in actors:  # with the count of weight messages, which each actor must receive before it may exit
        comm.send({"weights_sent": published}, dest=a, tag=TAG_STOP)
    waiting = set(actors)
    while waiting:  # keep draining samples so that actors' pending sends complete, until each says bye
        if comm.iprobe(tag=TAG_SAMPLES):
            comm.recv(tag=TAG_SAMPLES)
        elif comm.iprobe(tag=TAG_STOP_REQUEST):  # an unreceived message at MPI_Finalize is an error
            comm.recv(tag=TAG_STOP_REQUEST)
        elif comm.iprobe(tag=TAG_BYE):
            from mpi4py import MPI  # why: an optional extra, only under mpirun

            status = MPI.Status()
            comm.recv(tag=TAG_BYE, status=status)
            waiting.discard(status.Get_source())
        else:
            time.sleep(0.002)
    for tag in (TAG_STOP_REQUEST, TAG_SAMPLES):  # sent before the bye, so already here if sent at all
        while comm.iprobe(tag=tag):
            comm.recv(tag=tag)
    for request in sends:
        request.wait()
    return role.summary()


# ---------------------------------------------------------------------------------------------------------------
# Actor ranks


def actor_loop(config: Any, run: Any, comm: Any, stop: Interrupted) -> None:
    """Act with the newest weights; send what the actor makes; stop when the learner says so."""
    rank, size = comm.Get_rank(), comm.Get_size()
    learners = config.distributed.learners
    learner = (rank - learners) % learners
    my_share = len([r for r in range(learners, size) if (r - learners) % learners == learner])
    actor: ActorRole = ALGORITHMS[config.algo].actor_role(
        config, rank - learners, size - learners, my_share, torch.device(config.distributed.actor_device)
    )
    version = step = -1
    sent = 0  # samples sent since the first weights
    first_version = None
    received = 0
    stop_sent = False

    def take_messages(block: bool) -> bool:
        """Load the newest weights; True when the learner says stop."""
        nonlocal version, step, first_version, received
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
                actor.load_weights({k: torch.from_numpy(v) for k, v in newest["weights"].items()})
                version, step = newest["version"], newest["step"]
                first_version = version if first_version is None else first_version
                run.log({"actor/weights_version": version}, step=step)
                return False
            if not block:
                return False
            time.sleep(0.005)

    sends: list[Any] = []
    try:
        if take_messages(block=True):
            return _say_bye(comm, learner, [])
        rates = actor.rates()
        window_start = time.perf_counter()
        while True:
            if stop.flag and not stop_sent:
                comm.send(None, dest=learner, tag=TAG_STOP_REQUEST)
                stop_sent = True
            # a cumulative budget, so that an actor faster than its learner waits instead of sending stale work
            if take_messages(block=sent >= actor.budget(version - first_version)):
                break
            payload = actor.step()
            if time.perf_counter() - window_start > 5:
                window_start = time.perf_counter()
                rates = actor.rates()
                run.log({f"actor/{k}": v for k, v in rates.items()}, step=step)
            if payload is None:
                continue
            sends = [r for r in sends if not r.Test()]
            message = {"rank": rank, "version": version, "rates": rates, "payload": payload}
            sends.append(comm.isend(message, dest=learner, tag=TAG_SAMPLES))
            sent += payload["samples"]
        _say_bye(comm, learner, sends)
    finally:
        actor.close()


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
        help="a YAML config of algo az, ppo or dqn (default: the embedded few-minute Connect Four AlphaZero run), "
        "then overrides such as learn.total_steps=5000",
    )
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR", help="continue runs/<name>")


def main(args: argparse.Namespace) -> int:
    """One process: the same as `arena train`; under mpirun: learner and actor ranks."""
    path, overrides = split_positionals(args.items)
    algo = resumed_algorithm(args.resume) if args.resume else algorithm_of(path, overrides, "az")
    if algo not in ALGORITHMS:
        raise ConfigError(f"unknown algo '{algo}'; valid: {', '.join(ALGORITHMS)}")
    config_type = ALGORITHMS[algo].config
    comm = mpi_world()
    if comm is None or comm.Get_size() == 1:
        if args.resume:
            config = apply_overrides(read_run_config(args.resume, config_type), overrides)
        else:
            config = load_config(config_type, path, overrides)
        if config.distributed.learners > 1:  # one process is one learner: refuse rather than ignore the setting
            check_ranks(config, 1)
        return train.main(argparse.Namespace(items=args.items, algo=algo, resume=args.resume, list_keys=False))
    try:
        if args.resume:  # checked before any work, on every rank alike
            config = apply_overrides(read_run_config(args.resume, config_type), overrides)
        else:
            config = load_config(config_type, path, overrides)
        check_config(config)
        return _distributed(config_type, None if args.resume else config, args, overrides, comm)
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
    """Every learner needs at least one actor of its own; several learners are for AlphaZero."""
    learners = config.distributed.learners
    if learners > 1 and config.algo != "az":
        raise ConfigError(
            f"distributed.learners: {learners} is for AlphaZero; {config.algo} runs one learner "
            "(its schedules count the whole run's env steps) fed by any number of actors"
        )
    if size < 2 * learners:
        raise ConfigError(
            f"{size} ranks cannot give each of {learners} learner(s) an actor; "
            f"run with mpirun -n {2 * learners} or more"
        )


def _distributed(config_type: type, config: Any, args: argparse.Namespace, overrides: list[str], comm: Any) -> int:
    stop = Interrupted()
    rank, size = comm.Get_rank(), comm.Get_size()
    if args.resume is not None:
        run = Run.resume(args.resume, config_type, overrides, comm=comm)
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
            f"run dir: {run.path} ({learners} learner(s) on {describe_device(resolve_device(config.run.device))}, "
            f"{size - learners} actor(s) on {config.distributed.actor_device}, {threads} thread(s) each)",
            file=sys.stderr,
        )
        if run.resumed_step is not None:
            print(f"resumed from step {run.resumed_step}", file=sys.stderr)
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
    if not stop.flag:
        return 0
    # A clean stop. mpiexec kills every rank still running once one exits non-zero, so the other ranks exit 0
    # and rank 0 alone reports the interruption (130), after they are gone.
    if rank != 0:
        return 0
    from mpi4py import MPI  # why: an optional extra, only under mpirun

    MPI.Finalize()  # waits for every rank to finalize
    time.sleep(0.5)
    return 130


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("selfplay"))
