"Fixtures shared by the test modules."
import pytest
import torch


@pytest.fixture(scope='module')
def one_thread():
    "Tiny tensor ops only: one thread avoids oversubscribing a shared CPU. Modules opt in with `pytestmark`."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
