"""pretrain stage: BERT pretraining on megatron-core (train.py: the loop; model.py: BertModel and
its layer spec; data.py: masked-LM datasets and resumable micro-batches; cpu_backend.py: the CUDA
redirections that let the same code run on CPU with gloo; config.py: settings)."""
