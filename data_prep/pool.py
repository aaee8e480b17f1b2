"""Several work units in parallel: each becomes a complete part dataset under <prefix>.parts/,
made by a pool of worker processes; parts complete from a killed run are reused."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from data_prep.indexed_writer import (
    IndexedDatasetWriter,
    check_dataset_files,
    is_complete,
    read_stats,
    token_dtype,
)
from data_prep.pipeline import UnitJob, UnitResult, fill_unit
from gatortron_common.lifetime import end_with_parent
from gatortron_common.logging import InputError, SkipReport, get_logger

logger = get_logger(__name__)


def prepare_parts(jobs: list[UnitJob], directory: Path, workers: int,
                  progress: Callable[[int], object]) -> tuple[list[UnitResult], list[str]]:
    """Write one part dataset per job (reusing complete ones from a killed run); in job order.
    `progress` gets each unit's input bytes when its part is done."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [str(directory / f"unit{i:05d}") for i in range(len(jobs))]
    results: list[UnitResult | None] = [None] * len(jobs)
    todo = []
    for i, (job, part) in enumerate(zip(jobs, parts, strict=True)):
        if is_complete(part) and read_stats(part).get("job") == job.key() and _intact(part):
            results[i] = _result_from_stats(read_stats(part))
            progress(job.unit.size)
        else:
            todo.append(i)
    if len(todo) < len(jobs):
        logger.info("%s: reusing %d complete part(s) of an earlier run", directory, len(jobs) - len(todo))
    tasks = [(jobs[i], parts[i]) for i in todo]
    if workers == 1 or len(tasks) <= 1:
        for i, result in zip(todo, map(_prepare_part, tasks), strict=True):
            results[i] = result
            progress(jobs[i].unit.size)
    else:
        _run_in_workers(tasks, todo, min(workers, len(tasks)), results, lambda i: progress(jobs[i].unit.size))
    return [r for r in results if r is not None], parts


def _run_in_workers(tasks: list[tuple[UnitJob, str]], todo: list[int], workers: int,
                    results: list[UnitResult | None], done: Callable[[int], object]) -> None:
    """Make the parts in worker processes. A worker that dies (the OOM killer, a signal) fails the
    run at once with one line naming it, where multiprocessing.Pool would wait forever."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    processes: dict = {}  # pid -> process, to name a dead one
    finished = 0
    # Workers end with this process: a killed run must not leave them waiting on its queue.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                             initializer=end_with_parent, initargs=(os.getpid(),)) as executor:
        try:
            futures = []
            for task in tasks:
                futures.append(executor.submit(_prepare_part, task))
                processes.update(getattr(executor, "_processes", None) or {})
            for i, future in zip(todo, futures, strict=True):
                results[i] = future.result()
                finished += 1
                done(i)
        except BaseException as error:
            # Leaving the block would wait for the parts still being made (a broken pool's too): stop them.
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes.values():
                if process.is_alive():
                    process.terminate()
            for process in processes.values():
                # A killed worker's exit code is known only once it is reaped: wait for that (briefly),
                # or the message could not say which worker died and how.
                process.join(timeout=5)
            if isinstance(error, BrokenProcessPool):
                raise InputError(_dead_worker_message(processes, tasks[finished][1])) from None
            raise


def _dead_worker_message(processes: dict, part: str) -> str:
    dead = [(pid, p.exitcode) for pid, p in processes.items() if p.exitcode not in (None, 0)]
    dead.sort(key=lambda found: found[1] == -signal.SIGTERM)  # the pool SIGTERMs the others once broken
    if dead:
        pid, code = dead[0]
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
               else f"exited with status {code}")
        who = f"worker process {pid} {how}"
    else:
        who = "a worker process died"
    return (f"data_prep {who} (out of memory? see the kernel log); the first unfinished part is {part}; "
            f"rerun to resume from the complete parts, with fewer workers or a smaller batch_chars")


def _intact(part: str) -> bool:
    """Whether a complete part's files agree with its index (a part cut short is made again)."""
    try:
        check_dataset_files(part)
    except InputError:
        return False
    return True


def _result_from_stats(stats: dict) -> UnitResult:
    skips = SkipReport()
    skips.counts.update(stats["skipped"]["by_reason"])
    skips.examples = stats["skipped"]["examples"]
    skips.filtered_reasons = set(stats["skipped"]["by_design"])
    return UnitResult(skips, stats["chars_in"], stats["tokenizer_backend"])


def _prepare_part(task: tuple[UnitJob, str]) -> UnitResult:
    """Worker: one unit -> one complete part dataset (with its stats)."""
    job, part = task
    writer = IndexedDatasetWriter(part, token_dtype(job.vocabulary.size))
    try:
        result = fill_unit(writer, job, lambda _: None)
        writer.commit({"job": job.key(), "chars_in": result.chars_in, "documents": writer.documents,
                       "sentences": writer.sentences, "tokens": writer.tokens,
                       "tokenizer_backend": result.backend, "skipped": result.skips.as_dict()})
    except BaseException:
        writer.abort()
        raise
    return result
