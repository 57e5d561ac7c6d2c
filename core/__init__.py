"""The bottom floor: infrastructure every other package may use, and which imports none of them.

`errors` (ArenaError and IllegalActionError), `config` (frozen dataclass configs loaded strictly from YAML and
`key.sub=value` overrides), `run` (a run dir: config, metrics, checkpoints, tracking), `checkpoint` (atomic
writes, newest good file, RNG streams), `tracking` (W&B and metrics.jsonl), `progress` (a bar on a terminal,
plain lines off one) and `device` (torch device, MPI launch detection, cores per rank).
"""
