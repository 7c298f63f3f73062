"""Unit-test set-up."""
import torch

# Tiny tensors on a shared 2-core machine: one intra-op thread is much faster than two
# contending ones (and avoids oversubscription while a notebook kernel is busy).
torch.set_num_threads(1)
