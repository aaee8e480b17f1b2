"""MegatronBert with NeMo's token-classification head: dropout, then a multi-layer perceptron.

GatorTron was fine-tuned with NeMo's `TokenClassificationModel`, whose head is dropout (0.1) on the
encoder output followed by `num_layers` linear layers with ReLU between them (2 by default). HF
transformers has only a single linear layer on top of MegatronBert, so this head lives here.

This file imports nothing but torch and transformers: `save_pretrained` copies it into every
model directory that uses it, so `AutoModelForTokenClassification.from_pretrained(dir,
trust_remote_code=True)` loads the model without this project. The config has its own
`model_type` so that a load without this code fails loudly instead of silently dropping the head.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import MegatronBertConfig
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.models.megatron_bert.modeling_megatron_bert import (
    MegatronBertModel,
    MegatronBertPreTrainedModel,
)


class GatorTronNerConfig(MegatronBertConfig):
    """MegatronBert settings plus the head's.

    Args:
        head_layers: linear layers in the head (>= 1; NeMo's default and GatorTron's: 2).
        head_dropout: dropout on the encoder output before the head.
    """

    model_type = "gatortron-ner"

    def __init__(self, head_layers: int = 2, head_dropout: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.head_layers = head_layers
        self.head_dropout = head_dropout


class MegatronBertForTokenClassificationMLP(MegatronBertPreTrainedModel):
    """`MegatronBertModel` + dropout + an MLP over each token (NeMo's TokenClassifier)."""

    config_class = GatorTronNerConfig

    def __init__(self, config: GatorTronNerConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = MegatronBertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.head_dropout)
        layers: list[nn.Module] = []
        for _ in range(config.head_layers - 1):
            layers += [nn.Linear(config.hidden_size, config.hidden_size), nn.ReLU()]
        layers.append(nn.Linear(config.hidden_size, config.num_labels))
        self.classifier = nn.Sequential(*layers)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs) -> TokenClassifierOutput:
        hidden = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           position_ids=position_ids, return_dict=True).last_hidden_state
        logits = self.classifier(self.dropout(hidden))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return TokenClassifierOutput(loss=loss, logits=logits)
