import torch

from hybridlib.thread_pool import cpu_threads


def test_one_pool_per_torch_thread_count():
    threads = torch.get_num_threads()
    try:
        assert cpu_threads() is cpu_threads()
        assert cpu_threads()._max_workers == threads
        torch.set_num_threads(1)
        assert cpu_threads()._max_workers == 1
        assert list(cpu_threads().map(lambda value: value * 2, range(5))) == [0, 2, 4, 6, 8]
    finally:
        torch.set_num_threads(threads)
