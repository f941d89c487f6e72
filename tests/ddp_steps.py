"""Run under torchrun by test_training_ddp.py: a few optimizer steps of a tiny conditioned denoiser on
fixed global batches, each rank on its share of every batch; rank 0 saves the final weights to argv[1]."""

import sys

import torch

from training.config import RECIPES, override_config
from training.distributed import start_ranks, stop_ranks
from training.kinds import kind_of
from training.models import build_model
from training.train import train_step

STEPS = 5


CFG = override_config(RECIPES["fashion-dae-conv"], {"widths": (8, 16), "blocks": 1, "batch_size": 8})


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(CFG)


def main() -> None:
    ranks = start_ranks("cpu")
    cfg = CFG
    model = make_model()
    net = ranks.wrap(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)  # the same global batches in every process
    share = cfg.batch_size // ranks.world
    mine = slice(ranks.rank * share, (ranks.rank + 1) * share)
    for _ in range(STEPS):
        clean = torch.rand(cfg.batch_size, 1, 16, 16, generator=generator)
        inputs = kind_of(cfg).make_inputs(clean, cfg, generator)
        train_step(net, optimizer, tuple(t[mine] for t in inputs), clean[mine], cfg)
    if ranks.is_main:
        torch.save(model.state_dict(), sys.argv[1])
    stop_ranks(ranks)


if __name__ == "__main__":
    main()
