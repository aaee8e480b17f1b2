"""Fine-tune a clinical NER or de-identification model (stage 6 of the chain).

Data: a benchmark corpus in any format of `finetune.corpora.formats` (i2b2 2010 .txt/.con, i2b2 2012 and
2014 XML, n2c2 2018 brat, NeMo text/labels files, CoNLL, JSONL), laid out as the recipe says
(`train/`, `test/` under `data_dir`; a dev split is carved from train when there is none)::

    <deIdi2b2><TEXT><![CDATA[Seen by Dr. Ann Lee on 2067-05-03 ...]]></TEXT><TAGS>
    <DATE id="P0" start="23" end="33" text="2067-05-03" TYPE="DATE" comment="" />
    </TAGS></deIdi2b2>

Model: any HF `megatron-bert` or `bert` directory (`python -m pretrain.export` output, or a local
copy of UFNLP/gatortron-base). Recipes: configs/finetune/task/{i2b2_2010,i2b2_2012,deid_2014,
n2c2_2018,nemo}.yaml (GatorTron's settings; finetune/training/config.py documents every key)::

    python -m finetune task=deid_2014 model=demo_out/hf data_dir=demo_out/annotated/i2b2_2014 \
        output_dir=runs/deid task.trainer.epochs=3
    torchrun --nproc-per-node 8 -m finetune task=n2c2_2018 model=/models/gatortron-base \
        data_dir=/data/n2c2_2018 output_dir=/runs/n2c2 task.trainer.precision=bf16
    python -m finetune ... resume=true          # continue a killed run from its last checkpoint

Output (`output_dir`): `model/` (best by dev strict micro F1; loads with the Auto classes),
`checkpoints/`, `tensorboard/`, `test_scores.json` / `.txt`, test predictions in the corpus format,
`train_summary.json`.
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before torch and transformers are imported

import hydra
from omegaconf import DictConfig

from finetune.training.config import FinetuneConfig
from finetune.training.train import finetune
from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir


@hydra.main(config_path=config_dir("finetune"), config_name="train", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, finetune, "finetune")


if __name__ == "__main__":
    run_command(main, FinetuneConfig)
