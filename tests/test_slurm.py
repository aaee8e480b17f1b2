"""slurm/ under a real one-node Slurm (tests/slurm_cluster.py), CPU only, on synthetic corpora.

`slurm/chain.sh` is run from a folder outside the checkout and submits the whole chain with
dependencies: vocabulary -> a 2-task preprocess array -> merge -> blend -> pretraining (1 node x 2
tasks: srun, torchrun's rendezvous from the Slurm environment, gloo, TP=2) -> HF export -> fine-tuning;
predict and deid arrays follow the fine-tuning job. While the chain runs, pretraining is stopped with
`scancel --batch --signal=USR1` (what the script's --signal sends before the time limit): it must save,
exit cleanly, requeue itself and resume to the end (the test cluster holds a requeued job for
seconds, not Slurm's default two minutes). Every stage's output must equal a local run's.
Each local reference runs while Slurm works on the next stage.

Where Slurm cannot be had (no root or apt) the tests are skipped with the reason; with CI=true that
is a failure instead.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from slurm_cluster import LocalSlurm, SlurmError, slurm_available

from synthetic.annotated import AnnotatedCorporaConfig, write_annotated_corpora
from synthetic.corpora.notes import generate_notes, write_notes_jsonl

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "slurm"
PYTHON = sys.executable
JOB_TIMEOUT = 600  # seconds for any one job; the whole module takes a few minutes
DEID_SECRET = "slurm-test-secret-0123456789abcdef"
PRETRAIN_ITERS = 12
FINETUNE_ARGS = ("task.dataset.max_seq_length=128 task.dataset.stride=32 task.head.kind=linear "
                 "task.optim.lr=3e-3 task.trainer.epochs=1 task.trainer.batch_size=8 "
                 "task.trainer.early_stopping_patience=0 seed=7")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalSlurm]:
    reason = slurm_available()
    if reason:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI=true and Slurm is unavailable: {reason}")
        pytest.skip(reason)
    slurm = LocalSlurm.start(Path(tempfile.gettempdir()))
    try:
        yield slurm
    finally:  # also on a failure or Ctrl-C (pytest tears fixtures down on KeyboardInterrupt)
        slurm.stop()


def run_local(*command: str, environment: dict[str, str] | None = None) -> subprocess.Popen:
    """A stage run locally, as a user would without Slurm (two torch threads, as the jobs have)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}
    env.update({"OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1", **(environment or {})})
    return subprocess.Popen([PYTHON, "-m", *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=JOB_TIMEOUT)
    assert process.returncode == 0, output[-3000:]


@dataclass
class Chain:
    """The submitted chain: its folders, job ids by name, and what the pretraining watcher did."""

    work: Path
    submit_dir: Path
    inputs: Path
    jobs: dict[str, str]
    slurm: LocalSlurm
    events: list[str] = field(default_factory=list)

    def log(self, name: str) -> str:
        logs = sorted((self.work / "logs").glob(f"gatortron-{name}-{self.jobs[name]}*.out"))
        return "\n".join(path.read_text(errors="replace") for path in logs)

    def wait(self, name: str) -> None:
        """Until job `name` (every task, for an array) has finished; it must have succeeded."""
        try:
            states = self.slurm.wait(self.jobs[name], JOB_TIMEOUT, upstream=tuple(self.jobs.values()))
        except SlurmError as error:
            pytest.fail(f"{error}\n{self.log_tails()}")
        failed = [s for s in states if s.state != "COMPLETED" or s.exit_code != "0:0"]
        assert not failed, f"{name} job {self.jobs[name]}: {failed}\n{self.log_tails()}"

    def log_tails(self, lines: int = 15) -> str:
        """The end of every job's log (the stages log no note text)."""
        tails = []
        for path in sorted((self.work / "logs").glob("*.out")):
            tails += [f"== {path.name}", *path.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(tails)


def write_inputs(folder: Path) -> None:
    """Four JSONL files of synthetic notes (one preprocess shard takes two) and a small annotated
    i2b2 2014 corpus with its test notes as a TSV notes export."""
    notes = list(generate_notes(seed=23, target_bytes=400_000))
    for index in range(4):
        write_notes_jsonl(folder / "notes" / f"notes_{index}.jsonl", notes[index::4])
    write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(folder / "annotated"), seed=3, documents=24,
                                                   corpora=["i2b2_2014"], test_fraction=0.25))


