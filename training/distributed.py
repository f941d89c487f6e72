"""Data-parallel training over processes started by torchrun (`torchrun --nproc-per-node K -m training
train RECIPE`): gloo on CPUs, nccl on GPUs (one per process, by LOCAL_RANK).

What every rank shares and what it does not:
- the initial weights (the same seed before the model is built; DDP also broadcasts rank 0's at wrapping);
- gradients, averaged over the ranks by DistributedDataParallel, so every rank takes the same step;
- rank 0's clock and validation loss (`agree`), so the cosine learning rate, the time budget and early
  stopping are decided once and every rank stops on the same step;
- crops and noise are drawn per rank (its own seed), each rank `1/world` of the batch and of the epoch;
- only rank 0 prints, checkpoints, writes the run folder and reports.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def agree(self, value: float) -> float:
        """Rank 0's `value`, on every rank."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return float(t.item())

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train: DDP around `model` when there are several ranks, `model` itself otherwise."""
        if self.world == 1:
            return model
        device_ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=device_ids)


ONE_PROCESS = Ranks()  # rank 0 of 1, on the CPU


def start_ranks(device: str) -> Ranks:
    """Join the process group that torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(device=device)
    cuda = device.startswith("cuda")
    if cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    return Ranks(rank=dist.get_rank(), world=dist.get_world_size(), device=device)


def stop_ranks(ranks: Ranks) -> None:
    if ranks.world > 1:
        dist.barrier()
        dist.destroy_process_group()
