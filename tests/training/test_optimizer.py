"""Adam, fused where the device has the kernel, the per-tensor loop elsewhere."""

from __future__ import annotations

import torch

from hybridlib.training import optimizer
from hybridlib.training.optimizer import adam


def test_adam_is_fused_on_the_cpu_with_the_given_learning_rate():
    parameters = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.zeros(2, 2))]
    built = adam(iter(parameters), 0.25)  # any iterable, consumed once
    assert isinstance(built, torch.optim.Adam)
    (group,) = built.param_groups
    assert group["lr"] == 0.25 and group["fused"] is True
    assert [id(parameter) for parameter in group["params"]] == [id(parameter) for parameter in parameters]


def test_fused_and_plain_adam_take_the_same_steps():
    generator = torch.Generator().manual_seed(0)
    start, gradients = torch.randn(5, generator=generator), [torch.randn(5, generator=generator) for _ in range(3)]
    results = []
    for fused in (True, False):
        parameter = torch.nn.Parameter(start.clone())
        step = adam([parameter], 0.1) if fused else torch.optim.Adam([parameter], lr=0.1)
        for gradient in gradients:
            parameter.grad = gradient.clone()
            step.step()
        results.append(parameter.detach())
    torch.testing.assert_close(results[0], results[1])


def test_adam_falls_back_to_the_plain_loop_where_there_is_no_fused_kernel(monkeypatch):
    real_adam = torch.optim.Adam

    def adam_without_a_fused_kernel(parameters, lr, fused=None):
        if fused:
            raise RuntimeError("fused=True requires all the params to be floating point Tensors of supported devices")
        return real_adam(parameters, lr=lr)

    monkeypatch.setattr(optimizer.torch.optim, "Adam", adam_without_a_fused_kernel)
    parameter = torch.nn.Parameter(torch.ones(2))
    built = adam(iter([parameter]), 0.5)  # the iterable is not consumed by the failed first try
    assert isinstance(built, real_adam) and not built.param_groups[0]["fused"]
    assert built.param_groups[0]["params"] == [parameter] and built.param_groups[0]["lr"] == 0.5