def watch_pretraining(chain: Chain, stop: threading.Event) -> None:
    """Once the pretraining job has made two steps, send what its --signal sends before the time limit."""
    job, metrics = chain.jobs["pretrain"], chain.work / "pretrain" / "metrics.jsonl"
    while not stop.is_set():
        state = chain.slurm.state(job)
        if state.finished:
            return
        steps = metrics.read_text().count('"lm loss"') if metrics.is_file() else 0
        if state.state == "RUNNING" and steps >= 2:
            chain.slurm.signal(job, "USR1", batch_only=True)
            chain.events.append(f"USR1 after {steps} steps")
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def chain(cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    base = tmp_path_factory.mktemp("slurm")
    inputs, work, submit_dir = base / "inputs", base / "work", base / "submit"
    submit_dir.mkdir()
    write_inputs(inputs)
    settings = {
        "WORK_DIR": str(work), "NOTES": str(inputs / "notes" / "*.jsonl"), "SHARDS": "2",
        # The node has 16 CPUs on paper; these ask for what the test machine really has.
        "VOCAB_SBATCH": "--cpus-per-task=2", "PREP_SBATCH": "--cpus-per-task=1",
        "VOCAB_ARGS": "vocab_size=2000",
        "PRETRAIN_SBATCH": "--ntasks-per-node=2",
        "PRETRAIN_ARGS": (f"model=tiny parallel.tensor=2 train.train_iters={PRETRAIN_ITERS} "
                          "train.micro_batch_size=4 train.global_batch_size=8 checkpoint.save_interval=100 "
                          "logging.log_interval=1 logging.eval_interval=100 data.split='90,10,0'"),
        "EXPORT_SBATCH": "--cpus-per-task=2",
        "FINETUNE_SBATCH": "--cpus-per-task=2", "FINETUNE_DATA": str(inputs / "annotated" / "i2b2_2014"),
        "FINETUNE_ARGS": FINETUNE_ARGS,
    }
    environment = {key: value for key, value in cluster.environment.items() if key != "GATORTRON_REPO"}
    result = subprocess.run([str(SLURM / "chain.sh"), *(f"{k}={v}" for k, v in settings.items())],
                            cwd=submit_dir, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    jobs = dict(line.split("\t") for line in (work / "logs" / "jobs.tsv").read_text().splitlines())
    assert list(jobs) == ["vocab", "preprocess-notes", "merge-notes", "blend", "pretrain", "export",
                          "finetune"]
    made = Chain(work, submit_dir, inputs, jobs, cluster)
    # Prediction and de-identification as 2-task arrays, each shard writing its own output.
    model, test = work / "finetune" / "model", inputs / "annotated" / "i2b2_2014"
    array = (f"--dependency=afterok:{jobs['finetune']}", "--array=0-1", "--cpus-per-task=2",
             f"--output={work}/logs/%x-%A_%a.out")
    jobs["predict"] = cluster.submit(
        *array, SLURM / "predict.sbatch", f"model={model}", f"input={test / 'test'}", "format=i2b2_2014",
        f"output={work}/predict_{{shard}}", cwd=submit_dir)
    jobs["deid"] = cluster.submit(
        *array, SLURM / "deid.sbatch", f"model={model}", f"input={test / 'test_notes.tsv'}",
        f"output={work}/deid_{{shard}}.tsv", "mode=surrogate", "patient_key=MRN", cwd=submit_dir,
        environment={"GATORTRON_DEID_SECRET": DEID_SECRET})
    stop = threading.Event()
    watcher = threading.Thread(target=watch_pretraining, args=(made, stop), daemon=True)
    watcher.start()
    try:
        yield made
    finally:
        stop.set()
        watcher.join(timeout=10)


def test_vocabulary_job_equals_a_local_build(chain: Chain, tmp_path: Path) -> None:
    chain.wait("vocab")
    local = tmp_path / "vocab"
    finish(run_local("tokenizer", f"input=[{chain.inputs / 'notes' / '*.jsonl'}]", f"output_dir={local}",
                     "vocab_size=2000", "workers=2"))
    made = sorted(p.name for p in (chain.work / "vocab").iterdir())
    assert made == sorted(p.name for p in local.iterdir())
    for name in made:
        if name != "report.json":  # it records times and paths
            assert (chain.work / "vocab" / name).read_bytes() == (local / name).read_bytes(), name
    assert "gatortron-vocab job" in chain.log("vocab")


def test_preprocess_array_and_merge_equal_a_single_process_run(chain: Chain, tmp_path: Path) -> None:
    chain.wait("merge-notes")
    assert len(list((chain.work / "data").glob("notes_shard*of*.idx"))) == 2
    local = tmp_path / "notes"
    finish(run_local("data_prep", "source=notes", f"input={chain.inputs / 'notes' / '*.jsonl'}",
                     f"vocab={chain.work / 'vocab'}", f"output_prefix={local}", "workers=1"))
    for suffix in (".bin", ".idx"):
        merged = (chain.work / "data" / "notes").with_suffix(suffix).read_bytes()
        assert merged == local.with_suffix(suffix).read_bytes(), suffix
    array = chain.jobs["preprocess-notes"]
    assert len(list((chain.work / "logs").glob(f"gatortron-preprocess-notes-{array}_*.out"))) == 2


def test_pretraining_stops_on_the_signal_saves_requeues_and_resumes(chain: Chain) -> None:
    chain.wait("pretrain")
    assert len(chain.events) == 1, chain.events  # the signal was sent while the job ran
    assert chain.slurm.state(chain.jobs["pretrain"]).restarts == 1
    log = chain.log("pretrain")
    # One log for both starts (appended), each start on 1 node x 2 processes.
    assert log.count("restart 0 on") == 1 and log.count("restart 1 on") == 1, log[-3000:]
    assert log.count("1 node(s) x 2 process(es)") == 2, log[-3000:]
    assert "stop signal: asking the workers to save and exit" in log
    assert f"requeueing job {chain.jobs['pretrain']}" in log
    metrics = (chain.work / "pretrain" / "metrics.jsonl").read_text()
    records = [json.loads(line) for line in metrics.splitlines()]
    steps = [r["iteration"] for r in records if "lm loss" in r]
    assert steps == list(range(1, PRETRAIN_ITERS + 1))  # each step once across the two starts
    iterations = sorted(p.name for p in (chain.work / "pretrain").glob("iter_*"))
    assert len(iterations) == 2 and iterations[-1] == f"iter_{PRETRAIN_ITERS:07d}", iterations
    assert not list(chain.submit_dir.glob(".gatortron-requeue-*"))


def test_export_job_equals_a_local_export(chain: Chain, tmp_path: Path) -> None:
    chain.wait("export")
    local = tmp_path / "hf"
    finish(run_local("pretrain.export", f"checkpoint={chain.work / 'pretrain'}", f"output={local}"))
    assert_same_files(chain.work / "hf", local, ignore={"export_info.json"})


def test_finetune_job_equals_a_local_run(chain: Chain, tmp_path: Path) -> None:
    chain.wait("finetune")
    local = tmp_path / "finetune"
    finish(run_local("finetune", "task=deid_2014", f"model={chain.work / 'hf'}",
                     f"data_dir={chain.inputs / 'annotated' / 'i2b2_2014'}", f"output_dir={local}",
                     *FINETUNE_ARGS.split()))
    assert_same_files(chain.work / "finetune" / "model", local / "model", ignore={"training_args.json"})


def test_predict_and_deid_arrays_equal_local_runs(chain: Chain, tmp_path: Path) -> None:
    model, test = chain.work / "finetune" / "model", chain.inputs / "annotated" / "i2b2_2014"
    predict = run_local("finetune.predict", f"model={model}", f"input={test / 'test'}", "format=i2b2_2014",
                        f"output={tmp_path / 'predict'}")
    deid = run_local("finetune.deid", f"model={model}", f"input={test / 'test_notes.tsv'}",
                     f"output={tmp_path / 'deid.tsv'}", "mode=surrogate", "patient_key=MRN",
                     environment={"GATORTRON_DEID_SECRET": DEID_SECRET})
    finish(predict)
    finish(deid)
    chain.wait("predict")
    chain.wait("deid")
    # Each shard holds a contiguous part of the documents; together they are the local run's output.
    shards = [chain.work / f"predict_{index}" for index in range(2)]
    assert all(any(shard.iterdir()) for shard in shards)
    merged = {p.name: p.read_bytes() for shard in shards for p in shard.iterdir()}
    assert merged == {p.name: p.read_bytes() for p in (tmp_path / "predict").iterdir()}
    rows = [row for index in range(2) for row in read_tsv(chain.work / f"deid_{index}.tsv")]
    local_rows = read_tsv(tmp_path / "deid.tsv")
    assert len(rows) == len(local_rows) > 1 and rows == local_rows  # in order: contiguous parts


def read_tsv(path: Path) -> list[tuple[str, ...]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        return [tuple(row) for row in csv.reader(handle, delimiter="\t")][1:]


def assert_same_files(made: Path, local: Path, ignore: set[str]) -> None:
    names = sorted(p.name for p in made.iterdir() if p.name not in ignore)
    assert names == sorted(p.name for p in local.iterdir() if p.name not in ignore)
    assert names
    for name in names:
        assert (made / name).read_bytes() == (local / name).read_bytes(), name


# Without a cluster: what the scripts would run (GATORTRON_DRY_RUN=1), with and without a container.
def dry_run(script: str, *arguments: str, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLURM_", "GATORTRON_"))}
    env.update({"GATORTRON_DRY_RUN": "1", **environment})
    result = subprocess.run(["bash", str(SLURM / script), *arguments], env=env, cwd=tempfile.gettempdir(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_scripts_run_directly_in_a_pyxis_container_or_through_a_launcher() -> None:
    direct = dry_run("predict.sbatch", "model=m", "output=o_{shard}")
    venv = ROOT / ".venv" / "bin" / "python"
    assert direct.split() == [str(venv) if os.access(venv, os.X_OK) else "python3", "-m", "finetune.predict",
                              "model=m", "output=o_\\{shard\\}"]
    pyxis = dry_run("predict.sbatch", "model=m", CONTAINER_IMAGE="nvcr.io/x/gatortron:1")
    assert pyxis.startswith("srun ") and "--container-image=nvcr.io/x/gatortron:1" in pyxis
    assert f"--container-mounts={ROOT}:{ROOT}" in pyxis.replace("\\,", ",")
    assert "python3 -m finetune.predict model=m" in pyxis
    wrapped = dry_run("finetune.sbatch", "task=deid_2014", LAUNCHER="singularity exec --nv /images/gt.sif")
    assert wrapped.startswith("singularity exec --nv /images/gt.sif python3 -m finetune task=deid_2014")
    relations = dry_run("tasks.sbatch", "relations", "predict", "model=m", "entities=n")
    assert relations.split()[1:] == ["-m", "finetune.relations.predict", "model=m", "entities=n"]
    for task, extra in (("relations", []), ("pairs", ["task=sts"]), ("qa", [])):
        train = dry_run("tasks.sbatch", task, "train", "model=m", *extra)
        assert train.split()[1:] == ["-m", f"finetune.{task}", "model=m", *extra]
    parallel = dry_run("tasks.sbatch", "pairs", "train", "task=sts", GATORTRON_PROCS_PER_NODE="4")
    assert parallel.split()[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4",
                                    "-m", "finetune.pairs", "task=sts"]
    answer = dry_run("tasks.sbatch", "qa", "predict", "input=q.json")
    assert answer.split()[1:3] == ["-m", "finetune.qa.predict"]
    pretrain = dry_run("pretrain.sbatch", "model=tiny", CONTAINER_IMAGE="img", GATORTRON_PROCS_PER_NODE="4")
    assert "--container-image=img" in pretrain and "--nproc-per-node=4" in pretrain
    assert "--ntasks-per-node=1" in pretrain  # one torchrun per node, whatever the job's tasks per node
    assert "pretrain\\ model=tiny" in pretrain


def test_every_script_appends_to_a_log_named_by_its_job_and_refuses_bad_settings() -> None:
    for script in SLURM.glob("*.sbatch"):
        text = script.read_text()
        assert "#SBATCH --open-mode=append" in text, script.name
        assert "#SBATCH --output=%x-%j.out" in text or "#SBATCH --output=%x-%A_%a.out" in text, script.name
        assert '. "$REPO/slurm/common.sh"' in text, script.name
    both = subprocess.run(["bash", str(SLURM / "deid.sbatch")], env={**os.environ, "CONTAINER_IMAGE": "i",
                          "LAUNCHER": "l"}, capture_output=True, text=True, timeout=60)
    assert both.returncode == 2
    assert both.stderr.strip() == "deid.sbatch: set CONTAINER_IMAGE or LAUNCHER, not both"
    chain = subprocess.run([str(SLURM / "chain.sh"), "WORK_DIR=/nonexistent", "NOTES=x", "SHARDS=0"],
                           capture_output=True, text=True, timeout=60)
    assert chain.returncode == 2 and "SHARDS must be a positive number" in chain.stderr
    typo = subprocess.run([str(SLURM / "chain.sh"), "WORKDIR=x"], capture_output=True, text=True, timeout=60)
    assert typo.returncode == 2 and "unknown setting WORKDIR" in typo.stderr


def test_chain_dry_run_shows_every_dependency(tmp_path: Path) -> None:
    result = subprocess.run([str(SLURM / "chain.sh"), "DRY_RUN=1", f"WORK_DIR={tmp_path / 'w'}",
                             "NOTES=n/*.tsv", "PUBMED=p/*.xml.gz", "SHARDS=3", "FINETUNE_DATA=d",
                             "PRETRAIN_SBATCH=--nodes=2 --gpus-per-node=8"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("sbatch ")]
    names = [line.split("--job-name=gatortron-")[1].split()[0] for line in lines]
    assert names == ["vocab", "preprocess-notes", "merge-notes", "preprocess-pubmed", "merge-pubmed", "blend",
                     "pretrain", "export", "finetune"]
    assert "--array=0-2 --dependency=afterok:\\<vocab\\>" in lines[1]
    assert "--dependency=afterok:\\<merge-notes\\>:\\<merge-pubmed\\>" in lines[5]
    assert "--nodes=2 --gpus-per-node=8" in lines[6]
    assert not (tmp_path / "w").exists()  # a dry run makes nothing


def test_the_harness_stops_its_daemons_and_those_a_killed_run_left(cluster: LocalSlurm) -> None:
    # munged wants every folder above its socket open to all users, which pytest's tmp_path is not.
    parent = Path(tempfile.mkdtemp(prefix="gatortron-slurm-test-"))
    parent.chmod(0o755)
    try:
        check_stops(parent)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def check_stops(parent: Path) -> None:
    # A test run killed with its cluster up: its daemons outlive it until the next start.
    killed = subprocess.Popen([PYTHON, "-c", "import sys, time; from pathlib import Path; "
                               "from slurm_cluster import LocalSlurm; LocalSlurm.start(Path(sys.argv[1])); "
                               "print('up', flush=True); time.sleep(600)", str(parent)],
                              cwd=Path(__file__).parent, stdout=subprocess.PIPE, text=True)
    assert killed.stdout.readline().strip() == "up"
    left = daemon_pids(next(parent.iterdir()))
    killed.kill()
    killed.wait()
    assert len(left) == 3 and all(alive(pid) for pid in left)
    started = LocalSlurm.start(parent)
    assert not any(alive(pid) for pid in left)
    assert [p.name for p in parent.iterdir()] == [started.root.name]
    mine = daemon_pids(started.root)
    started.stop()
    assert len(mine) == 3 and not any(alive(pid) for pid in mine)


def daemon_pids(root: Path) -> list[int]:
    return [int((root / "run" / f"{name}.pid").read_text().split()[0])
            for name in ("munged", "slurmctld", "slurmd")]


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False
