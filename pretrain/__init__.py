"""pretrain stage: BERT pretraining on megatron-core, and conversion to and from Hugging Face.

Training: train.py (setup, then the loop: train_step, log_step, evaluate, save); config.py (settings
and their one validation); model.py (BertModel, its layer spec, DDP-wrapped chunks, the loss);
attention.py and mlp.py (the local spec's SDPA core attention and fused bias + exact GELU MLP);
data.py (masked-LM datasets and resumable micro-batches); checkpoint.py (dist checkpoints, resume
checks); throughput.py (FLOPs, MFU/HFU, memory); cpu_backend.py (the CUDA redirections that let the
same code run on the CPU with gloo); lifetime.py (megatron-core's checkpoint-writer queue ends with
the training process); profiling.py (one step under the torch profiler).
Conversion: to_hf.py / from_hf.py (checkpoint to HF model and back), hf_layout.py (how the weights map),
standalone.py (megatron-core in one CPU process). Entry points: __main__.py (`python -m pretrain`),
export.py, import_hf.py, fill_mask.py.
"""
